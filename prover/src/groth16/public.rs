//! Packing public values into field elements: the Groth16 verifier pays one elliptic
//! curve multiplication (about 6,150 gas) per public input, so checked activations are
//! packed `floor(252 / bits)` to a field element.
//!
//! Word `j` holds values `k*j .. k*j + k` as `sum_i (v_i + 2^(bits-1)) * 2^(bits*i)`.
//! Each `v_i + 2^(bits-1)` lies in `[0, 2^bits)` (values are range-checked in the
//! circuit and in the Solidity verifier), and `k * bits <= 252` keeps the sum below the
//! modulus, so a word determines its values uniquely.

use ark_bn254::Fr;
use serde::{Deserialize, Serialize};

use super::field::{fr, pow2};

/// How a model's public values are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicLayout {
    /// Values satisfy `|v| < 2^(bits-1)`.
    pub bits: u32,
    /// Number of public values (quantized inputs, then outputs).
    pub num_values: usize,
}

/// Bits of a packed word that may be used (the field has 254).
pub const WORD_BITS: u32 = 252;

impl PublicLayout {
    /// The layout of `graph`'s public values.
    pub fn of(graph: &zkinfer_models::quant::QuantGraph) -> PublicLayout {
        PublicLayout { bits: graph.bits, num_values: graph.num_public() }
    }

    /// Values per field element.
    pub fn per_word(&self) -> usize {
        (WORD_BITS / self.bits).max(1) as usize
    }

    /// Number of field elements the values pack into (the Groth16 public inputs).
    pub fn num_words(&self) -> usize {
        self.num_values.div_ceil(self.per_word())
    }

    /// `2^(bits-1)`.
    pub fn offset(&self) -> i128 {
        1i128 << (self.bits - 1)
    }

    /// The packed words of `values`, or `None` when their number is not `num_values` or
    /// one is out of range (no circuit output can be).
    pub fn pack(&self, values: &[i128]) -> Option<Vec<Fr>> {
        if values.len() != self.num_values || values.iter().any(|v| *v < -self.offset() || *v >= self.offset()) {
            return None;
        }
        Some(
            values
                .chunks(self.per_word())
                .map(|chunk| chunk.iter().enumerate().map(|(i, v)| fr(v + self.offset()) * pow2(self.bits * i as u32)).sum())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_seven_32_bit_values_per_word() {
        let l = PublicLayout { bits: 32, num_values: 9 };
        assert_eq!((l.per_word(), l.num_words()), (7, 2));
        let v: Vec<i128> = vec![-(1 << 31), (1 << 31) - 1, 0, 1, -1, 5, 6, 7, 8];
        let w = l.pack(&v).unwrap();
        assert_eq!(w[1], Fr::from((7u64 + (1 << 31)) + ((8u64 + (1 << 31)) << 32)));
        assert_eq!(w[0], (0..7).map(|i| fr(v[i] + (1 << 31)) * pow2(32 * i as u32)).sum::<Fr>());
        assert!(l.pack(&v[1..]).is_none());
        let mut bad = v.clone();
        bad[3] = 1 << 31;
        assert!(l.pack(&bad).is_none());
    }
}

//! Signed integers in the BN254 scalar field, as the R1CS and the verifiers see them.
//!
//! An integer `v` with `|v| < p/2` stands for the field element `v mod p`; negative
//! activations are therefore `p - |v|` on the wire and in Solidity calldata.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};

/// `v mod p`.
pub fn fr(v: i128) -> Fr {
    let m = Fr::from(v.unsigned_abs());
    if v < 0 {
        -m
    } else {
        m
    }
}

/// The integer in `(-2^127, 2^127)` that `x` stands for, or `None` when `x` is no such
/// small signed integer.
pub fn to_i128(x: &Fr) -> Option<i128> {
    let small = |f: &Fr| -> Option<u128> {
        let limbs = f.into_bigint().0;
        (limbs[2] == 0 && limbs[3] == 0).then(|| limbs[0] as u128 | (limbs[1] as u128) << 64)
    };
    if let Some(u) = small(x) {
        return i128::try_from(u).ok();
    }
    small(&-*x).and_then(|u| i128::try_from(u).ok()).map(|u| -u)
}

/// `2^e` in the field.
pub fn pow2(e: u32) -> Fr {
    let mut bytes = [0u8; 32];
    bytes[(e / 8) as usize] = 1 << (e % 8);
    Fr::from_le_bytes_mod_order(&bytes)
}

/// The 32-byte big-endian encoding of `x` (an EVM word).
pub fn to_be_bytes(x: &Fr) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&x.into_bigint().to_bytes_be());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_signed_integers() {
        for v in [0i128, 1, -1, 42, -(1 << 40), i64::MAX as i128, i64::MIN as i128, i128::MAX, -i128::MAX] {
            assert_eq!(to_i128(&fr(v)), Some(v), "{v}");
        }
        assert_eq!(pow2(0), Fr::from(1u8));
        assert_eq!(pow2(70), Fr::from(1u128 << 70));
        assert_eq!(to_i128(&pow2(200)), None);
    }
}

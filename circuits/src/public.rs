//! Public values packed into few instances.
//!
//! The Solidity verifier grows by about 165 bytes and its gas by a Lagrange evaluation
//! per public instance, so values are packed: each value `v` with `|v| < 2^(bits-1)`
//! becomes the digit `v + 2^(bits-1)` in `[0, 2^bits)`, and `floor(252 / bits)` digits
//! make one instance `sum_t digit_t * 2^(bits * t)`. Every packed cell is range-checked
//! to `bits` bits first, so the packing is injective: one instance vector stands for
//! exactly one list of values.

use halo2_base::gates::GateInstructions;
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{Constant, Existing},
};

use crate::chips::{io, Chips};
use crate::field::{fe, ScalarField};

/// Bits of the field usable for packing (BN254's scalar field has 254).
const PACK_BITS: u32 = 252;

/// How many values share one instance.
pub fn values_per_instance(bits: u32) -> usize {
    (PACK_BITS / bits).max(1) as usize
}

/// Number of instances for `n` values.
pub fn num_instances(n: usize, bits: u32) -> usize {
    n.div_ceil(values_per_instance(bits))
}

/// `2^(bits * t)` for the digit positions of one instance.
fn digit_bases<F: ScalarField>(bits: u32) -> Vec<F> {
    let radix = F::from(2u64).pow_vartime([bits as u64]);
    let mut bases = vec![F::ONE];
    for _ in 1..values_per_instance(bits) {
        let last = *bases.last().unwrap();
        bases.push(last * radix);
    }
    bases
}

/// Packs signed values (each `|v| < 2^(bits-1)`) into instances, off-circuit.
pub fn pack<F: ScalarField>(values: &[i128], bits: u32) -> Vec<F> {
    let off = 1i128 << (bits - 1);
    let bases = digit_bases::<F>(bits);
    values
        .chunks(values_per_instance(bits))
        .map(|chunk| chunk.iter().zip(&bases).map(|(v, b)| *b * fe::<F>(v + off)).fold(F::ZERO, |a, x| a + x))
        .collect()
}

/// Bits `[start, start + len)` of a little-endian byte string (`len <= 64`).
fn bits_at(bytes: &[u8], start: usize, len: usize) -> u64 {
    (0..len).fold(0u64, |acc, i| {
        let bit = start + i;
        let b = bytes.get(bit / 8).map_or(0, |x| (x >> (bit % 8)) & 1);
        acc | ((b as u64) << i)
    })
}

/// Unpacks `n` signed values from instances; `None` if an instance is not a valid packing.
pub fn unpack<F: ScalarField>(instances: &[F], n: usize, bits: u32) -> Option<Vec<i128>> {
    let per = values_per_instance(bits);
    if instances.len() != num_instances(n, bits) || bits > 64 {
        return None;
    }
    let off = 1i128 << (bits - 1);
    let mut out = Vec::with_capacity(n);
    for (i, inst) in instances.iter().enumerate() {
        let count = per.min(n - i * per);
        let bytes = inst.to_bytes_le();
        for t in 0..count {
            out.push(bits_at(&bytes, t * bits as usize, bits as usize) as i128 - off);
        }
        let used = count * bits as usize;
        if (used..bytes.len() * 8).any(|b| bits_at(&bytes, b, 1) != 0) {
            return None;
        }
    }
    Some(out)
}

/// Range-checks every cell and packs them into instance cells, in-circuit.
pub fn pack_cells<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    cells: &[AssignedValue<F>],
    checked: &[bool],
) -> Vec<AssignedValue<F>> {
    let bits = chips.bits;
    let off = chips.offset();
    for (c, done) in cells.iter().zip(checked) {
        if !done {
            io::range_check_signed(ctx, chips, *c);
        }
    }
    let bases = digit_bases::<F>(bits);
    cells
        .chunks(values_per_instance(bits))
        .map(|chunk| {
            let constant: F = bases[..chunk.len()].iter().map(|b| *b * fe::<F>(off)).fold(F::ZERO, |a, x| a + x);
            let mut a: Vec<_> = chunk.iter().map(|c| Existing(*c)).collect();
            let mut b: Vec<_> = bases[..chunk.len()].iter().map(|b| Constant(*b)).collect();
            a.push(Constant(F::ONE));
            b.push(Constant(constant));
            chips.gate().inner_product(ctx, a, b)
        })
        .collect()
}

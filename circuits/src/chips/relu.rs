//! ReLU through a sign bit.
//!
//! `x + 2^(bits-1) = b * 2^(bits-1) + low` with `low` range-checked in `bits - 1` bits
//! and `b` boolean makes `b` the sign bit of `x` (and checks `|x| < 2^(bits-1)`);
//! then `relu(x) = b * x`.

use halo2_base::gates::{GateInstructions, RangeInstructions};
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{Constant, Existing, Witness},
};

use super::Chips;
use crate::field::{fe, to_i128, ScalarField};

/// `max(x, 0)` for a checked activation `x`.
pub fn relu<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, x: AssignedValue<F>) -> AssignedValue<F> {
    let off = chips.offset();
    let xv = to_i128(x.value()).unwrap_or(0);
    let bit = (xv >= 0) as i128;
    relu_with(ctx, chips, x, bit, xv + off - bit * off)
}

/// [`relu`] with the sign bit and low part supplied by the caller (tests forge them).
pub fn relu_with<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    x: AssignedValue<F>,
    bit: i128,
    low: i128,
) -> AssignedValue<F> {
    let off = chips.offset();
    let shifted = chips.gate().add(ctx, x, Constant(fe(off)));
    // Cells [low, b, 2^(bits-1), x + off] with the gate a + b * c = d.
    ctx.assign_region([Witness(fe(low)), Witness(fe(bit)), Constant(fe(off)), Existing(shifted)], [0]);
    let low_cell = ctx.get(-4);
    let b_cell = ctx.get(-3);
    chips.range.range_check(ctx, low_cell, chips.bits as usize - 1);
    chips.gate().assert_bit(ctx, b_cell);
    chips.gate().mul(ctx, b_cell, x)
}

//! ReLU through a sign bit.
//!
//! `x + 2^(bits-1) = b * 2^(bits-1) + low` with `low` range-checked in `bits - 1` bits
//! and `b` boolean makes `b` the sign bit of `x` (and checks `|x| < 2^(bits-1)`);
//! then `relu(x) = b * x`. The decomposition is [`super::compare::sign_decompose`] at
//! width `bits - 1`.

use halo2_base::gates::GateInstructions;
use halo2_base::{AssignedValue, Context};

use super::Chips;
use crate::field::{to_i128, ScalarField};

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
    let b_cell = super::compare::sign_decompose(ctx, chips, x, chips.bits - 1, bit, low);
    chips.gate().mul(ctx, b_cell, x)
}

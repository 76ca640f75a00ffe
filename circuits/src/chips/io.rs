//! Inputs (range-checked witnesses) and constants (fixed cells).

use halo2_base::gates::GateInstructions;
use halo2_base::{AssignedValue, Context, QuantumCell::Constant};

use super::Chips;
use crate::field::{fe, ScalarField};

/// Assigns an activation witness and constrains `|x| < 2^(bits-1)`.
pub fn checked_input<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, x: i64) -> AssignedValue<F> {
    let cell = ctx.load_witness(fe(x as i128));
    range_check_signed(ctx, chips, cell);
    cell
}

/// Width of a private model parameter: the quantized graph stores them as `i64`.
pub const PARAM_BITS: u32 = 64;

/// Assigns a private model parameter (a weight or bias witness; tests pass any field
/// element) and constrains it to an integer of [`PARAM_BITS`] bits, `-2^63 <= p < 2^63`:
/// what the interpreter computes with, not an arbitrary field element.
pub fn checked_param<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, p: F) -> AssignedValue<F> {
    let cell = ctx.load_witness(p);
    range_check_offset(ctx, chips, cell, 1i128 << (PARAM_BITS - 1), PARAM_BITS);
    cell
}

/// Constrains `-2^(bits-1) <= x < 2^(bits-1)` by range-checking `x + 2^(bits-1)` in `bits` bits.
pub fn range_check_signed<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, x: AssignedValue<F>) {
    range_check_offset(ctx, chips, x, chips.offset(), chips.bits);
}

/// Constrains `-offset <= x` and `x + offset < 2^bits` by range-checking `x + offset`.
pub fn range_check_offset<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, x: AssignedValue<F>, offset: i128, bits: u32) {
    let shifted = chips.gate().add(ctx, x, Constant(fe(offset)));
    chips.range_check(ctx, shifted, bits as usize);
}

/// Loads constants into fixed cells (they become part of the verifying key).
pub fn constants<F: ScalarField>(ctx: &mut Context<F>, values: &[i64]) -> Vec<AssignedValue<F>> {
    values.iter().map(|v| ctx.load_constant(fe(*v as i128))).collect()
}

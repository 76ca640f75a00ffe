//! Comparisons through a sign bit: running max/min and arg-max/arg-min over groups,
//! `a < b` and `a == b`.
//!
//! `d + 2^bits = b * 2^bits + low` with `low` range-checked in `bits` bits and `b`
//! boolean makes `b = [d >= 0]`, and only admits `-2^bits <= d < 2^bits` (twice the
//! activation range, so differences of two checked activations always fit).

use halo2_base::gates::GateInstructions;
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{Constant, Existing, Witness},
};

use super::Chips;
use crate::field::{fe, to_i128, ScalarField};

/// `[d >= 0]` for `-2^bits <= d < 2^bits` (no witness exists outside).
pub fn sign_bit<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, d: AssignedValue<F>) -> AssignedValue<F> {
    let dv = to_i128(d.value()).unwrap_or(0);
    let off = 1i128 << chips.bits;
    let bit = (dv >= 0) as i128;
    sign_bit_with(ctx, chips, d, bit, dv + off - bit * off)
}

/// [`sign_bit`] with the bit and low part supplied by the caller (tests forge them).
pub fn sign_bit_with<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    d: AssignedValue<F>,
    bit: i128,
    low: i128,
) -> AssignedValue<F> {
    sign_decompose(ctx, chips, d, chips.bits, bit, low)
}

/// The sign decomposition behind [`sign_bit`] and ReLU: constrains
/// `d + 2^width = b * 2^width + low` with `low` range-checked in `width` bits and `b`
/// boolean, which makes `b = [d >= 0]` and admits only `-2^width <= d < 2^width`.
/// Returns the cell of `b`.
pub fn sign_decompose<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    d: AssignedValue<F>,
    width: u32,
    bit: i128,
    low: i128,
) -> AssignedValue<F> {
    let off = 1i128 << width;
    let shifted = chips.gate().add(ctx, d, Constant(fe(off)));
    // Cells [low, b, 2^width, d + 2^width] with the gate a + b * c = d.
    ctx.assign_region([Witness(fe(low)), Witness(fe(bit)), Constant(fe(off)), Existing(shifted)], [0]);
    let low_cell = ctx.get(-4);
    let b_cell = ctx.get(-3);
    chips.range_check(ctx, low_cell, width as usize);
    chips.gate().assert_bit(ctx, b_cell);
    b_cell
}

/// Running best of `xs` (`max` or min): a later element replaces the best `m` when
/// `±(e - m) - strict >= 0`. Returns the best value, or with `arg` its position times `one`.
pub fn reduce<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    xs: &[AssignedValue<F>],
    max: bool,
    arg: bool,
    strict: bool,
    one: i64,
) -> AssignedValue<F> {
    let gate = chips.gate();
    let mut best = xs[0];
    let mut at = ctx.load_constant(F::ZERO);
    for (k, &e) in xs.iter().enumerate().skip(1) {
        let d = if max { gate.sub(ctx, e, best) } else { gate.sub(ctx, best, e) };
        let d = if strict { gate.sub(ctx, d, Constant(F::ONE)) } else { d };
        let take = sign_bit(ctx, chips, d);
        best = gate.select(ctx, e, best, take);
        if arg {
            at = gate.select(ctx, Constant(fe(k as i128 * one as i128)), at, take);
        }
    }
    if arg {
        at
    } else {
        best
    }
}

/// `one * [a < b]`, for `-2^bits <= b - a - 1 < 2^bits`.
pub fn less<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    a: AssignedValue<F>,
    b: AssignedValue<F>,
    one: i64,
) -> AssignedValue<F> {
    let gate = chips.gate();
    let d = gate.sub(ctx, b, a);
    let d = gate.sub(ctx, d, Constant(F::ONE));
    let bit = sign_bit(ctx, chips, d);
    gate.mul(ctx, bit, Constant(fe(one as i128)))
}

/// `one * [a == b]`.
pub fn equal<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    a: AssignedValue<F>,
    b: AssignedValue<F>,
    one: i64,
) -> AssignedValue<F> {
    let gate = chips.gate();
    let eq = gate.is_equal(ctx, a, b);
    gate.mul(ctx, eq, Constant(fe(one as i128)))
}

//! Division by a witness value, rounded half up:
//! `out = sign(b) * q` with `2 * a * 2^scale + |b| = q * 2|b| + r`, `0 <= r < 2|b|`.
//!
//! `r` and `2|b| - 1 - r` are range-checked in `bits + 2` bits (so `r < 2|b|` and
//! `b != 0`), `q` in the activation range: together they make `q` unique. `|b|` comes
//! from the sign bit of `b` (see [`super::compare::sign_bit`]).
//!
//! [`div_positive`] is the same for a divisor known to be positive (a soft-max sum, a
//! standard deviation): `2 * a * 2^scale + b = q * 2b + r`, where `2b - 1 - r >= 0`
//! forces `b >= 1` and a range check of `b` in `bits` bits bounds `b < 2^bits`, the
//! divisors the interpreter accepts (and [`div`]'s sign bit admits); then `r` and
//! `2b - 1 - r` need only `bits + 1` bits. No sign bit, no `|b|`, no sign on the
//! quotient: about half the cells.

use halo2_base::gates::GateInstructions;
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{Constant, Existing, Witness},
};

use super::compare::sign_bit;
use super::{io, Chips};
use crate::field::{fe, to_i128, ScalarField};

/// `round(a * 2^scale / b)` (half up in magnitude of `|b|`, sign of `b` applied).
pub fn div<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    a: AssignedValue<F>,
    b: AssignedValue<F>,
    scale: u32,
) -> AssignedValue<F> {
    let (q, r) = honest(a, to_i128(b.value()).unwrap_or(0).abs(), scale);
    div_with(ctx, chips, a, b, scale, q, r)
}

/// [`div`] with the quotient and remainder supplied by the caller (tests forge them).
pub fn div_with<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    a: AssignedValue<F>,
    b: AssignedValue<F>,
    scale: u32,
    q: i128,
    r: i128,
) -> AssignedValue<F> {
    let gate = chips.gate();
    let positive = sign_bit(ctx, chips, b);
    // |b| = 2 * [b >= 0] * b - b
    let t = gate.mul(ctx, positive, b);
    let neg_b = gate.neg(ctx, b);
    let abs_b = gate.mul_add(ctx, t, Constant(fe(2)), neg_b);
    let q_cell = quotient(ctx, chips, a, abs_b, scale, q, r, chips.bits + 2);
    // out = 2 * [b >= 0] * q - q
    let u = gate.mul(ctx, positive, q_cell);
    let neg_q = gate.neg(ctx, q_cell);
    gate.mul_add(ctx, u, Constant(fe(2)), neg_q)
}

/// `round(a * 2^scale / b)` (half up) for `0 < b < 2^bits`; no witness exists for
/// other `b`.
pub fn div_positive<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    a: AssignedValue<F>,
    b: AssignedValue<F>,
    scale: u32,
) -> AssignedValue<F> {
    let (q, r) = honest(a, to_i128(b.value()).unwrap_or(0), scale);
    div_positive_with(ctx, chips, a, b, scale, q, r)
}

/// [`div_positive`] with the quotient and remainder supplied by the caller (tests forge them).
pub fn div_positive_with<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    a: AssignedValue<F>,
    b: AssignedValue<F>,
    scale: u32,
    q: i128,
    r: i128,
) -> AssignedValue<F> {
    chips.range_check(ctx, b, chips.bits as usize);
    quotient(ctx, chips, a, b, scale, q, r, chips.bits + 1)
}

/// The honest `(q, r)` of `2 * a * 2^scale + d = q * 2d + r` (any pair when `d <= 0`:
/// no witness exists then).
fn honest<F: ScalarField>(a: AssignedValue<F>, d: i128, scale: u32) -> (i128, i128) {
    let n = 2 * to_i128(a.value()).unwrap_or(0) * (1i128 << scale) + d;
    let den = (2 * d).max(1);
    (n.div_euclid(den), n.rem_euclid(den))
}

/// The quotient cell `q` of `2 * a * 2^scale + d = q * 2d + r` for a divisor `d`
/// (`|b|`, or `b` itself when positive), with `r` and `2d - 1 - r` range-checked in
/// `width` bits (so `0 <= r < 2d`, which also forces `d >= 1`; `2d <= 2^width` for
/// every admitted divisor) and `q` in the activation range: together they make `q`
/// unique.
#[allow(clippy::too_many_arguments)]
fn quotient<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    a: AssignedValue<F>,
    d: AssignedValue<F>,
    scale: u32,
    q: i128,
    r: i128,
    width: u32,
) -> AssignedValue<F> {
    let gate = chips.gate();
    let den = gate.mul(ctx, d, Constant(fe(2)));
    let num = gate.mul_add(ctx, a, Constant(fe(1i128 << (scale + 1))), d);
    // Cells [r, q, den, num] with the gate a + b * c = d.
    ctx.assign_region([Witness(fe(r)), Witness(fe(q)), Existing(den), Existing(num)], [0]);
    let r_cell = ctx.get(-4);
    let q_cell = ctx.get(-3);
    let width = width as usize;
    chips.range_check(ctx, r_cell, width);
    let slack = gate.sub(ctx, den, r_cell);
    let slack = gate.sub(ctx, slack, Constant(F::ONE));
    chips.range_check(ctx, slack, width);
    io::range_check_signed(ctx, chips, q_cell);
    q_cell
}

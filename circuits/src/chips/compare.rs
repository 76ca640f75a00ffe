//! Comparisons through a sign bit: running max/min and arg-max/arg-min over groups,
//! `a < b` and `a == b`; and the best value of a group without a running compare.
//!
//! `d + 2^bits = b * 2^bits + low` with `low` range-checked in `bits` bits and `b`
//! boolean makes `b = [d >= 0]`, and only admits `-2^bits <= d < 2^bits` (twice the
//! activation range, so differences of two checked activations always fit).
//!
//! [`best`] (max or min of a group, no position) witnesses the best value `m` and
//! constrains, for every element, `d_i = m - x_i` (max; `x_i - m` for min) to
//! `0 <= d_i < 2^(bits+1)` and `prod_i d_i = 0`. The field has no zero divisors, so some
//! `d_j = 0`: `m = x_j`, one of the elements; and for elements of magnitude at most
//! `2^(bits-1)` (far below the field's half) the checked `d_i` is the integer
//! difference, so `m >= x_i` (max) for every `i`: `m` is the maximum, unique. The width
//! `bits + 1` admits every group of such elements (a spread up to `2^bits`), so every
//! group the interpreter's running compare accepts has a witness.

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

/// The maximum (`max`) or minimum of `xs`, for elements of magnitude at most
/// `2^(bits-1)` (see the module doc): the value the interpreter's running
/// `QOp::Reduce { arg: false }` gives, whatever its `strict` (which only picks among
/// equal elements, so only matters for the position).
pub fn best<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, xs: &[AssignedValue<F>], max: bool) -> AssignedValue<F> {
    let vals = xs.iter().map(|x| to_i128(x.value()).unwrap_or(0));
    let m = if max { vals.max() } else { vals.min() };
    best_with(ctx, chips, xs, max, fe(m.unwrap_or(0)))
}

/// [`best`] with the best value `m` supplied by the caller (tests forge it).
///
/// Layout: the differences two elements at a time, sharing the cell of `m`, in one
/// region `[x_a, d_a, s, m, d_b, -s, x_b]` (`s = 1` for max, `-1` for min) under the gate
/// `a + b * c = d` at rows 0 and 3: `x_a + s * d_a = m` and `m - s * d_b = x_b`; then
/// each `d_i` range-checked in `bits + 1` bits, and the running product, its last
/// output the constant 0. About 15.5 advice cells per element besides the range checks'
/// own (one element alone is its own best: no cell).
pub fn best_with<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, xs: &[AssignedValue<F>], max: bool, m: F) -> AssignedValue<F> {
    if xs.len() == 1 {
        return xs[0];
    }
    let s = if max { F::ONE } else { -F::ONE };
    let diff = |x: &AssignedValue<F>| if max { m - *x.value() } else { *x.value() - m };
    let mut ds = Vec::with_capacity(xs.len());
    let mut m_cell: Option<AssignedValue<F>> = None;
    for pair in xs.chunks(2) {
        let m_in = m_cell.map_or(Witness(m), Existing);
        let a = pair[0];
        match pair.get(1) {
            Some(b) => {
                ctx.assign_region(
                    [Existing(a), Witness(diff(&a)), Constant(s), m_in, Witness(diff(b)), Constant(-s), Existing(*b)],
                    [0, 3],
                );
                ds.extend([ctx.get(-6), ctx.get(-3)]);
                m_cell.get_or_insert(ctx.get(-4));
            }
            None => {
                ctx.assign_region([Existing(a), Witness(diff(&a)), Constant(s), m_in], [0]);
                ds.push(ctx.get(-3));
                m_cell.get_or_insert(ctx.get(-1));
            }
        }
    }
    for &d in &ds {
        chips.range_check(ctx, d, chips.bits as usize + 1);
    }
    // prod d_i = 0: [0, p, d, p'] per factor, the last p' the constant 0.
    let mut p = ds[0];
    for (i, &d) in ds.iter().enumerate().skip(1) {
        if i + 1 < ds.len() {
            p = chips.gate().mul(ctx, p, d);
        } else {
            ctx.assign_region([Constant(F::ZERO), Existing(p), Existing(d), Constant(F::ZERO)], [0]);
        }
    }
    m_cell.expect("two or more elements")
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

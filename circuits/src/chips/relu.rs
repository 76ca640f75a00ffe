//! ReLU through a sign bit.
//!
//! With `w = bits - 1`, `low` range-checked in `w` bits and `n` boolean, the two gate
//! rows
//!
//! ```text
//! relu + n * x = x
//! x + n * 2^w = low
//! ```
//!
//! make `n = [x < 0]` (and check `-2^w <= x < 2^w`): for `n = 0`, `x = low >= 0`; for
//! `n = 1`, `x = low - 2^w < 0`. Then `relu = (1 - n) x`. The rows share their `x` cell
//! (halo2-base's gate `a + b * c = d` at offsets 0 and 3), so a ReLU is 7 cells, the bit
//! check of `n` and the range check of `low`: [`super::compare::sign_decompose`] with the
//! product folded in.

use halo2_base::gates::GateInstructions;
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

/// [`relu`] with the sign bit `bit = [x >= 0]` and low part `low = x + 2^w - bit * 2^w`
/// supplied by the caller (tests forge them).
pub fn relu_with<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, x: AssignedValue<F>, bit: i128, low: i128) -> AssignedValue<F> {
    let neg = 1 - bit;
    relu_forged(ctx, chips, x, fe::<F>(bit) * x.value(), [neg, neg], low)
}

/// The ReLU cells with every witness supplied: the output, the sign bit `n` as each of
/// the two rows sees it (honestly the same) and `low`. Negative tests forge them.
#[doc(hidden)]
pub fn relu_forged<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    x: AssignedValue<F>,
    out: F,
    neg: [i128; 2],
    low: i128,
) -> AssignedValue<F> {
    let w = chips.bits - 1;
    ctx.assign_region(
        [Witness(out), Witness(fe(neg[0])), Existing(x), Existing(x), Witness(fe(neg[1])), Constant(fe(1i128 << w)), Witness(fe(low))],
        [0, 3],
    );
    let (out, neg_a, neg_b, low_cell) = (ctx.get(-7), ctx.get(-6), ctx.get(-3), ctx.get(-1));
    ctx.constrain_equal(&neg_a, &neg_b);
    chips.range_check(ctx, low_cell, w as usize);
    chips.gate().assert_bit(ctx, neg_a);
    out
}

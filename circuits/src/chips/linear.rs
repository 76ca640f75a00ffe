//! Dot products with constant weights, products of activations, and the constrained
//! rescale that follows them.
//!
//! Fixed weights are constants, so the verifying key binds the model: with the MAC gate
//! ([`super::mac`]) they sit in its fixed weight columns; without it they are
//! halo2-base `Constant` cells, copy-constrained to its fixed constants column. Private
//! weights ([`linear_cells`]) are witness cells, and the same rows hold them.

use halo2_base::gates::GateInstructions;
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{self, Constant, Existing, Witness},
};

use super::mac::Macs;
use super::Chips;
use crate::field::{fe, to_i128, ScalarField};

/// `rescale(sum_t coeff[t] * x[t] + bias, shift)`, or the plain sum when `shift == 0`.
pub fn linear<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    terms: &[(AssignedValue<F>, i64)],
    bias: i64,
    shift: u32,
) -> AssignedValue<F> {
    linear_shared(ctx, chips, terms, bias, shift, None)
}

/// [`linear`] for a dot product whose term cells others share: calls with the same
/// `share` key must pass the same cells in the same order, and the MAC gate may then
/// lay them out together ([`Macs::add`]; the key is told apart by whether a bias term
/// joins).
pub fn linear_shared<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    terms: &[(AssignedValue<F>, i64)],
    bias: i64,
    shift: u32,
    share: Option<u64>,
) -> AssignedValue<F> {
    // Fold the rounding constant of the rescale into the bias.
    let half = if shift > 0 { 1i128 << (shift - 1) } else { 0 };
    let bias = bias as i128 + half;
    if let Some(macs) = chips.mac {
        if let Some(tally) = chips.tally {
            tally_plain(tally, terms, bias, shift);
        }
        let mut t: Vec<(AssignedValue<F>, F)> = terms.iter().map(|(x, w)| (*x, fe(*w as i128))).collect();
        if bias != 0 {
            t.push((macs.one(ctx), fe(bias)));
        }
        let acc = Macs::value(&t);
        let (acc_cell, out) = if shift == 0 {
            let c = ctx.load_witness(acc);
            (c, c)
        } else {
            rescale_value(ctx, chips, acc, shift)
        };
        macs.add(share.map(|k| k.rotate_left(1) ^ u64::from(bias != 0)), &t, acc_cell);
        return out;
    }
    let terms: Vec<_> = terms.iter().map(|(x, w)| (*x, Constant(fe(*w as i128)))).collect();
    let bias = (bias != 0 || terms.is_empty()).then(|| Constant(fe(bias)));
    weighted_sum(ctx, chips, terms, bias, None, shift)
}

/// Counting with the MAC gate: what the plain layout's [`weighted_sum`] would assign for
/// this dot product (`bias` with the rounding constant folded in), beyond the MAC
/// layout's own cells — halo2-base's inner product over `[x.., 1]` and `[w.., bias]`:
/// a zero cell (unless the first weight is 1) and three cells per term after it, with
/// the weights (and the zero, and the bias's 1) as constants — less the accumulator
/// cell the MAC layout loads when there is no rescale (with one, both layouts copy the
/// sum into the same rescale cells).
fn tally_plain<F: ScalarField>(tally: &super::Tally, terms: &[(AssignedValue<F>, i64)], bias: i128, shift: u32) {
    let with_bias = bias != 0 || terms.is_empty();
    let b: Vec<i128> = terms.iter().map(|(_, w)| *w as i128).chain(with_bias.then_some(bias)).collect();
    let starts_with_one = b[0] == 1;
    let cells = if starts_with_one { 1 + 3 * (b.len() - 1) } else { 1 + 3 * b.len() };
    tally.plain_cells.set(tally.plain_cells.get() + cells - usize::from(shift == 0));
    let mut constants = tally.plain_constants.borrow_mut();
    if !starts_with_one {
        constants.push(0);
    }
    constants.extend(&b[usize::from(starts_with_one)..]);
    if with_bias {
        constants.push(1);
    }
}

/// [`linear`] with weights and bias as cells (private parameters are witness cells,
/// architecture constants `Constant`s): `rescale(sum_t w[t] * x[t] + bias, shift)`.
/// The rows do not depend on the values, so neither does the verifying key.
pub fn linear_cells<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    terms: Vec<(AssignedValue<F>, QuantumCell<F>)>,
    bias: QuantumCell<F>,
    shift: u32,
) -> AssignedValue<F> {
    let half = (shift > 0).then(|| Constant(fe(1i128 << (shift - 1))));
    weighted_sum(ctx, chips, terms, Some(bias), half, shift)
}

/// `rescale(sum_t x[t] * w[t] + bias + half, shift)`: one inner product; `bias` and
/// `half` (the rounding constant, when not already folded into `bias`) are multiplied by 1.
fn weighted_sum<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    terms: Vec<(AssignedValue<F>, QuantumCell<F>)>,
    bias: Option<QuantumCell<F>>,
    half: Option<QuantumCell<F>>,
    shift: u32,
) -> AssignedValue<F> {
    let (mut a, mut b): (Vec<QuantumCell<F>>, Vec<QuantumCell<F>>) = terms.into_iter().map(|(x, w)| (Existing(x), w)).unzip();
    for c in bias.into_iter().chain(half) {
        a.push(Constant(F::ONE));
        b.push(c);
    }
    let acc = chips.gate().inner_product(ctx, a, b);
    if shift == 0 {
        acc
    } else {
        rescale(ctx, chips, acc, shift)
    }
}

/// `rescale(sum_t x[t] * y[t], shift)` for two activations.
pub fn bilinear<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    pairs: &[(AssignedValue<F>, AssignedValue<F>)],
    shift: u32,
) -> AssignedValue<F> {
    let half = if shift > 0 { 1i128 << (shift - 1) } else { 0 };
    let mut a: Vec<QuantumCell<F>> = pairs.iter().map(|(x, _)| Existing(*x)).collect();
    let mut b: Vec<QuantumCell<F>> = pairs.iter().map(|(_, y)| Existing(*y)).collect();
    a.push(Constant(F::ONE));
    b.push(Constant(fe(half)));
    let acc = chips.gate().inner_product(ctx, a, b);
    if shift == 0 {
        acc
    } else {
        rescale(ctx, chips, acc, shift)
    }
}

/// Given `acc = v + 2^(shift-1)`, returns `q = floor(acc / 2^shift)` constrained by
/// `acc - q * 2^shift = r`, `0 <= r < 2^shift` and `|q| < 2^(bits-1)`.
///
/// The range check on `q` is what makes `q` unique: without it, any of `2^shift`
/// field elements `(acc - r) / 2^shift` would satisfy the equation.
pub fn rescale<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, acc: AssignedValue<F>, shift: u32) -> AssignedValue<F> {
    rescale_parts(ctx, chips, acc, shift, Quotient::Signed).0
}

/// How a rescale's quotient is range-checked.
#[derive(Clone, Copy, Debug)]
pub enum Quotient {
    /// `|q| < 2^(bits-1)` (or by the ReLU that consumes it, see [`Chips::q_checked_by_relu`]).
    Signed,
    /// `-bound <= q`, `q + bound < 2^bits`: a caller that knows a tighter range.
    Within { bound: i128, bits: u32 },
}

/// `floor(acc / 2^shift)` and its remainder, with the quotient checked as `check` says
/// and supplied, with the remainder, by the caller: honest callers pass
/// `acc.div_euclid(2^shift)`; tests pass forged pairs to show they are rejected.
pub fn rescale_parts_with<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    acc: AssignedValue<F>,
    shift: u32,
    q: i128,
    r: i128,
    check: Quotient,
) -> (AssignedValue<F>, AssignedValue<F>) {
    let [_, q, r] = rescale_cells(ctx, chips, Existing(acc), shift, q, r, check);
    (q, r)
}

/// [`rescale_parts_with`] for the honest quotient and remainder.
pub fn rescale_parts<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    acc: AssignedValue<F>,
    shift: u32,
    check: Quotient,
) -> (AssignedValue<F>, AssignedValue<F>) {
    let v = to_i128(acc.value()).unwrap_or(0);
    let d = 1i128 << shift;
    rescale_parts_with(ctx, chips, acc, shift, v.div_euclid(d), v.rem_euclid(d), check)
}

/// [`rescale`] of a value that is not yet a cell (a MAC gate's output): returns the new
/// accumulator cell, for the caller to constrain, and the quotient.
fn rescale_value<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, acc: F, shift: u32) -> (AssignedValue<F>, AssignedValue<F>) {
    let v = to_i128(&acc).unwrap_or(0);
    let d = 1i128 << shift;
    let [acc, q, _] = rescale_cells(ctx, chips, Witness(acc), shift, v.div_euclid(d), v.rem_euclid(d), Quotient::Signed);
    (acc, q)
}

/// The rescale cells `[acc, q, -2^shift, r]` under the gate `a + b * c = d`, with `r`
/// range-checked and `q` checked as `check` says; returns the `acc`, `q` and `r` cells.
fn rescale_cells<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    acc: QuantumCell<F>,
    shift: u32,
    q: i128,
    r: i128,
    check: Quotient,
) -> [AssignedValue<F>; 3] {
    ctx.assign_region([acc, Witness(fe(q)), Constant(fe(-(1i128 << shift))), Witness(fe(r))], [0]);
    let r_cell = ctx.get(-1);
    let q_cell = ctx.get(-3);
    let acc_cell = ctx.get(-4);
    chips.range_check(ctx, r_cell, shift as usize);
    match check {
        Quotient::Signed if chips.q_checked_by_relu => {}
        Quotient::Signed => super::io::range_check_signed(ctx, chips, q_cell),
        Quotient::Within { bound, bits } => super::io::range_check_offset(ctx, chips, q_cell, bound, bits),
    }
    [acc_cell, q_cell, r_cell]
}

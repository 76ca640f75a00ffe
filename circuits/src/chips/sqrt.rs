//! Exact square roots at the activation scale (`QOp::Sqrt`), without a table.
//!
//! For `a = (x + offset) * 2^scale` the chip witnesses `y` and constrains
//! `0 <= y < 2^w`, `r = a - y^2` with `0 <= r` and `0 <= 2y - r` (each range-checked,
//! `w = sqrt_bits(bits, scale)`). Then `y^2 <= a <= y^2 + 2y < (y + 1)^2`, so
//! `y = floor(sqrt(a))`, unique. A negative `a` (a field element near the modulus) has
//! no such `y`: `y^2 + r` stays below `2^(2w + 1)`.

use halo2_base::gates::GateInstructions;
use halo2_base::{AssignedValue, Context, QuantumCell::Constant};
use zkinfer_models::quant::{isqrt, sqrt_bits};

use super::Chips;
use crate::field::{fe, to_i128, ScalarField};

/// `floor(sqrt((x + offset) * 2^scale))`.
pub fn sqrt<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, x: AssignedValue<F>, scale: u32, offset: i64) -> AssignedValue<F> {
    let a = (to_i128(x.value()).unwrap_or(-1) + offset as i128) << scale;
    sqrt_with(ctx, chips, x, scale, offset, isqrt(a).unwrap_or(0))
}

/// [`sqrt`] with the root supplied by the caller (tests forge it).
pub fn sqrt_with<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    x: AssignedValue<F>,
    scale: u32,
    offset: i64,
    y: i128,
) -> AssignedValue<F> {
    let gate = chips.gate();
    let w = sqrt_bits(chips.bits, scale) as usize;
    let a = gate.mul_add(ctx, x, Constant(fe(1i128 << scale)), Constant(fe((offset as i128) << scale)));
    let y = ctx.load_witness(fe(y));
    chips.range_check(ctx, y, w);
    let r = gate.sub_mul(ctx, a, y, y);
    chips.range_check(ctx, r, w + 1);
    let two_y = gate.add(ctx, y, y);
    let slack = gate.sub(ctx, two_y, r);
    chips.range_check(ctx, slack, w + 1);
    y
}

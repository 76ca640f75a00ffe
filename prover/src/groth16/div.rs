//! Division by an activation (`QOp::Div`), rounded half up:
//! `out = sign(b) * q` with `2 a 2^scale + |b| = q * 2|b| + r`, `0 <= r < 2|b|`.
//!
//! `r` and `2|b| - 1 - r` are decomposed into `bits + 2` bits (so `r < 2|b|`, which
//! also rules out `b = 0`), and `q` is range-checked as an activation: together they
//! make `q` unique. `|b| = (2 s - 1) b` with `s` the sign bit of `b`
//! ([`super::compare::sign_bit`]), as in the halo2 chip. Cost per element: about
//! `4 bits + 12` constraints.

use ark_relations::r1cs::{LinearCombination, Variable};

use super::builder::{Builder, Wire};
use super::compare::{diff, sign_bit};
use super::error::Groth16Error;
use super::field::fr;
use super::ops::MAX_RANGE_BITS;

/// `sign(b) * round(a * 2^scale / |b|)`.
pub fn div(b: &mut Builder, node: &str, x: &Wire, y: &Wire, scale: u32) -> Result<Wire, Groth16Error> {
    let n = 2 * x.value * (1i128 << scale) + y.value.abs();
    let den = 2 * y.value.abs();
    if den == 0 && !b.is_setup() {
        return Err(Groth16Error::DivisionByZero { node: node.into() });
    }
    let den = den.max(1);
    div_with(b, node, x, y, scale, n.div_euclid(den), n.rem_euclid(den))
}

/// [`div`] for a divisor that must be positive (`QOp::Div { positive }`: a soft-max
/// sum, a standard deviation, an indicator sum): as the interpreter and the halo2 chip,
/// `b <= 0` has no witness, enforced by the sign bit of `b` being 1.
pub fn div_positive(b: &mut Builder, node: &str, x: &Wire, y: &Wire, scale: u32) -> Result<Wire, Groth16Error> {
    if y.value <= 0 && !b.is_setup() {
        return Err(Groth16Error::NonPositiveDivisor { node: node.into(), value: y.value });
    }
    let n = 2 * x.value * (1i128 << scale) + y.value.abs();
    let den = (2 * y.value.abs()).max(1);
    div_positive_with(b, node, x, y, scale, n.div_euclid(den), n.rem_euclid(den))
}

/// [`div`] with the quotient `q` and remainder `r` supplied by the caller (tests forge
/// them).
pub fn div_with(b: &mut Builder, node: &str, x: &Wire, y: &Wire, scale: u32, q: i128, r: i128) -> Result<Wire, Groth16Error> {
    divide(b, node, x, y, scale, q, r, false)
}

/// [`div_positive`] with the quotient and remainder supplied by the caller (tests forge
/// a negative divisor with them).
pub fn div_positive_with(b: &mut Builder, node: &str, x: &Wire, y: &Wire, scale: u32, q: i128, r: i128) -> Result<Wire, Groth16Error> {
    divide(b, node, x, y, scale, q, r, true)
}

/// The division constraints; with `positive_only`, also `sign(b) = 1`.
#[allow(clippy::too_many_arguments)]
fn divide(
    b: &mut Builder,
    node: &str,
    x: &Wire,
    y: &Wire,
    scale: u32,
    q: i128,
    r: i128,
    positive_only: bool,
) -> Result<Wire, Groth16Error> {
    let width = b.bits + 2;
    if 2 * b.bits + scale + 4 > MAX_RANGE_BITS || scale >= 120 {
        return Err(Groth16Error::TooWide { node: node.into(), bits: b.bits, shift: scale });
    }
    let (s, positive) = sign_bit(b, node, y)?;
    if positive_only {
        b.enforce_zero(LinearCombination(vec![(fr(1), s), (fr(-1), Variable::One)]))?;
    }
    let sign = |v: i128| if positive { v } else { -v };
    // (2 s - 1) as a linear combination.
    let pm: LinearCombination<_> = LinearCombination(vec![(fr(2), s), (fr(-1), Variable::One)]);
    let abs_value = sign(y.value);
    let abs = b.witness(abs_value)?;
    b.enforce(pm.clone(), y.lc.clone(), abs.into())?;
    // q * 2|b| = 2^(scale+1) a + |b| - r
    let q_var = b.witness(q)?;
    let q = b.checked(node, Wire { lc: q_var.into(), value: q, sign: None })?;
    let r_var = b.witness(r)?;
    let den = LinearCombination(vec![(fr(2), abs)]);
    let mut num = LinearCombination(x.lc.iter().map(|(c, v)| (*c * fr(1i128 << (scale + 1)), *v)).collect());
    num.0.push((fr(1), abs));
    b.enforce(q.lc.clone(), den.clone(), diff(&num, &r_var.into(), 0))?;
    b.bits(node, &r_var.into(), r, width)?;
    b.bits(node, &diff(&den, &r_var.into(), -1), 2 * abs_value - 1 - r, width)?;
    let out_value = sign(q.value);
    let out = b.witness(out_value)?;
    b.enforce(pm, q.lc, out.into())?;
    Ok(Wire { lc: out.into(), value: out_value, sign: None })
}

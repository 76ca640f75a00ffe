//! Comparisons through sign bits: `a < b`, `a == b`, running max/min and
//! arg-max/arg-min over groups (`QOp::Cmp`, `QOp::Reduce`), and the two-way select
//! they and the table clamps share.
//!
//! [`sign_bit`] decomposes `d + 2^bits` into `bits + 1` booleans: the top one is
//! `[d >= 0]`, and only `-2^bits <= d < 2^bits` has a witness (twice the activation
//! range, so differences of two checked activations always fit), as in the halo2 chip
//! and the interpreter.

use ark_bn254::Fr;
use ark_relations::r1cs::{LinearCombination, Variable};

use super::builder::{Builder, Wire};
use super::error::Groth16Error;
use super::field::{fr, pow2};

/// `lc_a - lc_b + k` (compacted).
pub fn diff(a: &LinearCombination<Fr>, b: &LinearCombination<Fr>, k: i128) -> LinearCombination<Fr> {
    let mut lc = a.clone();
    lc.0.extend(b.iter().map(|(c, v)| (-*c, *v)));
    if k != 0 {
        lc.0.push((fr(k), Variable::One));
    }
    lc.compactify();
    lc
}

/// `lc * 2^e`.
pub fn shifted(lc: &LinearCombination<Fr>, e: u32) -> LinearCombination<Fr> {
    let k = pow2(e);
    LinearCombination(lc.iter().map(|(c, v)| (*c * k, *v)).collect())
}

/// `a - b - k` as a wire.
pub fn sub(a: &Wire, b: &Wire, k: i128) -> Wire {
    Wire { lc: diff(&a.lc, &b.lc, -k), value: a.value - b.value - k, sign: None }
}

/// The boolean `[d >= 0]`: `bits + 2` constraints. Fails with
/// [`Groth16Error::OutOfRange`] naming `node` unless `-2^bits <= d < 2^bits`.
pub fn sign_bit(b: &mut Builder, node: &str, d: &Wire) -> Result<(Variable, bool), Groth16Error> {
    let width = b.bits;
    let shifted = diff(&d.lc, &LinearCombination::zero(), 1i128 << width);
    let bits = b.bits(node, &shifted, d.value + (1i128 << width), width + 1).map_err(|e| match e {
        Groth16Error::OutOfRange { node, .. } => Groth16Error::OutOfRange { node, value: d.value, bits: width + 1 },
        e => e,
    })?;
    Ok((*bits.last().expect("width + 1 >= 1 bits"), d.value >= 0))
}

/// `s ? x : y` for a boolean `s` whose value is `take`: a fresh witness `o` with
/// `s * (x - y) = o - y`, one constraint.
pub fn select(b: &mut Builder, s: Variable, take: bool, x: &Wire, y: &Wire) -> Result<Wire, Groth16Error> {
    let value = if take { x.value } else { y.value };
    let o = b.witness(value)?;
    let o_lc: LinearCombination<Fr> = o.into();
    b.enforce(s.into(), diff(&x.lc, &y.lc, 0), diff(&o_lc, &y.lc, 0))?;
    Ok(Wire { lc: o_lc, value, sign: None })
}

/// `one * [a < b]`: the sign bit of `b - a - 1`, scaled (no constraint beyond it).
pub fn less(b: &mut Builder, node: &str, x: &Wire, y: &Wire, one: i64) -> Result<Wire, Groth16Error> {
    let (s, ge) = sign_bit(b, node, &sub(y, x, 1))?;
    Ok(Wire { lc: LinearCombination(vec![(fr(one as i128), s)]), value: ge as i128 * one as i128, sign: None })
}

/// `one * [a == b]` with the boolean `e` and the inverse `inv` of `a - b` (0 when
/// equal): `(a - b) * inv = 1 - e`, `(a - b) * e = 0`, `e * inv = 0`. The last makes
/// `inv` unique too, so no witness variable is free.
pub fn equal(b: &mut Builder, x: &Wire, y: &Wire, one: i64) -> Result<Wire, Groth16Error> {
    let d = sub(x, y, 0);
    let eq = d.value == 0;
    let inv_value = if eq || b.is_setup() { Fr::from(0u8) } else { ark_ff::Field::inverse(&fr(d.value)).expect("non-zero") };
    let inv = b.cs.new_witness_variable(|| Ok(inv_value))?;
    let e = b.witness(eq as i128)?;
    let one_minus_e = diff(&Variable::One.into(), &e.into(), 0);
    b.enforce(d.lc.clone(), inv.into(), one_minus_e)?;
    b.enforce(d.lc, e.into(), LinearCombination::zero())?;
    b.enforce(e.into(), inv.into(), LinearCombination::zero())?;
    Ok(Wire { lc: LinearCombination(vec![(fr(one as i128), e)]), value: eq as i128 * one as i128, sign: None })
}

/// Running best of `xs` (`max` or min): a later element `e` replaces the best `m` when
/// `±(e - m) - strict >= 0`. Returns the best value, or with `arg` its position times
/// `one`. Per element after the first: a sign bit and one select (two with `arg`).
pub fn reduce(b: &mut Builder, node: &str, xs: &[&Wire], max: bool, arg: bool, strict: bool, one: i64) -> Result<Wire, Groth16Error> {
    let mut best = xs[0].clone();
    let mut at = Wire::constant(0);
    for (k, e) in xs.iter().enumerate().skip(1) {
        let d = if max { sub(e, &best, strict as i128) } else { sub(&best, e, strict as i128) };
        let (s, take) = sign_bit(b, node, &d)?;
        if arg {
            at = select(b, s, take, &Wire::constant(k as i64 * one), &at)?;
        }
        best = select(b, s, take, e, &best)?;
    }
    Ok(if arg { at } else { best })
}

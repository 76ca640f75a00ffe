//! Gadgets for the quantized ops: dot products with constant weights, products of
//! activations, the constrained rescale that follows them, and ReLU.
//!
//! Constant weights are coefficients of linear combinations, so a `Linear` op costs no
//! multiplication constraint: only its rescale costs constraints.

use ark_bn254::Fr;
use ark_relations::r1cs::{LinearCombination, Variable};

use super::builder::{Builder, Wire};
use super::error::Groth16Error;
use super::field::{fr, pow2};

/// The field has 254 bits; range checks of `bits + shift` bits must stay well below it
/// so that `q * 2^shift + r` cannot wrap around the modulus.
pub const MAX_RANGE_BITS: u32 = 250;

/// `rescale(sum_t coeff[t] * x[t] + bias, shift)`, or the plain sum when `shift == 0`.
pub fn linear(b: &mut Builder, node: &str, terms: &[(&Wire, i64)], bias: i64, shift: u32) -> Result<Wire, Groth16Error> {
    let mut lc = LinearCombination(Vec::new());
    let mut value = bias as i128;
    for (w, c) in terms {
        let c_fr = fr(*c as i128);
        lc.0.extend(w.lc.iter().map(|(k, v)| (*k * c_fr, *v)));
        value += *c as i128 * w.value;
    }
    if bias != 0 || lc.is_empty() {
        lc.0.push((fr(bias as i128), Variable::One));
    }
    lc.compactify();
    rescale(b, node, Wire { lc, value, sign: None }, shift)
}

/// `rescale(sum_t x[t] * y[t], shift)` for two activations: one constraint per product.
pub fn bilinear(b: &mut Builder, node: &str, pairs: &[(&Wire, &Wire)], shift: u32) -> Result<Wire, Groth16Error> {
    let mut lc = LinearCombination(Vec::with_capacity(pairs.len()));
    let mut value = 0i128;
    for (x, y) in pairs {
        let p = b.mul(x, y)?;
        lc.0.extend(p.lc.0);
        value += p.value;
    }
    if lc.is_empty() {
        lc.0.push((Fr::from(0u8), Variable::One));
    }
    rescale(b, node, Wire { lc, value, sign: None }, shift)
}

/// Given `acc`, returns `q = floor((acc + 2^(shift-1)) / 2^shift)` constrained by
/// `acc + 2^(shift-1) = q * 2^shift + r`, `0 <= r < 2^shift` (bits of `r`) and
/// `|q| < 2^(bits-1)` (bits of `q + 2^(bits-1)`); `acc` itself when `shift == 0`.
///
/// The range check on `q` is what makes `q` unique: without it any of `2^shift` field
/// elements `(acc + 2^(shift-1) - r) / 2^shift` would satisfy the equation. Uniqueness
/// also needs `bits + shift` below the field size, checked here.
pub fn rescale(b: &mut Builder, node: &str, acc: Wire, shift: u32) -> Result<Wire, Groth16Error> {
    rescale_within(b, node, acc, shift, None)
}

/// [`rescale`] with the quotient checked as `-bound <= q` and `q + bound < 2^bits` for
/// `within = Some((bound, bits))`, where the caller knows a tighter range than `bits`.
pub fn rescale_within(b: &mut Builder, node: &str, acc: Wire, shift: u32, within: Option<(i128, u32)>) -> Result<Wire, Groth16Error> {
    if shift == 0 {
        return b.compact(acc);
    }
    if b.bits + shift > MAX_RANGE_BITS || shift >= 126 {
        return Err(Groth16Error::TooWide { node: node.into(), bits: b.bits, shift });
    }
    let d = 1i128 << shift;
    let v = acc.value + (d >> 1);
    let (q, r) = (v.div_euclid(d), v.rem_euclid(d));
    let q_var = b.witness(q)?;
    let q = match within {
        None => b.checked(node, Wire { lc: q_var.into(), value: q, sign: None })?,
        Some((bound, bits)) => {
            let shifted = LinearCombination(vec![(Fr::from(1u8), q_var), (fr(bound), Variable::One)]);
            b.bits(node, &shifted, q + bound, bits)?;
            Wire { lc: q_var.into(), value: q, sign: None }
        }
    };
    // r = acc + 2^(shift-1) - q * 2^shift, decomposed into `shift` bits.
    let mut r_lc = acc.lc;
    r_lc.0.push((fr(d >> 1), Variable::One));
    r_lc.0.push((-pow2(shift), q_var));
    r_lc.compactify();
    b.bits(node, &r_lc, r, shift)?;
    Ok(q)
}

/// `max(x, 0)`: `x` is range-checked (free when already checked) and the output is
/// `sign(x) * x`, one multiplication constraint.
pub fn relu(b: &mut Builder, node: &str, x: &Wire) -> Result<Wire, Groth16Error> {
    let x = b.checked(node, x.clone())?;
    let sign = x.sign.expect("checked wires carry their sign bit");
    if sign == Variable::One {
        return Ok(x);
    }
    let value = x.value.max(0);
    let y = b.witness(value)?;
    b.enforce(sign.into(), x.lc, y.into())?;
    Ok(Wire { lc: y.into(), value, sign: Some(Variable::One) })
}

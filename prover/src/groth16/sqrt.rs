//! Exact square roots at the activation scale (`QOp::Sqrt`) in R1CS: the same
//! constraints as the halo2 chip. For `a = (x + offset) * 2^scale`, `y` is decomposed
//! into `w = sqrt_bits(bits, scale)` bits, `y^2` is one multiplication, and `r = a - y^2`
//! and `2y - r` are decomposed into `w + 1` bits each: `y^2 <= a < (y + 1)^2`. About
//! `3w + 6` constraints per element.

use ark_bn254::Fr;
use ark_relations::r1cs::{LinearCombination, Variable};
use zkinfer_models::quant::{isqrt, sqrt_bits};

use super::builder::{Builder, Wire};
use super::compare::{diff, shifted};
use super::error::Groth16Error;
use super::field::fr;

/// `floor(sqrt((x + offset) * 2^scale))`; a negative radicand fails with
/// [`Groth16Error::OutOfRange`] naming `node`.
pub fn sqrt(b: &mut Builder, node: &str, x: &Wire, scale: u32, offset: i64) -> Result<Wire, Groth16Error> {
    let a = (x.value + offset as i128) << scale;
    let y = isqrt(a).unwrap_or(0);
    sqrt_with(b, node, x, scale, offset, y)
}

/// [`sqrt`] with the root supplied by the caller (tests forge it).
pub fn sqrt_with(b: &mut Builder, node: &str, x: &Wire, scale: u32, offset: i64, y: i128) -> Result<Wire, Groth16Error> {
    let w = sqrt_bits(b.bits, scale);
    let value = (x.value + offset as i128) << scale;
    let mut a = shifted(&x.lc, scale);
    a.0.push((fr((offset as i128) << scale), Variable::One));
    a.compactify();
    let y_var = b.witness(y)?;
    let root = Wire { lc: y_var.into(), value: y, sign: None };
    b.bits(node, &root.lc, y, w)?;
    let sq = b.mul(&root, &root)?;
    let r = diff(&a, &sq.lc, 0);
    let rv = value - y * y;
    b.bits(node, &r, rv, w + 1)?;
    let mut slack = diff(&LinearCombination(vec![(Fr::from(2u8), y_var)]), &r, 0);
    slack.compactify();
    b.bits(node, &slack, 2 * y - rv, w + 1)?;
    Ok(root)
}

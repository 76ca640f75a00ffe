//! Fixed-point quantization with power-of-two scales.
//!
//! Every activation is an integer `q` standing for `q / 2^scale`, with
//! `|q| < 2^(bits - 1)`. Weights are integers at `param_scale`. Products are brought back
//! to `scale` by a rounding division by a power of two, which circuits constrain as
//! `v + 2^(d-1) = q * 2^d + r` with `0 <= r < 2^d` and `q` range-checked.

mod calibrate;
mod lower;
mod lower_elements;
mod lower_linear;
mod lower_nonlinear;
mod lower_norm;
mod lower_topk;
mod params;
mod segment;
pub mod table;

pub use calibrate::{calibrate, Calibration, QuantOptions};
pub use lower::quantize;
pub use params::{ParamRef, ParamSlot};

use serde::{Deserialize, Serialize};

use crate::tensor::DType;

/// Index of a value in a [`QuantGraph`].
pub type QValueId = usize;

/// A quantized op over flat integer vectors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum QOp {
    /// `out[o] = rescale(sum_t coeff[t] * in[slot[t]][idx[t]] + bias[o], shift)` for
    /// `t in offsets[o]..offsets[o+1]`: Gemm, MatMul by a constant, Add, Sub, Neg, Sum.
    Linear { offsets: Vec<usize>, slot: Vec<u8>, idx: Vec<u32>, coeff: Vec<i64>, bias: Vec<i64>, shift: u32 },
    /// `out[o] = rescale(sum_t a[left[t]] * b[right[t]], shift)`: Mul and MatMul of two activations.
    Bilinear { offsets: Vec<usize>, left: Vec<u32>, right: Vec<u32>, shift: u32 },
    /// `out[o] = max(in[o], 0)`.
    Relu,
    /// `out[o] = in[map[o].0][map[o].1]`: data movement, free in circuits.
    Select { map: Vec<(u32, u32)> },
    /// A constant vector (fixed cells in circuits).
    Const { values: Vec<i64> },
    /// Running maximum (`max`) or minimum over each group `idx[offsets[o]..offsets[o+1]]`
    /// of the single input. A later element replaces the running best `m` when
    /// `±(e - m) - strict >= 0`, so `strict` keeps the first of equal elements. With
    /// `arg`, the output is the position in the group times `one`, else the value.
    /// Every difference must satisfy `-2^bits <= d < 2^bits` (it is sign-decomposed).
    Reduce { max: bool, arg: bool, strict: bool, offsets: Vec<usize>, idx: Vec<u32>, one: i64 },
    /// A lookup table of a point-wise function, optionally interpolating between entries
    /// (see [`table::TableOp`]).
    Table(table::TableOp),
    /// `out = sign(b) * floor((2 * a * 2^scale + |b|) / (2|b|))` element-wise over inputs
    /// `a` and `b` (round half up of `a * 2^scale / |b|`, so a tie goes toward -inf when
    /// `b < 0`); `b = 0` has no witness, `-2^bits <= b < 2^bits` and the quotient is
    /// range-checked. With `positive` the divisor must be `0 < b < 2^bits` (a soft-max
    /// sum, a standard deviation): no witness otherwise, and the circuit skips the sign
    /// logic (same result for every such `b`).
    Div {
        scale: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        positive: bool,
    },
    /// `out = floor(sqrt((x + offset) * 2^scale))` element-wise: the square root, at the
    /// activation scale, of `x + offset`; exact, no table. A negative `x + offset`, or a
    /// root of [`sqrt_bits`]`(bits, scale)` bits or more, has no witness.
    Sqrt { scale: u32, offset: i64 },
    /// `out = one * [a < b]` (`eq = false`, with `-2^bits <= b - a - 1 < 2^bits`) or
    /// `one * [a == b]` (`eq = true`), element-wise over inputs `a` and `b`.
    Cmp { eq: bool, one: i64 },
}

impl QOp {
    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            QOp::Linear { .. } => "linear",
            QOp::Bilinear { .. } => "bilinear",
            QOp::Relu => "relu",
            QOp::Select { .. } => "select",
            QOp::Const { .. } => "const",
            QOp::Reduce { .. } => "reduce",
            QOp::Table(_) => "table",
            QOp::Div { .. } => "div",
            QOp::Cmp { .. } => "cmp",
            QOp::Sqrt { .. } => "sqrt",
        }
    }
}

/// A node of the quantized graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QNode {
    /// The ONNX node it comes from.
    pub name: String,
    pub op: QOp,
    pub inputs: Vec<QValueId>,
    pub output: QValueId,
    /// Number of output elements.
    pub len: usize,
}

/// A graph input or output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QPort {
    pub name: String,
    pub value: QValueId,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

/// The quantized model: what the interpreter runs and circuits constrain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantGraph {
    /// Fractional bits of every activation.
    pub scale: u32,
    /// Fractional bits of weights.
    pub param_scale: u32,
    /// Activations satisfy `|q| < 2^(bits - 1)`.
    pub bits: u32,
    pub num_values: usize,
    pub inputs: Vec<QPort>,
    pub outputs: Vec<QPort>,
    pub nodes: Vec<QNode>,
    /// The model parameters (weights and biases from graph constants), in canonical
    /// order; empty unless quantized with `private_params` (see [`params`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<ParamRef>,
    /// Quantized with `private_params`: the structure (terms, shifts) does not depend on
    /// the parameter values, so circuits may make them witness cells.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private_params: bool,
}

impl QuantGraph {
    /// Quantizes a float input value.
    pub fn quantize_value(&self, x: f64) -> f64 {
        (x * 2f64.powi(self.scale as i32)).round()
    }

    /// Dequantizes an activation.
    pub fn dequantize(&self, q: i64) -> f64 {
        q as f64 / 2f64.powi(self.scale as i32)
    }

    /// Total number of public values: inputs then outputs.
    pub fn num_public(&self) -> usize {
        self.inputs.iter().chain(&self.outputs).map(|p| p.shape.iter().product::<usize>()).sum()
    }

    /// The bound every checked activation obeys: `|q| < 2^(bits-1)`.
    pub fn max_abs(&self) -> i64 {
        1i64 << (self.bits - 1)
    }
}

/// Rounding division by `2^shift` (round half up), as constrained in circuits.
pub fn rescale(v: i128, shift: u32) -> i128 {
    if shift == 0 {
        v
    } else {
        (v + (1i128 << (shift - 1))).div_euclid(1i128 << shift)
    }
}

/// `floor(sqrt(a))` for `a >= 0`.
pub fn isqrt(a: i128) -> Option<i128> {
    if a < 0 {
        return None;
    }
    let mut y = (a as f64).sqrt() as i128;
    while y * y > a {
        y -= 1;
    }
    while (y + 1) * (y + 1) <= a {
        y += 1;
    }
    Some(y)
}

/// Bits of the root of a [`QOp::Sqrt`] over `bits`-bit activations at `2^scale`: the
/// radicand is below `2^(bits + scale)`, the root below `2^sqrt_bits`, and the remainder
/// `a - y^2 <= 2y` below `2^(sqrt_bits + 1)`.
pub fn sqrt_bits(bits: u32, scale: u32) -> u32 {
    (bits + scale).div_ceil(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isqrt_is_the_floor_of_the_root() {
        for a in (0..2000i128).chain([1 << 40, (1 << 52) - 1, (1 << 52) + 12345, i64::MAX as i128]) {
            let y = isqrt(a).unwrap();
            assert!(y * y <= a && a < (y + 1) * (y + 1), "a = {a}, y = {y}");
        }
        assert_eq!(isqrt(-1), None);
        // The root of any radicand below 2^(bits + scale) fits sqrt_bits.
        let (bits, scale) = (32, 20);
        assert!(isqrt((1i128 << (bits + scale)) - 1).unwrap() >> sqrt_bits(bits, scale) == 0);
    }
}

//! A fused chain of element-wise ops over one input: a small program evaluated per
//! element. Made by [`crate::passes::fuse_pointwise`] (never imported from ONNX), e.g. for the tanh
//! approximation of GELU, `0.5 x (1 + tanh(0.798 (x + 0.0447 x^3)))`, nine ONNX nodes that
//! quantize as a single lookup table instead of nine rescaled products.

use serde::{Deserialize, Serialize};

use super::activation::Activation;
use super::arith::Arith;
use crate::error::Result;
use crate::tensor::Tensor;

/// One step; its result is the next register (register 0 is the input).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// A constant.
    Const(f64),
    /// `Add`, `Sub`, `Mul` or `Div` of two registers.
    Arith(Arith, usize, usize),
    /// A point-wise function of a register.
    Act(Activation, usize),
}

/// The program: register 0 is the input, the last register the output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pointwise {
    pub steps: Vec<Step>,
}

impl Pointwise {
    /// The function at one point.
    pub fn apply(&self, x: f64) -> f64 {
        let mut r = Vec::with_capacity(self.steps.len() + 1);
        r.push(x);
        for s in &self.steps {
            let v = match *s {
                Step::Const(c) => c,
                Step::Arith(a, i, j) => match a {
                    Arith::Add => r[i] + r[j],
                    Arith::Sub => r[i] - r[j],
                    Arith::Mul => r[i] * r[j],
                    Arith::Div => r[i] / r[j],
                    _ => f64::NAN,
                },
                Step::Act(a, i) => a.apply(r[i]),
            };
            r.push(v);
        }
        *r.last().unwrap_or(&x)
    }

    /// Slopes `(left, right)` of linear asymptotes, when the function has them (as
    /// [`Activation::tails`]): measured far out, accepted when constant there.
    pub fn tails(&self) -> Option<(f64, f64)> {
        let slope = |dir: f64, r: f64| (self.apply(dir * 2.0 * r) - self.apply(dir * r)) / (dir * r);
        let side = |dir: f64| {
            let (a, b) = (slope(dir, 1e3), slope(dir, 1e5));
            (a.is_finite() && (a - b).abs() < 1e-9).then_some(b)
        };
        Some((side(-1.0)?, side(1.0)?))
    }

    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        Ok(Tensor::new(x.shape.clone(), x.data.iter().map(|v| self.apply(*v)).collect(), x.dtype))
    }
}

//! Point-wise non-linear functions.

use serde::{Deserialize, Serialize};

use super::{Imported, NodeCtx, Op, Registry};
use crate::error::Result;
use crate::tensor::Tensor;

/// Registers the activations.
pub fn register(r: &mut Registry) {
    r.insert("Relu", |ctx: &NodeCtx| unary(ctx, Activation::Relu));
}

/// Point-wise activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    Relu,
}

fn unary(ctx: &NodeCtx, a: Activation) -> Result<Imported> {
    if ctx.num_inputs() != 1 {
        return Err(ctx.err("takes exactly one input"));
    }
    Ok(Imported::Op { op: Op::Activation(a), inputs: vec![0] })
}

impl Activation {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "Relu",
        }
    }

    /// The float function.
    pub fn apply(&self, x: f64) -> f64 {
        match self {
            Activation::Relu => x.max(0.0),
        }
    }

    /// Float semantics.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        Ok(Tensor::new(x.shape.clone(), x.data.iter().map(|v| self.apply(*v)).collect(), x.dtype))
    }
}

//! Comparisons, boolean logic and Where, with numpy broadcasting.
//!
//! Booleans are the numbers 0 and 1 (as everywhere in this crate); the quantizer keeps
//! them at the activation scale, `true` being `2^scale`.

use serde::{Deserialize, Serialize};

use super::arith::broadcast_all;
use super::{Imported, NodeCtx, Op, Registry};
use crate::error::Result;
use crate::tensor::{DType, Tensor};

/// Registers the comparison and logic ops.
pub fn register(r: &mut Registry) {
    r.insert("Less", |c: &NodeCtx| op(c, Logic::Less, 2));
    r.insert("Greater", |c: &NodeCtx| op(c, Logic::Greater, 2));
    r.insert("LessOrEqual", |c: &NodeCtx| op(c, Logic::LessOrEqual, 2));
    r.insert("GreaterOrEqual", |c: &NodeCtx| op(c, Logic::GreaterOrEqual, 2));
    r.insert("Equal", |c: &NodeCtx| op(c, Logic::Equal, 2));
    r.insert("And", |c: &NodeCtx| op(c, Logic::And, 2));
    r.insert("Or", |c: &NodeCtx| op(c, Logic::Or, 2));
    r.insert("Xor", |c: &NodeCtx| op(c, Logic::Xor, 2));
    r.insert("Not", |c: &NodeCtx| op(c, Logic::Not, 1));
    r.insert("Where", |c: &NodeCtx| op(c, Logic::Where, 3));
}

/// Comparison and logic ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Logic {
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
    Equal,
    And,
    Or,
    Xor,
    Not,
    /// `cond ? x : y`.
    Where,
}

fn op(ctx: &NodeCtx, l: Logic, n: usize) -> Result<Imported> {
    if ctx.num_inputs() != n {
        return Err(ctx.err(format!("takes exactly {n} inputs")));
    }
    Ok(Imported::Op { op: Op::Logic(l), inputs: (0..n).collect() })
}

impl Logic {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        match self {
            Logic::Less => "Less",
            Logic::Greater => "Greater",
            Logic::LessOrEqual => "LessOrEqual",
            Logic::GreaterOrEqual => "GreaterOrEqual",
            Logic::Equal => "Equal",
            Logic::And => "And",
            Logic::Or => "Or",
            Logic::Xor => "Xor",
            Logic::Not => "Not",
            Logic::Where => "Where",
        }
    }

    /// Float semantics.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape.as_slice()).collect();
        let (out_shape, maps) = broadcast_all(&shapes)?;
        let get = |i: usize, o: usize| inputs[i].data[maps[i][o]];
        let b = |v: bool| v as i32 as f64;
        let data = (0..maps[0].len())
            .map(|o| match self {
                Logic::Less => b(get(0, o) < get(1, o)),
                Logic::Greater => b(get(0, o) > get(1, o)),
                Logic::LessOrEqual => b(get(0, o) <= get(1, o)),
                Logic::GreaterOrEqual => b(get(0, o) >= get(1, o)),
                Logic::Equal => b(get(0, o) == get(1, o)),
                Logic::And => b(get(0, o) != 0.0 && get(1, o) != 0.0),
                Logic::Or => b(get(0, o) != 0.0 || get(1, o) != 0.0),
                Logic::Xor => b((get(0, o) != 0.0) != (get(1, o) != 0.0)),
                Logic::Not => b(get(0, o) == 0.0),
                Logic::Where => {
                    if get(0, o) != 0.0 {
                        get(1, o)
                    } else {
                        get(2, o)
                    }
                }
            })
            .collect();
        let dtype = if *self == Logic::Where { inputs[1].dtype } else { DType::Bool };
        Ok(Tensor::new(out_shape, data, dtype))
    }
}

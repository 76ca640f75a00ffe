//! Element-wise arithmetic with numpy broadcasting: Add, Sub, Mul, Div, Neg, Sum, Mean,
//! Max, Min, PRelu and Pow (a constant exponent imports as [`Activation::Pow`]).

use serde::{Deserialize, Serialize};

use super::{broadcast_index, broadcast_shapes, Activation, Imported, NodeCtx, Op, Registry};
use crate::error::{ModelError, Result};
use crate::tensor::Tensor;

/// Registers the arithmetic ops.
pub fn register(r: &mut Registry) {
    r.insert("Add", |c: &NodeCtx| binary(c, Arith::Add));
    r.insert("Sub", |c: &NodeCtx| binary(c, Arith::Sub));
    r.insert("Mul", |c: &NodeCtx| binary(c, Arith::Mul));
    r.insert("Div", |c: &NodeCtx| binary(c, Arith::Div));
    r.insert("PRelu", |c: &NodeCtx| binary(c, Arith::PRelu));
    r.insert("Pow", import_pow);
    r.insert("Max", |c: &NodeCtx| nary(c, Arith::Max));
    r.insert("Min", |c: &NodeCtx| nary(c, Arith::Min));
    r.insert("Mean", |c: &NodeCtx| nary(c, Arith::Mean));
    r.insert("Neg", |c: &NodeCtx| {
        if c.num_inputs() != 1 {
            return Err(c.err("takes exactly one input"));
        }
        Ok(Imported::Op { op: Op::Arith(Arith::Neg), inputs: vec![0] })
    });
    r.insert("Sum", |c: &NodeCtx| nary(c, Arith::Sum));
}

fn nary(c: &NodeCtx, op: Arith) -> Result<Imported> {
    if c.num_inputs() == 0 {
        return Err(c.err("takes at least one input"));
    }
    Ok(Imported::Op { op: Op::Arith(op), inputs: (0..c.num_inputs()).collect() })
}

fn import_pow(c: &NodeCtx) -> Result<Imported> {
    if c.num_inputs() != 2 {
        return Err(c.err("takes exactly two inputs"));
    }
    match (c.is_const(1), c.is_const(0)) {
        (true, false) => {
            let e = c.const_input(1)?;
            if e.len() != 1 {
                return Err(c.err("a constant exponent must be a scalar"));
            }
            Ok(Imported::Op { op: Op::Activation(Activation::Pow { exponent: e.data[0] }), inputs: vec![0] })
        }
        _ => binary(c, Arith::Pow),
    }
}

/// Element-wise arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    /// `a / b` (integer types truncate toward zero).
    Div,
    /// `x >= 0 ? x : slope * x`, slope broadcast to `x`.
    PRelu,
    /// `a ^ b` with a non-constant exponent (float semantics only).
    Pow,
    Neg,
    /// n-ary sum.
    Sum,
    /// n-ary mean.
    Mean,
    /// n-ary maximum.
    Max,
    /// n-ary minimum.
    Min,
}

fn binary(ctx: &NodeCtx, op: Arith) -> Result<Imported> {
    if ctx.num_inputs() != 2 {
        return Err(ctx.err("takes exactly two inputs"));
    }
    Ok(Imported::Op { op: Op::Arith(op), inputs: vec![0, 1] })
}

/// The broadcast output shape of several inputs and, per input, the flat source index
/// of every output element.
pub fn broadcast_all(shapes: &[&[usize]]) -> Result<(Vec<usize>, Vec<Vec<usize>>)> {
    let mut out = shapes[0].to_vec();
    for s in &shapes[1..] {
        out = broadcast_shapes(&out, s).ok_or_else(|| ModelError::Shape(format!("shapes {:?} do not broadcast", shapes)))?;
    }
    let maps = shapes.iter().map(|s| broadcast_index(s, &out)).collect();
    Ok((out, maps))
}

impl Arith {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        match self {
            Arith::Add => "Add",
            Arith::Sub => "Sub",
            Arith::Mul => "Mul",
            Arith::Div => "Div",
            Arith::PRelu => "PRelu",
            Arith::Pow => "Pow",
            Arith::Neg => "Neg",
            Arith::Sum => "Sum",
            Arith::Mean => "Mean",
            Arith::Max => "Max",
            Arith::Min => "Min",
        }
    }

    /// Float semantics.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape.as_slice()).collect();
        let (out_shape, maps) = broadcast_all(&shapes)?;
        let n = maps[0].len();
        let get = |i: usize, o: usize| inputs[i].data[maps[i][o]];
        let int = !inputs[0].dtype.is_float() && inputs[0].dtype != crate::tensor::DType::Bool;
        let data: Vec<f64> = (0..n)
            .map(|o| match self {
                Arith::Add => get(0, o) + get(1, o),
                Arith::Sub => get(0, o) - get(1, o),
                Arith::Mul => get(0, o) * get(1, o),
                Arith::Div if int => (get(0, o) / get(1, o)).trunc(),
                Arith::Div => get(0, o) / get(1, o),
                Arith::PRelu => {
                    if get(0, o) >= 0.0 {
                        get(0, o)
                    } else {
                        get(1, o) * get(0, o)
                    }
                }
                Arith::Pow => get(0, o).powf(get(1, o)),
                Arith::Neg => -get(0, o),
                Arith::Sum => (0..inputs.len()).map(|i| get(i, o)).sum(),
                Arith::Mean => (0..inputs.len()).map(|i| get(i, o)).sum::<f64>() / inputs.len() as f64,
                Arith::Max => (0..inputs.len()).map(|i| get(i, o)).fold(f64::NEG_INFINITY, f64::max),
                Arith::Min => (0..inputs.len()).map(|i| get(i, o)).fold(f64::INFINITY, f64::min),
            })
            .collect();
        Ok(Tensor::new(out_shape, data, inputs[0].dtype))
    }
}

//! Element-wise arithmetic with numpy broadcasting: Add, Sub, Mul, Neg, Sum.

use serde::{Deserialize, Serialize};

use super::{broadcast_index, broadcast_shapes, Imported, NodeCtx, Op, Registry};
use crate::error::{ModelError, Result};
use crate::tensor::Tensor;

/// Registers the arithmetic ops.
pub fn register(r: &mut Registry) {
    r.insert("Add", |c: &NodeCtx| binary(c, Arith::Add));
    r.insert("Sub", |c: &NodeCtx| binary(c, Arith::Sub));
    r.insert("Mul", |c: &NodeCtx| binary(c, Arith::Mul));
    r.insert("Neg", |c: &NodeCtx| {
        if c.num_inputs() != 1 {
            return Err(c.err("takes exactly one input"));
        }
        Ok(Imported::Op { op: Op::Arith(Arith::Neg), inputs: vec![0] })
    });
    r.insert("Sum", |c: &NodeCtx| {
        if c.num_inputs() == 0 {
            return Err(c.err("takes at least one input"));
        }
        Ok(Imported::Op { op: Op::Arith(Arith::Sum), inputs: (0..c.num_inputs()).collect() })
    });
}

/// Element-wise arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Neg,
    /// n-ary sum.
    Sum,
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
        out = broadcast_shapes(&out, s)
            .ok_or_else(|| ModelError::Shape(format!("shapes {:?} do not broadcast", shapes)))?;
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
            Arith::Neg => "Neg",
            Arith::Sum => "Sum",
        }
    }

    /// Float semantics.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape.as_slice()).collect();
        let (out_shape, maps) = broadcast_all(&shapes)?;
        let n = maps[0].len();
        let get = |i: usize, o: usize| inputs[i].data[maps[i][o]];
        let data: Vec<f64> = (0..n)
            .map(|o| match self {
                Arith::Add => get(0, o) + get(1, o),
                Arith::Sub => get(0, o) - get(1, o),
                Arith::Mul => get(0, o) * get(1, o),
                Arith::Neg => -get(0, o),
                Arith::Sum => (0..inputs.len()).map(|i| get(i, o)).sum(),
            })
            .collect();
        Ok(Tensor::new(out_shape, data, inputs[0].dtype))
    }
}

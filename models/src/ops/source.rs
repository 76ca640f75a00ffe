//! Ops whose output is known at compile time: Constant, Shape, ConstantOfShape, Range,
//! and NonZero of a constant (its output shape depends on the data, so only a constant
//! input is supported).

use super::{Imported, NodeCtx, Registry};
use crate::error::Result;
use crate::onnx::tensor_from_proto;
use crate::tensor::{DType, Tensor};

/// Registers Constant and Shape.
pub fn register(r: &mut Registry) {
    r.insert("Constant", import_constant);
    r.insert("Shape", import_shape);
    r.insert("ConstantOfShape", import_constant_of_shape);
    r.insert("Range", import_range);
    r.insert("NonZero", import_nonzero);
}

fn import_constant_of_shape(ctx: &NodeCtx) -> Result<Imported> {
    let shape: Vec<usize> = ctx.opt_const_ints(0)?.ok_or_else(|| ctx.err("missing shape"))?.iter().map(|&d| d as usize).collect();
    let (v, dtype) = match ctx.attrs.tensor("value") {
        Some(t) => {
            let t = tensor_from_proto(t).map_err(|e| ctx.err(e.to_string()))?;
            (t.data.first().copied().unwrap_or(0.0), t.dtype)
        }
        None => (0.0, DType::F32),
    };
    let n = shape.iter().product();
    Ok(Imported::Constant(Tensor::new(shape, vec![v; n], dtype)))
}

/// NonZero of a constant: the indices of its non-zero elements, one row per axis
/// (`[rank, count]`, int64, in row-major order).
fn import_nonzero(ctx: &NodeCtx) -> Result<Imported> {
    let x = ctx.inputs.first().and_then(|x| x.as_ref()).ok_or_else(|| ctx.err("missing input"))?;
    let Some(t) = x.constant else {
        return Err(crate::error::ModelError::UnsupportedOp {
            op_type: "NonZero".into(),
            node: ctx.name.to_string(),
            detail: " of a non-constant input (its output shape depends on the data)".into(),
        });
    };
    Ok(Imported::Constant(nonzero(t)))
}

/// The indices of the non-zero elements of `t`, as ONNX NonZero returns them.
pub fn nonzero(t: &Tensor) -> Tensor {
    let shape = &t.shape;
    let rank = shape.len();
    let hits: Vec<usize> = t.data.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, _)| i).collect();
    let mut data = vec![0.0; rank * hits.len()];
    for (k, &flat) in hits.iter().enumerate() {
        let mut rem = flat;
        for axis in (0..rank).rev() {
            data[axis * hits.len() + k] = (rem % shape[axis]) as f64;
            rem /= shape[axis];
        }
    }
    Tensor::new(vec![rank, hits.len()], data, DType::I64)
}

fn import_range(ctx: &NodeCtx) -> Result<Imported> {
    let (start, limit, delta) = (ctx.const_input(0)?, ctx.const_input(1)?, ctx.const_input(2)?);
    let (s, l, d) = (start.data[0], limit.data[0], delta.data[0]);
    if d == 0.0 {
        return Err(ctx.err("delta 0"));
    }
    let n = ((l - s) / d).ceil().max(0.0) as usize;
    Ok(Imported::Constant(Tensor::new(vec![n], (0..n).map(|i| s + i as f64 * d).collect(), start.dtype)))
}

fn import_constant(ctx: &NodeCtx) -> Result<Imported> {
    let a = &ctx.attrs;
    let t = if let Some(t) = a.tensor("value") {
        tensor_from_proto(t).map_err(|e| ctx.err(e.to_string()))?
    } else if a.has("value_float") {
        Tensor::new(vec![], vec![a.float_or("value_float", 0.0) as f64], DType::F32)
    } else if let Some(v) = a.floats("value_floats") {
        Tensor::new(vec![v.len()], v.iter().map(|x| *x as f64).collect(), DType::F32)
    } else if let Some(v) = a.int("value_int") {
        Tensor::new(vec![], vec![v as f64], DType::I64)
    } else if let Some(v) = a.ints("value_ints") {
        Tensor::new(vec![v.len()], v.iter().map(|x| *x as f64).collect(), DType::I64)
    } else {
        return Err(ctx.err("Constant without a supported value attribute (sparse and string values are not supported)"));
    };
    Ok(Imported::Constant(t))
}

fn import_shape(ctx: &NodeCtx) -> Result<Imported> {
    let shape = ctx.inputs.first().and_then(|x| x.as_ref()).ok_or_else(|| ctx.err("missing input"))?.shape;
    let rank = shape.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
    let start = clamp(ctx.attrs.int_or("start", 0));
    let end = clamp(ctx.attrs.int_or("end", rank));
    let dims: Vec<f64> = shape[start..end.max(start)].iter().map(|d| *d as f64).collect();
    Ok(Imported::Constant(Tensor::new(vec![dims.len()], dims, DType::I64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonzero_lists_indices_per_axis_in_row_major_order() {
        let t = Tensor::new(vec![2, 3], vec![1.0, 0.0, 2.0, 0.0, 0.0, 3.0], DType::F32);
        let z = nonzero(&t);
        assert_eq!(z.shape, vec![2, 3]);
        assert_eq!(z.data, vec![0.0, 0.0, 1.0, 0.0, 2.0, 2.0]);
    }
}

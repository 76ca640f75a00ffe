//! Ops whose output is known at compile time: Constant, Shape, ConstantOfShape, Range.

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

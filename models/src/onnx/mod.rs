//! ONNX import: protobuf to [`Graph`] with static shapes and constants folded.

mod build;
pub mod proto;

use prost::Message;

use crate::error::{ModelError, Result};
use crate::ir::Graph;
use crate::ops::{registry, Attrs, InputInfo, NodeCtx};
use crate::tensor::{numel, DType, Tensor};
use build::{Builder, NodeRef};
use proto::{ModelProto, TensorProto, ValueInfoProto};

/// Decodes an ONNX tensor (typed fields or little-endian `raw_data`).
pub fn tensor_from_proto(t: &TensorProto) -> Result<Tensor> {
    let dtype = DType::from_onnx(t.data_type)
        .ok_or_else(|| ModelError::Malformed(format!("tensor `{}` has unsupported data type {}", t.name, t.data_type)))?;
    if t.data_location == 1 {
        return Err(ModelError::Malformed(format!("tensor `{}` uses external data, which is not supported", t.name)));
    }
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| ModelError::Malformed(format!("tensor `{}` has dim {d}", t.name))))
        .collect::<Result<_>>()?;
    let n = numel(&shape);
    let data: Vec<f64> = if !t.raw_data.is_empty() {
        let raw = &t.raw_data;
        let width = match dtype {
            DType::F64 | DType::I64 | DType::U64 => 8,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F16 | DType::I16 | DType::U16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        };
        if raw.len() != n * width {
            return Err(ModelError::Malformed(format!("tensor `{}`: raw_data has {} bytes, expected {}", t.name, raw.len(), n * width)));
        }
        raw.chunks_exact(width)
            .map(|c| match dtype {
                DType::F64 => f64::from_le_bytes(c.try_into().unwrap()),
                DType::I64 => i64::from_le_bytes(c.try_into().unwrap()) as f64,
                DType::U64 => u64::from_le_bytes(c.try_into().unwrap()) as f64,
                DType::F32 => f32::from_le_bytes(c.try_into().unwrap()) as f64,
                DType::I32 => i32::from_le_bytes(c.try_into().unwrap()) as f64,
                DType::U32 => u32::from_le_bytes(c.try_into().unwrap()) as f64,
                DType::F16 => f16_to_f64(u16::from_le_bytes(c.try_into().unwrap())),
                DType::I16 => i16::from_le_bytes(c.try_into().unwrap()) as f64,
                DType::U16 => u16::from_le_bytes(c.try_into().unwrap()) as f64,
                DType::I8 => c[0] as i8 as f64,
                DType::U8 | DType::Bool => c[0] as f64,
            })
            .collect()
    } else {
        match dtype {
            DType::F32 => t.float_data.iter().map(|v| *v as f64).collect(),
            DType::F64 => t.double_data.clone(),
            DType::I64 => t.int64_data.iter().map(|v| *v as f64).collect(),
            DType::U64 | DType::U32 => t.uint64_data.iter().map(|v| *v as f64).collect(),
            DType::F16 => t.int32_data.iter().map(|v| f16_to_f64(*v as u16)).collect(),
            _ => t.int32_data.iter().map(|v| *v as f64).collect(),
        }
    };
    if data.len() != n {
        return Err(ModelError::Malformed(format!("tensor `{}` has {} values for shape {shape:?}", t.name, data.len())));
    }
    Ok(Tensor::new(shape, data, dtype))
}

fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 => {
            if frac == 0.0 {
                f64::INFINITY
            } else {
                f64::NAN
            }
        }
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// How graph inputs with symbolic dimensions get a static shape.
#[derive(Clone, Debug, Default)]
pub struct ShapeHints {
    /// Explicit shapes per graph input (EZKL's `input_shapes`), used when they fit.
    pub shapes: Option<Vec<Vec<usize>>>,
    /// Number of values per graph input, used to resolve the first symbolic dim.
    pub lengths: Option<Vec<usize>>,
}

/// Declared dims of a graph input: `None` for a symbolic or missing dim.
fn declared_dims(v: &ValueInfoProto) -> (Vec<Option<usize>>, DType) {
    let tt = v.r#type.as_ref().and_then(|t| t.tensor_type.as_ref());
    let dtype = tt.and_then(|t| DType::from_onnx(t.elem_type)).unwrap_or(DType::F32);
    let dims = tt
        .and_then(|t| t.shape.as_ref())
        .map(|s| s.dim.iter().map(|d| d.dim_value.filter(|v| *v > 0).map(|v| v as usize)).collect())
        .unwrap_or_default();
    (dims, dtype)
}

/// Resolves declared dims (`None` = symbolic) to a static shape: explicit shapes when they
/// fit, else the first symbolic dim from the data length, others 1.
pub fn resolve_shape(name: &str, dims: &[Option<usize>], explicit: Option<&Vec<usize>>, len: Option<usize>) -> Result<Vec<usize>> {
    if let Some(s) = explicit {
        let fits = s.len() == dims.len() && dims.iter().zip(s).all(|(d, v)| d.is_none_or(|d| d == *v));
        if fits {
            return Ok(s.clone());
        }
    }
    let known: usize = dims.iter().map(|d| d.unwrap_or(1)).product();
    let mut out: Vec<usize> = dims.iter().map(|d| d.unwrap_or(1)).collect();
    if let (Some(len), Some(first_free)) = (len, dims.iter().position(|d| d.is_none())) {
        if known > 0 && len % known == 0 {
            out[first_free] = len / known;
        }
    }
    if let Some(len) = len {
        if numel(&out) != len {
            return Err(ModelError::InputLength { name: name.to_string(), expected: numel(&out), got: len, shape: out });
        }
    }
    Ok(out)
}

/// Parses an ONNX model into a [`Graph`], resolving symbolic input dims with `hints`
/// (unresolved symbolic dims become 1).
pub fn load_model(bytes: &[u8], hints: &ShapeHints) -> Result<Graph> {
    let model = ModelProto::decode(bytes).map_err(|e| ModelError::Malformed(format!("not an ONNX protobuf: {e}")))?;
    let graph = model.graph.ok_or_else(|| ModelError::Malformed("model has no graph".into()))?;
    if graph.node.is_empty() && graph.output.is_empty() {
        return Err(ModelError::Malformed("graph has no nodes and no outputs".into()));
    }
    let opset = model.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version).unwrap_or(13);

    let mut b = Builder::default();
    for init in &graph.initializer {
        b.add_constant(init.name.clone(), tensor_from_proto(init)?, true);
    }
    let mut inputs = Vec::new();
    let real_inputs: Vec<&ValueInfoProto> = graph.input.iter().filter(|i| b.lookup(&i.name).is_none()).collect();
    for (k, inp) in real_inputs.iter().enumerate() {
        let (dims, dtype) = declared_dims(inp);
        let shape = resolve_shape(
            &inp.name,
            &dims,
            hints.shapes.as_ref().and_then(|s| s.get(k)),
            hints.lengths.as_ref().and_then(|l| l.get(k).copied()),
        )?;
        inputs.push(b.add_value(inp.name.clone(), shape, dtype, true));
    }

    let reg = registry();
    for (idx, np) in graph.node.iter().enumerate() {
        let name = if np.name.is_empty() { format!("{}#{idx}", np.op_type) } else { np.name.clone() };
        if !(np.domain.is_empty() || np.domain == "ai.onnx") {
            return Err(ModelError::UnsupportedOp {
                op_type: format!("{}:{}", np.domain, np.op_type),
                node: name,
                detail: " (custom domain)".into(),
            });
        }
        let importer = reg.get(&np.op_type).ok_or_else(|| ModelError::UnsupportedOp {
            op_type: np.op_type.clone(),
            node: name.clone(),
            detail: String::new(),
        })?;
        let mut in_ids = Vec::new();
        for i in &np.input {
            if i.is_empty() {
                in_ids.push(None);
                continue;
            }
            let id = b.lookup(i).ok_or_else(|| ModelError::Malformed(format!("node `{name}` reads `{i}`, which nothing defines")))?;
            in_ids.push(Some(id));
        }
        let ctx = NodeCtx {
            name: &name,
            op_type: &np.op_type,
            opset,
            attrs: Attrs(&np.attribute),
            inputs: in_ids.iter().map(|id| id.map(|id| InputInfo { shape: b.shape(id), constant: b.constant(id) })).collect(),
            num_outputs: np.output.len(),
        };
        let imported = importer(&ctx)?;
        drop(ctx);
        let node = NodeRef { name: &name, op_type: &np.op_type, inputs: &in_ids, outputs: &np.output };
        b.add_imported(&node, imported)?;
    }
    let outputs = graph
        .output
        .iter()
        .map(|o| b.lookup(&o.name).ok_or_else(|| ModelError::Malformed(format!("graph output `{}` is never defined", o.name))))
        .collect::<Result<Vec<_>>>()?;
    Ok(b.finish(inputs, outputs))
}

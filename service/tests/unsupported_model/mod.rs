//! A corpus-style model folder with an op zkinfer does not support (`NonZero`, whose
//! output shape depends on the data), for the unsupported-op error paths.

use std::path::{Path, PathBuf};

use prost::Message;
use zkinfer_models::onnx::proto::{
    Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto,
};

/// The unsupported op and the name of its node.
pub const OP: &str = "NonZero";
pub const NODE: &str = "nonzero_0";

fn info(name: &str, elem_type: i32, dims: Option<&[i64]>) -> ValueInfoProto {
    let shape = dims.map(|d| TensorShapeProto { dim: d.iter().map(|&v| Dimension { dim_value: Some(v), dim_param: None }).collect() });
    ValueInfoProto { name: name.into(), r#type: Some(TypeProto { tensor_type: Some(TypeProtoTensor { elem_type, shape }) }) }
}

fn node(op: &str, name: &str, input: &str, output: &str) -> NodeProto {
    NodeProto { input: vec![input.into()], output: vec![output.into()], name: name.into(), op_type: op.into(), ..Default::default() }
}

/// Writes `network.onnx` (Relu then NonZero) and `input.json` into `dir/nonzero`, and
/// returns that folder.
pub fn write(dir: &Path) -> PathBuf {
    let graph = GraphProto {
        node: vec![node("Relu", "relu_0", "x", "r"), node(OP, NODE, "r", "idx")],
        name: "unsupported".into(),
        input: vec![info("x", 1, Some(&[1, 4]))],
        output: vec![info("idx", 7, None)],
        ..Default::default()
    };
    let model = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(graph),
        ..Default::default()
    };
    let folder = dir.join("nonzero");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("network.onnx"), model.encode_to_vec()).unwrap();
    std::fs::write(folder.join("input.json"), r#"{"input_data": [[1.0, -2.0, 3.0, 0.5]]}"#).unwrap();
    folder
}

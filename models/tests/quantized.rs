//! Differential tests: the integer interpreter tracks the float model on the corpus.

use zkinfer_models::input_json::{ExpectedOutput, InputData};
use zkinfer_models::onnx::{load_model, ShapeHints};
use zkinfer_models::prepare::{hints_for, prepare};
use zkinfer_models::{ModelError, QuantOptions};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// Tier-1 corpus models that have an input.
pub const TIER1: &[&str] = &[
    "1l_concat",
    "1l_flatten",
    "1l_identity",
    "1l_linear",
    "1l_mlp",
    "1l_relu",
    "1l_reshape",
    "1l_slice",
    "2l_relu_fc",
    "2l_relu_small",
    "arange",
    "blackman_window",
    "boolean_identity",
    "eye",
    "quantize_dequantize",
];

fn load(name: &str) -> (Vec<u8>, InputData, ExpectedOutput) {
    let dir = format!("{CORPUS}/{name}");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    let expected = ExpectedOutput::from_path(format!("{dir}/expected_output.json")).unwrap();
    (onnx, input, expected)
}

#[test]
fn tier1_quantized_tracks_onnxruntime_reference() {
    for name in TIER1 {
        let (onnx, input, expected) = load(name);
        let samples = input.samples();
        let p = prepare(&onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), &QuantOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // The f64 evaluator agrees with onnxruntime.
        let float = p.float_outputs(&samples[0]).unwrap();
        for (f, e) in float.iter().zip(&expected.output_data) {
            assert_eq!(f.len(), e.len(), "{name}");
            for (a, b) in f.iter().zip(e) {
                assert!((a - b).abs() < 1e-5, "{name}: float {a} vs onnxruntime {b}");
            }
        }
        let fid = p.fidelity(&samples[0], &expected.output_data).unwrap();
        assert!(fid.max_rel_error() < 0.01, "{name}: relative error {}", fid.max_rel_error());
        assert!(fid.max_abs_error() < 0.01, "{name}: abs error {}", fid.max_abs_error());
    }
}

#[test]
fn malformed_and_unsupported_models_are_clear_errors() {
    let (onnx, _, _) = load("1l_mlp");
    for cut in [1, 10, onnx.len() / 2, onnx.len() - 3] {
        assert!(load_model(&onnx[..cut], &ShapeHints::default()).is_err(), "truncated at {cut}");
    }
    assert!(matches!(load_model(b"definitely not onnx", &ShapeHints::default()), Err(ModelError::Malformed(_))));
    match load_model(&nonzero_model(), &ShapeHints::default()) {
        Err(ModelError::UnsupportedOp { op_type, node, .. }) => {
            assert_eq!((op_type.as_str(), node.as_str()), ("NonZero", "nz"));
        }
        other => panic!("expected UnsupportedOp, got {other:?}"),
    }
}

/// `x -> NonZero` (data-dependent output shape: not supported).
fn nonzero_model() -> Vec<u8> {
    use prost::Message;
    use zkinfer_models::onnx::proto::{GraphProto, ModelProto, NodeProto, TypeProto, TypeProtoTensor, ValueInfoProto};
    let info = |name: &str, elem_type: i32| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto { tensor_type: Some(TypeProtoTensor { elem_type, shape: None }) }),
    };
    let node =
        NodeProto { input: vec!["x".into()], output: vec!["y".into()], name: "nz".into(), op_type: "NonZero".into(), ..Default::default() };
    let graph = GraphProto { node: vec![node], input: vec![info("x", 1)], output: vec![info("y", 7)], ..Default::default() };
    ModelProto { ir_version: 8, graph: Some(graph), ..Default::default() }.encode_to_vec()
}

#[test]
fn wrong_input_length_is_a_clear_error() {
    let (onnx, input, _) = load("1l_mlp");
    let mut samples = input.samples();
    samples[0][0].push(1.0);
    let err = prepare(&onnx, &samples, &ShapeHints::default(), &QuantOptions::default()).unwrap_err();
    assert!(matches!(err, ModelError::InputLength { .. }), "{err}");
}

/// `x[6] -> OneHot(depth 3, values [-1, 5], axis -1)`.
fn onehot_model() -> Vec<u8> {
    use prost::Message;
    use zkinfer_models::onnx::proto::{
        AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TypeProto, TypeProtoTensor, ValueInfoProto,
    };
    use zkinfer_models::onnx::proto::{Dimension, TensorShapeProto};
    let info = |name: &str, dims: &[i64]| {
        let shape = Some(TensorShapeProto { dim: dims.iter().map(|&d| Dimension { dim_value: Some(d), dim_param: None }).collect() });
        ValueInfoProto { name: name.into(), r#type: Some(TypeProto { tensor_type: Some(TypeProtoTensor { elem_type: 1, shape }) }) }
    };
    let init = |name: &str, v: Vec<f32>| TensorProto {
        dims: vec![v.len() as i64],
        data_type: 1,
        float_data: v,
        name: name.into(),
        ..Default::default()
    };
    let node = NodeProto {
        input: vec!["x".into(), "depth".into(), "values".into()],
        output: vec!["y".into()],
        name: "oh".into(),
        op_type: "OneHot".into(),
        attribute: vec![AttributeProto { name: "axis".into(), r#type: 2, i: -1, ..Default::default() }],
        ..Default::default()
    };
    let graph = GraphProto {
        node: vec![node],
        input: vec![info("x", &[6])],
        output: vec![info("y", &[6, 3])],
        initializer: vec![init("depth", vec![3.0]), init("values", vec![-1.0, 5.0])],
        ..Default::default()
    };
    let opset = vec![OperatorSetIdProto { domain: String::new(), version: 13 }];
    ModelProto { ir_version: 8, graph: Some(graph), opset_import: opset, ..Default::default() }.encode_to_vec()
}

/// OneHot counts a negative index from the end (`-1` is the last class) and gives all
/// `off` outside `[-depth, depth)`, in the f64 evaluator and in the integer interpreter.
#[test]
fn onehot_wraps_negative_indices_and_ignores_out_of_range_ones() {
    let samples = vec![vec![vec![-3.0, -1.0, 0.0, 2.0, 3.0, -4.0]]];
    let p = prepare(&onehot_model(), &samples, &hints_for(&samples, None), &QuantOptions::default()).unwrap();
    let hot = |k: Option<usize>| (0..3).map(move |j| if Some(j) == k { 5.0 } else { -1.0 });
    let want: Vec<f64> = [Some(0), Some(2), Some(0), Some(2), None, None].into_iter().flat_map(hot).collect();
    assert_eq!(p.float_outputs(&samples[0]).unwrap()[0], want);
    assert_eq!(p.quantized_outputs(&samples[0]).unwrap()[0], want);
}

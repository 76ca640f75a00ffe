//! The BatchNormalization folding pass: Conv, grouped ConvTranspose and Gemm (with and
//! without a bias, transposed weights) absorb the batch norm that follows them, the
//! folded graph computes what ONNX Runtime computes on the original, and batch norms
//! that must not be folded (shared input, graph output, no producer) stay.

mod ort_support;

use prost::Message;
use zkinfer_models::eval::{eval, shape_inputs};
use zkinfer_models::float::{Device, FloatModel};
use zkinfer_models::onnx::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
    TypeProtoTensor, ValueInfoProto,
};
use zkinfer_models::onnx::{load_model, ShapeHints};
use zkinfer_models::ops::norm::Norm;
use zkinfer_models::ops::Op;
use zkinfer_models::passes::fold_batch_norms;
use zkinfer_models::tensor::{DType, Tensor};

const FLOAT: i32 = 1;

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| (((i * 7919 + seed * 104729) % 1000) as f32) / 500.0 - 1.0).collect()
}

fn init(name: &str, dims: &[usize], data: Vec<f32>) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: FLOAT,
        float_data: data,
        name: name.into(),
        ..Default::default()
    }
}

fn info(name: &str, dims: &[usize]) -> ValueInfoProto {
    let dim = dims.iter().map(|&d| Dimension { dim_value: Some(d as i64), dim_param: None }).collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto { tensor_type: Some(TypeProtoTensor { elem_type: FLOAT, shape: Some(TensorShapeProto { dim }) }) }),
    }
}

fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: format!("{op}_{output}"),
        op_type: op.into(),
        attribute,
        ..Default::default()
    }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: 2, i, ..Default::default() }
}

/// The four batch-norm parameters for `c` channels (variances positive).
fn bn_inits(c: usize, seed: usize) -> Vec<TensorProto> {
    vec![
        init("bn_scale", &[c], values(c, seed)),
        init("bn_bias", &[c], values(c, seed + 1)),
        init("bn_mean", &[c], values(c, seed + 2)),
        init("bn_var", &[c], values(c, seed + 3).iter().map(|v| v.abs() + 0.1).collect()),
    ]
}

const BN_INPUTS: [&str; 4] = ["bn_scale", "bn_bias", "bn_mean", "bn_var"];

fn model(nodes: Vec<NodeProto>, inits: Vec<TensorProto>, input: (&str, &[usize]), outputs: &[(&str, &[usize])]) -> Vec<u8> {
    let graph = GraphProto {
        node: nodes,
        name: "g".into(),
        initializer: inits,
        input: vec![info(input.0, input.1)],
        output: outputs.iter().map(|(n, d)| info(n, d)).collect(),
        ..Default::default()
    };
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Producer `op` feeding a batch norm; returns the model bytes.
fn producer_then_bn(op: NodeProto, mut inits: Vec<TensorProto>, channels: usize, input: (&str, &[usize]), out: &[usize]) -> Vec<u8> {
    inits.extend(bn_inits(channels, 3));
    let mut bn_in = vec!["h"];
    bn_in.extend(BN_INPUTS);
    let nodes = vec![op, node("BatchNormalization", &bn_in, "y", vec![])];
    model(nodes, inits, input, &[("y", out)])
}

/// Folds, checks one batch norm went, and compares the folded graph with the original
/// graph and with ONNX Runtime on the original model.
fn check_folds(onnx: &[u8]) {
    let graph = load_model(onnx, &ShapeHints::default()).unwrap();
    let n_in: usize = graph.shape(graph.inputs[0]).iter().product();
    let x = vec![values(n_in, 11).iter().map(|v| *v as f64).collect::<Vec<_>>()];
    let before = eval(&graph, &shape_inputs(&graph, &x).unwrap()).unwrap();
    let mut folded = graph.clone();
    assert_eq!(fold_batch_norms(&mut folded), 1);
    assert_eq!(folded.nodes.len(), graph.nodes.len() - 1);
    assert!(!folded.nodes.iter().any(|n| matches!(n.op, Op::Norm(Norm::Batch { .. }))));
    let after = eval(&folded, &shape_inputs(&folded, &x).unwrap()).unwrap();
    let mut ort = FloatModel::load(&ort_support::ort(), onnx, Device::Cpu).expect("ONNX Runtime (scripts/setup.sh installs it)");
    let shape = graph.shape(graph.inputs[0]).to_vec();
    let reference = ort.run(&[Tensor::new(shape, x[0].clone(), DType::F32)]).unwrap();
    for ((b, a), r) in before.iter().zip(&after).zip(&reference) {
        assert_eq!(a.shape, r.shape);
        for ((bv, av), rv) in b.data.iter().zip(&a.data).zip(&r.data) {
            assert!((bv - av).abs() < 1e-9 * (1.0 + bv.abs()), "folded {av} vs unfolded {bv}");
            assert!((av - rv).abs() < 1e-4 * (1.0 + rv.abs()), "folded {av} vs onnxruntime {rv}");
        }
    }
}

#[test]
fn conv_with_and_without_bias_absorbs_batch_norm() {
    let w = init("w", &[4, 2, 3, 3], values(72, 1));
    let b = init("b", &[4], values(4, 2));
    let x: (&str, &[usize]) = ("x", &[1, 2, 5, 5]);
    check_folds(&producer_then_bn(node("Conv", &["x", "w", "b"], "h", vec![]), vec![w.clone(), b], 4, x, &[1, 4, 3, 3]));
    check_folds(&producer_then_bn(node("Conv", &["x", "w"], "h", vec![]), vec![w], 4, x, &[1, 4, 3, 3]));
}

#[test]
fn grouped_conv_transpose_absorbs_batch_norm() {
    // C_in = 4, group = 2, C_out / group = 3: output channel (ci / 2) * 3 + j.
    let w = init("w", &[4, 3, 2, 2], values(48, 5));
    let b = init("b", &[6], values(6, 6));
    let op = node("ConvTranspose", &["x", "w", "b"], "h", vec![int_attr("group", 2)]);
    check_folds(&producer_then_bn(op, vec![w, b], 6, ("x", &[1, 4, 3, 3]), &[1, 6, 4, 4]));
}

#[test]
fn gemm_absorbs_batch_norm_with_transposed_weights_and_any_bias() {
    let x: (&str, &[usize]) = ("x", &[2, 5]);
    let plain = node("Gemm", &["x", "w", "c"], "h", vec![]);
    check_folds(&producer_then_bn(plain, vec![init("w", &[5, 3], values(15, 7)), init("c", &[3], values(3, 8))], 3, x, &[2, 3]));
    let mut t = node("Gemm", &["x", "w"], "h", vec![int_attr("transB", 1)]);
    t.attribute.push(AttributeProto { name: "alpha".into(), r#type: 1, f: 0.5, ..Default::default() });
    check_folds(&producer_then_bn(t, vec![init("w", &[3, 5], values(15, 9))], 3, x, &[2, 3]));
    // A full [N, M] bias with beta != 1.
    let mut full = node("Gemm", &["x", "w", "c"], "h", vec![]);
    full.attribute.push(AttributeProto { name: "beta".into(), r#type: 1, f: 2.0, ..Default::default() });
    check_folds(&producer_then_bn(full, vec![init("w", &[5, 3], values(15, 10)), init("c", &[2, 3], values(6, 11))], 3, x, &[2, 3]));
}

#[test]
fn batch_norms_that_must_stay_are_left_alone() {
    let w = init("w", &[2, 2, 1, 1], values(4, 1));
    let mut bn_in = vec!["h"];
    bn_in.extend(BN_INPUTS);
    let x: (&str, &[usize]) = ("x", &[1, 2, 2, 2]);
    let mut inits = vec![w];
    inits.extend(bn_inits(2, 3));
    // The conv output is also a graph output.
    let both = model(
        vec![node("Conv", &["x", "w"], "h", vec![]), node("BatchNormalization", &bn_in, "y", vec![])],
        inits.clone(),
        x,
        &[("y", &[1, 2, 2, 2]), ("h", &[1, 2, 2, 2])],
    );
    let mut g = load_model(&both, &ShapeHints::default()).unwrap();
    assert_eq!(fold_batch_norms(&mut g), 0);
    // The conv output also feeds a Relu.
    let shared = model(
        vec![node("Conv", &["x", "w"], "h", vec![]), node("BatchNormalization", &bn_in, "y", vec![]), node("Relu", &["h"], "r", vec![])],
        inits.clone(),
        x,
        &[("y", &[1, 2, 2, 2]), ("r", &[1, 2, 2, 2])],
    );
    let mut g = load_model(&shared, &ShapeHints::default()).unwrap();
    assert_eq!(fold_batch_norms(&mut g), 0);
    // A batch norm straight on the graph input (the corpus' 1l_batch_norm) stays an affine op.
    let mut bn_x = vec!["x"];
    bn_x.extend(BN_INPUTS);
    let alone = model(vec![node("BatchNormalization", &bn_x, "y", vec![])], inits[1..].to_vec(), x, &[("y", &[1, 2, 2, 2])]);
    let mut g = load_model(&alone, &ShapeHints::default()).unwrap();
    assert_eq!(fold_batch_norms(&mut g), 0);
    assert_eq!(g.nodes.len(), 1);
}

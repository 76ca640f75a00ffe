//! Synthetic ONNX models for the scaling study: dense MLPs and conv nets of a chosen
//! size, with seeded uniform weights (Xavier-scaled, so activations stay near unit
//! range and calibration behaves as on trained nets), written with the same prost
//! messages the importer reads.

use prost::Message;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zkinfer_models::onnx::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
    TypeProtoTensor, ValueInfoProto,
};

const FLOAT: i32 = 1;
const ATTR_INTS: i32 = 7;

fn tensor(name: &str, dims: &[usize], rng: &mut ChaCha8Rng, fan_in: usize) -> TensorProto {
    let n: usize = dims.iter().product();
    let a = (3.0 / fan_in as f32).sqrt();
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: FLOAT,
        float_data: (0..n).map(|_| rng.gen_range(-a..a)).collect(),
        name: name.into(),
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[usize]) -> ValueInfoProto {
    let dim = dims.iter().map(|&d| Dimension { dim_value: Some(d as i64), dim_param: None }).collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto { tensor_type: Some(TypeProtoTensor { elem_type: FLOAT, shape: Some(TensorShapeProto { dim }) }) }),
    }
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: name.into(),
        op_type: op.into(),
        attribute,
        ..Default::default()
    }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: ATTR_INTS, ints: v.to_vec(), ..Default::default() }
}

fn model(graph: GraphProto) -> Vec<u8> {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
        producer_name: "zkinfer-benches".into(),
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

/// An MLP `widths[0] -> widths[1] -> ... -> widths[n]`: Gemm layers with ReLU between.
pub fn mlp(widths: &[usize], seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut nodes, mut inits) = (Vec::new(), Vec::new());
    let mut x = "input".to_string();
    for (l, w) in widths.windows(2).enumerate() {
        let (wn, bn, y) = (format!("w{l}"), format!("b{l}"), format!("h{l}"));
        inits.push(tensor(&wn, &[w[0], w[1]], &mut rng, w[0]));
        inits.push(tensor(&bn, &[w[1]], &mut rng, w[0]));
        nodes.push(node("Gemm", &format!("gemm{l}"), &[&x, &wn, &bn], &y, vec![]));
        x = y;
        if l + 2 < widths.len() {
            let r = format!("r{l}");
            nodes.push(node("Relu", &format!("relu{l}"), &[&x], &r, vec![]));
            x = r;
        }
    }
    nodes.last_mut().unwrap().output = vec!["output".into()];
    let graph = GraphProto {
        node: nodes,
        name: "mlp".into(),
        initializer: inits,
        input: vec![value_info("input", &[1, widths[0]])],
        output: vec![value_info("output", &[1, *widths.last().unwrap()])],
        ..Default::default()
    };
    model(graph)
}

/// A conv net on a `1 x channels x size x size` input: `layers` 3x3 convolutions (pad 1)
/// of `channels` channels with ReLU, a global average pool and a dense layer to 10.
pub fn cnn(channels: usize, size: usize, layers: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut nodes, mut inits) = (Vec::new(), Vec::new());
    let mut x = "input".to_string();
    for l in 0..layers {
        let (wn, bn, y, r) = (format!("w{l}"), format!("b{l}"), format!("c{l}"), format!("r{l}"));
        inits.push(tensor(&wn, &[channels, channels, 3, 3], &mut rng, 9 * channels));
        inits.push(tensor(&bn, &[channels], &mut rng, 9 * channels));
        let attrs = vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])];
        nodes.push(node("Conv", &format!("conv{l}"), &[&x, &wn, &bn], &y, attrs));
        nodes.push(node("Relu", &format!("relu{l}"), &[&y], &r, vec![]));
        x = r;
    }
    nodes.push(node("GlobalAveragePool", "gap", &[&x], "pooled", vec![]));
    inits.push(TensorProto {
        dims: vec![2],
        data_type: 7,
        int64_data: vec![1, channels as i64],
        name: "shape".into(),
        ..Default::default()
    });
    nodes.push(node("Reshape", "flatten", &["pooled", "shape"], "flat", vec![]));
    inits.push(tensor("wf", &[channels, 10], &mut rng, channels));
    inits.push(tensor("bf", &[10], &mut rng, channels));
    nodes.push(node("Gemm", "fc", &["flat", "wf", "bf"], "output", vec![]));
    let graph = GraphProto {
        node: nodes,
        name: "cnn".into(),
        initializer: inits,
        input: vec![value_info("input", &[1, channels, size, size])],
        output: vec![value_info("output", &[1, 10])],
        ..Default::default()
    };
    model(graph)
}

/// A seeded input in `[-1, 1)` of `n` values, as EZKL's input.json.
pub fn input_json(n: usize, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9);
    let v: Vec<f64> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
    serde_json::json!({ "input_data": [v] }).to_string()
}

/// Parameters (weights and biases) of [`mlp`].
pub fn mlp_params(widths: &[usize]) -> usize {
    widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
}

/// Parameters and multiply-accumulates of [`cnn`].
pub fn cnn_size(channels: usize, size: usize, layers: usize) -> (usize, usize) {
    let conv = channels * channels * 9;
    (layers * (conv + channels) + channels * 10 + 10, layers * conv * size * size + channels * 10)
}

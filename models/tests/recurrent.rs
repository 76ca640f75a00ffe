//! LSTM, GRU and RNN: small hand-built models (sequence length > 1, both directions,
//! batch-major layout, initial states as constants or graph inputs) evaluated by the
//! f64 evaluator and compared with ONNX Runtime; the corpus `lstm` and `rnn` models
//! against their reference outputs, float and quantized; clear errors for what is not
//! supported.

mod ort_support;

use prost::Message;
use zkinfer_models::eval::eval;
use zkinfer_models::fidelity::compare;
use zkinfer_models::float::{Device, FloatModel};
use zkinfer_models::input_json::{ExpectedOutput, InputData};
use zkinfer_models::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TypeProto, TypeProtoTensor, ValueInfoProto,
};
use zkinfer_models::onnx::{load_model, ShapeHints};
use zkinfer_models::ops::Layout;
use zkinfer_models::prepare::{hints_for, prepare};
use zkinfer_models::tensor::{DType, Tensor};
use zkinfer_models::{ModelError, QuantOptions};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// Deterministic values in [-1, 1) (a 64-bit LCG), so no RNG crate is needed.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn init(name: &str, dims: &[usize], seed: u64) -> TensorProto {
    let n = dims.iter().product();
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: 1,
        float_data: values(n, seed),
        name: name.into(),
        ..Default::default()
    }
}

fn float_info(name: &str, dims: Option<&[usize]>) -> ValueInfoProto {
    use zkinfer_models::onnx::proto::{Dimension, TensorShapeProto};
    let shape =
        dims.map(|d| TensorShapeProto { dim: d.iter().map(|&v| Dimension { dim_value: Some(v as i64), dim_param: None }).collect() });
    ValueInfoProto { name: name.into(), r#type: Some(TypeProto { tensor_type: Some(TypeProtoTensor { elem_type: 1, shape }) }) }
}

fn int_attr(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: 2, i: v, ..Default::default() }
}

fn str_attr(name: &str, v: &str) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: 3, s: v.as_bytes().to_vec(), ..Default::default() }
}

fn strs_attr(name: &str, v: &[&str]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: 8, strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(), ..Default::default() }
}

fn float_attr(name: &str, v: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: 1, f: v, ..Default::default() }
}

/// One recurrent node `op` named `rec` over graph input `X` (and `graph_inputs`), with
/// the given initializers and node input/output names.
struct Case {
    op: &'static str,
    attrs: Vec<AttributeProto>,
    node_inputs: Vec<&'static str>,
    node_outputs: Vec<&'static str>,
    inits: Vec<TensorProto>,
    graph_inputs: Vec<(&'static str, Vec<usize>)>,
    opset: i64,
}

impl Case {
    fn onnx(&self) -> Vec<u8> {
        let node = NodeProto {
            input: self.node_inputs.iter().map(|s| s.to_string()).collect(),
            output: self.node_outputs.iter().map(|s| s.to_string()).collect(),
            name: "rec".into(),
            op_type: self.op.into(),
            attribute: self.attrs.clone(),
            ..Default::default()
        };
        let graph = GraphProto {
            node: vec![node],
            name: "g".into(),
            initializer: self.inits.clone(),
            input: self.graph_inputs.iter().map(|(n, d)| float_info(n, Some(d))).collect(),
            output: self.node_outputs.iter().filter(|o| !o.is_empty()).map(|o| float_info(o, None)).collect(),
            ..Default::default()
        };
        ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: self.opset }],
            graph: Some(graph),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn inputs(&self) -> Vec<Tensor> {
        self.graph_inputs
            .iter()
            .enumerate()
            .map(|(k, (_, d))| {
                let n = d.iter().product();
                Tensor::new(d.clone(), values(n, 100 + k as u64).iter().map(|&v| 2.0 * v as f64).collect(), DType::F32)
            })
            .collect()
    }

    /// The f64 evaluator agrees with ONNX Runtime on every output; returns the outputs.
    fn check_against_ort(&self) -> Vec<Tensor> {
        let onnx = self.onnx();
        let inputs = self.inputs();
        let want =
            FloatModel::load(&ort_support::ort(), &onnx, Device::Cpu).expect("onnxruntime loads").run(&inputs).expect("onnxruntime runs");
        let graph = load_model(&onnx, &ShapeHints::default()).unwrap_or_else(|e| panic!("{}: {e}", self.op));
        let got = eval(&graph, &inputs).unwrap();
        assert_eq!(got.len(), want.len());
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.shape, w.shape, "{} output {k} shape", self.op);
            assert!(w.data.iter().any(|v| v.abs() > 1e-3), "{} output {k} is trivially zero", self.op);
            for (i, (a, b)) in g.data.iter().zip(&w.data).enumerate() {
                assert!((a - b).abs() < 2e-6, "{} output {k}[{i}]: ours {a}, onnxruntime {b}", self.op);
            }
        }
        got
    }

    /// The integer interpreter tracks the float evaluator within 1% of each output's range.
    fn check_quantized(&self) {
        let sample: Vec<Vec<f64>> = self.inputs().into_iter().map(|t| t.data).collect();
        let samples = vec![sample];
        let p = prepare(&self.onnx(), &samples, &hints_for(&samples, None), &QuantOptions::default()).unwrap();
        let float = p.float_outputs(&samples[0]).unwrap();
        let quant = p.quantized_outputs(&samples[0]).unwrap();
        for (k, (f, q)) in float.iter().zip(&quant).enumerate() {
            let fid = compare(f, q);
            assert!(fid.max_rel_error < 0.01, "{} output {k}: {fid:?}", self.op);
        }
    }
}

/// Weights for `dirs` directions, `gates` gate blocks, with biases.
fn weights(gates: usize, dirs: usize, input: usize, hidden: usize) -> Vec<TensorProto> {
    vec![
        init("W", &[dirs, gates * hidden, input], 1),
        init("R", &[dirs, gates * hidden, hidden], 2),
        init("B", &[dirs, 2 * gates * hidden], 3),
    ]
}

#[test]
fn lstm_forward_with_constant_initial_states() {
    let mut inits = weights(4, 1, 4, 3);
    inits.push(init("h0", &[1, 2, 3], 4));
    inits.push(init("c0", &[1, 2, 3], 5));
    let case = Case {
        op: "LSTM",
        attrs: vec![int_attr("hidden_size", 3)],
        node_inputs: vec!["X", "W", "R", "B", "", "h0", "c0"],
        node_outputs: vec!["Y", "Y_h", "Y_c"],
        inits,
        graph_inputs: vec![("X", vec![3, 2, 4])],
        opset: 13,
    };
    case.check_against_ort();
    case.check_quantized();
}

#[test]
fn lstm_bidirectional_with_initial_state_input_and_constant_full_sequence_lens() {
    let mut inits = weights(4, 2, 3, 2);
    inits.push(TensorProto { dims: vec![1], data_type: 6, int32_data: vec![4], name: "lens".into(), ..Default::default() });
    let outs = Case {
        op: "LSTM",
        attrs: vec![int_attr("hidden_size", 2), str_attr("direction", "bidirectional")],
        node_inputs: vec!["X", "W", "R", "B", "lens", "h0"],
        node_outputs: vec!["Y", "", "Y_c"],
        inits,
        graph_inputs: vec![("X", vec![4, 1, 3]), ("h0", vec![2, 1, 2])],
        opset: 13,
    }
    .check_against_ort();
    assert_eq!(outs[0].shape, [4, 2, 1, 2]);
}

#[test]
fn gru_both_reset_variants_forward_and_reverse() {
    for lbr in [0, 1] {
        for dir in ["forward", "reverse"] {
            let case = Case {
                op: "GRU",
                attrs: vec![int_attr("hidden_size", 3), int_attr("linear_before_reset", lbr), str_attr("direction", dir)],
                node_inputs: vec!["X", "W", "R", "B"],
                node_outputs: vec!["Y", "Y_h"],
                inits: weights(3, 1, 2, 3),
                graph_inputs: vec![("X", vec![3, 2, 2])],
                opset: 13,
            };
            case.check_against_ort();
            case.check_quantized();
        }
    }
}

#[test]
fn gru_with_nonzero_initial_state_and_no_bias() {
    let mut inits = weights(3, 2, 2, 2);
    inits.truncate(2);
    inits.push(init("h0", &[2, 1, 2], 7));
    Case {
        op: "GRU",
        attrs: vec![int_attr("hidden_size", 2), str_attr("direction", "bidirectional"), int_attr("linear_before_reset", 1)],
        node_inputs: vec!["X", "W", "R", "", "", "h0"],
        node_outputs: vec!["Y", "Y_h"],
        inits,
        graph_inputs: vec![("X", vec![2, 1, 2])],
        opset: 13,
    }
    .check_against_ort();
}

fn transpose(t: &Tensor, perm: &[usize]) -> Tensor {
    Layout::Transpose { perm: perm.to_vec() }.eval(&[t]).unwrap()
}

/// ONNX Runtime does not implement `layout = 1`: the batch-major model must equal the
/// time-major one (checked against onnxruntime) with inputs and outputs transposed.
#[test]
fn rnn_relu_bidirectional_and_batch_major_layout() {
    let case = |layout: i64, x: Vec<usize>, h0: Vec<usize>| Case {
        op: "RNN",
        attrs: vec![
            int_attr("hidden_size", 3),
            str_attr("direction", "bidirectional"),
            strs_attr("activations", &["Relu", "Tanh"]),
            int_attr("layout", layout),
        ],
        node_inputs: vec!["X", "W", "R", "B", "", "h0"],
        node_outputs: vec!["Y", "Y_h"],
        inits: weights(1, 2, 2, 3),
        graph_inputs: vec![("X", x), ("h0", h0)],
        opset: 14,
    };
    let time_major = case(0, vec![3, 2, 2], vec![2, 2, 3]);
    let outs = time_major.check_against_ort();
    assert_eq!(outs[0].shape, [3, 2, 2, 3]);
    let batch_major = case(1, vec![2, 3, 2], vec![2, 2, 3]);
    let inputs: Vec<Tensor> = time_major.inputs().iter().map(|t| transpose(t, &[1, 0, 2])).collect();
    let graph = load_model(&batch_major.onnx(), &ShapeHints::default()).unwrap();
    let got = eval(&graph, &inputs).unwrap();
    assert_eq!(got[0], transpose(&outs[0], &[2, 0, 1, 3]));
    assert_eq!(got[1], transpose(&outs[1], &[1, 0, 2]));
}

fn invalid(case: Case, needle: &str) {
    match load_model(&case.onnx(), &ShapeHints::default()) {
        Err(ModelError::InvalidNode { node, op_type, message }) => {
            assert_eq!((node.as_str(), op_type.as_str()), ("rec", case.op));
            assert!(message.contains(needle), "{message}");
        }
        other => panic!("expected an InvalidNode error, got {other:?}"),
    }
}

#[test]
fn unsupported_attributes_and_inputs_are_clear_errors() {
    let lstm = |attrs: Vec<AttributeProto>, node_inputs: Vec<&'static str>, mut extra: Vec<TensorProto>| {
        let mut inits = weights(4, 1, 2, 2);
        inits.append(&mut extra);
        Case { op: "LSTM", attrs, node_inputs, node_outputs: vec!["Y"], inits, graph_inputs: vec![("X", vec![2, 1, 2])], opset: 13 }
    };
    invalid(lstm(vec![float_attr("clip", 3.0)], vec!["X", "W", "R"], vec![]), "clip");
    invalid(lstm(vec![strs_attr("activations", &["Sigmoid", "Tanh", "Affine"])], vec!["X", "W", "R"], vec![]), "Affine");
    let short = TensorProto { dims: vec![1], data_type: 6, int32_data: vec![1], name: "lens".into(), ..Default::default() };
    invalid(lstm(vec![], vec!["X", "W", "R", "B", "lens"], vec![short]), "sequence_lens");
    invalid(lstm(vec![], vec!["X", "W", "R", "B", "", "", "", "P"], vec![init("P", &[1, 6], 9)]), "peephole");
    let mut dyn_w = lstm(vec![], vec!["X", "Wx", "R"], vec![]);
    dyn_w.graph_inputs.push(("Wx", vec![1, 8, 2]));
    invalid(dyn_w, "input 1 must be a compile-time constant");
}

/// The corpus models: float evaluator equals onnxruntime's reference, and the integer
/// interpreter stays within the conformance tolerance.
#[test]
fn corpus_lstm_and_rnn_float_and_quantized() {
    for name in ["lstm", "rnn"] {
        let dir = format!("{CORPUS}/{name}");
        let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
        let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
        let expected = ExpectedOutput::from_path(format!("{dir}/expected_output.json")).unwrap();
        let samples = input.samples();
        let p = prepare(&onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), &QuantOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let float = p.float_outputs(&samples[0]).unwrap();
        assert_eq!(float.len(), expected.output_data.len(), "{name}");
        for (f, e) in float.iter().zip(&expected.output_data) {
            assert_eq!(f.len(), e.len(), "{name}");
            for (a, b) in f.iter().zip(e) {
                assert!((a - b).abs() < 1e-6, "{name}: float {a} vs onnxruntime {b}");
            }
        }
        let got = p.quantized_outputs(&samples[0]).unwrap();
        for (k, (g, e)) in got.iter().zip(&expected.output_data).enumerate() {
            let fid = compare(e, g);
            println!("{name} output {k}: {fid:?}");
            assert!(fid.max_rel_error < 0.01 && fid.argmax_agrees, "{name} output {k}: {fid:?}");
        }
    }
}

//! Gather of constant data at activation indices (a token embedding): lookup tables, one
//! per candidate list, against the float model and the one-hot fallback.

use zkinfer_models::prepare::{hints_for, prepare, Prepared};
use zkinfer_models::quant::QOp;
use zkinfer_models::{ModelError, QuantOptions};

const VOCAB: usize = 5;
const WIDTH: usize = 3;

/// The embedding `w[v][e]`: fractional values of both signs, none on a rounding tie.
fn weights() -> Vec<f32> {
    (0..VOCAB * WIDTH).map(|k| ((k as f32 * 0.731).sin() * 3.0 * 1024.0).round() / 1024.0 + 1.0 / 4096.0).collect()
}

/// `idx[tokens] (int64) -> Gather(w, idx, axis)`; `w` is `[VOCAB, WIDTH]` (axis 0, an
/// embedding) or `[WIDTH, VOCAB]` (axis 1).
fn gather_model(tokens: usize, axis: i64) -> Vec<u8> {
    use prost::Message;
    use zkinfer_models::onnx::proto::{
        AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TypeProto, TypeProtoTensor, ValueInfoProto,
    };
    use zkinfer_models::onnx::proto::{Dimension, TensorShapeProto};
    let info = |name: &str, elem_type: i32, dims: &[usize]| {
        let dim = dims.iter().map(|&d| Dimension { dim_value: Some(d as i64), dim_param: None }).collect();
        let shape = Some(TensorShapeProto { dim });
        ValueInfoProto { name: name.into(), r#type: Some(TypeProto { tensor_type: Some(TypeProtoTensor { elem_type, shape }) }) }
    };
    let w = weights();
    let (w, w_dims, out_dims) = if axis == 0 {
        (w, vec![VOCAB as i64, WIDTH as i64], vec![tokens, WIDTH])
    } else {
        let t = (0..WIDTH * VOCAB).map(|k| w[(k % VOCAB) * WIDTH + k / VOCAB]).collect();
        (t, vec![WIDTH as i64, VOCAB as i64], vec![WIDTH, tokens])
    };
    let node = NodeProto {
        input: vec!["w".into(), "idx".into()],
        output: vec!["y".into()],
        name: "wte".into(),
        op_type: "Gather".into(),
        attribute: vec![AttributeProto { name: "axis".into(), r#type: 2, i: axis, ..Default::default() }],
        ..Default::default()
    };
    let init = TensorProto { dims: w_dims, data_type: 1, float_data: w, name: "w".into(), ..Default::default() };
    let graph = GraphProto {
        node: vec![node],
        input: vec![info("idx", 7, &[tokens])],
        output: vec![info("y", 1, &out_dims)],
        initializer: vec![init],
        ..Default::default()
    };
    let opset = vec![OperatorSetIdProto { domain: String::new(), version: 13 }];
    ModelProto { ir_version: 8, graph: Some(graph), opset_import: opset, ..Default::default() }.encode_to_vec()
}

fn prepared(tokens: &[f64], axis: i64, opts: &QuantOptions) -> Prepared {
    let samples = vec![vec![tokens.to_vec()]];
    prepare(&gather_model(tokens.len(), axis), &samples, &hints_for(&samples, None), opts).unwrap()
}

fn count(p: &Prepared, f: impl Fn(&QOp) -> bool) -> usize {
    p.quant.nodes.iter().filter(|n| f(&n.op)).count()
}

/// The float outputs rounded to the activation scale: what an exact lookup gives.
fn quantized_float(p: &Prepared, sample: &[f64]) -> Vec<f64> {
    let one = 2f64.powi(p.quant.scale as i32);
    p.float_outputs(&[sample.to_vec()]).unwrap()[0].iter().map(|v| (v * one).round() / one).collect()
}

#[test]
fn gather_at_activation_indices_is_one_table_per_candidate_list_and_exact() {
    let tokens = [3.0, 0.0, 4.0, 1.0, -1.0, -5.0, 3.0];
    for axis in [0, 1] {
        let p = prepared(&tokens, axis, &QuantOptions::default());
        // One table per embedding column (axis 0) or row (axis 1), and no compare.
        let tables: Vec<_> = p.quant.nodes.iter().filter_map(|n| if let QOp::Table(t) = &n.op { Some((n, t)) } else { None }).collect();
        assert_eq!(tables.len(), WIDTH, "axis {axis}");
        assert_eq!(count(&p, |op| matches!(op, QOp::Cmp { .. })), 0, "axis {axis}");
        for (n, t) in &tables {
            assert_eq!((t.shift, t.lo, t.values.len()), (p.quant.scale, -(VOCAB as i64), 2 * VOCAB), "{}", n.name);
            assert!(!t.clamp_lo && !t.clamp_hi && !t.interpolates(), "{}", n.name);
            assert_eq!(n.len, tokens.len(), "{}", n.name);
        }
        // Exactly the quantized data, negative indices counted from the end as in ONNX.
        let got = p.quantized_outputs(&[tokens.to_vec()]).unwrap().remove(0);
        let want = quantized_float(&p, &tokens);
        assert_eq!(got, want, "axis {axis}");
        let w = weights();
        let row = |t: f64| if t < 0.0 { (t + VOCAB as f64) as usize } else { t as usize };
        let first = if axis == 0 { w[row(tokens[5]) * WIDTH] } else { w[row(tokens[0]) * WIDTH] };
        assert_eq!(p.float_outputs(&[tokens.to_vec()]).unwrap()[0][if axis == 0 { 5 * WIDTH } else { 0 }], first as f64);
    }
}

/// With tables capped below `2 * VOCAB` entries the Gather stays one-hot (the fallback
/// for a large vocabulary), and both lowerings agree on every index in `[0, VOCAB)`.
#[test]
fn tables_and_the_one_hot_fallback_agree_on_in_range_indices() {
    let tokens: Vec<f64> = (0..VOCAB).chain([2, 2, 0]).map(|t| t as f64).collect();
    for axis in [0, 1] {
        let tables = prepared(&tokens, axis, &QuantOptions::default());
        let onehot = prepared(&tokens, axis, &QuantOptions { table_bits: 3, ..QuantOptions::default() });
        assert_eq!(count(&onehot, |op| matches!(op, QOp::Table(_))), 0);
        assert_eq!(count(&onehot, |op| matches!(op, QOp::Cmp { eq: true, .. })), 1);
        assert_eq!(tables.quant.scale, onehot.quant.scale);
        let sample = [tokens.clone()];
        assert_eq!(tables.quantized_outputs(&sample).unwrap(), onehot.quantized_outputs(&sample).unwrap(), "axis {axis}");
        assert_eq!(tables.quantized_outputs(&sample).unwrap()[0], quantized_float(&tables, &tokens));
    }
}

/// An index outside `[-VOCAB, VOCAB)` has no table entry: the interpreter refuses it
/// naming the node (the circuit's lookup has no row for it either).
#[test]
fn an_out_of_range_index_is_refused_naming_the_node() {
    let p = prepared(&[1.0, 2.0, 0.0], 0, &QuantOptions::default());
    for bad in [VOCAB as f64, -(VOCAB as f64) - 1.0, 40.0] {
        let err = p.quantized_outputs(&[vec![1.0, bad, 0.0]]).unwrap_err();
        assert!(matches!(err, ModelError::Quantization(_)), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("`wte:table") && msg.contains("outside the table"), "{msg}");
        assert!(
            msg.contains(&format!("input {bad:.4}")) && msg.contains(&format!("[{:.4}, {:.4}]", -(VOCAB as f64), VOCAB as f64 - 1.0)),
            "{msg}"
        );
    }
    // The edges are in range.
    let sample = vec![-(VOCAB as f64), VOCAB as f64 - 1.0, 0.0];
    assert_eq!(p.quantized_outputs(std::slice::from_ref(&sample)).unwrap()[0], quantized_float(&p, &sample));
}

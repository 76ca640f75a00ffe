//! Differential test over the tier-2 corpus: the f64 evaluator agrees with ONNX Runtime's
//! reference outputs, and the integer interpreter (the oracle circuits are checked
//! against) stays within the conformance tolerance of them.

use zkinfer_models::fidelity::compare;
use zkinfer_models::input_json::{ExpectedOutput, InputData};
use zkinfer_models::prepare::{hints_for, prepare};
use zkinfer_models::QuantOptions;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// Tier-2 (and the tier-3 index-op and recurrent) models the quantizer handles, each checked within 1% of the output range.
const PASSING: &[&str] = &[
    "1l_average",
    "1l_batch_norm",
    "1l_conv",
    "1l_conv_transpose",
    "1l_div",
    "1l_downsample",
    "1l_eltwise_div",
    "1l_elu",
    "1l_erf",
    "1l_gelu_noappx",
    "1l_gelu_tanh_appx",
    "1l_instance_norm",
    "1l_leakyrelu",
    "1l_max_pool",
    "1l_mean",
    "1l_pad",
    "1l_powf",
    "1l_prelu",
    "1l_sigmoid",
    "1l_softmax",
    "1l_sqrt",
    "1l_tanh",
    "1l_upsample",
    "1l_var",
    "1l_where",
    "2l_relu_sigmoid",
    "2l_relu_sigmoid_conv",
    "2l_relu_sigmoid_small",
    "2l_sigmoid_small",
    "3l_relu_conv_fc",
    "4l_relu_conv_fc",
    "accuracy",
    "bitwise_ops",
    "boolean",
    "decision_tree",
    "hard_sigmoid",
    "idolmodel",
    "large_op_graph",
    "layernorm",
    "less",
    "linear_regression",
    "linear_svc",
    "log_softmax",
    "ltsf",
    "max",
    "min",
    "prelu_gmm",
    "rounding_ops",
    "selu",
    "sklearn_mlp",
    "softplus",
    "softsign",
    "trig",
    "tutorial",
    "variable_cnn",
    "gradient_boosted_trees",
    "random_forest",
    "gather_elements",
    "scatter_elements",
    "hummingbird_decision_tree",
    "oh_decision_tree",
    "lightgbm",
    "xgboost",
    "xgboost_reg",
    "1l_topk",
    "lstm",
    "rnn",
];

/// Runs one model; `Err` with the reason when it does not conform.
fn check(name: &str) -> Result<String, String> {
    let dir = format!("{CORPUS}/{name}");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).map_err(|e| e.to_string())?;
    let input = InputData::from_path(format!("{dir}/input.json")).map_err(|e| e.to_string())?;
    let expected = ExpectedOutput::from_path(format!("{dir}/expected_output.json")).map_err(|e| e.to_string())?;
    let samples = input.samples();
    let p = prepare(&onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), &QuantOptions::default())
        .map_err(|e| format!("prepare: {e}"))?;
    let float = p.float_outputs(&samples[0]).map_err(|e| format!("float: {e}"))?;
    for (f, e) in float.iter().zip(&expected.output_data) {
        let fid = compare(e, f);
        if f.len() != e.len() || fid.max_rel_error > 1e-4 {
            return Err(format!("float evaluator differs from onnxruntime: {fid:?}"));
        }
    }
    let got = p.quantized_outputs(&samples[0]).map_err(|e| format!("interpreter: {e}"))?;
    let mut worst = 0.0f64;
    for (k, (g, e)) in got.iter().zip(&expected.output_data).enumerate() {
        let fid = compare(e, g);
        worst = worst.max(fid.max_rel_error);
        if fid.max_rel_error > 0.01 || (e.len() > 1 && !fid.argmax_agrees) {
            return Err(format!("output {k}: {fid:?}"));
        }
    }
    Ok(format!("rel err {worst:.2e}, scale 2^{}, {} nodes", p.quant.scale, p.quant.nodes.len()))
}

#[test]
fn tier2_quantized_tracks_onnxruntime_reference() {
    let mut failures = Vec::new();
    for name in PASSING {
        match check(name) {
            Ok(s) => println!("{name:28} ok   {s}"),
            Err(e) => {
                println!("{name:28} FAIL {e}");
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

//! End to end on every tier-1 corpus model with an input: compile, prove, verify
//! natively and in the EVM; outputs within tolerance of onnxruntime's; a flipped proof
//! byte and a changed public output are rejected natively and in the EVM.

use zkinfer_circuits::Fr;
use zkinfer_models::input_json::{ExpectedOutput, InputData};
use zkinfer_service::pipeline::{self, CompileOptions, NoCache};
use zkinfer_circuits::PlanOptions;
use zkinfer_service::progress::Silent;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

const TIER1: &[&str] = &[
    "1l_concat", "1l_flatten", "1l_identity", "1l_linear", "1l_mlp", "1l_relu", "1l_reshape", "1l_slice",
    "2l_relu_fc", "2l_relu_small", "arange", "blackman_window", "boolean_identity", "eye", "quantize_dequantize",
];

/// Compiles the model in `dir` with `opts`, proves, verifies natively and in the EVM,
/// checks the outputs against onnxruntime's and that a flipped proof byte and a changed
/// public output are rejected both ways. Returns a report line.
fn check_end_to_end(name: &str, dir: &str, opts: &CompileOptions) -> (String, zkinfer_circuits::LayoutStats) {
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    let expected = ExpectedOutput::from_path(format!("{dir}/expected_output.json")).unwrap();
    let samples = input.samples();
    let c = pipeline::compile(
        &onnx,
        &samples,
        input.input_shapes.clone(),
        Some(&expected.output_data),
        opts,
        &NoCache,
        &Silent,
    )
    .unwrap_or_else(|e| panic!("{name}: compile: {e}"));
    assert!(c.settings.verifier_runtime_bytes <= 24_576, "{name}: verifier over EIP-170");

    let b = pipeline::prove(&c.quant, &c.params, &c.keys, &samples[0]).unwrap_or_else(|e| panic!("{name}: prove: {e}"));
    // Outputs within tolerance of onnxruntime's.
    for (got, want) in b.outputs.iter().zip(&expected.output_data) {
        assert_eq!(got.len(), want.len(), "{name}");
        let range = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-9);
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 0.01 * range.max(1.0), "{name}: output {g} vs {w}");
        }
    }

    // Honest proof: accepted natively and on the EVM.
    assert!(pipeline::verify(&c.params, c.keys.vk(), &b.instances, &b.proof), "{name}: native rejects honest proof");
    let (ok, gas) = pipeline::verify_evm(&c.verifier.code(), &b.instances, &b.proof).unwrap();
    assert!(ok, "{name}: EVM rejects honest proof");

    // A flipped proof byte: rejected.
    let mut bad_proof = b.proof.clone();
    let at = bad_proof.len() / 3;
    bad_proof[at] ^= 0x01;
    assert!(!pipeline::verify(&c.params, c.keys.vk(), &b.instances, &bad_proof), "{name}: native accepts tampered proof");
    let (ok, _) = pipeline::verify_evm(&c.verifier.code(), &b.instances, &bad_proof).unwrap();
    assert!(!ok, "{name}: EVM accepts tampered proof");

    // A changed public output (the last instance): rejected.
    if !b.instances.is_empty() {
        let mut bad_inst = b.instances.clone();
        let last = bad_inst.len() - 1;
        bad_inst[last] += Fr::from(1);
        assert!(!pipeline::verify(&c.params, c.keys.vk(), &bad_inst, &b.proof), "{name}: native accepts changed output");
        let (ok, _) = pipeline::verify_evm(&c.verifier.code(), &bad_inst, &b.proof).unwrap();
        assert!(!ok, "{name}: EVM accepts changed output");
    }
    let row = format!(
        "{name:22} k={:2} rows={:5} prove={:.3}s proof={}B verifier={}B gas={gas} max_abs_err={:.2e}",
        c.settings.stats.k,
        c.settings.stats.rows,
        b.prove_seconds,
        b.proof.len(),
        c.settings.verifier_runtime_bytes,
        c.settings.fidelity.as_ref().map(|f| f.max_abs_error()).unwrap_or(0.0),
    );
    (row, c.settings.stats.clone())
}

#[test]
fn tier1_models_prove_and_verify_natively_and_on_the_evm() {
    let table: Vec<String> =
        TIER1.iter().map(|name| check_end_to_end(name, &format!("{CORPUS}/{name}"), &CompileOptions::default()).0).collect();
    println!("{}", table.join("\n"));
}

/// Dense layers in the MAC gate, at several widths (one that leaves a partial last row):
/// the same end-to-end guarantees, natively and in the EVM.
#[test]
fn mac_gate_models_prove_and_verify_natively_and_on_the_evm() {
    let zoo = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/zoo/credit_mlp");
    for (name, dir, width) in [
        ("1l_mlp", format!("{CORPUS}/1l_mlp"), 3),
        ("2l_relu_fc", format!("{CORPUS}/2l_relu_fc"), 8),
        ("credit_mlp", zoo.to_string(), 4),
    ] {
        let opts = CompileOptions { plan: PlanOptions { mac_width: Some(width), ..Default::default() }, ..Default::default() };
        let (row, stats) = check_end_to_end(name, &dir, &opts);
        assert_eq!(stats.mac_width, width, "{name}: the MAC gate was not used");
        assert!(stats.mac_sets >= 1, "{name}");
        println!("{row} mac_width={width}");
    }
}

/// Range checks in the function table's lookup (`1l_sigmoid`: limbs narrowed to fit the
/// range table beside its 3,809-entry table): the same end-to-end guarantees, natively
/// and in the EVM.
#[test]
fn shared_lookup_model_proves_and_verifies_natively_and_on_the_evm() {
    let (row, stats) = check_end_to_end("1l_sigmoid", &format!("{CORPUS}/1l_sigmoid"), &CompileOptions::default());
    assert!(stats.range_in_table && stats.num_lookup_advice == 0, "{stats:?}");
    println!("{row}");
}

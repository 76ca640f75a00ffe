//! End to end on every tier-1 corpus model with an input: compile, prove, verify
//! natively and in the EVM; outputs within tolerance of onnxruntime's; a flipped proof
//! byte and a changed public output are rejected natively and in the EVM.

mod common;

use common::{Folder, CORPUS, ZOO};
use zkinfer_circuits::Fr;
use zkinfer_compiler::CompileOptions;
use zkinfer_prover::{Expected, ModelProof, VerifyError};

const TIER1: &[&str] = &[
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

/// Compiles the model in `dir` with `opts`, proves, verifies natively and in the EVM,
/// checks the outputs against onnxruntime's and that a flipped proof byte and a changed
/// public output are rejected both ways. Returns a report line.
fn check_end_to_end(name: &str, dir: &str, opts: &CompileOptions) -> (String, zkinfer_circuits::LayoutStats) {
    let f = Folder::read(dir);
    let expected = f.expected.as_ref().unwrap_or_else(|| panic!("{name}: no expected_output.json"));
    let c = f.compile(opts).unwrap_or_else(|e| panic!("{name}: compile: {e}"));
    let s = c.settings();
    assert!(s.verifier_runtime_bytes <= 24_576, "{name}: verifier over EIP-170");
    let stats = s.stats().expect("a halo2 circuit").clone();

    let samples = f.input.samples();
    let b = c.model.prove(&samples[0]).unwrap_or_else(|e| panic!("{name}: prove: {e}"));
    // Outputs within tolerance of onnxruntime's.
    for (got, want) in b.outputs.iter().zip(&expected.output_data) {
        assert_eq!(got.len(), want.len(), "{name}");
        let range = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-9);
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 0.01 * range.max(1.0), "{name}: output {g} vs {w}");
        }
    }

    // Honest proof: accepted natively (with its outputs) and on the EVM.
    let prover = c.prover();
    c.model.verify(&b.proof, Some(&b.outputs)).unwrap_or_else(|e| panic!("{name}: native rejects honest proof: {e}"));
    let code = c.verifier.code();
    let honest = prover.verify_on_evm(&code, &b.proof).unwrap();
    assert!(honest.accepted, "{name}: EVM rejects honest proof");

    // A flipped proof byte: rejected.
    let mut bad_proof = b.proof.clone();
    let at = bad_proof.proof.len() / 3;
    bad_proof.proof[at] ^= 0x01;
    assert!(matches!(c.model.verify(&bad_proof, None), Err(VerifyError::InvalidProof)), "{name}: native accepts tampered proof");
    assert!(!prover.verify_on_evm(&code, &bad_proof).unwrap().accepted, "{name}: EVM accepts tampered proof");

    // A changed public output (the last instance): rejected.
    if !b.proof.instances.is_empty() {
        let mut instances = b.proof.instances.clone();
        let last = instances.len() - 1;
        instances[last] += Fr::from(1);
        let bad = ModelProof { instances, ..b.proof.clone() };
        assert!(prover.verify(&bad, &Expected::default()).is_err(), "{name}: native accepts changed output");
        assert!(!prover.verify_on_evm(&code, &bad).unwrap().accepted, "{name}: EVM accepts changed output");
    }
    // Claimed outputs other than the proved ones: rejected.
    if let Some(first) = b.outputs.first().and_then(|o| o.first()) {
        let mut claimed = b.outputs.clone();
        claimed[0][0] = first + 1.0;
        assert!(matches!(c.model.verify(&b.proof, Some(&claimed)), Err(VerifyError::OutputMismatch)), "{name}: a wrong claimed output");
    }
    let row = format!(
        "{name:22} k={:2} rows={:5} prove={:.3}s proof={}B verifier={}B gas={} max_abs_err={:.2e}",
        stats.k,
        stats.rows,
        b.prove_seconds,
        b.proof.proof.len(),
        s.verifier_runtime_bytes,
        honest.gas_used,
        s.fidelity.max_abs_error(),
    );
    (row, stats)
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
    let zoo = format!("{ZOO}/credit_mlp");
    for (name, dir, width) in
        [("1l_mlp", format!("{CORPUS}/1l_mlp"), 3), ("2l_relu_fc", format!("{CORPUS}/2l_relu_fc"), 8), ("credit_mlp", zoo.clone(), 4)]
    {
        let opts = CompileOptions { mac_width: Some(width), ..Default::default() };
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

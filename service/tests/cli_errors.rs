//! Bad input through the real binary: a clear one-line error, a non-zero exit, no panic.

mod cli_support;
mod unsupported_model;

use std::path::{Path, PathBuf};

use cli_support::{flip_proof_digit, zkinfer};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

fn assert_clear_error(args: &[&str], needle: &str) {
    let (code, _, err) = zkinfer(args);
    assert_eq!(code, 1, "{args:?}: exit code {code}, stderr: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("{args:?}: no error line in {err}"));
    assert!(line.contains(needle), "{args:?}: `{line}` does not mention `{needle}`");
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zkinfer-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn corpus(model: &str, file: &str) -> String {
    format!("{CORPUS}/{model}/{file}")
}

#[test]
fn truncated_onnx_is_a_clear_error() {
    let d = tmp("trunc");
    let bytes = std::fs::read(corpus("1l_mlp", "network.onnx")).unwrap();
    let p = d.join("cut.onnx");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let out = d.join("out");
    assert_clear_error(
        &["compile", p.to_str().unwrap(), "--input", &corpus("1l_mlp", "input.json"), "--out", out.to_str().unwrap()],
        "ONNX",
    );
    assert!(!out.join("settings.json").exists());
}

#[test]
fn missing_tools_say_how_to_install_and_where_to_point() {
    let d = tmp("tools");
    let (model, input) = (corpus("1l_mlp", "network.onnx"), corpus("1l_mlp", "input.json"));
    assert_clear_error(
        &["run", &model, "--input", &input, "--ort-library", "/nonexistent/libonnxruntime.so"],
        "--ort-library names /nonexistent/libonnxruntime.so",
    );
    let out = d.join("out");
    let compile = |tool: &[&str]| {
        let mut args = vec!["compile", &model, "--input", &input, "--out", out.to_str().unwrap()];
        args.extend_from_slice(tool);
        zkinfer(&args)
    };
    let (code, _, err) = compile(&["--solc-dir", "/nonexistent/solc"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cd /nonexistent/solc && npm install solc@0.8.19") && err.contains("hint: --solc-dir DIR"), "{err}");
    let (code, _, err) = compile(&["--node", "/nonexistent/node"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("install Node.js") && err.contains("hint: --node PATH"), "{err}");
    assert!(!out.join("settings.json").exists());
}

#[test]
fn unsupported_op_names_the_op_and_the_node() {
    let d = tmp("unsup");
    let m = unsupported_model::write(&d);
    let (code, _, err) = zkinfer(&[
        "compile",
        m.join("network.onnx").to_str().unwrap(),
        "--input",
        m.join("input.json").to_str().unwrap(),
        "--out",
        d.join("o").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let (op, node) = (unsupported_model::OP, unsupported_model::NODE);
    assert!(err.contains(&format!("unsupported op `{op}` (node `{node}`)")), "{err}");
}

#[test]
fn wrong_input_length_and_missing_files_are_clear_errors() {
    let d = tmp("len");
    let bad = d.join("bad.json");
    std::fs::write(&bad, r#"{"input_data": [[1.0, 2.0]]}"#).unwrap();
    let dir = d.join("m");
    assert_clear_error(
        &["compile", &corpus("1l_mlp", "network.onnx"), "--input", bad.to_str().unwrap(), "--out", dir.to_str().unwrap()],
        "expected 3 values",
    );
    assert_clear_error(&["run", "/nonexistent/model.onnx", "--input", bad.to_str().unwrap()], "/nonexistent/model.onnx");
    assert_clear_error(
        &["prove", d.join("nothing").to_str().unwrap(), "--input", bad.to_str().unwrap(), "--out", "x.json"],
        "not a compiled model folder",
    );

    // A compiled model proves only inputs of its shape.
    let (code, _, err) = zkinfer(&[
        "compile",
        &corpus("1l_mlp", "network.onnx"),
        "--input",
        &corpus("1l_mlp", "input.json"),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_clear_error(
        &["prove", dir.to_str().unwrap(), "--input", bad.to_str().unwrap(), "--out", d.join("p.json").to_str().unwrap()],
        "expected 3 values",
    );
    assert!(!Path::new(&d.join("p.json")).exists());
}

#[test]
fn cli_round_trip_and_tampered_proof_file() {
    let d = tmp("rt");
    let dir = d.join("m");
    let proof = d.join("proof.json");
    let model = corpus("2l_relu_fc", "network.onnx");
    let input = corpus("2l_relu_fc", "input.json");
    let (code, _, err) = zkinfer(&["compile", &model, "--input", &input, "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = zkinfer(&["prove", dir.to_str().unwrap(), "--input", &input, "--out", proof.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("outputs"));
    let (code, out, err) = zkinfer(&["verify", dir.to_str().unwrap(), proof.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("proof valid"));
    let (code, out, err) = zkinfer(&["verify-evm", dir.to_str().unwrap(), proof.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("gas used"));

    // Claiming another output in proof.json is caught before any cryptography...
    let mut pf: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    let orig = pf.clone();
    pf["outputs"][0][0] = serde_json::json!(42.0);
    std::fs::write(&proof, serde_json::to_vec(&pf).unwrap()).unwrap();
    assert_clear_error(&["verify", dir.to_str().unwrap(), proof.to_str().unwrap()], "do not match");
    // ...and a changed public value that the outputs do not show is caught by the proof:
    // 2l_relu_fc packs its 3 inputs and 1 output in one instance, and its lowest digit is
    // input 0, so adding 1 leaves the claimed outputs consistent.
    let mut pf = orig.clone();
    let word = pf["instances"][0].as_str().unwrap().trim_start_matches("0x").to_string();
    let mut bytes = hex::decode(&word).unwrap();
    bytes[31] ^= 1;
    pf["instances"][0] = serde_json::json!(format!("0x{}", hex::encode(bytes)));
    std::fs::write(&proof, serde_json::to_vec(&pf).unwrap()).unwrap();
    assert_clear_error(&["verify", dir.to_str().unwrap(), proof.to_str().unwrap()], "proof rejected");
    assert_clear_error(&["verify-evm", dir.to_str().unwrap(), proof.to_str().unwrap()], "rejected");
    // A flipped proof byte.
    std::fs::write(&proof, serde_json::to_vec(&flip_proof_digit(&orig)).unwrap()).unwrap();
    assert_clear_error(&["verify", dir.to_str().unwrap(), proof.to_str().unwrap()], "proof rejected");
    assert_clear_error(&["verify-evm", dir.to_str().unwrap(), proof.to_str().unwrap()], "rejected");
}

#[test]
fn outputs_that_json_does_not_round_trip_still_verify() {
    // blackman_window's outputs include values whose f64 JSON parse differs in the last
    // bit; verify compares them as quantized integers.
    let d = tmp("bw");
    let (dir, proof) = (d.join("m"), d.join("p.json"));
    let (model, input) = (corpus("blackman_window", "network.onnx"), corpus("blackman_window", "input.json"));
    assert_eq!(zkinfer(&["compile", &model, "--input", &input, "--out", dir.to_str().unwrap()]).0, 0);
    assert_eq!(zkinfer(&["prove", dir.to_str().unwrap(), "--input", &input, "--out", proof.to_str().unwrap()]).0, 0);
    let (code, _, err) = zkinfer(&["verify", dir.to_str().unwrap(), proof.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn calibration_target_and_max_error() {
    let d = tmp("target");
    let (model, input) = (corpus("1l_mlp", "network.onnx"), corpus("1l_mlp", "input.json"));
    // An unreachable bound is refused, saying how close the search got.
    let dir = d.join("refused");
    assert_clear_error(
        &["compile", &model, "--input", &input, "--out", dir.to_str().unwrap(), "--max-error", "1e-12"],
        "no quantization setting meets --max-error",
    );
    assert!(!dir.join("settings.json").exists());
    // `resources` takes a coarser scale than `accuracy`, still within 1%, and proves.
    let scale = |target: &str| -> u64 {
        let dir = d.join(target);
        let (code, _, err) = zkinfer(&["compile", &model, "--input", &input, "--out", dir.to_str().unwrap(), "--target", target]);
        assert_eq!(code, 0, "{err}");
        let s: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("settings.json")).unwrap()).unwrap();
        assert!(s["fidelity"]["outputs"][0]["max_rel_error"].as_f64().unwrap() <= 0.01);
        s["calibration"]["scale"].as_u64().unwrap()
    };
    assert!(scale("resources") < scale("accuracy"));
    let dir = d.join("resources");
    let proof = d.join("r.json");
    assert_eq!(zkinfer(&["prove", dir.to_str().unwrap(), "--input", &input, "--out", proof.to_str().unwrap()]).0, 0);
    assert_eq!(zkinfer(&["verify", dir.to_str().unwrap(), proof.to_str().unwrap()]).0, 0);
}

#[test]
fn sharing_the_weights_of_a_hashed_parameter_model_is_refused_before_connecting() {
    let (model, input) = (corpus("1l_mlp", "network.onnx"), corpus("1l_mlp", "input.json"));
    // Nothing listens there: the refusal comes first.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = format!("http://127.0.0.1:{port}");
    let args = ["register", &model, "--calibration", &input, "--param-visibility", "hashed", "--share-weights", "--server", &server];
    assert_clear_error(&args, "--share-weights: the model's parameters are hashed");
}

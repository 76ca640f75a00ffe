//! `--backend groth16` through the real binary: compile, prove, verify natively and on
//! the EVM; a flipped proof byte and a changed public output are rejected by both.

mod cli_support;

use cli_support::{flip_proof_digit, zkinfer};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

#[test]
fn groth16_round_trip_and_tampering() {
    let d = std::env::temp_dir().join(format!("zkinfer-g16-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let (dir, proof) = (d.join("m"), d.join("proof.json"));
    let (dir_s, proof_s) = (dir.to_str().unwrap(), proof.to_str().unwrap());
    let model = format!("{CORPUS}/1l_mlp/network.onnx");
    let input = format!("{CORPUS}/1l_mlp/input.json");
    let (code, out, err) = zkinfer(&["compile", &model, "--input", &input, "--out", dir_s, "--backend", "groth16"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("backend   groth16 (local setup)"), "{out}");
    assert!(err.contains("circuit-specific setup"), "the trust assumption is stated: {err}");
    let (code, _, err) = zkinfer(&["prove", dir_s, "--input", &input, "--out", proof_s]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = zkinfer(&["verify", dir_s, proof_s]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("groth16"), "{out}");
    let (code, out, err) = zkinfer(&["verify-evm", dir_s, proof_s]);
    assert_eq!(code, 0, "{err}");
    let gas: u64 = out.trim().rsplit(' ').next().unwrap().parse().unwrap();
    assert!(gas < 300_000, "Groth16 verification should be cheap, got {gas}");

    let orig: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    // A flipped proof byte.
    std::fs::write(&proof, serde_json::to_vec(&flip_proof_digit(&orig)).unwrap()).unwrap();
    assert_eq!(zkinfer(&["verify", dir_s, proof_s]).0, 1);
    assert_eq!(zkinfer(&["verify-evm", dir_s, proof_s]).0, 1);
    // A changed public output, with the outputs field kept consistent with it.
    let mut pf = orig;
    let n = pf["instances"].as_array().unwrap().len();
    let last = pf["instances"][n - 1].as_str().unwrap().to_string();
    let mut bytes = hex::decode(last.trim_start_matches("0x")).unwrap();
    bytes[31] ^= 1; // lowest bit of the first value packed in the last word
    pf["instances"][n - 1] = serde_json::json!(format!("0x{}", hex::encode(bytes)));
    std::fs::write(&proof, serde_json::to_vec(&pf).unwrap()).unwrap();
    let (code, _, err) = zkinfer(&["verify", dir_s, proof_s]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let (code, _, _) = zkinfer(&["verify-evm", dir_s, proof_s]);
    assert_eq!(code, 1);
}

/// Options Groth16 cannot honour are refused naming the flag, before anything is compiled
/// (they were once silently ignored).
#[test]
fn groth16_refuses_halo2_only_flags() {
    let model = format!("{CORPUS}/1l_mlp/network.onnx");
    let input = format!("{CORPUS}/1l_mlp/input.json");
    let out = std::env::temp_dir().join(format!("zkinfer-g16-flags-{}", std::process::id()));
    for (flags, named) in [
        (&["--k", "10"][..], "--k"),
        (&["--input-visibility", "hashed"][..], "--input-visibility"),
        (&["--mac-width", "2"][..], "--mac-width"),
    ] {
        let mut args = vec!["compile", &model, "--input", &input, "--out", out.to_str().unwrap(), "--backend", "groth16"];
        args.extend_from_slice(flags);
        let (code, _, err) = zkinfer(&args);
        assert_eq!(code, 1, "{flags:?} accepted");
        assert!(err.contains(named) && err.contains("halo2") || err.contains(named) && err.contains("public"), "{flags:?}: {err}");
        assert!(!out.join("settings.json").exists(), "nothing is written");
    }
}

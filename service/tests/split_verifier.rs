//! A verifier over EIP-170 end to end through the CLI: the MNIST MLP with private
//! inputs pinned to k = 13 and MAC width 16, whose verifier (about 34.7 KB) is split into
//! parts. `verify-evm` deploys them from verifier.json and accepts the honest proof;
//! a flipped proof byte and a changed public output are rejected on-chain. The model's
//! attestor, over the split verifier, decodes the proof's outputs exactly.

mod chain_support;
mod cli_support;

use cli_support::{flip_proof_digit, zkinfer};
use zkinfer_verifier_contracts::{Evm, VerifierCode};

#[test]
fn mnist_mlp_split_verifier_accepts_and_rejects_on_chain() {
    let zoo = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/zoo/mlp_784_128_64_10");
    let (model, input) = (format!("{zoo}/network.onnx"), format!("{zoo}/input.json"));
    let d = std::env::temp_dir().join(format!("zkinfer-split-{}", std::process::id()));
    let (dir, proof) = (d.join("m"), d.join("p.json"));
    let (dir_s, proof_s) = (dir.to_str().unwrap(), proof.to_str().unwrap());
    let (code, out, err) =
        zkinfer(&["compile", &model, "--input", &input, "--out", dir_s, "--input-visibility", "private", "--k", "13", "--mac-width", "16"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("split into"), "{out}");

    let settings: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("settings.json")).unwrap()).unwrap();
    let contracts = settings["verifier_contracts"].as_u64().unwrap();
    assert!(contracts >= 3, "{contracts} contracts");
    assert!(settings["verifier_runtime_bytes"].as_u64().unwrap() <= 24_576);
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("verifier.json")).unwrap()).unwrap();
    assert_eq!(manifest["parts"].as_array().unwrap().len() as u64, contracts - 1);
    let sol = std::fs::read_to_string(dir.join("Verifier.sol")).unwrap();
    assert!(sol.contains("contract Halo2VerifierPart1") && sol.contains("contract Halo2Verifier {"));

    let (code, _, err) = zkinfer(&["prove", dir_s, "--input", &input, "--out", proof_s]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = zkinfer(&["verify-evm", dir_s, proof_s]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("gas used"), "{out}");

    let orig: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    std::fs::write(&proof, serde_json::to_vec(&flip_proof_digit(&orig)).unwrap()).unwrap();
    let (code, _, err) = zkinfer(&["verify-evm", dir_s, proof_s]);
    assert_eq!(code, 1, "a flipped proof byte was accepted: {err}");
    assert!(err.contains("rejected"), "{err}");

    // The deployed contracts called directly: the honest calldata (instances, then the
    // proof) is accepted; one changed bit in an instance word is rejected.
    let code = VerifierCode::from_json(&std::fs::read_to_string(dir.join("verifier.json")).unwrap()).unwrap();
    let mut evm = Evm::new();
    let (entry, largest) = code.deploy(&mut evm).unwrap();
    assert!(largest <= 24_576);
    let mut calldata = Vec::new();
    for w in orig["instances"].as_array().unwrap() {
        calldata.extend(hex::decode(w.as_str().unwrap().trim_start_matches("0x")).unwrap());
    }
    let n_instances = calldata.len();
    calldata.extend(hex::decode(orig["proof"].as_str().unwrap().trim_start_matches("0x")).unwrap());
    let ok = evm.call(entry.address, &calldata).unwrap();
    assert!(ok.success && ok.output.is_empty(), "honest calldata rejected");
    for at in [31, n_instances - 1] {
        let mut bad = calldata.clone();
        bad[at] ^= 1;
        assert!(!evm.call(entry.address, &bad).unwrap().success, "instance byte {at} changed and accepted");
    }

    // The attestor over the split verifier: every output as proof.json states it.
    let md = zkinfer_service::artifacts::ModelDir::new(&dir);
    let quant = md.quant().unwrap();
    let spec = zkinfer_service::chain::attestor_spec(&quant, &md.settings().unwrap().visibility());
    let attestor = zkinfer_verifier_contracts::build_attestor(&chain_support::solc(), &spec).unwrap();
    let at = chain_support::deploy_attestor(&mut evm, &attestor.deployment_code, entry.address);
    let hex_words: Vec<String> = orig["instances"].as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_string()).collect();
    let proof_bytes = hex::decode(orig["proof"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let (decoded, gas) = chain_support::verify_and_decode(&mut evm, at, &proof_bytes, &chain_support::words(&hex_words)).unwrap();
    eprintln!("mlp_784_128_64_10 (split, {} contracts): verifyAndDecode gas {gas}", contracts);
    let outputs: Vec<f64> =
        orig["outputs"].as_array().unwrap().iter().flat_map(|o| o.as_array().unwrap().iter().map(|x| x.as_f64().unwrap())).collect();
    assert_eq!(decoded.outputs.len(), outputs.len());
    // Compared on the fixed-point grid: JSON float parsing need not round-trip the last bit.
    for (q, x) in decoded.outputs.iter().zip(&outputs) {
        assert_eq!(chain_support::int(q), quant.quantize_value(*x) as i128);
    }
    assert!(decoded.inputs.is_empty(), "private inputs decode to nothing");
    let _ = std::fs::remove_dir_all(&d);
}

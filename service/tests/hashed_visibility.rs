//! `--input-visibility hashed` / `--output-visibility hashed` end to end: honest proofs
//! verify natively and on the EVM, a proof for one input is rejected against another
//! input's hash, `zkinfer hash` prints the proof's input-hash instance, and `verify`
//! rejects a proof file whose outputs do not hash to the output-hash instance.

use std::process::Command;

use zkinfer_circuits::{InstanceLayout, Visibility, VisibilityConfig};
use zkinfer_models::input_json::InputData;
use zkinfer_service::pipeline::{self, CompileOptions, NoCache};
use zkinfer_service::progress::Silent;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

#[test]
fn hashed_proofs_verify_and_bind_their_values() {
    let dir = format!("{CORPUS}/1l_mlp");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    let samples = input.samples();
    // Another input: the first value nudged by one quantization step or so.
    let mut other = samples[0].clone();
    other[0][0] += 0.05;
    for vis in [
        VisibilityConfig { inputs: Visibility::Hashed, outputs: Visibility::Public },
        VisibilityConfig { inputs: Visibility::Private, outputs: Visibility::Hashed },
    ] {
        let mut opts = CompileOptions::default();
        opts.plan.visibility = vis;
        let c = pipeline::compile(&onnx, &samples, input.input_shapes.clone(), None, &opts, &NoCache, &Silent).unwrap();
        let layout = InstanceLayout::new(&c.quant, &vis);
        assert_eq!(c.settings.num_instances, layout.len());
        let b = pipeline::prove(&c.quant, &c.params, &c.keys, &samples[0]).unwrap();
        assert!(pipeline::verify(&c.params, c.keys.vk(), &b.instances, &b.proof), "{vis:?}: native rejects honest proof");
        let (ok, gas) = pipeline::verify_evm(&c.verifier.deployment_code, &b.instances, &b.proof).unwrap();
        assert!(ok, "{vis:?}: EVM rejects honest proof");
        println!("{vis:?}: {} instances, proof {} B, gas {gas}", b.instances.len(), b.proof.len());

        if let Some(i) = layout.input_hash_index() {
            assert_eq!(b.instances[i], pipeline::input_hash(&c.quant, &samples[0]).unwrap());
            // The proof of samples[0] against the hash of `other`: rejected.
            let other_hash = pipeline::input_hash(&c.quant, &other).unwrap();
            assert_ne!(other_hash, b.instances[i]);
            let mut bad = b.instances.clone();
            bad[i] = other_hash;
            assert!(!pipeline::verify(&c.params, c.keys.vk(), &bad, &b.proof), "{vis:?}: native accepts another input's hash");
            let (ok, _) = pipeline::verify_evm(&c.verifier.deployment_code, &bad, &b.proof).unwrap();
            assert!(!ok, "{vis:?}: EVM accepts another input's hash");
        }
        if layout.output_hash_index().is_some() {
            assert_eq!(pipeline::outputs_from_instances(&c.quant, &vis, &b.instances).unwrap(), None);
            assert_eq!(pipeline::check_output_hash(&c.quant, &vis, &b.instances, &b.outputs).unwrap(), Some(true));
            let mut lied = b.outputs.clone();
            lied[0][0] += c.quant.dequantize(1);
            assert_eq!(pipeline::check_output_hash(&c.quant, &vis, &b.instances, &lied).unwrap(), Some(false));
        }
    }
}

fn zkinfer(args: &[&str]) -> (bool, String, String) {
    let cache = std::env::temp_dir().join(format!("zkinfer-hashed-cache-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_zkinfer")).env("ZKINFER_CACHE", cache).args(args).output().expect("runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn cli_hash_equals_the_input_instance_and_verify_checks_the_output_hash() {
    let tmp = std::env::temp_dir().join(format!("zkinfer-hashed-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (model, input) = (format!("{CORPUS}/1l_mlp/network.onnx"), format!("{CORPUS}/1l_mlp/input.json"));
    let dir = tmp.join("m");
    let proof = tmp.join("proof.json");
    let (d, p) = (dir.to_str().unwrap(), proof.to_str().unwrap());
    let compile = ["compile", &model, "--input", &input, "--out", d, "--input-visibility", "hashed", "--output-visibility", "hashed"];
    let (ok, _, err) = zkinfer(&compile);
    assert!(ok, "compile: {err}");
    let (ok, _, err) = zkinfer(&["prove", d, "--input", &input, "--out", p]);
    assert!(ok, "prove: {err}");
    let (ok, _, err) = zkinfer(&["verify", d, p]);
    assert!(ok, "verify: {err}");
    let (ok, out, err) = zkinfer(&["verify-evm", d, p]);
    assert!(ok, "verify-evm: {err}");
    assert!(out.contains("gas used"));

    let (ok, hash, err) = zkinfer(&["hash", d, "--input", &input]);
    assert!(ok, "hash: {err}");
    let pf: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    let instances = pf["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2, "input hash, output hash");
    assert_eq!(hash.trim(), instances[0].as_str().unwrap());

    // Outputs in the file that are not the hashed ones: `verify` refuses.
    let mut lied = pf.clone();
    let v = lied["outputs"][0][0].as_f64().unwrap();
    lied["outputs"][0][0] = serde_json::json!(v + 1.0);
    let lied_path = tmp.join("lied.json");
    std::fs::write(&lied_path, serde_json::to_vec(&lied).unwrap()).unwrap();
    let (ok, _, err) = zkinfer(&["verify", d, lied_path.to_str().unwrap()]);
    assert!(!ok, "verify accepted outputs that do not hash to the instance");
    assert!(err.contains("do not hash"), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}

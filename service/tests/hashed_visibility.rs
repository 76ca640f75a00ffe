//! `--input-visibility hashed` / `--output-visibility hashed` end to end: honest proofs
//! verify natively and on the EVM, a proof for one input is rejected against another
//! input's hash, `zkinfer hash` prints the proof's input-hash instance, and `verify`
//! rejects a proof file whose outputs do not hash to the output-hash instance.

use std::process::Command;

use zkinfer_circuits::hash::hash_packed;
use zkinfer_circuits::{Fr, InstanceLayout, ParamVisibility, Visibility, VisibilityConfig};
use zkinfer_compiler::{CompileInput, CompileOptions, CompiledModel, Environment, NoCache, Silent};
use zkinfer_models::input_json::InputData;
use zkinfer_models::interp::quantize_inputs;
use zkinfer_models::QuantGraph;
use zkinfer_prover::statement::param_hash;
use zkinfer_prover::{Expected, VerifyError};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// 1l_mlp: the ONNX bytes, its input file and the samples in it.
fn mlp() -> (Vec<u8>, InputData, Vec<Vec<Vec<f64>>>) {
    let onnx = std::fs::read(format!("{CORPUS}/1l_mlp/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{CORPUS}/1l_mlp/input.json")).unwrap();
    let samples = input.samples();
    (onnx, input, samples)
}

/// Compiles 1l_mlp's bytes `onnx` with `opts` (no key cache).
fn compile(onnx: &[u8], input: &InputData, samples: &[Vec<Vec<f64>>], opts: &CompileOptions) -> CompiledModel {
    let ci = CompileInput { onnx, samples, input_shapes: input.input_shapes.as_deref(), reference: None };
    zkinfer_compiler::compile(
        &ci,
        opts,
        &Environment::new(zkinfer_service::environment::Tools::resolve(&Default::default()).solc),
        &NoCache,
        &Silent,
    )
    .unwrap()
}

/// The Poseidon hash of a sample's quantized inputs: a hashed-input proof's first instance.
fn input_hash(quant: &QuantGraph, sample: &[Vec<f64>]) -> Fr {
    let q = quantize_inputs(quant, sample).unwrap();
    hash_packed(&q.iter().flatten().map(|v| *v as i128).collect::<Vec<_>>(), quant.bits)
}

#[test]
fn hashed_proofs_verify_and_bind_their_values() {
    let (onnx, input, samples) = mlp();
    // Another input: the first value nudged by one quantization step or so.
    let mut other = samples[0].clone();
    other[0][0] += 0.05;
    for vis in [
        VisibilityConfig { inputs: Visibility::Hashed, outputs: Visibility::Public, ..Default::default() },
        VisibilityConfig { inputs: Visibility::Private, outputs: Visibility::Hashed, ..Default::default() },
    ] {
        let opts = CompileOptions { input_visibility: vis.inputs, output_visibility: vis.outputs, ..Default::default() };
        let c = compile(&onnx, &input, &samples, &opts);
        let (quant, prover) = (c.quant(), c.prover());
        let layout = InstanceLayout::new(quant, &vis);
        assert_eq!(c.settings().num_instances, layout.len());
        let b = c.model.prove(&samples[0]).unwrap();
        c.model.verify(&b.proof, Some(&b.outputs)).unwrap_or_else(|e| panic!("{vis:?}: native rejects honest proof: {e}"));
        let code = c.verifier.code();
        let r = prover.verify_on_evm(&code, &b.proof).unwrap();
        assert!(r.accepted, "{vis:?}: EVM rejects honest proof");
        println!("{vis:?}: {} instances, proof {} B, gas {}", b.proof.instances.len(), b.proof.proof.len(), r.gas_used);

        if let Some(i) = layout.input_hash_index() {
            assert_eq!(b.proof.instances[i], input_hash(quant, &samples[0]));
            // The proof of samples[0] against the hash of `other`: rejected.
            let other_hash = input_hash(quant, &other);
            assert_ne!(other_hash, b.proof.instances[i]);
            let mut bad = b.proof.clone();
            bad.instances[i] = other_hash;
            assert!(
                matches!(prover.verify(&bad, &Expected::default()), Err(VerifyError::InvalidProof)),
                "{vis:?}: native accepts another input's hash"
            );
            assert!(!prover.verify_on_evm(&code, &bad).unwrap().accepted, "{vis:?}: EVM accepts another input's hash");
        }
        if layout.output_hash_index().is_some() {
            assert_eq!(prover.public_outputs(&b.proof).unwrap(), None);
            assert!(b.outputs_attested, "hashed outputs are attested by their hash");
            let mut lied = b.outputs.clone();
            lied[0][0] += quant.dequantize(1);
            assert!(matches!(c.model.verify(&b.proof, Some(&lied)), Err(VerifyError::OutputHashMismatch)));
        }
    }
}

fn zkinfer(args: &[&str]) -> (bool, String, String) {
    let cache = std::env::temp_dir().join(format!("zkinfer-hashed-cache-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_zkinfer")).env("ZKINFER_CACHE", cache).args(args).output().expect("runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Compiles 1l_mlp into `tmp/m` with `flags`, proves its input into `tmp/proof.json`,
/// verifies natively and on the EVM; returns the folder, the proof path and the input.
fn cli_chain(tmp: &std::path::Path, flags: &[&str]) -> (String, String, String) {
    std::fs::create_dir_all(tmp).unwrap();
    let (model, input) = (format!("{CORPUS}/1l_mlp/network.onnx"), format!("{CORPUS}/1l_mlp/input.json"));
    let d = tmp.join("m").to_str().unwrap().to_string();
    let p = tmp.join("proof.json").to_str().unwrap().to_string();
    let mut compile = vec!["compile", &model, "--input", &input, "--out", &d];
    compile.extend_from_slice(flags);
    let (ok, _, err) = zkinfer(&compile);
    assert!(ok, "compile: {err}");
    let (ok, _, err) = zkinfer(&["prove", &d, "--input", &input, "--out", &p]);
    assert!(ok, "prove: {err}");
    let (ok, _, err) = zkinfer(&["verify", &d, &p]);
    assert!(ok, "verify: {err}");
    let (ok, out, err) = zkinfer(&["verify-evm", &d, &p]);
    assert!(ok && out.contains("gas used"), "verify-evm: {err}");
    (d, p, input)
}

#[test]
fn cli_hash_equals_the_input_instance_and_verify_checks_the_output_hash() {
    let tmp = std::env::temp_dir().join(format!("zkinfer-hashed-{}", std::process::id()));
    let (d, proof, input) = cli_chain(&tmp, &["--input-visibility", "hashed", "--output-visibility", "hashed"]);
    let d = d.as_str();

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

/// 1l_mlp with every float initializer scaled by 0.9, 1.0 or 1.1 in turn: the same
/// architecture with other weights, written with zkinfer's own ONNX messages.
fn perturbed(onnx: &[u8]) -> Vec<u8> {
    use prost::Message;
    use zkinfer_models::onnx::proto::ModelProto;
    let mut m = ModelProto::decode(onnx).unwrap();
    let graph = m.graph.as_mut().unwrap();
    let mut changed = 0;
    for t in graph.initializer.iter_mut().filter(|t| t.data_type == 1) {
        let nudge = |i: usize, v: f32| v * [0.9, 1.0, 1.1][i % 3] + 0.01;
        if t.raw_data.is_empty() {
            t.float_data = t.float_data.iter().enumerate().map(|(i, v)| nudge(i, *v)).collect();
        } else {
            let vals: Vec<f32> = t.raw_data.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
            t.raw_data = vals.iter().enumerate().flat_map(|(i, v)| nudge(i, *v).to_le_bytes()).collect();
        }
        changed += 1;
    }
    assert!(changed > 0, "no float initializer to perturb");
    m.encode_to_vec()
}

fn param_opts(params: ParamVisibility) -> CompileOptions {
    CompileOptions { scale: Some(7), param_scale: Some(7), param_visibility: params, ..Default::default() }
}

#[test]
fn hashed_params_one_key_serves_two_weight_sets_and_binds_each() {
    let (onnx_a, input, samples) = mlp();
    let onnx_b = perturbed(&onnx_a);
    let opts = param_opts(ParamVisibility::Hashed);
    // Two key generations, no cache: the keys cannot come from each other.
    let (a, b) = (compile(&onnx_a, &input, &samples, &opts), compile(&onnx_b, &input, &samples, &opts));
    assert_ne!(a.quant().param_values(), b.quant().param_values());
    assert_ne!(a.settings().model_hash, b.settings().model_hash);
    assert_eq!(a.settings().settings_hash, b.settings().settings_hash, "the key name ignores weight values");
    assert_eq!(a.prover().verifying_key_bytes(), b.prover().verifying_key_bytes(), "the verifying key depends on the weights");
    assert_eq!(a.verifier.code(), b.verifier.code(), "the verifier depends on the weights");
    let layout = InstanceLayout::new(a.quant(), &opts.visibility());
    let at = layout.param_hash_index().unwrap();
    let verifier = &a.verifier.code();
    let mut proofs = Vec::new();
    for (name, m) in [("a", &a), ("b", &b)] {
        // Each weight set proved, verified with the other's key and a's verifier: the
        // keys are one (equal verifying keys above).
        let p = m.model.prove(&samples[0]).unwrap().proof;
        assert_eq!(p.instances[at], param_hash(m.quant()), "{name}");
        let expected = Expected { outputs: None, param_hash: Some(param_hash(m.quant())) };
        b.prover().verify(&p, &expected).unwrap_or_else(|e| panic!("{name}: b's key rejects an honest proof: {e}"));
        a.prover().verify(&p, &expected).unwrap_or_else(|e| panic!("{name}: a's key rejects an honest proof: {e}"));
        let r = a.prover().verify_on_evm(verifier, &p).unwrap();
        assert!(r.accepted, "{name}: EVM rejects an honest proof");
        println!("hashed params ({name}): k = {}, proof {} B, gas {}", a.settings().k().unwrap(), p.proof.len(), r.gas_used);
        proofs.push(p);
    }
    assert_ne!(proofs[0].instances[at], proofs[1].instances[at]);
    assert!(matches!(b.prover().verify(&proofs[0], &Expected::default()), Err(VerifyError::ParamHashMismatch)), "b accepts a's weights");
    // a's proof against b's weight hash (and the reverse): rejected by the proof system.
    for (p, other) in [(&proofs[0], &proofs[1]), (&proofs[1], &proofs[0])] {
        let mut bad = p.clone();
        bad.instances[at] = other.instances[at];
        assert!(!a.prover().verify_proof(&bad).unwrap(), "native accepts another weight set's hash");
        assert!(!a.prover().verify_on_evm(verifier, &bad).unwrap().accepted, "EVM accepts another weight set's hash");
    }
}

#[test]
fn private_params_verify_with_calibrated_or_pinned_scales() {
    let (onnx, input, samples) = mlp();
    // Calibrated scales: compiles, and says what the key serves.
    let calibrated = CompileOptions { param_visibility: ParamVisibility::Private, ..Default::default() };
    let c = compile(&onnx, &input, &samples, &calibrated);
    assert!(c.settings().notes.iter().any(|n| n.contains("calibrated scales")), "{:?}", c.settings().notes);
    for opts in [calibrated, param_opts(ParamVisibility::Private)] {
        let c = compile(&onnx, &input, &samples, &opts);
        assert_eq!(c.settings().num_instances, InstanceLayout::new(c.quant(), &opts.visibility()).len());
        assert!(c.quant().private_params, "private params are listed in the graph");
        let p = c.model.prove(&samples[0]).unwrap();
        c.model.verify(&p.proof, Some(&p.outputs)).unwrap_or_else(|e| panic!("native rejects an honest proof: {e}"));
        let r = c.prover().verify_on_evm(&c.verifier.code(), &p.proof).unwrap();
        assert!(r.accepted, "EVM rejects an honest proof");
        println!(
            "private params ({:?}): k = {}, proof {} B, prove {:.2} s, gas {}",
            opts.scale,
            c.settings().k().unwrap(),
            p.proof.proof.len(),
            p.prove_seconds,
            r.gas_used
        );
    }
}

#[test]
fn cli_hash_params_equals_the_param_instance() {
    let tmp = std::env::temp_dir().join(format!("zkinfer-hashed-params-{}", std::process::id()));
    let (d, proof, _) = cli_chain(&tmp, &["--param-visibility", "hashed", "--scale", "7", "--param-scale", "7"]);
    let (ok, hash, err) = zkinfer(&["hash", &d, "--params"]);
    assert!(ok, "hash --params: {err}");
    let pf: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    assert_eq!(hash.trim(), pf["instances"][0].as_str().unwrap());
    let meanings: Vec<&str> = pf["instance_meanings"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert_eq!(meanings.len(), pf["instances"].as_array().unwrap().len());
    assert_eq!(meanings[0], "param hash");
    assert!(meanings[1].starts_with("packed input[0.."), "{meanings:?}");

    // Other weights, same architecture: the keys come from the cache; a proof for them
    // verifies in their folder and is refused in this one (its parameter hash differs).
    let (onnx, _, _) = mlp();
    let model_b = tmp.join("b.onnx");
    std::fs::write(&model_b, perturbed(&onnx)).unwrap();
    let (db, pb) = (tmp.join("b").to_str().unwrap().to_string(), tmp.join("proof_b.json").to_str().unwrap().to_string());
    let input = format!("{CORPUS}/1l_mlp/input.json");
    let flags = ["--param-visibility", "hashed", "--scale", "7", "--param-scale", "7"];
    let mut compile = vec!["compile", model_b.to_str().unwrap(), "--input", &input, "--out", &db];
    compile.extend_from_slice(&flags);
    let (ok, out, err) = zkinfer(&compile);
    assert!(ok, "compile b: {err}");
    assert!(out.contains("reused from the key cache"), "{out}");
    let (ok, _, err) = zkinfer(&["prove", &db, "--input", &input, "--out", &pb]);
    assert!(ok, "prove b: {err}");
    let (ok, _, err) = zkinfer(&["verify", &db, &pb]);
    assert!(ok, "verify b: {err}");
    let (ok, _, err) = zkinfer(&["verify", &d, &pb]);
    assert!(!ok && err.contains("not this folder's model"), "a proof for other weights accepted: {err}");
    let _ = std::fs::remove_dir_all(&tmp);
}

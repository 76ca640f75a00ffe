//! The Groth16 backend on the command line: `compile --backend groth16`, and `prove`,
//! `verify`, `verify-evm` on folders it wrote (their settings say `"backend": "groth16"`).
//!
//! Trust: Groth16 keys come from a circuit-specific setup. Whoever ran it can forge
//! proofs for this model, so locally generated keys are as trustworthy as the machine
//! that made them; `--groth16-pk FILE` imports keys from a multi-party ceremony instead.

use std::path::Path;

use anyhow::{bail, Context, Result};
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use zkinfer_circuits::public;
use zkinfer_models::interp;
use zkinfer_models::prepare::{hints_for, prepare, FidelityReport};
use zkinfer_models::quant::{Calibration, QuantGraph, QuantOptions};
use zkinfer_prover::{Backend, Groth16Prover, ModelProof, Prover};
use zkinfer_verifier_contracts::compile_solidity;

use crate::fsio::{read, read_json, write_atomic};
use crate::hash::{sha256_hex, sha256_parts};
use crate::proof_file::{fr_to_hex, ProofFile};

/// settings.json of a Groth16 model folder.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Groth16Settings {
    pub format_version: u32,
    /// Always `groth16`.
    pub backend: Backend,
    pub model_hash: String,
    pub settings_hash: String,
    pub input_shapes: Vec<Vec<usize>>,
    pub output_shapes: Vec<Vec<usize>>,
    pub calibration: Calibration,
    pub fidelity: FidelityReport,
    /// `local` (generated on this machine) or `imported`.
    pub setup: String,
    pub verifier_runtime_bytes: usize,
}

/// The backend a model folder was compiled for.
pub fn folder_backend(dir: &Path) -> Backend {
    read_json::<serde_json::Value>(&dir.join("settings.json"))
        .ok()
        .and_then(|v| v.get("backend").and_then(|b| b.as_str()).and_then(|b| b.parse().ok()))
        .unwrap_or(Backend::Halo2)
}

fn load(dir: &Path) -> Result<(Groth16Settings, Groth16Prover)> {
    let settings: Groth16Settings = read_json(&dir.join("settings.json"))?;
    let quant: QuantGraph = read_json(&dir.join("quant.json"))?;
    let prover = Groth16Prover::import(quant, &read(&dir.join("pk.bin"))?).context("the Groth16 proving key")?;
    Ok((settings, prover))
}

/// `zkinfer compile --backend groth16`.
pub fn compile(
    onnx: &[u8],
    samples: &[Vec<Vec<f64>>],
    input_shapes: Option<Vec<Vec<usize>>>,
    reference: Option<&[Vec<f64>]>,
    quant_opts: &QuantOptions,
    import_pk: Option<&Path>,
    out: &Path,
) -> Result<Groth16Settings> {
    let first = samples.first().context("no calibration sample")?;
    let p = prepare(onnx, samples, &hints_for(samples, input_shapes), quant_opts)?;
    let float_ref = match reference {
        Some(r) => r.to_vec(),
        None => p.float_outputs(first)?,
    };
    let fidelity = p.fidelity(first, &float_ref)?;
    interp::run(&p.quant, &interp::quantize_inputs(&p.quant, first)?)?;
    let (prover, setup) = match import_pk {
        Some(f) => (Groth16Prover::import(p.quant.clone(), &read(f)?)?, "imported"),
        None => (Groth16Prover::setup(p.quant.clone(), &mut OsRng)?, "local"),
    };
    let source = prover.verifier_source()?;
    let verifier = compile_solidity(&source, None)?;
    let quant_json = serde_json::to_vec(&p.quant)?;
    let settings = Groth16Settings {
        format_version: 1,
        backend: Backend::Groth16,
        model_hash: sha256_hex(onnx),
        settings_hash: sha256_parts(&[&quant_json, b"groth16", &prover.verifying_key_bytes()]),
        input_shapes: p.quant.inputs.iter().map(|x| x.shape.clone()).collect(),
        output_shapes: p.quant.outputs.iter().map(|x| x.shape.clone()).collect(),
        calibration: p.calibration.clone(),
        fidelity,
        setup: setup.into(),
        verifier_runtime_bytes: verifier.runtime_code.len(),
    };
    write_atomic(&out.join("model.onnx"), onnx)?;
    write_atomic(&out.join("quant.json"), &quant_json)?;
    write_atomic(&out.join("pk.bin"), &prover.proving_key_bytes())?;
    write_atomic(&out.join("vk.bin"), &prover.verifying_key_bytes())?;
    write_atomic(&out.join("Verifier.sol"), source.as_bytes())?;
    write_atomic(&out.join("verifier.bin"), &verifier.deployment_code)?;
    write_atomic(&out.join("settings.json"), &serde_json::to_vec_pretty(&settings)?)?;
    Ok(settings)
}

fn dequantized_outputs(quant: &QuantGraph, public: &[i128]) -> Vec<Vec<f64>> {
    let mut at: usize = quant.inputs.iter().map(|p| p.shape.iter().product::<usize>()).sum();
    quant
        .outputs
        .iter()
        .map(|p| {
            let n: usize = p.shape.iter().product();
            let o = public[at..at + n].iter().map(|q| quant.dequantize(*q as i64)).collect();
            at += n;
            o
        })
        .collect()
}

/// `zkinfer prove` on a Groth16 folder.
pub fn prove(dir: &Path, sample: &[Vec<f64>], out: &Path) -> Result<()> {
    let (settings, prover) = load(dir)?;
    let quant = prover.graph();
    let qin = interp::quantize_inputs(quant, sample)?;
    let t0 = std::time::Instant::now();
    let proof = prover.prove(&qin)?;
    let seconds = t0.elapsed().as_secs_f64();
    let outputs = dequantized_outputs(quant, &proof.public);
    let packed: Vec<zkinfer_circuits::Fr> = public::pack(&proof.public, quant.bits);
    let pf = ProofFile {
        model_hash: settings.model_hash,
        settings_hash: settings.settings_hash,
        outputs: outputs.clone(),
        output_shapes: settings.output_shapes,
        instances: packed.iter().map(fr_to_hex).collect(),
        instance_meanings: zkinfer_circuits::InstanceLayout::new(quant, &Default::default()).meanings(quant.bits),
        proof: format!("0x{}", hex::encode(&proof.proof)),
        prove_seconds: seconds,
    };
    write_atomic(out, &serde_json::to_vec_pretty(&pf)?)?;
    println!("{}", serde_json::to_string(&serde_json::json!({ "outputs": outputs }))?);
    eprintln!("Groth16 proof written to {} ({:.3} s to prove, {} bytes)", out.display(), seconds, proof.proof.len());
    Ok(())
}

/// Reads a proof file against the folder: the proof and whether its outputs match.
fn load_proof(dir: &Path, proof: &Path) -> Result<(Groth16Prover, ModelProof)> {
    let (settings, prover) = load(dir)?;
    let pf: ProofFile = read_json(proof)?;
    if pf.settings_hash != settings.settings_hash {
        bail!("proof is for settings {}, this model folder is {}", pf.settings_hash, settings.settings_hash);
    }
    let quant = prover.graph();
    let n = quant.num_public();
    let values = public::unpack(&pf.instances()?, n, quant.bits)
        .context("the public instances are not a valid packing of this model's values")?;
    if !crate::pipeline::same_outputs(quant, &dequantized_outputs(quant, &values), &pf.outputs) {
        bail!("the outputs in {} do not match its public instances", proof.display());
    }
    let mp = ModelProof { backend: Backend::Groth16, public: values, proof: pf.proof_bytes()? };
    Ok((prover, mp))
}

/// `zkinfer verify` on a Groth16 folder.
pub fn verify(dir: &Path, proof: &Path) -> Result<()> {
    let (prover, mp) = load_proof(dir, proof)?;
    let t0 = std::time::Instant::now();
    if !prover.verify(&mp).unwrap_or(false) {
        bail!("proof rejected: it is not valid for these public inputs and outputs");
    }
    println!("proof valid ({:.1} ms, Groth16)", t0.elapsed().as_secs_f64() * 1e3);
    Ok(())
}

/// `zkinfer verify-evm` on a Groth16 folder.
pub fn verify_evm(dir: &Path, proof: &Path) -> Result<()> {
    let (prover, mp) = load_proof(dir, proof)?;
    let code = read(&dir.join("verifier.bin"))?;
    let r = prover.verify_on_evm(&code, &mp)?;
    if !r.accepted {
        bail!("the EVM verifier rejected the proof (gas used {})", r.gas_used);
    }
    println!("accepted by the EVM verifier: gas used {}", r.gas_used);
    Ok(())
}

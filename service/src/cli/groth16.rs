//! The Groth16 backend on the command line: `compile --backend groth16`, and `prove`,
//! `verify`, `verify-evm` on folders it wrote (their settings say `"backend": "groth16"`).
//!
//! Trust: Groth16 keys come from a circuit-specific setup. Whoever ran it can forge
//! proofs for this model, so locally generated keys are as trustworthy as the machine
//! that made them; `--groth16-pk FILE` imports keys from a multi-party ceremony instead.

use std::path::Path;

use anyhow::{bail, Context, Result};
use zkinfer_circuits::public;
use zkinfer_models::quant::{QuantGraph, QuantOptions};
use zkinfer_prover::{Backend, Groth16Prover, ModelProof, Prover};
use zkinfer_verifier_contracts::VerifierCode;

use crate::fsio::{read, read_json, write_atomic};
use crate::pipeline_groth16::{self, dequantized_outputs};
use crate::proof_file::ProofFile;

pub use crate::pipeline_groth16::Groth16Settings;

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
    let pk = import_pk.map(read).transpose()?;
    let existing = |_: &str| pk.clone().map(|b| (b, "imported"));
    let c = pipeline_groth16::compile(onnx, samples, input_shapes, reference, quant_opts, &existing)?;
    write_atomic(&out.join("model.onnx"), onnx)?;
    write_atomic(&out.join("quant.json"), &c.quant_json)?;
    write_atomic(&out.join("pk.bin"), &c.prover.proving_key_bytes())?;
    write_atomic(&out.join("vk.bin"), &c.prover.verifying_key_bytes())?;
    write_atomic(&out.join("Verifier.sol"), c.verifier_source.as_bytes())?;
    write_atomic(&out.join("verifier.bin"), &c.verifier.deployment_code)?;
    write_atomic(&out.join("settings.json"), &serde_json::to_vec_pretty(&c.settings)?)?;
    Ok(c.settings)
}

/// `zkinfer prove` on a Groth16 folder.
pub fn prove(dir: &Path, sample: &[Vec<f64>], out: &Path) -> Result<()> {
    let (settings, prover) = load(dir)?;
    let (proof, pf) = pipeline_groth16::prove(&settings, &prover, sample)?;
    write_atomic(out, &serde_json::to_vec_pretty(&pf)?)?;
    println!("{}", serde_json::to_string(&serde_json::json!({ "outputs": pf.outputs }))?);
    eprintln!("Groth16 proof written to {} ({:.3} s to prove, {} bytes)", out.display(), pf.prove_seconds, proof.proof.len());
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
    let code = VerifierCode::single(read(&dir.join("verifier.bin"))?);
    let r = prover.verify_on_evm(&code, &mp)?;
    if !r.accepted {
        bail!("the EVM verifier rejected the proof (gas used {})", r.gas_used);
    }
    println!("accepted by the EVM verifier: gas used {}", r.gas_used);
    Ok(())
}

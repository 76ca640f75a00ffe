//! The Groth16 chain in memory, shared by the CLI (`compile --backend groth16`) and the
//! gRPC service's jobs: calibrate and quantize, circuit-specific setup (or keys made
//! before), the Solidity verifier; proofs with their public values and proof file.
//! No disk or network IO here.
//!
//! Trust: Groth16 keys come from a circuit-specific setup. Whoever ran it can forge
//! proofs for this model, so locally generated keys are as trustworthy as the machine
//! that made them.

use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use zkinfer_circuits::public;
use zkinfer_models::interp;
use zkinfer_models::prepare::{hints_for, prepare, FidelityReport};
use zkinfer_models::quant::{Calibration, QuantGraph, QuantOptions};
use zkinfer_prover::{Backend, Groth16Prover, ModelProof, Prover};
use zkinfer_verifier_contracts::CompiledContract;

use crate::error::ServiceError;
use crate::hash::{sha256_hex, sha256_parts};
use crate::proof_file::{fr_to_hex, ProofFile};

/// settings.json of a Groth16 model.
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
    /// `local` (generated on this machine), `imported` or `cached`.
    pub setup: String,
    pub verifier_runtime_bytes: usize,
}

/// A compiled Groth16 model.
pub struct Groth16Compiled {
    pub settings: Groth16Settings,
    /// The quantized graph as serialized JSON (what [`key_id`] hashes).
    pub quant_json: Vec<u8>,
    pub prover: Groth16Prover,
    pub verifier_source: String,
    pub verifier: CompiledContract,
}

/// The key-cache id of a quantized graph's Groth16 keys (known before setup).
pub fn key_id(quant_json: &[u8]) -> String {
    sha256_parts(&[quant_json, b"groth16 keys"])
}

/// Where an existing proving key comes from, given the graph's [`key_id`]: its bytes
/// and how it was made (`imported`, `cached`), or `None` to run the setup here.
pub type ExistingKey<'a> = &'a dyn Fn(&str) -> Option<(Vec<u8>, &'static str)>;

/// Calibrates on `samples`, quantizes, runs the setup (or imports the key that
/// `existing` finds, e.g. from a ceremony or a cache, checked against the circuit) and
/// builds the verifier.
pub fn compile(
    onnx: &[u8],
    samples: &[Vec<Vec<f64>>],
    input_shapes: Option<Vec<Vec<usize>>>,
    reference: Option<&[Vec<f64>]>,
    quant_opts: &QuantOptions,
    existing: ExistingKey<'_>,
) -> Result<Groth16Compiled, ServiceError> {
    let first = samples.first().ok_or_else(|| ServiceError::Input("no calibration sample".into()))?;
    let p = prepare(onnx, samples, &hints_for(samples, input_shapes), quant_opts)?;
    let float_ref = match reference {
        Some(r) => r.to_vec(),
        None => p.float_outputs(first)?,
    };
    let fidelity = p.fidelity(first, &float_ref)?;
    interp::run(&p.quant, &interp::quantize_inputs(&p.quant, first)?)?;
    let quant_json = serde_json::to_vec(&p.quant).expect("quantized graphs serialize");
    let (prover, setup) = match existing(&key_id(&quant_json)) {
        Some((pk, how)) => (Groth16Prover::import(p.quant.clone(), &pk)?, how),
        None => (Groth16Prover::setup(p.quant.clone(), &mut OsRng)?, "local"),
    };
    let contracts = prover.verifier()?;
    let (verifier_source, verifier) = (contracts.source, contracts.entry);
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
    Ok(Groth16Compiled { settings, quant_json, prover, verifier_source, verifier })
}

/// The dequantized graph outputs among the public values (inputs, then outputs).
pub fn dequantized_outputs(quant: &QuantGraph, public: &[i128]) -> Vec<Vec<f64>> {
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

/// A proof of `sample` (quantized here; the interpreter names the node when an input
/// leaves the calibrated range), with its proof file.
pub fn prove(settings: &Groth16Settings, prover: &Groth16Prover, sample: &[Vec<f64>]) -> Result<(ModelProof, ProofFile), ServiceError> {
    let quant = prover.graph();
    let qin = interp::quantize_inputs(quant, sample)?;
    interp::run(quant, &qin)?;
    let t0 = std::time::Instant::now();
    let proof = prover.prove(&qin)?;
    let prove_seconds = t0.elapsed().as_secs_f64();
    let packed: Vec<zkinfer_circuits::Fr> = public::pack(&proof.public, quant.bits);
    let pf = ProofFile {
        model_hash: settings.model_hash.clone(),
        settings_hash: settings.settings_hash.clone(),
        outputs: dequantized_outputs(quant, &proof.public),
        output_shapes: settings.output_shapes.clone(),
        instances: packed.iter().map(fr_to_hex).collect(),
        // Groth16 proofs are all public values, packed like halo2's.
        instance_meanings: zkinfer_circuits::InstanceLayout::new(quant, &Default::default()).meanings(quant.bits),
        proof: format!("0x{}", hex::encode(&proof.proof)),
        prove_seconds,
    };
    Ok((proof, pf))
}

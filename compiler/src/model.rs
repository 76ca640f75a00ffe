//! A compiled model ready to prove: its settings and its backend's [`Prover`], made by
//! [`crate::compile`] or loaded from stored artifacts with [`Model::load`].

use std::time::Instant;

use zkinfer_circuits::Visibility;
use zkinfer_models::interp;
use zkinfer_models::quant::QuantGraph;
use zkinfer_prover::halo2::{self as h2, Halo2Keys};
use zkinfer_prover::{srs, Expected, Groth16Prover, Halo2Prover, ModelProof, Prover, VerifyError};

use crate::error::CompileError;
use crate::settings::{CircuitSettings, Settings};

/// A compiled model: settings and prover.
pub struct Model {
    pub settings: Settings,
    pub prover: Box<dyn Prover>,
}

/// A sample's quantized inputs and the reference interpreter's trace on them.
pub struct Witness {
    pub inputs: Vec<Vec<i64>>,
    pub trace: interp::Trace,
}

/// A proof with what it proves.
#[derive(Clone, Debug)]
pub struct Proved {
    pub proof: ModelProof,
    /// Dequantized outputs per graph output: those the public instances state, or with
    /// private or hashed outputs the prover's own values (a hashed output's instance
    /// commits to them).
    pub outputs: Vec<Vec<f64>>,
    /// Whether the proof attests `outputs` (public or hashed outputs).
    pub outputs_attested: bool,
    pub prove_seconds: f64,
}

fn artifact(name: &str, e: impl std::fmt::Display) -> CompileError {
    CompileError::Artifact { name: name.into(), message: e.to_string() }
}

impl Model {
    /// A model from its stored artifacts: settings, quantized graph, the serialized
    /// proving key and (halo2) the SRS at the circuit's `k`.
    pub fn load(settings: Settings, quant: QuantGraph, proving_key: &[u8], srs_bytes: Option<&[u8]>) -> Result<Model, CompileError> {
        let prover: Box<dyn Prover> = match &settings.circuit {
            CircuitSettings::Halo2 { shape, stats, .. } => {
                let srs_bytes = srs_bytes.ok_or_else(|| artifact("srs", "missing"))?;
                let params = srs::read_srs(srs_bytes, stats.k).map_err(|e| artifact("srs", e))?;
                let pk = h2::read_pk(proving_key, shape).map_err(|e| artifact("proving key", e))?;
                Box::new(Halo2Prover::new(params, Halo2Keys { pk, shape: shape.clone() }, quant))
            }
            CircuitSettings::Groth16 { .. } => Box::new(Groth16Prover::import(quant, proving_key).map_err(|e| artifact("proving key", e))?),
        };
        Ok(Model { settings, prover })
    }

    /// The quantized graph.
    pub fn quant(&self) -> &QuantGraph {
        self.prover.graph()
    }

    /// Quantizes one sample (one flat list per graph input) and proves it. The
    /// interpreter runs first and names the node when an input leaves the calibrated
    /// range; the proof's instances equal the interpreter's.
    pub fn prove(&self, sample: &[Vec<f64>]) -> Result<Proved, CompileError> {
        self.prove_witness(&self.witness(sample)?)
    }

    /// Quantizes one sample and runs the reference interpreter on it: the first step of
    /// [`Model::prove`], apart so that a job can report (and fail) it as its own phase.
    /// Names the node when an input leaves the calibrated range.
    pub fn witness(&self, sample: &[Vec<f64>]) -> Result<Witness, CompileError> {
        let quant = self.quant();
        let inputs = interp::quantize_inputs(quant, sample)?;
        let trace = interp::run(quant, &inputs)?;
        Ok(Witness { inputs, trace })
    }

    /// Proves a witness from [`Model::witness`] of this model.
    pub fn prove_witness(&self, witness: &Witness) -> Result<Proved, CompileError> {
        let (quant, trace) = (self.quant(), &witness.trace);
        let t0 = Instant::now();
        let proof = self.prover.prove(&witness.inputs)?;
        let prove_seconds = t0.elapsed().as_secs_f64();
        let (outputs, outputs_attested) = match self.prover.public_outputs(&proof) {
            Ok(Some(o)) => (o, true),
            Ok(None) => {
                let own = trace.outputs(quant).iter().map(|o| o.iter().map(|q| quant.dequantize(*q)).collect()).collect();
                (own, self.prover.visibility().outputs == Visibility::Hashed)
            }
            Err(e) => return Err(CompileError::Input(format!("internal error: a new proof's instances: {e}"))),
        };
        Ok(Proved { proof, outputs, outputs_attested, prove_seconds })
    }

    /// Verifies `proof` natively with the claimed outputs (dequantized, per graph output)
    /// and this model's parameter hash.
    pub fn verify(&self, proof: &ModelProof, outputs: Option<&[Vec<f64>]>) -> Result<(), VerifyError> {
        self.prover.verify(proof, &Expected { outputs, param_hash: None })
    }
}

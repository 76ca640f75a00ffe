//! Compile and prove jobs of models registered with `backend: GROTH16`.
//!
//! Compile: the pipeline's Groth16 compile (calibrate, quantize, circuit-specific
//! setup run by the service, or a proving key from the key cache for the same
//! quantized graph), then the artifacts (settings, quantized graph, verifying key,
//! Solidity verifier and bytecode) into the blob store; the proving key stays in the
//! key cache. Prove: witness and proof (self-checked natively), then the proof, packed
//! public instances, EVM calldata and proof file, as for halo2. Same phases and
//! crash safety as [`super::compile_job`] and [`super::prove_job`].

use std::collections::BTreeMap;
use std::sync::Arc;

use zkinfer_models::quant::QuantOptions;
use zkinfer_prover::groth16::read_proof;
use zkinfer_prover::{Groth16Prover, Prover};
use zkinfer_verifier_contracts::groth16::groth16_calldata;
use zkinfer_verifier_contracts::VerifierCode;

use crate::pipeline_groth16::{self, key_id, Groth16Settings};
use crate::store::{ArtifactName, CompileResult, ModelRecord, ProveResult};

use super::engine::Engine;
use super::loaded::LoadedModel;
use super::runner::{JobEnd, Running};
use super::scheduler::ModelGate;
use super::submit::quant_options;
use super::now_ms;

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_compile_groth16(
        &self,
        r: &Running<'_>,
        model: &ModelRecord,
        onnx: &[u8],
        cal_text: &str,
        samples: &[Vec<Vec<f64>>],
        input_shapes: Option<Vec<Vec<usize>>>,
        reference: Option<&[Vec<f64>]>,
    ) -> Result<(), JobEnd> {
        r.phase("calibrate, quantize and Groth16 setup", 10)?;
        let quant: QuantOptions = quant_options(&model.options.target);
        // Keys for the same quantized graph are reused from the key cache.
        let cached = std::cell::Cell::new(false);
        let existing = |id: &str| {
            let pk = self.keys.get_groth16(id)?;
            cached.set(true);
            Some((pk, "cached"))
        };
        let compiled = pipeline_groth16::compile(onnx, samples, input_shapes, reference, &quant, &existing)?;
        let id = key_id(&compiled.quant_json);
        r.phase("storing", 95)?;
        let pk = compiled.prover.proving_key_bytes();
        if !cached.get() && !self.keys.put_groth16(&id, &pk) {
            return Err(JobEnd::Failed(format!("the proving key could not be stored under {}", self.keys.root.display())));
        }
        let s = &compiled.settings;
        let mut artifacts = BTreeMap::new();
        let mut put = |name: &str, bytes: &[u8]| -> Result<(), JobEnd> {
            artifacts.insert(name.to_string(), self.blobs.put(bytes)?);
            Ok(())
        };
        let settings_json = serde_json::to_string_pretty(s)?;
        put(ArtifactName::ONNX, onnx)?;
        put(ArtifactName::CALIBRATION, cal_text.as_bytes())?;
        put(ArtifactName::SETTINGS, settings_json.as_bytes())?;
        put(ArtifactName::QUANT, &compiled.quant_json)?;
        put(ArtifactName::VK, &compiled.prover.verifying_key_bytes())?;
        put(ArtifactName::VERIFIER_SOL, compiled.verifier_source.as_bytes())?;
        put(ArtifactName::VERIFIER_BIN, &compiled.verifier.deployment_code)?;
        put(ArtifactName::VERIFIER_JSON, VerifierCode::single(compiled.verifier.deployment_code.clone()).to_json().as_bytes())?;
        let prove_memory = zkinfer_prover::groth16::cost::prove_memory(pk.len() as u64, compiled.prover.keys().shape.num_constraints as u64);
        // No k: a Groth16 circuit is sized by its constraints, in settings.json's key.
        let result = CompileResult { settings_hash: s.settings_hash.clone(), k: 0, settings_json, artifacts, prove_memory };
        r.check_cancel()?;
        if !self.store.finish_compile(&r.job.job.id, &model.id, &result, now_ms())? {
            return Err(JobEnd::Failed("the job was no longer running when it finished".into()));
        }
        let loaded = LoadedModel::Groth16 { settings: compiled.settings, prover: compiled.prover };
        self.models.insert(&model.id, Arc::new(loaded));
        self.sched.set_gate(&model.id, ModelGate::Ready { prove_memory });
        self.publish(&r.job.job.id);
        Ok(())
    }

    pub(super) fn run_prove_groth16(
        &self,
        r: &Running<'_>,
        settings: &Groth16Settings,
        prover: &Groth16Prover,
        input: &[Vec<f64>],
    ) -> Result<(), JobEnd> {
        r.phase("proving", 25)?;
        if let Some(d) = self.cfg.test_pause_before_prove {
            r.pause(d)?;
        }
        let (proof, pf) = pipeline_groth16::prove(settings, prover, input).map_err(|e| JobEnd::Failed(format!("input: {e}")))?;
        r.phase("verifying", 85)?;
        if !prover.verify(&proof).map_err(crate::error::ServiceError::from)? {
            return Err(JobEnd::Failed("internal error: the new proof does not verify".into()));
        }
        r.phase("storing", 95)?;
        let parsed = read_proof(&proof.proof).map_err(|e| JobEnd::Failed(format!("internal error: {e}")))?;
        let mut artifacts = BTreeMap::new();
        artifacts.insert(ArtifactName::PROOF.to_string(), self.blobs.put(&proof.proof)?);
        artifacts.insert(ArtifactName::INSTANCES.to_string(), self.blobs.put(&serde_json::to_vec(&pf.instances)?)?);
        artifacts.insert(ArtifactName::CALLDATA.to_string(), self.blobs.put(&groth16_calldata(&parsed, &proof.public))?);
        artifacts.insert(ArtifactName::PROOF_JSON.to_string(), self.blobs.put(&serde_json::to_vec_pretty(&pf)?)?);
        r.check_cancel()?;
        let result = ProveResult { proven_outputs: pf.outputs, prove_seconds: pf.prove_seconds, artifacts };
        if !self.store.finish_prove(&r.job.job.id, &result, now_ms())? {
            return Err(JobEnd::Failed("the job was no longer running when it finished".into()));
        }
        self.publish(&r.job.job.id);
        Ok(())
    }
}

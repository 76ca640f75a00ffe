//! A compile job: the compiler on the model's ONNX bytes, calibration and options,
//! then its artifacts into the blob store and the model made ready.
//!
//! Phases are the compiler's steps (reported through [`Progress`]). The compiler offers
//! no way to stop between its steps, so cancellation takes effect when it returns,
//! before anything is stored. Crash safety: blobs and the proving key are written
//! before the transaction that makes the model ready; a crash before it re-runs the
//! job after restart, and key generation is then skipped (the key is cached).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use zkinfer_compiler::{CircuitSettings, CompileInput, Environment, KeyCache, Progress};
use zkinfer_models::input_json::InputData;

use crate::store::{ArtifactName, CompileResult, FloatSource};

use super::engine::Engine;
use super::float::FloatRuntime;
use super::runner::{JobEnd, Running};
use super::scheduler::ModelGate;

/// Progress of the pipeline's steps, as job phases.
struct PhaseProgress<'a, 'b> {
    running: &'a Running<'b>,
}

/// Rough progress at the start of each compile step.
fn step_percent(step: &str) -> u32 {
    match step {
        s if s.starts_with("calibrate") => 5,
        s if s.starts_with("plan") => 15,
        s if s.contains("SRS") => 25,
        s if s.starts_with("key generation") => 35,
        s if s.contains("verifier") => 70,
        _ => 50,
    }
}

impl Progress for PhaseProgress<'_, '_> {
    fn start(&self, step: &str) {
        let r = self.running;
        if let Err(e) = r.record_phase(step, step_percent(step)) {
            tracing::warn!(job = %r.job.job.id, "cannot record the phase: {e}");
        }
        r.engine.publish(&r.job.job.id);
    }

    fn done(&self, summary: &str, elapsed: Duration) {
        tracing::info!(job = %self.running.job.job.id, seconds = elapsed.as_secs_f64(), "{summary}");
    }
}

impl Engine {
    pub(super) fn run_compile(&self, r: &Running<'_>) -> Result<(), JobEnd> {
        let model = self.model(&r.job.job.model_id)?;
        let onnx = self.blobs.get(&model.onnx_sha256)?;
        let cal_text = String::from_utf8(self.blobs.get(&model.calibration_sha256)?)?;
        let calibration = InputData::from_json_str(&cal_text)?;
        let samples = calibration.samples();
        r.phase("float reference", 2)?;
        // ONNX Runtime's outputs are the fidelity reference when it is available.
        let runtime = self
            .floats
            .get_or_load(&model.id, || FloatRuntime::load(self.cfg.tools.ort(), &onnx, &samples, calibration.input_shapes.clone()))?;
        let tensors = runtime.validate(&samples[0])?;
        let reference = match runtime.answer(&tensors)? {
            (outs, FloatSource::OnnxRuntime) => Some(outs.into_iter().map(|t| t.data).collect::<Vec<_>>()),
            _ => None,
        };
        let progress = PhaseProgress { running: r };
        let input = CompileInput {
            onnx: &onnx,
            samples: &samples,
            input_shapes: calibration.input_shapes.as_deref(),
            reference: reference.as_deref(),
        };
        let env = Environment { srs: self.cfg.srs.clone().unwrap_or_default(), groth16_pk: None, solc: self.cfg.tools.solc.clone() };
        let compiled = zkinfer_compiler::compile(&input, &model.options, &env, &self.keys, &progress)?;
        r.phase("storing", 95)?;
        let s = compiled.settings();
        let prover = compiled.prover();
        // The proving key stays in the key cache (the compiler put it there): a worker
        // that cannot read it back could not prove.
        let (key_id, key_file) = s.proving_key();
        let pk = match self.keys.get(key_id, key_file) {
            Some(pk) => pk,
            None => return Err(JobEnd::Failed(format!("the proving key could not be stored under {}", self.keys.root.display()))),
        };
        let pk_bytes = pk.len() as u64;
        let mut artifacts = BTreeMap::new();
        // Workers on other machines fetch the key from the artifact store.
        if self.is_shared() {
            artifacts.insert(ArtifactName::PROVING_KEY.to_string(), self.blobs.put(&pk)?);
        }
        drop(pk);
        self.bound_key_cache(s);
        let mut put = |name: &str, bytes: &[u8]| -> Result<(), JobEnd> {
            artifacts.insert(name.to_string(), self.blobs.put(bytes)?);
            Ok(())
        };
        let settings_json = serde_json::to_string_pretty(s)?;
        put(ArtifactName::ONNX, &onnx)?;
        put(ArtifactName::CALIBRATION, cal_text.as_bytes())?;
        put(ArtifactName::SETTINGS, settings_json.as_bytes())?;
        put(ArtifactName::QUANT, &serde_json::to_vec(prover.graph())?)?;
        put(ArtifactName::VK, &prover.verifying_key_bytes())?;
        if let Some(srs) = prover.srs_bytes() {
            put(ArtifactName::SRS, &srs)?;
        }
        put(ArtifactName::VERIFIER_SOL, compiled.verifier.source.as_bytes())?;
        put(ArtifactName::VERIFIER_BIN, &compiled.verifier.entry.deployment_code)?;
        put(ArtifactName::VERIFIER_JSON, compiled.verifier.code().to_json().as_bytes())?;
        let prove_memory = match &s.circuit {
            CircuitSettings::Halo2 { stats, .. } => zkinfer_circuits::cost::prove_memory(stats, pk_bytes),
            CircuitSettings::Groth16 { num_constraints, .. } => {
                zkinfer_prover::groth16::cost::prove_memory(pk_bytes, *num_constraints as u64)
            }
        };
        // A Groth16 circuit has no k: it is sized by its constraints, in settings.json.
        let result =
            CompileResult { settings_hash: s.settings_hash.clone(), k: s.k().unwrap_or(0), settings_json, artifacts, prove_memory };
        r.check_cancel()?;
        if !r.finish_compile(&model.id, &result)? {
            return Err(JobEnd::Failed("the job was no longer running when it finished".into()));
        }
        for note in &s.notes {
            tracing::info!(job = %r.job.job.id, model = %model.id, "{note}");
        }
        self.models.insert(&model.id, Arc::new(compiled.model));
        self.sched.set_gate(&model.id, ModelGate::Ready { prove_memory });
        self.publish(&r.job.job.id);
        Ok(())
    }
}

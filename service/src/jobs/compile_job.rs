//! A compile job: the pipeline's compile on the model's ONNX bytes and calibration,
//! then its artifacts into the blob store and the model made ready.
//!
//! Phases are the pipeline's steps (reported through [`Progress`]). The pipeline offers
//! no way to stop between its steps, so cancellation takes effect when it returns,
//! before anything is stored. Crash safety: blobs and the proving key are written
//! before the transaction that makes the model ready; a crash before it re-runs the
//! job after restart, and key generation is then skipped (the key is cached).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use zkinfer_circuits::PlanOptions;
use zkinfer_models::input_json::InputData;
use zkinfer_models::QuantOptions;
use zkinfer_prover::halo2 as h2;
use zkinfer_prover::srs;

use crate::calibration::Target;
use crate::pipeline::{self, CompileOptions, KeyCache};
use crate::progress::Progress;
use crate::store::{ArtifactName, CompileResult, FloatSource};

use super::engine::Engine;
use super::float::FloatRuntime;
use super::loaded::LoadedModel;
use super::runner::{JobEnd, Running};
use super::scheduler::ModelGate;
use super::submit::{quant_options, visibility};
use super::now_ms;

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
        if let Err(e) = r.engine.store.set_phase(&r.job.job.id, step, step_percent(step)) {
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
        let runtime = self.floats.get_or_load(&model.id, || FloatRuntime::load(&onnx, &samples, calibration.input_shapes.clone()))?;
        let tensors = runtime.validate(&samples[0])?;
        let reference = match runtime.answer(&tensors)? {
            (outs, FloatSource::OnnxRuntime) => Some(outs.into_iter().map(|t| t.data).collect::<Vec<_>>()),
            _ => None,
        };
        let o = &model.options;
        if o.backend == "groth16" {
            return self.run_compile_groth16(r, &model, &onnx, &cal_text, &samples, calibration.input_shapes.clone(), reference.as_deref());
        }
        let opts = CompileOptions {
            quant: QuantOptions { scale: o.scale, param_scale: o.param_scale, ..quant_options(&o.target) },
            plan: PlanOptions {
                max_k: o.max_k,
                k: o.k,
                visibility: visibility(o),
                optimize: o.optimize.parse().unwrap_or_default(),
                ..Default::default()
            }
            // "Most advice columns" (the API's contract): at every k, wide shapes too.
            .with_max_advice(o.column_cap()),
            srs: self.cfg.srs.clone(),
            target: if o.target == "resources" { Target::Resources } else { Target::Accuracy },
            max_error: None,
        };
        let progress = PhaseProgress { running: r };
        let compiled = pipeline::compile(
            &onnx,
            &samples,
            calibration.input_shapes.clone(),
            reference.as_deref(),
            &opts,
            &self.keys,
            &progress,
        )?;
        r.phase("storing", 95)?;
        let s = &compiled.settings;
        let pk_bytes = match self.keys.get(&s.settings_hash) {
            Some((pk, _)) => pk.len() as u64,
            None => return Err(JobEnd::Failed(format!("the proving key could not be stored under {}", self.keys.root.display()))),
        };
        let mut artifacts = BTreeMap::new();
        let mut put = |name: &str, bytes: &[u8]| -> Result<(), JobEnd> {
            artifacts.insert(name.to_string(), self.blobs.put(bytes)?);
            Ok(())
        };
        let settings_json = serde_json::to_string_pretty(s)?;
        put(ArtifactName::ONNX, &onnx)?;
        put(ArtifactName::CALIBRATION, cal_text.as_bytes())?;
        put(ArtifactName::SETTINGS, settings_json.as_bytes())?;
        put(ArtifactName::QUANT, &serde_json::to_vec(&compiled.quant)?)?;
        put(ArtifactName::VK, &h2::write_vk(compiled.keys.vk()))?;
        put(ArtifactName::SRS, &srs::write_srs(&compiled.params))?;
        put(ArtifactName::VERIFIER_SOL, compiled.verifier.source.as_bytes())?;
        put(ArtifactName::VERIFIER_BIN, &compiled.verifier.entry.deployment_code)?;
        put(ArtifactName::VERIFIER_JSON, compiled.verifier.code().to_json().as_bytes())?;
        let prove_memory = zkinfer_circuits::cost::prove_memory(&s.stats, pk_bytes);
        let result = CompileResult {
            settings_hash: s.settings_hash.clone(),
            k: s.stats.k,
            settings_json,
            artifacts,
            prove_memory,
        };
        r.check_cancel()?;
        if !self.store.finish_compile(&r.job.job.id, &model.id, &result, now_ms())? {
            return Err(JobEnd::Failed("the job was no longer running when it finished".into()));
        }
        let loaded = LoadedModel::Halo2 { settings: compiled.settings, quant: compiled.quant, params: compiled.params, keys: compiled.keys };
        self.models.insert(&model.id, Arc::new(loaded));
        self.sched.set_gate(&model.id, ModelGate::Ready { prove_memory });
        self.publish(&r.job.job.id);
        Ok(())
    }
}

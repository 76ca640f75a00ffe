//! Accepting work: model registration and job submission, with their validation.
//!
//! Everything that can be checked before a job runs is checked here, synchronously,
//! so that a malformed request is refused with the field it concerns instead of
//! becoming a failed job: the ONNX bytes import, calibration samples and inputs fit
//! the graph's inputs. An accepted request is committed to the store before the call
//! returns.

use std::sync::Arc;

use zkinfer_models::input_json::InputData;

use crate::hash::{sha256_hex, sha256_parts};
use crate::store::*;

use super::engine::{queued, Engine};
use super::error::EngineError;
use super::events::JobEvent;
use super::float::FloatRuntime;
use super::now_ms;
use super::scheduler::ModelGate;

/// The input of a prove job.
#[derive(Clone, Debug)]
pub enum SubmitInput {
    /// One flat list per graph input.
    Flat(Vec<Vec<f64>>),
    /// EZKL input.json bytes; the first sample is used.
    Json(Vec<u8>),
}

/// A prove job request.
#[derive(Clone, Debug)]
pub struct SubmitRequest {
    pub model_id: String,
    /// The submitting tenant: the job is its own, and its idempotency keys are its own.
    pub tenant: String,
    pub input: SubmitInput,
    pub idempotency_key: Option<String>,
    pub priority: i32,
}

/// Calibration data as EZKL input.json text.
fn parse_calibration(bytes: &[u8]) -> Result<InputData, EngineError> {
    let text = std::str::from_utf8(bytes).map_err(|e| EngineError::invalid("calibration_json", format!("not UTF-8: {e}")))?;
    InputData::from_json_str(text).map_err(|e| EngineError::invalid("calibration_json", e))
}

/// The stored calibration: every sample in the multi-sample form, with the shapes.
fn canonical_calibration(c: &InputData) -> Vec<u8> {
    let v = serde_json::json!({ "input_data": c.samples(), "input_shapes": c.input_shapes });
    serde_json::to_vec(&v).expect("JSON values serialize")
}

fn new_job_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl Engine {
    /// Registers a model for `tenant` and queues its compile job; an already registered
    /// model (same ONNX bytes, calibration and options) is returned as is, with `true`.
    /// Either way `tenant` becomes one of the model's owners.
    pub fn register_model(
        &self,
        tenant: &str,
        onnx: &[u8],
        calibration_json: &[u8],
        options: ModelOptions,
    ) -> Result<(ModelRecord, bool), EngineError> {
        if onnx.is_empty() {
            return Err(EngineError::invalid("onnx", "empty"));
        }
        let options = options.normalized();
        options.validate().map_err(|e| EngineError::invalid(format!("options.{}", e.field), e.message))?;
        let calibration = parse_calibration(calibration_json)?;
        let samples = calibration.samples();
        let runtime = FloatRuntime::load(self.cfg.tools.ort(), onnx, &samples, calibration.input_shapes.clone())
            .map_err(|e| EngineError::invalid("onnx", e))?;
        for (i, s) in samples.iter().enumerate() {
            runtime.validate(s).map_err(|e| EngineError::invalid(format!("calibration_json: sample {i}"), e))?;
        }
        let canonical = canonical_calibration(&calibration);
        let options_json = serde_json::to_vec(&options).expect("options serialize");
        let onnx_sha256 = sha256_hex(onnx);
        // v2: the options are the compiler's typed CompileOptions (their JSON differs from v1's).
        let id = sha256_parts(&[b"zkinfer model v2", onnx_sha256.as_bytes(), &canonical, &options_json]);
        let calibration_sha256 = self.blobs.put(&canonical)?;
        self.blobs.put(onnx)?;
        let now = now_ms();
        let model = ModelRecord {
            id: id.clone(),
            state: ModelState::Compiling,
            compile_job_id: String::new(),
            onnx_sha256,
            calibration_sha256,
            input_shapes: runtime.input_shapes(),
            options: options.clone(),
            settings_json: None,
            settings_hash: None,
            k: None,
            artifacts: Default::default(),
            prove_memory: None,
            error: None,
            created_ms: now,
        };
        // The budget at the largest k: the cap, or the planner's default there.
        let columns = options.plan_options().max_advice_large;
        let parts_budget = zkinfer_prover::halo2::EXTENDED_PARTS_BUDGET as u64;
        let memory =
            zkinfer_circuits::cost::compile_memory(options.k.unwrap_or(options.max_k()), columns, parts_budget).min(self.sched.budget());
        let job = NewJob {
            id: new_job_id(),
            kind: JobKind::Compile,
            model_id: id.clone(),
            tenant: tenant.to_string(),
            priority: 0,
            idempotency_key: None,
            request_hash: id.clone(),
            input: None,
            float_outputs: Vec::new(),
            float_source: None,
            memory_estimate: memory,
            created_ms: now,
        };
        match self.store.register_model(&model, &job, self.cfg.max_queue)? {
            Registered::Existing(m) => Ok((m, true)),
            Registered::Created(m) => {
                self.floats.insert(&id, Arc::new(runtime));
                self.sched.set_gate(&id, ModelGate::Pending);
                let stored = self.job(&job.id)?;
                if !self.is_shared() {
                    self.sched.enqueue(queued(&stored));
                }
                self.events.publish(JobEvent::of(&stored));
                tracing::info!(model = %id, job = %job.id, "model registered; compiling");
                Ok((m, false))
            }
        }
    }

    /// The float runtime of a model (cached).
    fn float_runtime(&self, m: &ModelRecord) -> Result<Arc<FloatRuntime>, EngineError> {
        self.floats.get_or_load(&m.id, || {
            let onnx = self.blobs.get(&m.onnx_sha256)?;
            let cal = parse_calibration(&self.blobs.get(&m.calibration_sha256)?)?;
            FloatRuntime::load(self.cfg.tools.ort(), &onnx, &cal.samples(), cal.input_shapes.clone())
                .map_err(|e| EngineError::invalid("onnx", e))
        })
    }

    /// Accepts a prove job and answers with its float outputs; with a known idempotency
    /// key, the earlier job is returned (with `true`).
    pub fn submit(&self, req: SubmitRequest) -> Result<(JobRecord, bool), EngineError> {
        let model = self.model(&req.model_id)?;
        if model.state == ModelState::Failed {
            return Err(EngineError::FailedPrecondition(format!(
                "model {} failed to compile: {}",
                model.id,
                model.error.as_deref().unwrap_or("unknown error")
            )));
        }
        let (field, sample) = match req.input {
            SubmitInput::Flat(s) => ("sample", s),
            SubmitInput::Json(bytes) => {
                let text = std::str::from_utf8(&bytes).map_err(|e| EngineError::invalid("input_json", format!("not UTF-8: {e}")))?;
                let d = InputData::from_json_str(text).map_err(|e| EngineError::invalid("input_json", e))?;
                ("input_json", d.input_data)
            }
        };
        let request_hash = sha256_parts(&[b"prove", model.id.as_bytes(), &serde_json::to_vec(&sample).expect("numbers serialize")]);
        let key = req.idempotency_key.filter(|k| !k.is_empty());
        if let Some(k) = &key {
            if let Some(earlier) = self.store.job_by_idempotency_key(&req.tenant, k)? {
                if earlier.job.request_hash == request_hash {
                    return Ok((earlier, true));
                }
                return Err(StoreError::KeyReused { key: k.clone(), job_id: earlier.job.id }.into());
            }
        }
        let runtime = self.float_runtime(&model)?;
        let tensors = runtime.validate(&sample).map_err(|e| EngineError::invalid(field, e))?;
        let (float_outputs, source) = runtime.answer(&tensors).map_err(|e| EngineError::invalid(field, e))?;
        let memory = model.prove_memory.unwrap_or(0);
        // A shared store's workers have budgets of their own: a job no worker fits waits, saying why.
        if memory > self.sched.budget() && !self.is_shared() {
            return Err(EngineError::ResourceExhausted(format!(
                "a proof of this model needs about {memory} bytes, over the server's memory budget of {}",
                self.sched.budget()
            )));
        }
        let job = NewJob {
            id: new_job_id(),
            kind: JobKind::Prove,
            model_id: model.id.clone(),
            tenant: req.tenant.clone(),
            priority: req.priority,
            idempotency_key: key,
            request_hash,
            input: Some(sample),
            float_outputs,
            float_source: Some(source),
            memory_estimate: memory,
            created_ms: now_ms(),
        };
        match self.store.submit_job(&job, self.cfg.max_queue, &self.cfg.tenant_limits)? {
            Submitted::Existing(j) => Ok((j, true)),
            Submitted::Created(j) => {
                if !self.is_shared() {
                    self.sched.enqueue(queued(&j));
                }
                self.events.publish(JobEvent::of(&j));
                Ok((j, false))
            }
        }
    }
}

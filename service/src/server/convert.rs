//! Conversions between the engine's records and the protocol's messages.

use crate::jobs::{EngineError, JobEvent};
use crate::store::{self, ArtifactName, JobRecord, ModelOptions, ModelRecord, TensorValue};

use super::pb;
use zkinfer_circuits::layout::Optimize;
use zkinfer_circuits::{ParamVisibility, Visibility};
use zkinfer_compiler::Target;
use zkinfer_prover::Backend;

fn tensor(t: &TensorValue) -> pb::Tensor {
    pb::Tensor { shape: t.shape.iter().map(|&d| d as u64).collect(), data: t.data.clone() }
}

fn flat(shape: &[usize], data: &[f64]) -> pb::Tensor {
    pb::Tensor { shape: shape.iter().map(|&d| d as u64).collect(), data: data.to_vec() }
}

/// A job state on the wire.
pub fn job_state(s: store::JobState) -> pb::JobState {
    match s {
        store::JobState::Queued => pb::JobState::Queued,
        store::JobState::Running => pb::JobState::Running,
        store::JobState::Done => pb::JobState::Done,
        store::JobState::Failed => pb::JobState::Failed,
        store::JobState::Cancelled => pb::JobState::Cancelled,
    }
}

/// A job state from the wire (`None` for UNSPECIFIED).
pub fn job_state_from(s: pb::JobState) -> Option<store::JobState> {
    Some(match s {
        pb::JobState::Unspecified => return None,
        pb::JobState::Queued => store::JobState::Queued,
        pb::JobState::Running => store::JobState::Running,
        pb::JobState::Done => store::JobState::Done,
        pb::JobState::Failed => store::JobState::Failed,
        pb::JobState::Cancelled => store::JobState::Cancelled,
    })
}

fn float_source(s: Option<store::FloatSource>) -> pb::FloatSource {
    match s {
        None => pb::FloatSource::Unspecified,
        Some(store::FloatSource::OnnxRuntime) => pb::FloatSource::OnnxRuntime,
        Some(store::FloatSource::F64Evaluator) => pb::FloatSource::F64Evaluator,
    }
}

/// Artifact kinds: `(kind, stored name, whether it belongs to a job)`.
const KINDS: [(pb::ArtifactKind, &str, bool); 12] = [
    (pb::ArtifactKind::Proof, ArtifactName::PROOF, true),
    (pb::ArtifactKind::PublicInstances, ArtifactName::INSTANCES, true),
    (pb::ArtifactKind::EvmCalldata, ArtifactName::CALLDATA, true),
    (pb::ArtifactKind::ProofJson, ArtifactName::PROOF_JSON, true),
    (pb::ArtifactKind::VerifyingKey, ArtifactName::VK, false),
    (pb::ArtifactKind::SolidityVerifier, ArtifactName::VERIFIER_SOL, false),
    (pb::ArtifactKind::VerifierBytecode, ArtifactName::VERIFIER_BIN, false),
    (pb::ArtifactKind::VerifierDeployment, ArtifactName::VERIFIER_JSON, false),
    (pb::ArtifactKind::Settings, ArtifactName::SETTINGS, false),
    (pb::ArtifactKind::Srs, ArtifactName::SRS, false),
    (pb::ArtifactKind::QuantizedModel, ArtifactName::QUANT, false),
    (pb::ArtifactKind::Onnx, ArtifactName::ONNX, false),
];

/// The stored name of an artifact kind and whether it belongs to a job.
pub fn artifact_name(kind: pb::ArtifactKind) -> Result<(&'static str, bool), EngineError> {
    KINDS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map(|(_, n, j)| (*n, *j))
        .ok_or_else(|| EngineError::invalid("kind", "an artifact kind is required"))
}

fn artifact_kinds(names: impl Iterator<Item = String>) -> Vec<i32> {
    names.filter_map(|n| KINDS.iter().find(|(_, k, _)| *k == n).map(|(k, _, _)| *k as i32)).collect()
}

/// A job on the wire.
pub fn job(j: &JobRecord) -> pb::Job {
    let proven = match j.proven_outputs.len() {
        0 => Vec::new(),
        _ => j
            .proven_outputs
            .iter()
            .zip(j.job.float_outputs.iter().map(|t| t.shape.clone()).chain(std::iter::repeat(Vec::new())))
            .map(|(data, shape)| if shape.iter().product::<usize>() == data.len() { flat(&shape, data) } else { flat(&[data.len()], data) })
            .collect(),
    };
    pb::Job {
        id: j.job.id.clone(),
        kind: match j.job.kind {
            store::JobKind::Compile => pb::JobKind::Compile,
            store::JobKind::Prove => pb::JobKind::Prove,
        } as i32,
        model_id: j.job.model_id.clone(),
        state: job_state(j.state) as i32,
        phase: j.phase.clone(),
        progress_percent: j.progress,
        priority: j.job.priority,
        idempotency_key: j.job.idempotency_key.clone().unwrap_or_default(),
        float_outputs: j.job.float_outputs.iter().map(tensor).collect(),
        float_source: float_source(j.job.float_source) as i32,
        proven_outputs: proven,
        artifacts: artifact_kinds(j.artifacts.keys().cloned()),
        error: j.error.clone().unwrap_or_default(),
        attempts: j.attempts,
        memory_estimate_bytes: j.job.memory_estimate,
        created_at_ms: j.job.created_ms,
        started_at_ms: j.started_ms.unwrap_or(0),
        finished_at_ms: j.finished_ms.unwrap_or(0),
        prove_seconds: j.prove_seconds.unwrap_or(0.0),
    }
}

/// A job event on the wire.
pub fn event(e: &JobEvent) -> pb::JobEvent {
    pb::JobEvent {
        job_id: e.job_id.clone(),
        state: job_state(e.state) as i32,
        phase: e.phase.clone(),
        progress_percent: e.progress,
        message: e.message.clone().unwrap_or_default(),
        at_ms: e.at_ms,
    }
}

/// Registration options from the wire: unset fields (0, UNSPECIFIED) are unset options.
/// Ranges and backend support are checked by [`ModelOptions::validate`], whose errors
/// name the field as `options.<name>`.
pub fn model_options(o: Option<pb::CompileOptions>) -> Result<ModelOptions, EngineError> {
    let o = o.unwrap_or_default();
    let visibility = |v: pb::Visibility| match v {
        pb::Visibility::Unspecified | pb::Visibility::Public => Visibility::Public,
        pb::Visibility::Private => Visibility::Private,
        pb::Visibility::Hashed => Visibility::Hashed,
    };
    let options = ModelOptions {
        backend: match o.backend() {
            pb::compile_options::Backend::Unspecified | pb::compile_options::Backend::Halo2 => Backend::Halo2,
            pb::compile_options::Backend::Groth16 => Backend::Groth16,
        },
        target: match o.target() {
            pb::Target::Resources => Target::Resources,
            pb::Target::Unspecified | pb::Target::Accuracy => Target::Accuracy,
        },
        max_error: o.max_error,
        bits: o.bits,
        scale: o.scale,
        param_scale: o.param_scale,
        k: (o.k != 0).then_some(o.k),
        max_k: (o.max_k != 0).then_some(o.max_k),
        max_advice: (o.max_advice != 0).then_some(o.max_advice as usize),
        mac_width: o.mac_width.map(|w| w as usize),
        optimize: match o.optimize() {
            pb::compile_options::Optimize::Unspecified => None,
            pb::compile_options::Optimize::Prove => Some(Optimize::Prove),
            pb::compile_options::Optimize::Gas => Some(Optimize::Gas),
            pb::compile_options::Optimize::Balanced => Some(Optimize::Balanced),
            pb::compile_options::Optimize::Speed => Some(Optimize::Speed),
        },
        input_visibility: visibility(o.input_visibility()),
        output_visibility: visibility(o.output_visibility()),
        param_visibility: match o.param_visibility() {
            pb::ParamVisibility::Unspecified | pb::ParamVisibility::Fixed => ParamVisibility::Fixed,
            pb::ParamVisibility::Private => ParamVisibility::Private,
            pb::ParamVisibility::Hashed => ParamVisibility::Hashed,
        },
    }
    .normalized();
    options.validate().map_err(|e| EngineError::invalid(format!("options.{}", e.field), e.message))?;
    Ok(options)
}

/// The planner objective on the wire.
pub fn wire_optimize(o: Optimize) -> pb::compile_options::Optimize {
    match o {
        Optimize::Prove => pb::compile_options::Optimize::Prove,
        Optimize::Gas => pb::compile_options::Optimize::Gas,
        Optimize::Balanced => pb::compile_options::Optimize::Balanced,
        Optimize::Speed => pb::compile_options::Optimize::Speed,
    }
}

fn wire_visibility(v: Visibility) -> pb::Visibility {
    match v {
        Visibility::Public => pb::Visibility::Public,
        Visibility::Private => pb::Visibility::Private,
        Visibility::Hashed => pb::Visibility::Hashed,
    }
}

fn wire_param_visibility(v: ParamVisibility) -> pb::ParamVisibility {
    match v {
        ParamVisibility::Fixed => pb::ParamVisibility::Fixed,
        ParamVisibility::Private => pb::ParamVisibility::Private,
        ParamVisibility::Hashed => pb::ParamVisibility::Hashed,
    }
}

/// Options on the wire (the inverse of [`model_options`] for the fields the wire has).
pub fn wire_options(o: &ModelOptions) -> pb::CompileOptions {
    pb::CompileOptions {
        target: match o.target {
            Target::Resources => pb::Target::Resources,
            Target::Accuracy => pb::Target::Accuracy,
        } as i32,
        input_visibility: wire_visibility(o.input_visibility) as i32,
        output_visibility: wire_visibility(o.output_visibility) as i32,
        max_k: o.max_k(),
        k: o.k.unwrap_or(0),
        max_advice: o.max_advice.unwrap_or(0) as u32,
        param_visibility: wire_param_visibility(o.param_visibility) as i32,
        scale: o.scale,
        param_scale: o.param_scale,
        backend: match o.backend {
            Backend::Groth16 => pb::compile_options::Backend::Groth16,
            Backend::Halo2 => pb::compile_options::Backend::Halo2,
        } as i32,
        optimize: o.optimize.map_or(pb::compile_options::Optimize::Unspecified, wire_optimize) as i32,
        max_error: o.max_error,
        bits: o.bits,
        mac_width: o.mac_width.map(|w| w as u32),
    }
}

/// A model on the wire.
pub fn model(m: &ModelRecord) -> pb::Model {
    pb::Model {
        id: m.id.clone(),
        state: match m.state {
            store::ModelState::Compiling => pb::ModelState::Compiling,
            store::ModelState::Ready => pb::ModelState::Ready,
            store::ModelState::Failed => pb::ModelState::Failed,
        } as i32,
        compile_job_id: m.compile_job_id.clone(),
        onnx_sha256: m.onnx_sha256.clone(),
        options: Some(wire_options(&m.options)),
        input_shapes: m.input_shapes.iter().map(|s| flat(s, &[])).collect(),
        settings_json: m.settings_json.clone().unwrap_or_default(),
        settings_hash: m.settings_hash.clone().unwrap_or_default(),
        k: m.k.unwrap_or(0),
        error: m.error.clone().unwrap_or_default(),
        created_at_ms: m.created_ms,
        owned: false,
        shared: false,
        share_weights: false,
    }
}

/// A model on the wire as a caller with `access` sees it.
pub fn model_for(m: &ModelRecord, access: &store::ModelAccess) -> pb::Model {
    pb::Model { owned: access.owned, shared: access.shared, share_weights: access.share_weights, ..model(m) }
}

/// A sample from the wire: each tensor's data, checked against its shape when given.
pub fn sample(s: pb::Sample) -> Result<Vec<Vec<f64>>, EngineError> {
    s.inputs
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let n: u64 = t.shape.iter().product();
            if !t.shape.is_empty() && n != t.data.len() as u64 {
                return Err(EngineError::invalid(
                    format!("sample.inputs[{i}]"),
                    format!("shape {:?} has {n} elements but data has {}", t.shape, t.data.len()),
                ));
            }
            Ok(t.data)
        })
        .collect()
}

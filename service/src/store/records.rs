//! What the job store keeps: models, jobs and their states.
//!
//! Records are plain data; the store decides nothing about scheduling. Artifacts are
//! referenced by content hash (`kind name -> SHA-256 hex`) and live in the
//! [`BlobStore`](super::blobs::BlobStore).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Kind of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobKind {
    /// Calibrate, quantize, lay out, generate keys and the verifier of a model.
    Compile,
    /// Witness and proof for one input.
    Prove,
}

/// Life cycle of a job: `Queued -> Running -> {Done, Failed, Cancelled}`; a queued job
/// may also end `Cancelled` or `Failed` directly, and a `Running` job goes back to
/// `Queued` only through crash recovery. `Done`, `Failed` and `Cancelled` are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    /// Whether the state is final.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed | JobState::Cancelled)
    }
}

/// Compile state of a model: `Compiling -> {Ready, Failed}`; a failed model goes back
/// to `Compiling` when it is registered again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModelState {
    Compiling,
    Ready,
    Failed,
}

/// Where a float answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FloatSource {
    OnnxRuntime,
    F64Evaluator,
}

macro_rules! text_enum {
    ($t:ty { $($v:ident = $s:literal),* $(,)? }) => {
        impl $t {
            /// The name stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $(<$t>::$v => $s),* }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s { $($s => Ok(<$t>::$v),)* other => Err(format!("unknown {} `{other}`", stringify!($t))) }
            }
        }
    };
}

text_enum!(JobKind { Compile = "compile", Prove = "prove" });
text_enum!(JobState { Queued = "queued", Running = "running", Done = "done", Failed = "failed", Cancelled = "cancelled" });
text_enum!(ModelState { Compiling = "compiling", Ready = "ready", Failed = "failed" });
text_enum!(FloatSource { OnnxRuntime = "onnx-runtime", F64Evaluator = "f64-evaluator" });

/// Compile options of a model, as registered (they are part of the model id): the
/// compiler's typed options, stored as their JSON.
pub use zkinfer_compiler::CompileOptions as ModelOptions;

/// A tensor value (flat, row-major).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorValue {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// A registered model.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRecord {
    /// Content hash of ONNX bytes, calibration and options.
    pub id: String,
    pub state: ModelState,
    /// The latest compile job.
    pub compile_job_id: String,
    pub onnx_sha256: String,
    pub calibration_sha256: String,
    pub options: ModelOptions,
    /// Graph input shapes, resolved with the calibration data.
    pub input_shapes: Vec<Vec<usize>>,
    /// The fields below are set when `state` is `Ready`.
    pub settings_json: Option<String>,
    pub settings_hash: Option<String>,
    pub k: Option<u32>,
    /// Model artifacts by kind name (see [`ArtifactName`]).
    pub artifacts: BTreeMap<String, String>,
    /// Memory the scheduler reserves for one proof of this model.
    pub prove_memory: Option<u64>,
    pub error: Option<String>,
    pub created_ms: i64,
}

/// The tenant that owns what was stored before tenants existed (schema v4's migration), and
/// the tenant a server without API keys runs every call as.
pub const DEFAULT_TENANT: &str = "default";

/// A job as submitted.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    pub id: String,
    pub kind: JobKind,
    pub model_id: String,
    /// The tenant that submitted the job (a compile job: that registered the model).
    /// Idempotency keys are unique per tenant.
    pub tenant: String,
    pub priority: i32,
    pub idempotency_key: Option<String>,
    /// SHA-256 over model id and input: tells an idempotent retry from a key reused
    /// for another request.
    pub request_hash: String,
    /// One flat list per graph input (prove jobs).
    pub input: Option<Vec<Vec<f64>>>,
    pub float_outputs: Vec<TensorValue>,
    pub float_source: Option<FloatSource>,
    pub memory_estimate: u64,
    pub created_ms: i64,
}

/// A job with its progress and results.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    pub job: NewJob,
    /// Insertion order: unique, increasing.
    pub seq: i64,
    pub state: JobState,
    pub phase: String,
    pub progress: u32,
    /// Dequantized outputs attested by the proof (done prove jobs).
    pub proven_outputs: Vec<Vec<f64>>,
    pub prove_seconds: Option<f64>,
    /// Job artifacts by kind name.
    pub artifacts: BTreeMap<String, String>,
    pub error: Option<String>,
    /// Times the job was started.
    pub attempts: u32,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
}

/// Names of artifacts in the `artifacts` maps.
pub struct ArtifactName;

impl ArtifactName {
    pub const PROOF: &'static str = "proof";
    pub const INSTANCES: &'static str = "instances.json";
    pub const CALLDATA: &'static str = "calldata";
    pub const PROOF_JSON: &'static str = "proof.json";
    pub const VK: &'static str = "vk.bin";
    pub const VERIFIER_SOL: &'static str = "Verifier.sol";
    pub const VERIFIER_BIN: &'static str = "verifier.bin";
    pub const VERIFIER_JSON: &'static str = "verifier.json";
    pub const SETTINGS: &'static str = "settings.json";
    pub const SRS: &'static str = "srs.bin";
    pub const QUANT: &'static str = "quant.json";
    pub const ONNX: &'static str = "model.onnx";
    pub const CALIBRATION: &'static str = "calibration.json";
    /// The proving key, for workers that did not compile the model (shared stores only).
    pub const PROVING_KEY: &'static str = "proving-key";
}

/// What a finished prove job stores.
#[derive(Clone, Debug)]
pub struct ProveResult {
    pub proven_outputs: Vec<Vec<f64>>,
    pub prove_seconds: f64,
    pub artifacts: BTreeMap<String, String>,
}

/// What a finished compile job stores on its model.
#[derive(Clone, Debug)]
pub struct CompileResult {
    pub settings_json: String,
    pub settings_hash: String,
    pub k: u32,
    pub artifacts: BTreeMap<String, String>,
    pub prove_memory: u64,
}

/// Selection of [`JobStore::list_jobs`](super::JobStore::list_jobs): newest first.
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    /// Any of these states (all when empty).
    pub states: Vec<JobState>,
    pub model_id: Option<String>,
    /// Only this tenant's jobs (all tenants' when `None`).
    pub tenant: Option<String>,
    /// Only jobs with `seq` below this (the previous page's last).
    pub before_seq: Option<i64>,
    pub limit: usize,
}

/// Outcome of [`JobStore::register_model`](super::JobStore::register_model).
#[derive(Clone, Debug)]
pub enum Registered {
    /// A new model (or a failed one again) with its new compile job.
    Created(ModelRecord),
    /// The model was registered before (compiling or ready): nothing changed.
    Existing(ModelRecord),
}

/// Outcome of [`JobStore::submit_job`](super::JobStore::submit_job).
#[derive(Clone, Debug)]
pub enum Submitted {
    Created(JobRecord),
    /// The idempotency key names an earlier job for the same request.
    Existing(JobRecord),
}

/// Jobs touched by [`JobStore::recover`](super::JobStore::recover).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recovery {
    /// Were running, now queued again.
    pub requeued: Vec<String>,
    /// Were running and had been started too often: failed.
    pub failed: Vec<String>,
}

/// What one tenant may do with a model. Several tenants may own one model (its id is a
/// content hash: whoever registers the same bytes becomes an owner); it is shared when
/// any owner shared it, its weights too when any owner shared them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModelAccess {
    /// The tenant is one of the model's owners.
    pub owned: bool,
    /// Other tenants may submit jobs and fetch the verifier's artifacts.
    pub shared: bool,
    /// Other tenants may also fetch the ONNX bytes and the quantized graph.
    pub share_weights: bool,
}

/// Per-tenant limits on submissions, enforced by the store in the submitting transaction
/// (so they hold across API nodes sharing it). `None`: no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TenantLimits {
    /// Most jobs of one tenant queued at once.
    pub max_queued: Option<usize>,
    /// Most jobs one tenant may submit in any 60 seconds (by the jobs' `created_ms`).
    pub submits_per_minute: Option<usize>,
}

/// What a store counts for [`TenantLimits::check`], of the submitting tenant's jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantCount {
    /// Its queued jobs.
    Queued,
    /// Its prove jobs created after this time (ms).
    ProvesSince(i64),
}

impl TenantLimits {
    /// Refuses `job` when its tenant is at a limit, with the counts `count` gives (asked
    /// for only where a limit is set; each store counts in its own SQL, in the submitting
    /// transaction).
    pub fn check(
        &self,
        job: &NewJob,
        mut count: impl FnMut(TenantCount) -> Result<i64, super::StoreError>,
    ) -> Result<(), super::StoreError> {
        let limits = [
            (self.max_queued, TenantCount::Queued, "queued jobs (tenant-max-queued)"),
            (
                self.submits_per_minute,
                TenantCount::ProvesSince(job.created_ms - 60_000),
                "submissions per minute (tenant-submits-per-minute)",
            ),
        ];
        for (limit, what_count, what) in limits {
            if let Some(limit) = limit {
                if count(what_count)? as usize >= limit {
                    return Err(super::StoreError::TenantLimit { tenant: job.tenant.clone(), limit, what });
                }
            }
        }
        Ok(())
    }
}

/// What an audit entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Register,
    Submit,
    Cancel,
    Fetch,
    Share,
}

text_enum!(AuditAction { Register = "register", Submit = "submit", Cancel = "cancel", Fetch = "fetch", Share = "share" });

/// One entry of the audit trail: who did what to which object, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub tenant: String,
    pub action: AuditAction,
    /// The model or job id (a fetch: `<id>/<artifact name>`).
    pub object_id: String,
    /// `ok`, or the refusal's status code name (e.g. `NOT_FOUND`).
    pub outcome: String,
}

/// Selection of [`JobStore::list_audit`](super::JobStore::list_audit): newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub tenant: Option<String>,
    /// Only entries with `seq` below this (the previous page's last).
    pub before_seq: Option<i64>,
    pub limit: usize,
}

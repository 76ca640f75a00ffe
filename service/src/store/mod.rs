//! The job store: models and jobs, durably.
//!
//! [`JobStore`] is the seam for replacing the embedded database ([`SqliteStore`]) with a
//! server database shared by several machines. Every method is one transaction: after
//! it returns `Ok`, its effect survives a crash of the process. Artifacts are not in the
//! store but content-addressed on disk ([`BlobStore`]); the store holds their hashes, and
//! an artifact is written before the transaction that references it.

pub mod blobs;
pub mod lease;
mod postgres;
mod postgres_rows;
pub mod records;
mod sqlite;
mod sqlite_rows;
#[cfg(test)]
mod tests;
pub mod url;

pub use blobs::{ArtifactsUrl, BlobStore};
pub use lease::{Claim, Lease, LeaseState};
pub use postgres::PgStore;
pub use records::*;
pub use sqlite::SqliteStore;
pub use url::{open_store, StoreUrl};

use thiserror::Error;

/// What [`JobStore::watch_changes`] reports when a job may have become claimable.
pub const QUEUED: &str = "*queued";

/// Failures of the store.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("job store database: {0}")]
    Db(String),
    /// The database could not be reached or refused the connection (startup).
    #[error("cannot connect to the job store {url}: {message}")]
    Connect { url: String, message: String },
    /// The artifact store failed or cannot be reached.
    #[error("artifact store {url}: {message}")]
    Artifacts { url: String, message: String },
    /// A `--store` URL that names no supported store.
    #[error("store URL `{url}`: {message}")]
    BadUrl { url: String, message: String },
    #[error("the data directory {path} is in use by another zkinfer server")]
    Locked { path: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("artifact {sha256} is corrupt: its content hash differs")]
    Corrupt { sha256: String },
    #[error("artifact {sha256} is missing from the blob store")]
    MissingBlob { sha256: String },
    #[error("record {id}: {message}")]
    BadRecord { id: String, message: String },
    /// More jobs are queued than the configured limit.
    #[error("the queue is full ({limit} jobs queued); retry later")]
    QueueFull { limit: usize },
    /// A per-tenant limit ([`TenantLimits`]) would be exceeded.
    #[error("tenant `{tenant}` is over its limit of {limit} {what}; retry later")]
    TenantLimit { tenant: String, limit: usize, what: &'static str },
    /// An idempotency key was reused for another request.
    #[error("idempotency_key `{key}` was used for a different request (job {job_id})")]
    KeyReused { key: String, job_id: String },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Db(e.to_string())
    }
}

/// Durable models and jobs. Implementations are shared by all request handlers and
/// workers (`Send + Sync`) and serialize their transactions.
pub trait JobStore: Send + Sync {
    /// Inserts `model` (state `Compiling`) with its compile job `job`, unless the model
    /// exists and is not `Failed` (then only `job.tenant` becomes one of its owners, and
    /// it is returned). A failed model is reset to `Compiling` with `job` as its compile
    /// job. `job.tenant` owns the model afterwards in every case. Fails with
    /// [`StoreError::QueueFull`] when `max_queued` jobs are queued.
    fn register_model(&self, model: &ModelRecord, job: &NewJob, max_queued: usize) -> Result<Registered, StoreError>;

    /// A model by id.
    fn model(&self, id: &str) -> Result<Option<ModelRecord>, StoreError>;

    /// What `tenant` may do with a model (all `false` when it does not exist).
    fn model_access(&self, model_id: &str, tenant: &str) -> Result<ModelAccess, StoreError>;

    /// Sets `tenant`'s sharing of a model it owns; `false` (nothing changed) when it is
    /// not an owner.
    fn set_sharing(&self, model_id: &str, tenant: &str, shared: bool, share_weights: bool) -> Result<bool, StoreError>;

    /// Appends an entry to the audit trail.
    fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Audit entries matching `filter`, newest first, with their sequence numbers.
    fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<(i64, AuditEntry)>, StoreError>;

    /// Every model in `state`.
    fn models_in_state(&self, state: ModelState) -> Result<Vec<ModelRecord>, StoreError>;

    /// Inserts a queued job. With an idempotency key that `job.tenant` already used for
    /// the same request (same `request_hash`) the earlier job is returned; for another
    /// request, [`StoreError::KeyReused`] (keys of other tenants are never seen). Fails
    /// with [`StoreError::QueueFull`] when `max_queued` jobs are queued, and with
    /// [`StoreError::TenantLimit`] when the job would put its tenant over `limits`.
    fn submit_job(&self, job: &NewJob, max_queued: usize, limits: &TenantLimits) -> Result<Submitted, StoreError>;

    /// A job by id.
    fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError>;

    /// The job of `tenant` holding an idempotency key.
    fn job_by_idempotency_key(&self, tenant: &str, key: &str) -> Result<Option<JobRecord>, StoreError>;

    /// Jobs matching `filter`, newest first, at most `filter.limit`.
    fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError>;

    /// Every queued job, in insertion order.
    fn queued_jobs(&self) -> Result<Vec<JobRecord>, StoreError>;

    /// `Queued -> Running` (counts an attempt); `false` if the job was not queued.
    fn start_job(&self, id: &str, phase: &str, now_ms: i64) -> Result<bool, StoreError>;

    /// Records the phase and progress of a running job.
    fn set_phase(&self, id: &str, phase: &str, progress: u32) -> Result<(), StoreError>;

    /// `Running -> Done` with the proof's artifacts; `false` if the job was not running.
    fn finish_prove(&self, id: &str, result: &ProveResult, now_ms: i64) -> Result<bool, StoreError>;

    /// `Running -> Done` for a compile job and `Compiling -> Ready` for its model, in one
    /// transaction; `false` if the job was not running.
    fn finish_compile(&self, job_id: &str, model_id: &str, result: &CompileResult, now_ms: i64) -> Result<bool, StoreError>;

    /// Ends a queued or running job as `Failed` or `Cancelled` with a reason; a compile
    /// job's model becomes `Failed` with it. `false` if the job had already ended.
    fn end_job(&self, id: &str, state: JobState, reason: &str, now_ms: i64) -> Result<bool, StoreError>;

    /// After a crash: running jobs go back to the queue, except those already started
    /// `max_attempts` times, which fail (a job that keeps killing the server).
    fn recover(&self, max_attempts: u32, now_ms: i64) -> Result<Recovery, StoreError>;

    /// Claims the queued job that a worker with `free_memory` bytes free should run next
    /// (higher priority first; among equal priorities the tenant with the fewest running
    /// jobs, then the one whose last job started longest ago, then submission order; prove jobs only of ready or failed
    /// models; a job whose memory estimate exceeds `free_memory` is skipped, for a larger
    /// worker) and leases it to `worker` until `now_ms + lease_ms`: `Queued -> Running`,
    /// one more attempt, the attempt number being the fencing token. In the same
    /// transaction, jobs whose lease expired go back to the queue, or fail once started
    /// `max_attempts` times (a job that keeps killing its workers).
    fn claim(&self, worker: &str, free_memory: u64, lease_ms: i64, max_attempts: u32, now_ms: i64) -> Result<Claim, StoreError>;

    /// Extends a held lease to `now_ms + lease_ms`; [`LeaseState::Lost`] when the job is
    /// no longer running under this lease (expired and claimed again, or ended).
    fn renew_lease(&self, id: &str, lease: &Lease, lease_ms: i64, now_ms: i64) -> Result<LeaseState, StoreError>;

    /// [`JobStore::set_phase`] under a lease; `false` (nothing written) when the lease is lost.
    fn set_phase_leased(&self, id: &str, lease: &Lease, phase: &str, progress: u32) -> Result<bool, StoreError>;

    /// [`JobStore::finish_prove`] under a lease: `false`, and nothing written, unless the
    /// job is running under exactly this lease (the fencing token).
    fn finish_prove_leased(&self, id: &str, lease: &Lease, result: &ProveResult, now_ms: i64) -> Result<bool, StoreError>;

    /// [`JobStore::finish_compile`] under a lease, fenced like [`JobStore::finish_prove_leased`].
    fn finish_compile_leased(
        &self,
        job_id: &str,
        lease: &Lease,
        model_id: &str,
        result: &CompileResult,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// [`JobStore::end_job`] of a running job under a lease, fenced likewise.
    fn end_job_leased(&self, id: &str, lease: &Lease, state: JobState, reason: &str, now_ms: i64) -> Result<bool, StoreError>;

    /// Asks the worker running a job to cancel it (seen at its next lease renewal);
    /// `false` if the job is not running.
    fn request_cancel(&self, id: &str) -> Result<bool, StoreError>;

    /// Records on queued jobs that need more memory than `budget` (the whole budget of a
    /// worker that skipped them) why they wait, unless a worker with a larger budget
    /// recorded it already. Returns how many jobs were marked.
    fn note_unfit(&self, budget: u64) -> Result<usize, StoreError>;

    /// Calls `on_change(job_id)` for changes committed by other processes (`""`: any job
    /// may have changed; [`QUEUED`]: a job may have become claimable), until `stop`
    /// is set; `Ok(false)` when the store has no such notifications (one process owns
    /// it), so watchers rely on this process's own events.
    fn watch_changes(
        &self,
        on_change: Box<dyn Fn(&str) + Send>,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<bool, StoreError> {
        let _ = (on_change, stop);
        Ok(false)
    }

    /// Jobs by state (all jobs, any process), for metrics and operators.
    fn count_by_state(&self) -> Result<Vec<(JobState, u64)>, StoreError>;
    /// The next block a chain follower named `key` scans (`None`: it never stored one).
    fn chain_cursor(&self, key: &str) -> Result<Option<u64>, StoreError>;

    /// Stores the next block the chain follower `key` scans.
    fn set_chain_cursor(&self, key: &str, next_block: u64) -> Result<(), StoreError>;
}

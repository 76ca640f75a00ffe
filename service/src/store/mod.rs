//! The job store: models and jobs, durably.
//!
//! [`JobStore`] is the seam for replacing the embedded database ([`SqliteStore`]) with a
//! server database shared by several machines. Every method is one transaction: after
//! it returns `Ok`, its effect survives a crash of the process. Artifacts are not in the
//! store but content-addressed on disk ([`BlobStore`]); the store holds their hashes, and
//! an artifact is written before the transaction that references it.

pub mod blobs;
pub mod records;
mod sqlite;
mod sqlite_rows;
#[cfg(test)]
mod tests;

pub use blobs::BlobStore;
pub use records::*;
pub use sqlite::SqliteStore;

use thiserror::Error;

/// Failures of the store.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("job store database: {0}")]
    Db(String),
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
    /// exists and is not `Failed` (then nothing changes and it is returned). A failed
    /// model is reset to `Compiling` with `job` as its compile job. Fails with
    /// [`StoreError::QueueFull`] when `max_queued` jobs are queued.
    fn register_model(&self, model: &ModelRecord, job: &NewJob, max_queued: usize) -> Result<Registered, StoreError>;

    /// A model by id.
    fn model(&self, id: &str) -> Result<Option<ModelRecord>, StoreError>;

    /// Every model in `state`.
    fn models_in_state(&self, state: ModelState) -> Result<Vec<ModelRecord>, StoreError>;

    /// Inserts a queued job. With an idempotency key already used by the same request
    /// (same `request_hash`) the earlier job is returned; by another request,
    /// [`StoreError::KeyReused`]. Fails with [`StoreError::QueueFull`] when `max_queued`
    /// jobs are queued.
    fn submit_job(&self, job: &NewJob, max_queued: usize) -> Result<Submitted, StoreError>;

    /// A job by id.
    fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError>;

    /// The job holding an idempotency key.
    fn job_by_idempotency_key(&self, key: &str) -> Result<Option<JobRecord>, StoreError>;

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

    /// The next block a chain follower named `key` scans (`None`: it never stored one).
    fn chain_cursor(&self, key: &str) -> Result<Option<u64>, StoreError>;

    /// Stores the next block the chain follower `key` scans.
    fn set_chain_cursor(&self, key: &str, next_block: u64) -> Result<(), StoreError>;
}

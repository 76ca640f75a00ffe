//! The job engine: owns the store, the blob store, the scheduler and the worker
//! threads; request handlers call it (synchronously, from blocking threads).
//!
//! Data directory layout:
//!
//! | path | content |
//! |---|---|
//! | `zkinfer.sqlite3` (+ `-wal`) | the job store ([`SqliteStore`]) |
//! | `blobs/` | artifacts, content-addressed ([`BlobStore`]) |
//! | `keys/` | proving keys by settings hash ([`DiskKeyCache`]) |

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::environment::Tools;
use crate::keycache::DiskKeyCache;
use crate::store::*;
use zkinfer_compiler::SrsSource;

use super::error::EngineError;
use super::events::{EventHub, JobEvent};
use super::float::FloatRuntime;
use super::loaded::LoadedModel;
use super::lru::Lru;
use super::now_ms;
use super::scheduler::{CancelOutcome, ModelGate, QueuedJob, Scheduler};

/// How the engine runs.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    /// Worker threads (concurrent jobs), at least 1.
    pub workers: usize,
    /// Most jobs waiting in the queue; more submissions are refused.
    pub max_queue: usize,
    /// Bytes that running jobs' memory estimates may add up to.
    pub memory_budget: u64,
    /// The SRS for new models (`None`: an insecure test SRS).
    pub srs: Option<SrsSource>,
    /// ONNX Runtime (float answers; without it zkinfer's f64 evaluator) and solc (compile jobs).
    pub tools: Tools,
    /// A job started this many times and interrupted by crashes each time is failed.
    pub max_attempts: u32,
    /// Loaded models (keys in memory) kept between jobs.
    pub model_cache: usize,
    /// TEST ONLY: sleep this long at the start of the proving phase of every prove job,
    /// so tests can kill the server while a proof is in progress.
    pub test_pause_before_prove: Option<Duration>,
    /// The job store (`None`: the embedded database in `data_dir`). With a shared store
    /// (PostgreSQL) workers claim jobs from it under leases, and `workers` may be 0.
    pub store: Option<StoreUrl>,
    /// Where artifacts are stored (`None`: `data_dir/blobs`).
    pub artifacts: Option<ArtifactsUrl>,
    /// Most bytes of proving keys kept in `data_dir/keys` (least recently used evicted; `None`: unbounded).
    pub key_cache_bytes: Option<u64>,
    /// Leases of jobs claimed from a shared store, and this process's name in them.
    pub lease: super::claim::LeaseConfig,
    /// Per-tenant limits on queued jobs and submissions per minute.
    pub tenant_limits: TenantLimits,
}

impl EngineConfig {
    /// Defaults for a data directory and tools: one worker, 1000 queued jobs, 3/4 of the memory.
    pub fn new(data_dir: impl Into<PathBuf>, tools: Tools) -> EngineConfig {
        EngineConfig {
            data_dir: data_dir.into(),
            tools,
            workers: 1,
            max_queue: 1000,
            memory_budget: super::memory::default_budget(),
            srs: None,
            max_attempts: 5,
            model_cache: 4,
            test_pause_before_prove: None,
            store: None,
            artifacts: None,
            key_cache_bytes: None,
            lease: Default::default(),
            tenant_limits: TenantLimits::default(),
        }
    }
}

/// Where an artifact belongs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    Model(String),
    Job(String),
}

/// The engine. Create with [`Engine::open`], then [`Engine::start_workers`].
pub struct Engine {
    pub(super) cfg: EngineConfig,
    pub(super) store: Arc<dyn JobStore>,
    pub(super) blobs: BlobStore,
    pub(super) keys: DiskKeyCache,
    pub(super) sched: Scheduler,
    pub(super) events: EventHub,
    pub(super) models: Lru<LoadedModel>,
    pub(super) floats: Lru<FloatRuntime>,
    /// Stops the store's change listener (shared stores).
    pub(super) stop: Arc<std::sync::atomic::AtomicBool>,
}

/// A queue entry for a stored job.
pub(super) fn queued(j: &JobRecord) -> QueuedJob {
    QueuedJob {
        id: j.job.id.clone(),
        seq: j.seq,
        kind: j.job.kind,
        model_id: j.job.model_id.clone(),
        tenant: j.job.tenant.clone(),
        priority: j.job.priority,
        memory: j.job.memory_estimate,
    }
}

impl Engine {
    /// Opens the data directory: the store (locked against a second server), recovery of
    /// jobs interrupted by a crash (back to the queue), and the queue itself.
    pub fn open(cfg: EngineConfig) -> Result<Arc<Engine>, EngineError> {
        let url = cfg.store.clone().unwrap_or_else(|| StoreUrl::default_for(&cfg.data_dir));
        let store = open_store(&url)?;
        let blobs = BlobStore::open_url(&cfg.artifacts.clone().unwrap_or_else(|| ArtifactsUrl::File(cfg.data_dir.join("blobs"))))?;
        let keys = DiskKeyCache { root: cfg.data_dir.join("keys") };
        let engine = Engine {
            sched: Scheduler::new(cfg.memory_budget),
            models: Lru::new(cfg.model_cache),
            floats: Lru::new(cfg.model_cache.max(8)),
            store,
            blobs,
            stop: Default::default(),
            keys,
            events: EventHub::default(),
            cfg,
        };
        if url.is_shared() {
            // Nothing to recover or load: workers claim from the store, and jobs of dead workers come back when their lease expires.
            let engine = Arc::new(engine);
            engine.listen_for_changes()?;
            tracing::info!(store = %url.display(), "shared job store");
            return Ok(engine);
        }
        let recovery = engine.store.recover(engine.cfg.max_attempts, now_ms())?;
        if !recovery.requeued.is_empty() || !recovery.failed.is_empty() {
            tracing::warn!(requeued = ?recovery.requeued, failed = ?recovery.failed, "recovered jobs interrupted by a crash");
        }
        for state in [ModelState::Compiling, ModelState::Ready, ModelState::Failed] {
            for m in engine.store.models_in_state(state)? {
                engine.sched.set_gate(&m.id, gate_of(&m));
            }
        }
        let queued_jobs = engine.store.queued_jobs()?;
        tracing::info!(queued = queued_jobs.len(), "job queue loaded");
        for j in &queued_jobs {
            engine.sched.enqueue(queued(j));
        }
        Ok(Arc::new(engine))
    }

    /// Starts the worker threads; they run until [`Engine::shutdown`].
    pub fn start_workers(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        if self.is_shared() {
            return self.start_claim_workers();
        }
        (0..self.cfg.workers.max(1))
            .map(|i| {
                let engine = self.clone();
                std::thread::Builder::new()
                    .name(format!("zkinfer-worker-{i}"))
                    .spawn(move || engine.worker_loop())
                    .expect("spawning a worker thread")
            })
            .collect()
    }

    /// Workers finish their current job and stop.
    pub fn shutdown(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.sched.close();
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Job events from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<JobEvent> {
        self.events.subscribe()
    }

    /// Queue counts.
    pub fn stats(&self) -> super::scheduler::SchedulerStats {
        self.sched.stats()
    }

    /// A job by id.
    pub fn job(&self, id: &str) -> Result<JobRecord, EngineError> {
        self.store.job(id)?.ok_or_else(|| EngineError::NotFound { what: "job", id: id.to_string() })
    }

    /// A model by id.
    pub fn model(&self, id: &str) -> Result<ModelRecord, EngineError> {
        self.store.model(id)?.ok_or_else(|| EngineError::NotFound { what: "model", id: id.to_string() })
    }

    /// Jobs, newest first.
    pub fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, EngineError> {
        if let Some(m) = &filter.model_id {
            self.model(m)?;
        }
        Ok(self.store.list_jobs(filter)?)
    }

    /// Cancels a job: a queued one at once, a running one at its next phase boundary.
    pub fn cancel(&self, id: &str) -> Result<JobRecord, EngineError> {
        let job = self.job(id)?;
        if job.state.is_terminal() {
            return Err(EngineError::FailedPrecondition(format!("job {id} has already ended ({})", job.state)));
        }
        if self.is_shared() {
            return self.cancel_shared(job);
        }
        match self.sched.cancel(id) {
            CancelOutcome::Signalled => {}
            CancelOutcome::Dequeued | CancelOutcome::Unknown => {
                if self.store.end_job(id, JobState::Cancelled, "cancelled by request", now_ms())? {
                    self.publish(id);
                    if job.job.kind == JobKind::Compile {
                        self.sched.set_gate(&job.job.model_id, ModelGate::Failed("its compile job was cancelled".into()));
                    }
                } else {
                    return Err(EngineError::FailedPrecondition(format!("job {id} has already ended")));
                }
            }
        }
        self.job(id)
    }

    /// An artifact's content and hash. Model artifacts may be asked of a job (its model's).
    pub fn artifact(&self, owner: &Owner, name: &'static str, of_job: bool) -> Result<(Vec<u8>, String), EngineError> {
        let sha = match (owner, of_job) {
            (Owner::Job(id), true) => {
                let job = self.job(id)?;
                job.artifacts.get(name).cloned().ok_or_else(|| EngineError::NotFound {
                    what: "artifact",
                    id: format!("{name} of job {id} (state {}, phase {})", job.state, job.phase),
                })?
            }
            (Owner::Model(_), true) => {
                return Err(EngineError::invalid("kind", format!("{name} belongs to a job: pass job_id")));
            }
            (owner, false) => {
                let model_id = match owner {
                    Owner::Model(id) => id.clone(),
                    Owner::Job(id) => self.job(id)?.job.model_id,
                };
                let m = self.model(&model_id)?;
                m.artifacts.get(name).cloned().ok_or_else(|| EngineError::NotFound {
                    what: "artifact",
                    id: format!("{name} of model {model_id} (state {})", m.state),
                })?
            }
        };
        Ok((self.blobs.get(&sha)?, sha))
    }

    /// Publishes a job's stored state.
    pub(super) fn publish(&self, id: &str) {
        match self.store.job(id) {
            Ok(Some(j)) => self.events.publish(JobEvent::of(&j)),
            Ok(None) => {}
            Err(e) => tracing::error!(job = id, "cannot read the job to publish its state: {e}"),
        }
    }
}

/// The scheduler gate of a stored model.
pub(super) fn gate_of(m: &ModelRecord) -> ModelGate {
    match m.state {
        ModelState::Compiling => ModelGate::Pending,
        ModelState::Ready => ModelGate::Ready { prove_memory: m.prove_memory.unwrap_or(0) },
        ModelState::Failed => ModelGate::Failed(m.error.clone().unwrap_or_else(|| "compile failed".into())),
    }
}

//! Workers of a shared store (PostgreSQL): claim a job, hold its lease, run it, publish
//! under the lease's fencing token.
//!
//! Invariants:
//! - A worker runs a job only while it holds the job's lease; a renewer thread extends
//!   the lease every third of its duration. When the lease is lost (it expired and
//!   another worker claimed the job, or the job was cancelled), the job is abandoned:
//!   every write is fenced, so nothing this worker does afterwards reaches the store.
//! - The memory estimates of the jobs a process runs never add up to more than its
//!   budget: a claim asks only for jobs that fit what is free, and reserves their
//!   estimate before the next claim (claims of one process are serialized).
//! - Jobs that fit no worker's whole budget stay queued, their phase saying why.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::store::{JobKind, JobRecord, JobState, Lease, LeaseState, ModelState};

use super::engine::Engine;
use super::error::EngineError;
use super::events::JobEvent;
use super::now_ms;
use super::runner::{panic_message, JobEnd, Running};

/// Leases of claimed jobs.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// How long a claim holds without renewal.
    pub duration: Duration,
    /// How often an idle worker looks for work without being told (a notification wakes
    /// it at once).
    pub poll: Duration,
    /// This process's name in leases (unique among live workers).
    pub worker: String,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "host".into());
        LeaseConfig {
            duration: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            worker: format!("{host}-{}-{:06x}", std::process::id(), rand::random::<u32>() & 0xff_ffff),
        }
    }
}

/// Claims of one process are serialized, so that what is free stays true until reserved.
static CLAIMING: Mutex<()> = Mutex::new(());

/// How often idle workers record on unfit jobs why they wait.
const UNFIT_EVERY: Duration = Duration::from_secs(2);

impl Engine {
    /// Whether the store is shared with other processes (workers claim from it).
    pub fn is_shared(&self) -> bool {
        self.cfg.store.as_ref().is_some_and(|u| u.is_shared())
    }

    /// The job store (for metrics, operators' tools, and the chain follower's cursor).
    pub fn store(&self) -> Arc<dyn crate::store::JobStore> {
        self.store.clone()
    }

    /// Relays changes committed by other processes to this process's watchers.
    /// Idle claiming workers wake when a job may have become claimable.
    pub(super) fn listen_for_changes(self: &Arc<Self>) -> Result<(), EngineError> {
        let engine = Arc::downgrade(self);
        let relay = move |id: &str| {
            let Some(e) = engine.upgrade() else { return };
            if id == crate::store::QUEUED {
                e.sched.wake();
            } else {
                e.events.publish(JobEvent::changed(id));
            }
        };
        self.store.watch_changes(Box::new(relay), self.stop.clone())?;
        Ok(())
    }

    /// Starts `workers` claiming threads (none for an API-only node).
    pub(super) fn start_claim_workers(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        (0..self.cfg.workers)
            .map(|i| {
                let engine = self.clone();
                let name = format!("{}/{i}", self.cfg.lease.worker);
                std::thread::Builder::new()
                    .name(format!("zkinfer-worker-{i}"))
                    .spawn(move || engine.claim_loop(&name))
                    .expect("spawning a worker thread")
            })
            .collect()
    }

    /// Memory a claimed job reserves: a prove job its model's estimate.
    fn need_of(&self, job: &JobRecord) -> u64 {
        match job.job.kind {
            JobKind::Compile => job.job.memory_estimate,
            JobKind::Prove => self.store.model(&job.job.model_id).ok().flatten().and_then(|m| m.prove_memory).unwrap_or(0),
        }
    }

    fn claim_loop(&self, worker: &str) {
        let lease_ms = self.cfg.lease.duration.as_millis() as i64;
        let mut last_unfit: Option<Instant> = None;
        let mut failing_since: Option<Instant> = None;
        while !self.sched.is_closed() {
            let claimed = {
                let _one = CLAIMING.lock().unwrap_or_else(|p| p.into_inner());
                match self.store.claim(worker, self.sched.free(), lease_ms, self.cfg.max_attempts, now_ms()) {
                    Ok(c) => {
                        if failing_since.take().is_some() {
                            tracing::info!(worker, "the job store is reachable again");
                        }
                        if !c.expired.requeued.is_empty() || !c.expired.failed.is_empty() {
                            tracing::warn!(worker, requeued = ?c.expired.requeued, failed = ?c.expired.failed, "jobs whose worker stopped renewing its lease");
                        }
                        c.job.map(|(job, lease)| {
                            let need = self.need_of(&job);
                            let cancel = self.sched.reserve(&job.job.id, need);
                            (job, lease, cancel)
                        })
                    }
                    Err(e) => {
                        if failing_since.is_none() {
                            tracing::error!(worker, "cannot claim jobs: {e}; retrying");
                            failing_since = Some(Instant::now());
                        }
                        None
                    }
                }
            };
            match claimed {
                Some((job, lease, cancel)) => {
                    let id = job.job.id.clone();
                    self.run_leased(job, lease, &cancel);
                    self.sched.finished(&id);
                }
                None => {
                    if failing_since.is_none() && last_unfit.is_none_or(|t| t.elapsed() >= UNFIT_EVERY) {
                        last_unfit = Some(Instant::now());
                        match self.store.note_unfit(self.sched.budget()) {
                            Ok(0) => {}
                            Ok(n) => tracing::warn!(
                                worker,
                                jobs = n,
                                budget = self.sched.budget(),
                                "queued jobs need more memory than this worker's budget"
                            ),
                            Err(e) => tracing::warn!(worker, "cannot mark jobs that need more memory: {e}"),
                        }
                    }
                    self.sched.idle_wait(self.cfg.lease.poll);
                }
            }
        }
    }

    /// Runs a claimed job while a renewer thread holds its lease.
    fn run_leased(&self, job: JobRecord, lease: Lease, cancel: &AtomicBool) {
        let id = job.job.id.clone();
        tracing::info!(job = %id, kind = %job.job.kind, model = %job.job.model_id, attempt = lease.token, worker = %lease.worker, "job claimed");
        self.publish(&id);
        let metrics = crate::metrics::metrics();
        metrics.lease(1);
        metrics.phase(&id, job.job.kind.as_str(), "starting");
        let lost = AtomicBool::new(false);
        let finished = AtomicBool::new(false);
        let t0 = Instant::now();
        std::thread::scope(|scope| {
            scope.spawn(|| self.renew_until(&id, &lease, &finished, &lost, cancel));
            let outcome = self.run_claimed(&job, &lease, cancel);
            finished.store(true, Ordering::SeqCst);
            metrics.job_ended(&id, job.job.kind.as_str(), None);
            metrics.lease(-1);
            let lost = lost.load(Ordering::SeqCst);
            if lost {
                metrics.lease_lost();
            }
            let (state, reason) = match outcome {
                Ok(()) => return tracing::info!(job = %id, seconds = t0.elapsed().as_secs_f64(), "job done"),
                Err(JobEnd::Cancelled) => (JobState::Cancelled, "cancelled by request".to_string()),
                Err(JobEnd::Failed(reason)) => (JobState::Failed, reason),
            };
            let logged = self.loggable_reason(&job, &reason);
            match self.store.end_job_leased(&id, &lease, state, &reason, now_ms()) {
                Ok(true) => {
                    self.publish(&id);
                    tracing::info!(job = %id, %state, reason = logged, "job ended");
                }
                Ok(false) => {
                    tracing::warn!(job = %id, attempt = lease.token, lost, "this worker lost the job's lease: its outcome is dropped ({logged})")
                }
                Err(e) => tracing::error!(job = %id, "cannot record that the job {state}: {e}; its lease will expire"),
            }
        });
    }

    fn run_claimed(&self, job: &JobRecord, lease: &Lease, cancel: &AtomicBool) -> Result<(), JobEnd> {
        if job.job.kind == JobKind::Prove {
            let model = self.model(&job.job.model_id)?;
            if model.state == ModelState::Failed {
                return Err(JobEnd::Failed(format!("the model failed to compile: {}", model.error.unwrap_or_default())));
            }
        }
        let running = Running { engine: self, job: job.clone(), cancel, lease: Some(lease.clone()) };
        match catch_unwind(AssertUnwindSafe(|| match job.job.kind {
            JobKind::Compile => self.run_compile(&running),
            JobKind::Prove => self.run_prove(&running),
        })) {
            Ok(r) => r,
            Err(p) => Err(JobEnd::Failed(format!("internal error: panic: {}", panic_message(p)))),
        }
    }

    /// Renews the lease every third of its duration until the job is finished; on a
    /// lost lease or a cancellation request, raises the job's cancellation flag.
    fn renew_until(&self, id: &str, lease: &Lease, finished: &AtomicBool, lost: &AtomicBool, cancel: &AtomicBool) {
        let duration = self.cfg.lease.duration;
        let every = duration / 3;
        let mut last_ok = Instant::now();
        loop {
            let next = Instant::now() + every;
            while Instant::now() < next {
                if finished.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20).min(every));
            }
            match self.store.renew_lease(id, lease, duration.as_millis() as i64, now_ms()) {
                Ok(LeaseState::Held { cancel: asked }) => {
                    last_ok = Instant::now();
                    if asked {
                        cancel.store(true, Ordering::SeqCst);
                    }
                }
                Ok(LeaseState::Lost) => {
                    tracing::warn!(job = %id, attempt = lease.token, "lease lost: another worker holds the job, or it ended; abandoning it");
                    lost.store(true, Ordering::SeqCst);
                    cancel.store(true, Ordering::SeqCst);
                    return;
                }
                Err(e) => {
                    tracing::warn!(job = %id, "cannot renew the lease: {e}");
                    if last_ok.elapsed() >= duration {
                        // The lease has expired by now: someone else may run the job.
                        lost.store(true, Ordering::SeqCst);
                        cancel.store(true, Ordering::SeqCst);
                    }
                }
            }
        }
    }

    /// Keeps the key cache within its bound, evicting least recently used keys but never
    /// the one of `settings`.
    pub(super) fn bound_key_cache(&self, settings: &zkinfer_compiler::Settings) {
        if let Some(limit) = self.cfg.key_cache_bytes {
            let evicted = self.keys.evict_to(limit, settings.proving_key().0);
            if !evicted.is_empty() {
                tracing::info!(?evicted, limit, "proving keys evicted from the local cache");
            }
        }
    }

    /// Cancellation with a shared store: a queued job ends at once; a running one is
    /// asked to stop, which its worker sees at its next lease renewal.
    pub(super) fn cancel_shared(&self, job: JobRecord) -> Result<JobRecord, EngineError> {
        let id = job.job.id.clone();
        if job.state == JobState::Running && self.store.request_cancel(&id)? {
            return self.job(&id);
        }
        if !self.store.end_job(&id, JobState::Cancelled, "cancelled by request", now_ms())? {
            return Err(EngineError::FailedPrecondition(format!("job {id} has already ended")));
        }
        self.publish(&id);
        self.job(&id)
    }
}

impl Drop for Engine {
    /// The store's change listener (a thread of its own) stops with the engine.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

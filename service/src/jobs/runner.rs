//! Worker threads: take an admitted job, run it, record how it ended.
//!
//! Invariants: only the worker running a job changes its state (except cancelling a
//! queued job); a job's final state is written to the store before its event is
//! published and before its memory is released; a panic in a job fails that job, never
//! the worker.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::store::{CompileResult, JobKind, JobRecord, JobState, Lease, ProveResult};

use super::engine::Engine;
use super::now_ms;
use super::scheduler::{Admitted, ModelGate, Verdict};

/// How a job ended other than done.
#[derive(Debug)]
pub(super) enum JobEnd {
    /// Cancelled at a phase boundary.
    Cancelled,
    /// Failed with a reason for the client.
    Failed(String),
}

impl<E: std::fmt::Display> From<E> for JobEnd {
    fn from(e: E) -> JobEnd {
        JobEnd::Failed(e.to_string())
    }
}

/// A running job's context: its record and cancellation flag.
pub(super) struct Running<'a> {
    pub engine: &'a Engine,
    pub job: JobRecord,
    pub cancel: &'a AtomicBool,
    /// The lease of a job claimed from a shared store: every write is fenced by it.
    pub lease: Option<Lease>,
}

impl Running<'_> {
    /// Records a new phase (a phase boundary): stops here if cancellation was asked.
    pub fn phase(&self, phase: &str, progress: u32) -> Result<(), JobEnd> {
        self.check_cancel()?;
        if !self.record_phase(phase, progress)? {
            return Err(JobEnd::Failed("the job's lease was lost".into()));
        }
        self.engine.publish(&self.job.job.id);
        Ok(())
    }

    /// Stores the phase (under the lease, if any); `false` when the lease is lost.
    pub fn record_phase(&self, phase: &str, progress: u32) -> Result<bool, crate::store::StoreError> {
        let id = &self.job.job.id;
        let recorded = match &self.lease {
            Some(l) => self.engine.store.set_phase_leased(id, l, phase, progress),
            None => self.engine.store.set_phase(id, phase, progress).map(|_| true),
        };
        if let Ok(true) = recorded {
            crate::metrics::metrics().phase(id, self.job.job.kind.as_str(), phase);
        }
        recorded
    }

    /// Publishes a proof's result (under the lease, if any); `false` if the job was no
    /// longer running (under this lease).
    pub fn finish_prove(&self, result: &ProveResult) -> Result<bool, crate::store::StoreError> {
        let id = &self.job.job.id;
        let done = match &self.lease {
            Some(l) => self.engine.store.finish_prove_leased(id, l, result, now_ms()),
            None => self.engine.store.finish_prove(id, result, now_ms()),
        };
        if let Ok(true) = done {
            let m = crate::metrics::metrics();
            m.proof(&self.job.job.model_id);
            m.job_ended(id, self.job.job.kind.as_str(), Some((now_ms() - self.job.job.created_ms) as f64 / 1000.0));
        }
        done
    }

    /// Publishes a compile job's result and makes its model ready, like [`Self::finish_prove`].
    pub fn finish_compile(&self, model_id: &str, result: &CompileResult) -> Result<bool, crate::store::StoreError> {
        let id = &self.job.job.id;
        let done = match &self.lease {
            Some(l) => self.engine.store.finish_compile_leased(id, l, model_id, result, now_ms()),
            None => self.engine.store.finish_compile(id, model_id, result, now_ms()),
        };
        if let Ok(true) = done {
            crate::metrics::metrics().job_ended(id, self.job.job.kind.as_str(), Some((now_ms() - self.job.job.created_ms) as f64 / 1000.0));
        }
        done
    }

    /// `Err(Cancelled)` if cancellation was asked.
    pub fn check_cancel(&self) -> Result<(), JobEnd> {
        if self.cancel.load(Ordering::SeqCst) {
            return Err(JobEnd::Cancelled);
        }
        Ok(())
    }

    /// Sleeps, waking early for cancellation.
    pub fn pause(&self, d: Duration) -> Result<(), JobEnd> {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.check_cancel()?;
            std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
        }
        self.check_cancel()
    }
}

pub(super) fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Engine {
    /// A worker thread's loop.
    pub(super) fn worker_loop(&self) {
        while let Some(admitted) = self.sched.next() {
            let id = admitted.job.id.clone();
            self.run_admitted(admitted);
            self.sched.finished(&id);
        }
    }

    fn end(&self, job: &JobRecord, state: JobState, reason: &str) {
        let id = &job.job.id;
        match self.store.end_job(id, state, reason, now_ms()) {
            Ok(_) => {
                if job.job.kind == JobKind::Compile {
                    self.sched.set_gate(&job.job.model_id, ModelGate::Failed(reason.to_string()));
                }
                self.publish(id);
            }
            // The job stays running in the store and is retried after a restart.
            Err(e) => tracing::error!(job = %id, "cannot record that the job {state}: {e}"),
        }
        let reason = self.loggable_reason(job, reason);
        tracing::info!(job = %id, %state, reason, "job ended");
    }

    fn run_admitted(&self, a: Admitted) {
        let id = &a.job.id;
        let job = match self.store.job(id) {
            Ok(Some(j)) if j.state == JobState::Queued => j,
            Ok(_) => return, // cancelled (or ended) since it was queued
            Err(e) => return tracing::error!(job = %id, "cannot read the job: {e}"),
        };
        match &a.verdict {
            Verdict::Run => {}
            Verdict::ModelFailed(m) => return self.end(&job, JobState::Failed, &format!("the model failed to compile: {m}")),
            Verdict::TooLarge { need, budget } => {
                let msg = format!("needs about {need} bytes of memory, over the server's budget of {budget}");
                return self.end(&job, JobState::Failed, &msg);
            }
        }
        match self.store.start_job(id, "starting", now_ms()) {
            Ok(true) => {
                crate::metrics::metrics().phase(id, job.job.kind.as_str(), "starting");
                self.publish(id)
            }
            Ok(false) => return,
            Err(e) => return tracing::error!(job = %id, "cannot start the job: {e}"),
        }
        tracing::info!(job = %id, kind = %job.job.kind, model = %job.job.model_id, memory = a.memory, "job started");
        let t0 = Instant::now();
        let running = Running { engine: self, job: job.clone(), cancel: &a.cancel, lease: None };
        let outcome = catch_unwind(AssertUnwindSafe(|| match job.job.kind {
            JobKind::Compile => self.run_compile(&running),
            JobKind::Prove => self.run_prove(&running),
        }));
        crate::metrics::metrics().job_ended(id, job.job.kind.as_str(), None);
        match outcome {
            Ok(Ok(())) => tracing::info!(job = %id, seconds = t0.elapsed().as_secs_f64(), "job done"),
            Ok(Err(JobEnd::Cancelled)) => self.end(&job, JobState::Cancelled, "cancelled by request"),
            Ok(Err(JobEnd::Failed(reason))) => self.end(&job, JobState::Failed, &reason),
            Err(p) => self.end(&job, JobState::Failed, &format!("internal error: panic: {}", panic_message(p))),
        }
    }
}

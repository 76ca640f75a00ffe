//! The in-memory queue that worker threads take jobs from, with memory admission,
//! priorities and cancellation flags.
//!
//! Invariants:
//! - The memory reserved by running jobs never exceeds the budget: a job is admitted
//!   only when its estimate fits in what is left; a job whose estimate exceeds the
//!   whole budget is handed out with [`Verdict::TooLarge`] (to be failed), never run.
//! - Order: higher priority first; among the eligible jobs of that priority, the tenant
//!   with the fewest running jobs, then the tenant whose last job started longest ago
//!   (tenants take turns), then submission order (`seq`). The job so chosen, when it does
//!   not fit yet, is not overtaken by others, so large jobs do not starve. Prove jobs of
//!   a model that is still compiling wait without blocking the others.
//! - The queue mirrors the store's queued jobs; the store is the truth (a job is in
//!   the store before it is queued here, and a worker re-checks the store when it
//!   starts a job).

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::store::JobKind;

/// A job waiting for a worker.
#[derive(Clone, Debug, PartialEq)]
pub struct QueuedJob {
    pub id: String,
    pub seq: i64,
    pub kind: JobKind,
    pub model_id: String,
    /// The tenant that submitted it.
    pub tenant: String,
    pub priority: i32,
    /// Known estimate (compile jobs); prove jobs take their model's.
    pub memory: u64,
}

/// Whether a model's prove jobs may run.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelGate {
    /// Compiling: its prove jobs wait.
    Pending,
    /// Ready; a proof needs this much memory.
    Ready { prove_memory: u64 },
    /// Compile failed: its prove jobs fail.
    Failed(String),
}

/// What the worker is to do with an admitted job.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Run,
    /// The model failed to compile.
    ModelFailed(String),
    /// The job needs more memory than the whole budget.
    TooLarge {
        need: u64,
        budget: u64,
    },
}

/// A job handed to a worker.
#[derive(Clone, Debug)]
pub struct Admitted {
    pub job: QueuedJob,
    /// Memory reserved until [`Scheduler::finished`].
    pub memory: u64,
    /// Set by [`Scheduler::cancel`]; the worker stops at the next phase boundary.
    pub cancel: Arc<AtomicBool>,
    pub verdict: Verdict,
}

/// Result of [`Scheduler::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was queued here and is removed.
    Dequeued,
    /// It is running; its flag is set.
    Signalled,
    /// Not queued nor running here.
    Unknown,
}

#[derive(Default)]
struct State {
    queue: BTreeMap<(Reverse<i32>, i64), QueuedJob>,
    /// Running jobs: memory, cancellation flag, tenant.
    running: HashMap<String, (u64, Arc<AtomicBool>, String)>,
    used: u64,
    /// Per tenant, the value of `starts` when its latest job was admitted.
    last_start: HashMap<String, u64>,
    starts: u64,
    gates: HashMap<String, ModelGate>,
    closed: bool,
}

/// Snapshot for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedulerStats {
    pub queued: usize,
    pub running: usize,
    pub reserved_bytes: u64,
}

/// The queue shared by request handlers (which enqueue and cancel) and workers.
pub struct Scheduler {
    state: Mutex<State>,
    wake: Condvar,
    budget: u64,
}

impl Scheduler {
    /// An empty scheduler with a memory budget in bytes.
    pub fn new(budget: u64) -> Scheduler {
        Scheduler { state: Mutex::new(State::default()), wake: Condvar::new(), budget }
    }

    /// The memory budget in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a job (already stored as queued).
    pub fn enqueue(&self, job: QueuedJob) {
        let mut s = self.lock();
        s.queue.insert((Reverse(job.priority), job.seq), job);
        drop(s);
        self.wake.notify_all();
    }

    /// Sets whether a model's prove jobs may run.
    pub fn set_gate(&self, model_id: &str, gate: ModelGate) {
        self.lock().gates.insert(model_id.to_string(), gate);
        self.wake.notify_all();
    }

    /// Blocks until a job is admitted; `None` once [`Self::close`]d.
    pub fn next(&self) -> Option<Admitted> {
        let mut s = self.lock();
        loop {
            if s.closed {
                return None;
            }
            if let Some(a) = self.admit(&mut s) {
                return Some(a);
            }
            s = self.wake.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn admit(&self, s: &mut State) -> Option<Admitted> {
        // The eligible jobs of the highest priority that has any: (queue key, memory to reserve, verdict, tenant).
        type Candidate<'a> = ((Reverse<i32>, i64), u64, Verdict, &'a str);
        let mut candidates: Vec<Candidate<'_>> = Vec::new();
        for (key, job) in &s.queue {
            if candidates.first().is_some_and(|c| c.0 .0 != key.0) {
                break;
            }
            let (memory, verdict) = match job.kind {
                JobKind::Compile => (job.memory, Verdict::Run),
                JobKind::Prove => match s.gates.get(&job.model_id) {
                    None | Some(ModelGate::Pending) => continue,
                    Some(ModelGate::Failed(m)) => (0, Verdict::ModelFailed(m.clone())),
                    Some(ModelGate::Ready { prove_memory }) => (*prove_memory, Verdict::Run),
                },
            };
            let verdict = match verdict {
                Verdict::Run if memory > self.budget => Verdict::TooLarge { need: memory, budget: self.budget },
                v => v,
            };
            let reserve = if verdict == Verdict::Run { memory } else { 0 };
            candidates.push((*key, reserve, verdict, job.tenant.as_str()));
        }
        let running_of = |t: &str| s.running.values().filter(|r| r.2 == t).count();
        let (key, memory, verdict, _) =
            candidates.into_iter().min_by_key(|c| (running_of(c.3), s.last_start.get(c.3).copied().unwrap_or(0), c.0 .1))?;
        if s.used + memory > self.budget {
            return None; // the chosen job waits for memory; others do not overtake it
        }
        let job = s.queue.remove(&key).expect("chosen from the queue");
        let cancel = Arc::new(AtomicBool::new(false));
        s.used += memory;
        s.starts += 1;
        let n = s.starts;
        s.last_start.insert(job.tenant.clone(), n);
        s.running.insert(job.id.clone(), (memory, cancel.clone(), job.tenant.clone()));
        Some(Admitted { job, memory, cancel, verdict })
    }

    /// A worker is done with a job: its memory is released.
    pub fn finished(&self, job_id: &str) {
        let mut s = self.lock();
        if let Some((memory, _, _)) = s.running.remove(job_id) {
            s.used -= memory;
        }
        drop(s);
        self.wake.notify_all();
    }

    /// Removes a queued job or flags a running one.
    pub fn cancel(&self, job_id: &str) -> CancelOutcome {
        let mut s = self.lock();
        if let Some((_, flag, _)) = s.running.get(job_id) {
            flag.store(true, Ordering::SeqCst);
            return CancelOutcome::Signalled;
        }
        let key = s.queue.iter().find(|(_, j)| j.id == job_id).map(|(k, _)| *k);
        match key {
            Some(k) => {
                s.queue.remove(&k);
                CancelOutcome::Dequeued
            }
            None => CancelOutcome::Unknown,
        }
    }

    /// Workers stop taking jobs; blocked [`Self::next`] calls return `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }

    /// Memory not reserved by running jobs.
    pub fn free(&self) -> u64 {
        self.budget.saturating_sub(self.lock().used)
    }

    /// Reserves memory for a job claimed from a shared store (not from this queue) until
    /// [`Self::finished`]; the returned flag is its cancellation flag.
    pub fn reserve(&self, job_id: &str, memory: u64) -> Arc<AtomicBool> {
        let cancel = Arc::new(AtomicBool::new(false));
        let mut s = self.lock();
        s.used += memory;
        s.running.insert(job_id.to_string(), (memory, cancel.clone(), String::new()));
        cancel
    }

    /// Wakes idle waiters ([`Self::idle_wait`]).
    pub fn wake(&self) {
        self.wake.notify_all();
    }

    /// Whether [`Self::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Sleeps up to `d`, waking early when the scheduler is closed or a job finishes.
    pub fn idle_wait(&self, d: std::time::Duration) {
        let s = self.lock();
        if !s.closed {
            let _ = self.wake.wait_timeout(s, d);
        }
    }

    /// Current counts.
    pub fn stats(&self) -> SchedulerStats {
        let s = self.lock();
        SchedulerStats { queued: s.queue.len(), running: s.running.len(), reserved_bytes: s.used }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, seq: i64, kind: JobKind, priority: i32, memory: u64) -> QueuedJob {
        QueuedJob { id: id.into(), seq, kind, model_id: "m".into(), tenant: "t".into(), priority, memory }
    }

    #[test]
    fn tenants_of_equal_priority_take_turns() {
        let s = Scheduler::new(1000);
        s.set_gate("m", ModelGate::Ready { prove_memory: 1 });
        let of = |id: &str, seq: i64, tenant: &str, priority: i32| QueuedJob {
            tenant: tenant.into(),
            ..job(id, seq, JobKind::Prove, priority, 0)
        };
        // Tenant a floods the queue before b and c submit one job each.
        for i in 0..4 {
            s.enqueue(of(&format!("a{i}"), i, "a", 0));
        }
        s.enqueue(of("b0", 10, "b", 0));
        s.enqueue(of("c0", 11, "c", 0));
        s.enqueue(of("urgent", 12, "a", 5));
        let order: Vec<String> = (0..7).map(|_| s.next().unwrap().job.id).collect();
        // Priority first; then a (already running one) yields to b and c, which have none.
        assert_eq!(order, ["urgent", "b0", "c0", "a0", "a1", "a2", "a3"]);
        // With nothing running, the tenant that started longest ago goes first.
        for id in order {
            s.finished(&id);
        }
        s.enqueue(of("a4", 20, "a", 0));
        s.enqueue(of("b1", 21, "b", 0));
        assert_eq!(s.next().unwrap().job.id, "b1");
    }

    #[test]
    fn priority_then_order_and_memory_budget() {
        let s = Scheduler::new(100);
        s.set_gate("m", ModelGate::Ready { prove_memory: 60 });
        s.enqueue(job("low", 1, JobKind::Prove, 0, 0));
        s.enqueue(job("high", 2, JobKind::Prove, 5, 0));
        s.enqueue(job("low2", 3, JobKind::Prove, 0, 0));
        let a = s.next().unwrap();
        assert_eq!((a.job.id.as_str(), a.memory), ("high", 60));
        // 60 + 60 > 100: nothing more is admitted until "high" finishes.
        let mut st = s.lock();
        assert!(s.admit(&mut st).is_none());
        drop(st);
        s.finished("high");
        assert_eq!(s.next().unwrap().job.id, "low");
        assert_eq!(s.stats(), SchedulerStats { queued: 1, running: 1, reserved_bytes: 60 });
    }

    #[test]
    fn gates_cancel_and_too_large() {
        let s = Scheduler::new(100);
        s.enqueue(job("waits", 1, JobKind::Prove, 9, 0));
        s.enqueue(job("compile", 2, JobKind::Compile, 0, 500));
        let a = s.next().unwrap();
        assert_eq!(a.job.id, "compile");
        assert_eq!(a.verdict, Verdict::TooLarge { need: 500, budget: 100 });
        assert_eq!(a.memory, 0);
        s.finished("compile");
        s.set_gate("m", ModelGate::Failed("bad".into()));
        assert_eq!(s.next().unwrap().verdict, Verdict::ModelFailed("bad".into()));
        s.enqueue(job("q", 3, JobKind::Compile, 0, 10));
        s.enqueue(job("r", 4, JobKind::Compile, 0, 10));
        assert_eq!(s.cancel("r"), CancelOutcome::Dequeued);
        let q = s.next().unwrap();
        assert_eq!(s.cancel("q"), CancelOutcome::Signalled);
        assert!(q.cancel.load(Ordering::SeqCst));
        assert_eq!(s.cancel("zz"), CancelOutcome::Unknown);
        s.close();
        assert!(s.next().is_none());
    }
}

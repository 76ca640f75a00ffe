//! Job state changes, fanned out to watchers (`WatchJob`) in memory.
//!
//! Events are a notification channel, not a record: the store holds the truth. A
//! watcher that falls behind (the channel keeps the latest [`CAPACITY`] events) reads
//! the job from the store again, so it may skip intermediate phases but never misses
//! the final state.

use tokio::sync::broadcast;

use crate::store::{JobRecord, JobState};

/// Events kept for slow watchers.
pub const CAPACITY: usize = 4096;

/// One change of a job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobEvent {
    pub job_id: String,
    pub state: JobState,
    pub phase: String,
    pub progress: u32,
    /// The error of a failed or cancelled job.
    pub message: Option<String>,
    pub at_ms: i64,
}

impl JobEvent {
    /// The event describing a job as stored.
    pub fn of(job: &JobRecord) -> JobEvent {
        JobEvent {
            job_id: job.job.id.clone(),
            state: job.state,
            phase: job.phase.clone(),
            progress: job.progress,
            message: job.error.clone(),
            at_ms: crate::jobs::now_ms(),
        }
    }
}

impl JobEvent {
    /// A change of a job made by another process (`""`: any job may have changed): a
    /// watcher reads the job from the store for what changed.
    pub fn changed(job_id: &str) -> JobEvent {
        JobEvent {
            job_id: job_id.to_string(),
            state: JobState::Queued,
            phase: String::new(),
            progress: 0,
            message: None,
            at_ms: crate::jobs::now_ms(),
        }
    }
}

/// Publishes job events to any number of subscribers; publishing never blocks.
#[derive(Clone)]
pub struct EventHub {
    tx: broadcast::Sender<JobEvent>,
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub { tx: broadcast::channel(CAPACITY).0 }
    }
}

impl EventHub {
    /// Sends an event to current subscribers (none is fine).
    pub fn publish(&self, event: JobEvent) {
        let _ = self.tx.send(event);
    }

    /// Events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.tx.subscribe()
    }
}

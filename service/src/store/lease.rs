//! Leases of jobs claimed by worker processes, and the fencing token.
//!
//! A worker that claims a job holds it until `lease_until`; it renews the lease while it
//! runs. When the lease expires (the worker died, paused or lost the network) another
//! worker may claim the job. Every claim increments the job's `attempts`, and that
//! number is the fencing token: the store accepts a phase, a result or an end only from
//! the holder of the current attempt, so a worker that lost its lease can never
//! overwrite or duplicate the new holder's result.

use super::records::{JobRecord, Recovery};

/// A held claim on a job: the worker and its attempt (the fencing token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub worker: String,
    pub token: u32,
}

/// What [`JobStore::claim`](super::JobStore::claim) did.
#[derive(Clone, Debug, Default)]
pub struct Claim {
    /// The job now leased to the caller (state `Running`), with its lease.
    pub job: Option<(JobRecord, Lease)>,
    /// Jobs whose lease had expired: requeued, or failed after too many attempts.
    pub expired: Recovery,
}

/// Outcome of a lease renewal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseState {
    /// Still held; `cancel` when a client asked to cancel the job.
    Held { cancel: bool },
    /// Expired and taken by another worker, or the job ended: stop, publish nothing.
    Lost,
}

/// SQL (both dialects) for the memory a queued job `j` of model `m` needs: a prove job
/// its ready model's estimate (nothing when the model failed: the job is failed at
/// once), a compile job its own.
pub(super) const NEED_SQL: &str =
    "(CASE WHEN j.kind = 'prove' THEN (CASE WHEN m.state = 'ready' THEN COALESCE(m.prove_memory, 0) ELSE 0 END) \
     ELSE j.memory_estimate END)";

/// SQL (both dialects) ordering queued jobs `j` for a claim: higher priority first; among
/// equal priorities the tenant with the fewest running jobs, then the tenant whose latest
/// job started longest ago (so tenants take turns), then submission order.
pub(super) const FAIR_ORDER_SQL: &str = "j.priority DESC, \
     (SELECT COUNT(*) FROM jobs r WHERE r.tenant = j.tenant AND r.state = 'running'), \
     (SELECT COALESCE(MAX(r.started_ms), 0) FROM jobs r WHERE r.tenant = j.tenant), j.seq";

/// The phase of a queued job that no worker seen so far can fit.
pub fn unfit_phase(need: u64, budget: u64) -> String {
    format!(
        "waiting for a worker with more memory: needs about {}, over the largest worker budget seen ({})",
        human_bytes(need),
        human_bytes(budget)
    )
}

/// Bytes in binary units with one decimal.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

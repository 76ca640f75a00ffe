//! Jobs: the engine that accepts models and proving jobs, stores them durably, and runs
//! them on a bounded pool of worker threads admitted by memory estimate.
//!
//! - [`engine`]: the [`Engine`] and its data directory;
//! - [`submit`]: registration and submission, with their validation;
//! - [`scheduler`]: the queue, priorities, memory admission, cancellation flags;
//! - [`runner`], [`compile_job`], [`prove_job`]: what workers do ([`groth16_job`] for
//!   models registered with the Groth16 backend);
//! - [`events`]: job state changes for watchers; [`float`]: the optimistic answer;
//! - [`memory`]: memory estimates; [`loaded`], [`lru`]: models loaded for proving.

pub mod access;
pub mod claim;
pub mod compile_job;
pub mod engine;
pub mod error;
pub mod events;
pub mod float;
pub mod loaded;
pub mod lru;
pub mod memory;
pub mod prove_job;
pub mod runner;
pub mod scheduler;
pub mod submit;

pub use access::Principal;
pub use engine::{Engine, EngineConfig, Owner};
pub use error::EngineError;
pub use events::JobEvent;
pub use submit::{SubmitInput, SubmitRequest};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

//! zkinfer service: the `zkinfer` binary's library part: the in-memory pipeline, the
//! compiled-model folder, the key cache and proof files. This crate alone does disk
//! and network IO for jobs.

pub mod artifacts;
pub mod calibration;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod error;
pub mod fsio;
pub mod hash;
pub mod jobs;
pub mod keycache;
pub mod pipeline;
pub mod pipeline_groth16;
pub mod progress;
pub mod proof_file;
pub mod server;
pub mod store;

pub use error::ServiceError;

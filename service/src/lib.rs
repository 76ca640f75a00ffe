//! zkinfer service: the `zkinfer` binary's library part: the CLI, compiled-model
//! folders, the key cache on disk, proof files, the conformance runner, and the gRPC
//! service with its job store and workers. Compiling and proving go through
//! `zkinfer-compiler`; this crate alone does disk and network IO for jobs.

pub mod artifacts;
pub mod chain;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod environment;
pub mod error;
pub mod fsio;
pub mod hash;
pub mod jobs;
pub mod keycache;
pub mod metrics;
pub mod proof_file;
pub mod server;
pub mod store;
#[doc(hidden)]
pub mod testing;

pub use error::ServiceError;

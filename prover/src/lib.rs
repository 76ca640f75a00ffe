//! zkinfer prover: SRS handling, key generation, proving and native verification.
//!
//! Values in memory only: callers (the service crate) decide where keys and proofs live.

pub mod backend;
pub mod error;
pub mod groth16;
pub mod halo2;
pub mod srs;

pub use backend::{Backend, BackendError, Groth16Prover, Halo2Prover, ModelProof, Prover};
pub use error::ProverError;
pub use halo2::{Halo2Keys, Halo2Proof};

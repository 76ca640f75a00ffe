//! zkinfer prover: SRS handling, key generation, proving and native verification.
//!
//! Values in memory only: callers (the service crate) decide where keys and proofs live.

pub mod backend;
pub mod error;
pub mod groth16;
pub mod halo2;
pub mod segments;
pub mod srs;
pub mod statement;

pub use backend::{Backend, BackendError, Expected, Groth16Prover, Halo2Prover, ModelProof, Prover, VerifyError};
pub use error::ProverError;
pub use halo2::{Halo2Keys, Halo2Proof};

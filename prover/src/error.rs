//! Errors of the prover crate.

use thiserror::Error;

/// What can go wrong in setup, proving or verification.
#[derive(Debug, Error)]
pub enum ProverError {
    #[error("SRS: {0}")]
    Srs(String),
    #[error("the SRS supports circuits up to k = {have}, this one needs k = {need}")]
    SrsTooSmall { have: u32, need: u32 },
    #[error("key generation failed: {0}")]
    Keygen(String),
    #[error("proving failed: {0}")]
    Prove(String),
    #[error("malformed key: {0}")]
    Key(String),
    #[error(transparent)]
    Circuit(#[from] zkinfer_circuits::CircuitError),
    #[error(transparent)]
    Model(#[from] zkinfer_models::ModelError),
}

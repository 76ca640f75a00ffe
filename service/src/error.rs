//! Errors of the service crate.

use thiserror::Error;

/// Everything the CLI and the service report.
#[derive(Debug, Error)]
pub enum ServiceError {
    #[error("{0}")]
    Model(#[from] zkinfer_models::ModelError),
    #[error("{0}")]
    Circuit(#[from] zkinfer_circuits::CircuitError),
    #[error("{0}")]
    Prover(#[from] zkinfer_prover::ProverError),
    #[error("{0}")]
    Backend(#[from] zkinfer_prover::BackendError),
    #[error("{0}")]
    Contract(#[from] zkinfer_verifier_contracts::ContractError),
    #[error("{0}")]
    Compile(#[from] zkinfer_compiler::CompileError),
    #[error("{0}")]
    Verify(#[from] zkinfer_prover::VerifyError),
    #[error("{0}")]
    Float(#[from] zkinfer_models::float::FloatError),
    #[error("{0}")]
    InputFile(#[from] zkinfer_models::input_json::InputError),
    #[error("input: {0}")]
    Input(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("artifact {path}: {message}")]
    Artifact { path: String, message: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// An IO error on a path.
    pub fn io(path: impl AsRef<std::path::Path>, e: impl std::fmt::Display) -> ServiceError {
        ServiceError::Io { path: path.as_ref().display().to_string(), message: e.to_string() }
    }
}

//! Errors of the service crate.

use thiserror::Error;

/// Everything the CLI and the service report.
#[derive(Debug, Error)]
pub enum ServiceError {
    #[error(transparent)]
    Model(#[from] zkinfer_models::ModelError),
    #[error(transparent)]
    Circuit(#[from] zkinfer_circuits::CircuitError),
    #[error(transparent)]
    Prover(#[from] zkinfer_prover::ProverError),
    #[error(transparent)]
    Backend(#[from] zkinfer_prover::BackendError),
    #[error(transparent)]
    Contract(#[from] zkinfer_verifier_contracts::ContractError),
    #[error(transparent)]
    Compile(#[from] zkinfer_compiler::CompileError),
    #[error(transparent)]
    Verify(#[from] zkinfer_prover::VerifyError),
    #[error(transparent)]
    Float(#[from] zkinfer_models::float::FloatError),
    #[error(transparent)]
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

//! Errors of compiling and loading models.

use thiserror::Error;

use crate::options::OptionsError;

/// What compiling, loading or proving a model can fail with.
#[derive(Debug, Error)]
pub enum CompileError {
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// No calibration setting meets the `max_error` option.
    #[error("no quantization setting meets max_error {max_error}: the best relative error over {samples} calibration sample(s) was {best:.3e} (tried {tried}); raise max_error or bits")]
    MaxError { max_error: f64, best: f64, samples: usize, tried: String },
    /// Bad calibration data or inputs, or a setting that cannot be met.
    #[error("input: {0}")]
    Input(String),
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
    /// A compiled model's artifact that does not read back.
    #[error("artifact {name}: {message}")]
    Artifact { name: String, message: String },
}

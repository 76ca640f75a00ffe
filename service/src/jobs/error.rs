//! Errors of the job engine, one variant per kind of answer a client gets; the gRPC
//! layer maps each to one status code.

use thiserror::Error;

use crate::error::ServiceError;
use crate::store::StoreError;

/// Why a request to the engine was refused or failed.
#[derive(Debug, Error)]
pub enum EngineError {
    /// A request field is malformed; `field` names it (`onnx`, `input.inputs[0]`, ...).
    #[error("{field}: {message}")]
    InvalidArgument { field: String, message: String },
    /// No model or job with this id.
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    /// An idempotency key reused for a different request.
    #[error("{0}")]
    AlreadyExists(String),
    /// The request does not fit the object's state (e.g. cancelling a finished job).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller may see the object but not do this to it (e.g. share a model it does not own).
    #[error("{0}")]
    PermissionDenied(String),
    /// The queue is full, or a job cannot fit the memory budget.
    #[error("{0}")]
    ResourceExhausted(String),
    /// An option this server does not support.
    #[error("{0}")]
    Unimplemented(String),
    /// The job store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The pipeline failed outside of any job (e.g. loading keys).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl EngineError {
    /// An invalid field.
    pub fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> EngineError {
        EngineError::InvalidArgument { field: field.into(), message: message.to_string() }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> EngineError {
        match e {
            StoreError::QueueFull { .. } | StoreError::TenantLimit { .. } => EngineError::ResourceExhausted(e.to_string()),
            StoreError::KeyReused { .. } => EngineError::AlreadyExists(e.to_string()),
            other => EngineError::Store(other),
        }
    }
}

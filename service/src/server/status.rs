//! Engine errors as gRPC statuses: one code per kind of error, the message names the
//! field or object concerned.

use tonic::{Code, Status};

use crate::jobs::EngineError;
use crate::store::StoreError;

/// The status a client receives for an engine error.
pub fn status_of(e: EngineError) -> Status {
    let code = match &e {
        EngineError::InvalidArgument { .. } => Code::InvalidArgument,
        EngineError::NotFound { .. } => Code::NotFound,
        EngineError::AlreadyExists(_) => Code::AlreadyExists,
        EngineError::FailedPrecondition(_) => Code::FailedPrecondition,
        EngineError::ResourceExhausted(_) => Code::ResourceExhausted,
        EngineError::PermissionDenied(_) => Code::PermissionDenied,
        EngineError::Unimplemented(_) => Code::Unimplemented,
        EngineError::Store(StoreError::Corrupt { .. } | StoreError::MissingBlob { .. }) => Code::DataLoss,
        EngineError::Store(_) | EngineError::Service(_) => Code::Internal,
    };
    if code == Code::Internal || code == Code::DataLoss {
        tracing::error!("request failed: {e}");
    }
    Status::new(code, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(status_of(EngineError::invalid("onnx", "empty")).code(), Code::InvalidArgument);
        assert_eq!(status_of(EngineError::invalid("onnx", "empty")).message(), "onnx: empty");
        let full = EngineError::from(StoreError::QueueFull { limit: 3 });
        assert_eq!(status_of(full).code(), Code::ResourceExhausted);
        let reused = EngineError::from(StoreError::KeyReused { key: "k".into(), job_id: "j".into() });
        assert_eq!(status_of(reused).code(), Code::AlreadyExists);
        let lost = EngineError::from(StoreError::Corrupt { sha256: "ab".into() });
        assert_eq!(status_of(lost).code(), Code::DataLoss);
    }
}

//! Errors of the models crate.

use thiserror::Error;

/// Everything that can go wrong between an ONNX file and a quantized, evaluated graph.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error("malformed ONNX file: {0}")]
    Malformed(String),
    #[error("unsupported op `{op_type}` (node `{node}`){detail}")]
    UnsupportedOp { op_type: String, node: String, detail: String },
    #[error("node `{node}` ({op_type}): {message}")]
    InvalidNode { node: String, op_type: String, message: String },
    #[error("input `{name}`: expected {expected} values for shape {shape:?}, got {got}")]
    InputLength { name: String, expected: usize, got: usize, shape: Vec<usize> },
    #[error("expected {expected} graph inputs, got {got}")]
    InputCount { expected: usize, got: usize },
    #[error("shape error: {0}")]
    Shape(String),
    #[error("quantization: {0}")]
    Quantization(String),
    #[error("segments: {0}")]
    Segment(String),
}

impl ModelError {
    /// An `InvalidNode` error for a node whose attributes or inputs do not fit its op.
    pub fn node(node: &str, op_type: &str, message: impl Into<String>) -> ModelError {
        ModelError::InvalidNode { node: node.to_string(), op_type: op_type.to_string(), message: message.into() }
    }
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

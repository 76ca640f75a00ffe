//! Errors of the circuits crate.

use thiserror::Error;

/// What can go wrong building a circuit.
#[derive(Debug, Error)]
pub enum CircuitError {
    #[error("circuit inputs: {0}")]
    Inputs(String),
    #[error("the circuit needs {needed} rows per column at {columns} advice columns, more than 2^{max_k}; raise the largest k (`max_k`) or shrink the model")]
    TooLarge { needed: usize, columns: usize, max_k: u32 },
    #[error("layout: {0}")]
    Layout(String),
    #[error("private parameters: {0}")]
    Params(String),
    #[error("circuit shape: {0}")]
    Shape(#[from] crate::shape::ShapeError),
}

//! zkinfer models: ONNX import, the graph IR, calibration and quantization, the integer
//! reference interpreter (the oracle circuits are tested against) and float inference.
//!
//! Nothing here depends on halo2: see `zkinfer-circuits` for the lowering to circuits.

pub mod error;
pub mod eval;
pub mod fidelity;
pub mod float;
pub mod input_json;
pub mod interp;
pub mod ir;
pub mod onnx;
pub mod ops;
pub mod passes;
pub mod prepare;
pub mod quant;
pub mod tensor;

pub use error::ModelError;
pub use ir::Graph;
pub use quant::{QuantGraph, QuantOptions};
pub use tensor::{DType, Tensor};

//! zkinfer compiler: an ONNX model, calibration data and typed [`CompileOptions`] in, a
//! [`CompiledModel`] out — calibration search and quantization, the circuit's shape
//! (halo2) or R1CS (Groth16), keys through a [`KeyCache`], the Solidity verifier, the
//! fidelity report and the settings hash. Every front end (the CLI, the service's jobs,
//! the conformance runner, the benches) compiles through [`compile`] and proves through
//! the returned model's [`zkinfer_prover::Prover`].
//!
//! No disk or network IO here: the caller passes the model's bytes, the SRS and any
//! imported keys ([`Environment`]) and decides where keys are cached.

pub mod calibration;
pub mod compile;
pub mod error;
pub mod groth16;
pub mod halo2;
pub mod hash;
pub mod keycache;
pub mod model;
pub mod options;
pub mod progress;
pub mod segments;
pub mod settings;
pub mod srs;

pub use compile::{compile, CompileInput, CompiledModel, Environment};
pub use error::CompileError;
pub use keycache::{KeyCache, NoCache};
pub use model::{Model, Proved, Witness};
pub use options::{CompileOptions, OptionsError, Target};
pub use progress::{Progress, Silent};
pub use settings::{CircuitSettings, Settings};
pub use srs::{SrsInfo, SrsSource};

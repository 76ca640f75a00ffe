//! Errors of the Groth16 backend.

use ark_relations::r1cs::SynthesisError;
use ark_serialize::SerializationError;
use thiserror::Error;

/// What can go wrong lowering a graph to R1CS, in setup, proving or verification.
#[derive(Debug, Error)]
pub enum Groth16Error {
    /// The graph has an op the R1CS lowering does not support.
    #[error("unsupported op `{op}` at node `{node}` in the Groth16 backend")]
    UnsupportedOp { node: String, op: String },
    /// A value that the circuit range-checks is out of range: no witness exists.
    #[error("node `{node}`: value {value} is outside the checked range of {bits} bits; no witness satisfies the circuit")]
    OutOfRange { node: String, value: i128, bits: u32 },
    /// A table input outside the table on a side that is not clamped: no witness exists.
    #[error("node `{node}`: table input {value} is outside the table's range [{lo}, {hi}]; no witness satisfies the circuit")]
    OutsideTable { node: String, value: i128, lo: i64, hi: i64 },
    /// A division by zero: no witness exists.
    #[error("node `{node}`: division by zero; no witness satisfies the circuit")]
    DivisionByZero { node: String },
    /// A division whose divisor must be positive got `b <= 0`: no witness exists.
    #[error("node `{node}`: divisor {value} where it must be positive; no witness satisfies the circuit")]
    NonPositiveDivisor { node: String, value: i128 },
    /// Wrong number of inputs.
    #[error("expected {expected} inputs, got {got}")]
    InputCount { expected: usize, got: usize },
    /// An input has the wrong number of values.
    #[error("input `{name}` has {got} values, expected {expected}")]
    InputLength { name: String, expected: usize, got: usize },
    /// Range checks of `bits + shift` bits would wrap around the field modulus.
    #[error("node `{node}`: {bits} activation bits plus a rescale by 2^{shift} do not fit the BN254 scalar field")]
    TooWide { node: String, bits: u32, shift: u32 },
    /// The model needs more constraints than the backend admits: lowering stopped
    /// before the matrices could exhaust memory.
    #[error("the model needs more than {limit} R1CS constraints, the Groth16 backend's limit; use the halo2 backend (it sizes the circuit by k)")]
    TooLarge { limit: usize },
    /// The honest witness does not satisfy the constraints (a bug in the lowering).
    #[error("the witness does not satisfy the R1CS")]
    Unsatisfied,
    /// arkworks failed to synthesize, set up or prove.
    #[error("constraint synthesis: {0}")]
    Synthesis(#[from] SynthesisError),
    /// Keys or proofs that do not deserialize (or fail curve and subgroup checks).
    #[error("malformed key or proof: {0}")]
    Serialization(#[from] SerializationError),
    /// Imported keys that were made for another circuit.
    #[error("key does not match this circuit: {what} is {got}, the circuit needs {expected}")]
    KeyMismatch { what: &'static str, expected: usize, got: usize },
    /// A fresh proof does not verify against the key's own verifying key: the keys
    /// were made for another circuit of the same size.
    #[error("the proving key was made for another circuit: its proof does not verify")]
    KeysForAnotherCircuit,
    /// Wrong number of public values for this verifying key.
    #[error("expected {expected} public values, got {got}")]
    PublicCount { expected: usize, got: usize },
}

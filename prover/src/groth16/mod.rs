//! The Groth16 backend: the quantized graph lowered to R1CS over BN254 (arkworks),
//! circuit-specific setup, proving and native verification with `ark-groth16`.
//!
//! * [`lower`]: graph → R1CS with [`builder`] and [`ops`] gadgets; the witness equals the
//!   reference interpreter of `zkinfer-models` exactly (tested).
//! * [`keys`]: setup, key serialization and import of keys made elsewhere.
//! * [`proof`]: prove (self-checked) and verify.
//! * [`prover`]: [`Groth16Prover`], this backend behind [`crate::backend::Prover`].
//! * [`cost`]: the memory one proof takes.
//!
//! Costs per element: a `Linear` or `Bilinear` output with a rescale by `2^s` costs
//! `bits + s + 3` constraints (plus one per product for `Bilinear`); ReLU after a
//! rescale costs one; `Select` and `Const` are free; a `Table` lookup costs about
//! `2 sqrt(2 len)` constraints ([`table`]), a comparison or a step of a running max
//! `bits + 3` ([`compare`]), a division about `4 bits + 12` ([`div`]); public values are packed
//! `floor(252 / bits)` to a Groth16 public input ([`public`]).

pub mod builder;
pub mod circuit;
pub mod compare;
pub mod cost;
pub mod div;
pub mod error;
pub mod field;
pub mod keys;
pub mod lower;
pub mod ops;
pub mod proof;
pub mod prover;
pub mod public;
pub mod sqrt;
pub mod table;

pub use circuit::{shape, synthesize, R1csShape};
pub use error::Groth16Error;
pub use keys::{read_pk, read_vk, setup, write_pk, write_vk, Groth16Keys};
pub use proof::{prove, read_proof, verify, write_proof, Groth16Proof, PROOF_BYTES};
pub use prover::Groth16Prover;
pub use public::PublicLayout;

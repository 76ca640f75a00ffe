//! One [`Prover`] trait, two backends of the same shape (sp1's `Prover` pattern):
//! [`Halo2Prover`] (KZG/SHPLONK, universal SRS) and [`Groth16Prover`] (per-circuit
//! setup, smallest proofs and cheapest on-chain verification).
//!
//! A prover holds one compiled model's keys in memory; callers choose the backend by
//! model option ([`Backend`]) and keep a `Box<dyn Prover>`. Proofs travel as
//! [`ModelProof`]: the public values as integers (quantized inputs, then outputs) and
//! the backend's proof bytes. Both backends pack the public values the same way
//! (`floor(252 / bits)` per field element) before they reach the proof system.

use std::fmt;
use std::str::FromStr;

use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr};
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zkinfer_circuits::public;
use zkinfer_models::quant::QuantGraph;
use zkinfer_verifier_contracts::{build_halo2_verifier, verify_on_evm, ContractError, EvmVerification, VerifierCode, VerifierContracts};

use crate::error::ProverError;
use crate::groth16::Groth16Error;
use crate::halo2::{self as h2, Halo2Keys};

pub use crate::groth16::prover::Groth16Prover;

/// The proof systems zkinfer can prove with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// halo2 (PSE fork via halo2-base), KZG over BN254 with a universal SRS.
    #[default]
    Halo2,
    /// Groth16 over BN254 (arkworks) with a circuit-specific setup.
    Groth16,
}

impl Backend {
    /// The name used on the command line and in settings files.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Halo2 => "halo2",
            Backend::Groth16 => "groth16",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Backend, BackendError> {
        match s {
            "halo2" => Ok(Backend::Halo2),
            "groth16" => Ok(Backend::Groth16),
            other => Err(BackendError::UnknownBackend(other.to_string())),
        }
    }
}

/// A proof of one inference, the same for every backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelProof {
    pub backend: Backend,
    /// Public values: quantized inputs, then quantized outputs.
    pub public: Vec<i128>,
    /// The backend's proof bytes (halo2 transcript, or a compressed Groth16 proof).
    pub proof: Vec<u8>,
}

/// Errors of any backend, by origin.
#[derive(Debug, Error)]
pub enum BackendError {
    #[error(transparent)]
    Halo2(#[from] ProverError),
    #[error(transparent)]
    Groth16(#[from] Groth16Error),
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// The Groth16 verifying key and the model's public values disagree.
    #[error(transparent)]
    Layout(#[from] zkinfer_verifier_contracts::groth16::LayoutMismatch),
    #[error("unknown backend `{0}` (expected `halo2` or `groth16`)")]
    UnknownBackend(String),
    #[error("a {got} proof was given to the {expected} backend")]
    WrongBackend { expected: Backend, got: Backend },
    /// Public instances that are not a packing of `expected` in-range values.
    #[error("the public instances do not pack {expected} values")]
    PublicInstances { expected: usize },
}

/// One compiled model on one backend: keys in memory, proving and verification.
pub trait Prover: Send + Sync {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// The quantized graph the keys were made for.
    fn graph(&self) -> &QuantGraph;

    /// Proves one inference on quantized inputs (graph-input order). The witness is
    /// computed by the circuit and equals the reference interpreter's trace.
    fn prove(&self, inputs: &[Vec<i64>]) -> Result<ModelProof, BackendError>;

    /// Native verification: `Ok(false)` for an invalid proof or wrong public values.
    fn verify(&self, proof: &ModelProof) -> Result<bool, BackendError>;

    /// The proving key (containing the verifying key), serialized.
    fn proving_key_bytes(&self) -> Vec<u8>;

    /// The verifying key, serialized.
    fn verifying_key_bytes(&self) -> Vec<u8>;

    /// The Solidity verifier, compiled: one contract, or (halo2 past EIP-170) parts
    /// and an entry contract.
    fn verifier(&self) -> Result<VerifierContracts, BackendError>;

    /// Deploys `code` (from [`Prover::verifier`]) in a fresh in-process EVM and
    /// verifies `proof` with it, reporting gas.
    fn verify_on_evm(&self, code: &VerifierCode, proof: &ModelProof) -> Result<EvmVerification, BackendError>;
}

/// Fails unless `proof` was made by `expected`.
pub(crate) fn check_backend(expected: Backend, proof: &ModelProof) -> Result<(), BackendError> {
    if proof.backend == expected {
        Ok(())
    } else {
        Err(BackendError::WrongBackend { expected, got: proof.backend })
    }
}

/// The halo2 backend behind [`Prover`]: wraps [`crate::halo2`].
pub struct Halo2Prover {
    params: ParamsKZG<Bn256>,
    keys: Halo2Keys,
    graph: QuantGraph,
}

impl Halo2Prover {
    /// A prover from an SRS at the circuit's `k` and keys made for `graph`.
    pub fn new(params: ParamsKZG<Bn256>, keys: Halo2Keys, graph: QuantGraph) -> Halo2Prover {
        Halo2Prover { params, keys, graph }
    }

    /// The keys.
    pub fn keys(&self) -> &Halo2Keys {
        &self.keys
    }

    fn num_public(&self) -> usize {
        self.graph.num_public()
    }

    fn instances(&self, public: &[i128]) -> Vec<Fr> {
        public::pack::<Fr>(public, self.graph.bits)
    }
}

impl Prover for Halo2Prover {
    fn backend(&self) -> Backend {
        Backend::Halo2
    }

    fn graph(&self) -> &QuantGraph {
        &self.graph
    }

    fn prove(&self, inputs: &[Vec<i64>]) -> Result<ModelProof, BackendError> {
        let p = h2::prove(&self.params, &self.keys, &self.graph, inputs)?;
        let public = public::unpack(&p.instances, self.num_public(), self.graph.bits)
            .ok_or(BackendError::PublicInstances { expected: self.num_public() })?;
        Ok(ModelProof { backend: Backend::Halo2, public, proof: p.proof })
    }

    fn verify(&self, proof: &ModelProof) -> Result<bool, BackendError> {
        check_backend(Backend::Halo2, proof)?;
        if !in_range(&proof.public, self.graph.bits) || proof.public.len() != self.num_public() {
            return Ok(false);
        }
        Ok(h2::verify(&self.params, self.keys.vk(), &self.instances(&proof.public), &proof.proof))
    }

    fn proving_key_bytes(&self) -> Vec<u8> {
        h2::write_pk(&self.keys.pk)
    }

    fn verifying_key_bytes(&self) -> Vec<u8> {
        h2::write_vk(self.keys.vk())
    }

    fn verifier(&self) -> Result<VerifierContracts, BackendError> {
        let n = public::num_instances(self.num_public(), self.graph.bits);
        Ok(build_halo2_verifier(&self.params, self.keys.vk(), n)?)
    }

    fn verify_on_evm(&self, code: &VerifierCode, proof: &ModelProof) -> Result<EvmVerification, BackendError> {
        check_backend(Backend::Halo2, proof)?;
        Ok(verify_on_evm(code, &self.instances(&proof.public), &proof.proof)?)
    }
}

/// Whether every value satisfies `|v| < 2^(bits-1)` (only such values pack uniquely).
pub(crate) fn in_range(values: &[i128], bits: u32) -> bool {
    let off = 1i128 << (bits - 1);
    values.iter().all(|v| -off <= *v && *v < off)
}

/// A fresh random number generator for proof blinding.
pub(crate) fn os_rng() -> OsRng {
    OsRng
}

//! One [`Prover`] trait, backends of the same shape (sp1's `Prover` pattern):
//! [`Halo2Prover`] (KZG/SHPLONK, universal SRS) and [`Groth16Prover`] (per-circuit
//! setup, smallest proofs and cheapest on-chain verification).
//!
//! A prover holds one compiled model's keys in memory; callers keep a `Box<dyn Prover>`
//! and never branch on the backend. Proofs travel as [`ModelProof`]: the public
//! instances as BN254 field elements in [`InstanceLayout`] order (input hash, parameter
//! hash, packed public inputs then outputs, output hash; each only where the model has
//! it) and the backend's proof bytes. Both backends pack public values the same way
//! (`floor(252 / bits)` per field element, `zkinfer_circuits::public`).
//!
//! [`Prover::verify`] checks the whole statement, not only the proof: the instance count
//! and packing, the claimed outputs against the public or hashed outputs, the parameter
//! hash against the model's, then the proof. Each way to fail is a [`VerifyError`]
//! variant, so front ends report them without re-implementing the checks.
//!
//! Adding a backend: a module implementing [`Prover`] here, a [`Backend`] variant, and
//! its compile step in `zkinfer-compiler`.

use std::fmt;
use std::str::FromStr;

use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr};
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zkinfer_circuits::{native_instances, public, InstanceLayout, VisibilityConfig};
use zkinfer_models::interp;
use zkinfer_models::quant::QuantGraph;
use zkinfer_verifier_contracts::{
    build_halo2_verifier, encode_calldata, verify_on_evm, ContractError, EvmVerification, Solc, VerifierCode, VerifierContracts,
};

use crate::error::ProverError;
use crate::groth16::Groth16Error;
use crate::halo2::{self as h2, Halo2Keys};
use crate::srs;
use crate::statement;

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
    /// The name used on the command line, in options and in settings files.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Halo2 => "halo2",
            Backend::Groth16 => "groth16",
        }
    }

    /// Whether this is the default backend (left out of serialized options).
    pub fn is_default(&self) -> bool {
        *self == Backend::default()
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelProof {
    pub backend: Backend,
    /// The public instances, in [`InstanceLayout`] order.
    pub instances: Vec<Fr>,
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
    /// The circuit's public instances differ from the reference interpreter's: a bug,
    /// never published.
    #[error("internal error: the circuit's public instances differ from the reference interpreter's")]
    WitnessMismatch,
}

/// What a verifier expects a proof to state, besides being valid for its instances.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expected<'a> {
    /// Dequantized outputs, per graph output, that the proof must attest: equal (as
    /// quantized integers) to its public outputs, or hashing to its output hash. `None`:
    /// whatever the proof states.
    pub outputs: Option<&'a [Vec<f64>]>,
    /// The parameter hash a proof with hashed parameters must carry; `None`: the hash of
    /// the prover's own quantized parameters.
    pub param_hash: Option<Fr>,
}

/// Why a proof does not prove what it is claimed to.
#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("a {got} proof was given to the {expected} backend")]
    WrongBackend { expected: Backend, got: Backend },
    #[error("the proof has {got} public instances, the circuit has {expected}")]
    InstanceCount { expected: usize, got: usize },
    #[error("the public instances are not a valid packing of this model's values")]
    Packing,
    #[error("the outputs do not match the proof's public instances")]
    OutputMismatch,
    #[error("the outputs do not hash to the proof's output-hash instance")]
    OutputHashMismatch,
    #[error("the outputs have the wrong number of values for this model")]
    OutputShape,
    #[error("the proof's parameter hash is not this model's: the proof is for other weights")]
    ParamHashMismatch,
    #[error("proof rejected: it is not valid for these public instances")]
    InvalidProof,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// One compiled model on one backend: keys in memory, proving and verification.
pub trait Prover: Send + Sync {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// The quantized graph the keys were made for.
    fn graph(&self) -> &QuantGraph;

    /// Which values are public, private or hashed.
    fn visibility(&self) -> VisibilityConfig;

    /// Proves one inference on quantized inputs (graph-input order). The witness is
    /// computed by the circuit and equals the reference interpreter's trace.
    fn prove(&self, inputs: &[Vec<i64>]) -> Result<ModelProof, BackendError>;

    /// Whether the proof is valid for its instances (the proof system's check alone;
    /// [`Prover::verify`] checks the statement too). Malformed proofs are `Ok(false)`.
    fn verify_proof(&self, proof: &ModelProof) -> Result<bool, BackendError>;

    /// The calldata of the verifier contract's call for `proof`.
    fn calldata(&self, proof: &ModelProof) -> Result<Vec<u8>, BackendError>;

    /// The proving key (containing the verifying key), serialized.
    fn proving_key_bytes(&self) -> Vec<u8>;

    /// The verifying key, serialized.
    fn verifying_key_bytes(&self) -> Vec<u8>;

    /// The SRS the keys are for, serialized (`None` for a circuit-specific setup).
    fn srs_bytes(&self) -> Option<Vec<u8>>;

    /// The Solidity verifier, compiled with `solc`: one contract, or (halo2 past EIP-170)
    /// parts and an entry contract.
    fn verifier(&self, solc: &Solc) -> Result<VerifierContracts, BackendError>;

    /// Deploys `code` (from [`Prover::verifier`]) in a fresh in-process EVM and
    /// verifies `proof` with it, reporting gas.
    fn verify_on_evm(&self, code: &VerifierCode, proof: &ModelProof) -> Result<EvmVerification, BackendError>;

    /// The instance layout of this model's proofs.
    fn instance_layout(&self) -> InstanceLayout {
        InstanceLayout::new(self.graph(), &self.visibility())
    }

    /// The dequantized outputs a proof's public instances state, per graph output;
    /// `None` when the outputs are private or hashed.
    fn public_outputs(&self, proof: &ModelProof) -> Result<Option<Vec<Vec<f64>>>, VerifyError> {
        statement::public_outputs(self.graph(), &self.visibility(), &proof.instances)
    }

    /// Verifies the whole statement: backend, instance count and packing, `expected`'s
    /// outputs and parameter hash, then the proof itself.
    fn verify(&self, proof: &ModelProof, expected: &Expected<'_>) -> Result<(), VerifyError> {
        if proof.backend != self.backend() {
            return Err(VerifyError::WrongBackend { expected: self.backend(), got: proof.backend });
        }
        statement::check(self.graph(), &self.visibility(), &proof.instances, expected)?;
        if self.verify_proof(proof)? {
            Ok(())
        } else {
            Err(VerifyError::InvalidProof)
        }
    }
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
    /// A prover from an SRS at the circuit's `k` and keys made for `graph` (the keys'
    /// shape carries the visibility).
    pub fn new(params: ParamsKZG<Bn256>, keys: Halo2Keys, graph: QuantGraph) -> Halo2Prover {
        Halo2Prover { params, keys, graph }
    }

    /// The keys.
    pub fn keys(&self) -> &Halo2Keys {
        &self.keys
    }

    /// The SRS at the circuit's `k`.
    pub fn params(&self) -> &ParamsKZG<Bn256> {
        &self.params
    }
}

impl Prover for Halo2Prover {
    fn backend(&self) -> Backend {
        Backend::Halo2
    }

    fn graph(&self) -> &QuantGraph {
        &self.graph
    }

    fn visibility(&self) -> VisibilityConfig {
        self.keys.shape.visibility
    }

    fn prove(&self, inputs: &[Vec<i64>]) -> Result<ModelProof, BackendError> {
        // Fails early, naming the node, if an input leaves the calibrated range.
        let trace = interp::run(&self.graph, inputs).map_err(ProverError::from)?;
        let p = h2::prove(&self.params, &self.keys, &self.graph, inputs)?;
        if p.instances != native_instances(&self.graph, &self.visibility(), inputs, &trace.outputs(&self.graph)) {
            return Err(BackendError::WitnessMismatch);
        }
        Ok(ModelProof { backend: Backend::Halo2, instances: p.instances, proof: p.proof })
    }

    fn verify_proof(&self, proof: &ModelProof) -> Result<bool, BackendError> {
        check_backend(Backend::Halo2, proof)?;
        Ok(h2::verify(&self.params, self.keys.vk(), &proof.instances, &proof.proof))
    }

    fn calldata(&self, proof: &ModelProof) -> Result<Vec<u8>, BackendError> {
        check_backend(Backend::Halo2, proof)?;
        Ok(encode_calldata(&proof.instances, &proof.proof))
    }

    fn proving_key_bytes(&self) -> Vec<u8> {
        h2::write_pk(&self.keys.pk)
    }

    fn verifying_key_bytes(&self) -> Vec<u8> {
        h2::write_vk(self.keys.vk())
    }

    fn srs_bytes(&self) -> Option<Vec<u8>> {
        Some(srs::write_srs(&self.params))
    }

    fn verifier(&self, solc: &Solc) -> Result<VerifierContracts, BackendError> {
        Ok(build_halo2_verifier(solc, &self.params, self.keys.vk(), self.instance_layout().len())?)
    }

    fn verify_on_evm(&self, code: &VerifierCode, proof: &ModelProof) -> Result<EvmVerification, BackendError> {
        check_backend(Backend::Halo2, proof)?;
        Ok(verify_on_evm(code, &proof.instances, &proof.proof)?)
    }
}

/// The public values (inputs, then outputs) that `instances` pack, for a model whose
/// values are all public (Groth16's statement).
pub(crate) fn unpack_public(graph: &QuantGraph, instances: &[Fr]) -> Option<Vec<i128>> {
    if instances.len() != public::num_instances(graph.num_public(), graph.bits) {
        return None;
    }
    public::unpack(instances, graph.num_public(), graph.bits)
}

/// A fresh random number generator for proof blinding.
pub(crate) fn os_rng() -> OsRng {
    OsRng
}

//! The Groth16 backend behind [`crate::backend::Prover`].

use ark_std::rand::{CryptoRng, RngCore};
use zkinfer_models::quant::QuantGraph;
use zkinfer_verifier_contracts::groth16::{groth16_verifier_source, verify_groth16_on_evm};
use zkinfer_verifier_contracts::{compile_solidity, EvmVerification, VerifierCode, VerifierContracts, GROTH16_CONTRACT};

use super::keys::{read_pk, setup, write_pk, write_vk, Groth16Keys};
use super::proof::{prove, read_proof, verify, write_proof};
use super::public::PublicLayout;
use crate::backend::{check_backend, os_rng, Backend, BackendError, ModelProof, Prover};

/// One compiled model with its Groth16 keys.
pub struct Groth16Prover {
    keys: Groth16Keys,
    graph: QuantGraph,
    layout: PublicLayout,
}

impl Groth16Prover {
    /// Runs the circuit-specific setup locally with randomness from `rng`. Whoever
    /// could learn that randomness could forge proofs: see [`super::keys`].
    pub fn setup<R: RngCore + CryptoRng>(graph: QuantGraph, rng: &mut R) -> Result<Groth16Prover, BackendError> {
        let keys = setup(&graph, rng)?;
        Ok(Groth16Prover::new(keys, graph))
    }

    /// Imports a proving key produced elsewhere (e.g. by a multi-party ceremony),
    /// checked against `graph`'s circuit.
    pub fn import(graph: QuantGraph, proving_key: &[u8]) -> Result<Groth16Prover, BackendError> {
        let keys = read_pk(proving_key, &graph)?;
        Ok(Groth16Prover::new(keys, graph))
    }

    /// A prover from keys already made for `graph`.
    pub fn new(keys: Groth16Keys, graph: QuantGraph) -> Groth16Prover {
        let layout = PublicLayout::of(&graph);
        Groth16Prover { keys, graph, layout }
    }

    /// The keys.
    pub fn keys(&self) -> &Groth16Keys {
        &self.keys
    }
}

impl Prover for Groth16Prover {
    fn backend(&self) -> Backend {
        Backend::Groth16
    }

    fn graph(&self) -> &QuantGraph {
        &self.graph
    }

    fn prove(&self, inputs: &[Vec<i64>]) -> Result<ModelProof, BackendError> {
        let p = prove(&self.keys, &self.graph, inputs, &mut os_rng())?;
        Ok(ModelProof { backend: Backend::Groth16, public: p.public, proof: write_proof(&p.proof) })
    }

    fn verify(&self, proof: &ModelProof) -> Result<bool, BackendError> {
        check_backend(Backend::Groth16, proof)?;
        let Ok(p) = read_proof(&proof.proof) else { return Ok(false) };
        if proof.public.len() != self.layout.num_values {
            return Ok(false);
        }
        Ok(verify(self.keys.vk(), &self.layout, &proof.public, &p)?)
    }

    fn proving_key_bytes(&self) -> Vec<u8> {
        write_pk(&self.keys.pk)
    }

    fn verifying_key_bytes(&self) -> Vec<u8> {
        write_vk(self.keys.vk())
    }

    fn verifier(&self) -> Result<VerifierContracts, BackendError> {
        let source = groth16_verifier_source(self.keys.vk(), self.layout.bits, self.layout.num_values)?;
        let contract = compile_solidity(&source, Some(GROTH16_CONTRACT)).map_err(BackendError::from)?;
        Ok(VerifierContracts::single(source, contract))
    }

    fn verify_on_evm(&self, code: &VerifierCode, proof: &ModelProof) -> Result<EvmVerification, BackendError> {
        check_backend(Backend::Groth16, proof)?;
        let p = read_proof(&proof.proof)?;
        // A Groth16 verifier is one contract.
        Ok(verify_groth16_on_evm(&code.entry, &p, &proof.public)?)
    }
}

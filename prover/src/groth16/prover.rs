//! The Groth16 backend behind [`crate::backend::Prover`].

use ark_std::rand::{CryptoRng, RngCore};
use zkinfer_circuits::{public, VisibilityConfig};
use zkinfer_models::quant::QuantGraph;
use zkinfer_verifier_contracts::groth16::{groth16_calldata, groth16_verifier_source, verify_groth16_on_evm};
use zkinfer_verifier_contracts::{compile_solidity, EvmVerification, Solc, VerifierCode, VerifierContracts, GROTH16_CONTRACT};

use super::keys::{read_pk, setup, write_pk, write_vk, Groth16Keys};
use super::proof::{prove, read_proof, verify, write_proof};
use super::public::PublicLayout;
use crate::backend::{check_backend, os_rng, unpack_public, Backend, BackendError, ModelProof, Prover};

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

impl Groth16Prover {
    /// The public values a Groth16 proof's instances pack (every value is public).
    fn values(&self, proof: &ModelProof) -> Result<Vec<i128>, BackendError> {
        unpack_public(&self.graph, &proof.instances).ok_or(BackendError::PublicInstances { expected: self.layout.num_values })
    }
}

impl Prover for Groth16Prover {
    fn backend(&self) -> Backend {
        Backend::Groth16
    }

    fn graph(&self) -> &QuantGraph {
        &self.graph
    }

    /// Groth16 proves with public inputs and outputs and fixed parameters only.
    fn visibility(&self) -> VisibilityConfig {
        VisibilityConfig::default()
    }

    fn prove(&self, inputs: &[Vec<i64>]) -> Result<ModelProof, BackendError> {
        let p = prove(&self.keys, &self.graph, inputs, &mut os_rng())?;
        Ok(ModelProof { backend: Backend::Groth16, instances: public::pack(&p.public, self.graph.bits), proof: write_proof(&p.proof) })
    }

    fn verify_proof(&self, proof: &ModelProof) -> Result<bool, BackendError> {
        check_backend(Backend::Groth16, proof)?;
        let Ok(p) = read_proof(&proof.proof) else { return Ok(false) };
        let Ok(values) = self.values(proof) else { return Ok(false) };
        Ok(verify(self.keys.vk(), &self.layout, &values, &p)?)
    }

    fn calldata(&self, proof: &ModelProof) -> Result<Vec<u8>, BackendError> {
        check_backend(Backend::Groth16, proof)?;
        Ok(groth16_calldata(&read_proof(&proof.proof)?, &self.values(proof)?))
    }

    fn proving_key_bytes(&self) -> Vec<u8> {
        write_pk(&self.keys.pk)
    }

    fn verifying_key_bytes(&self) -> Vec<u8> {
        write_vk(self.keys.vk())
    }

    fn srs_bytes(&self) -> Option<Vec<u8>> {
        None
    }

    fn verifier(&self, solc: &Solc) -> Result<VerifierContracts, BackendError> {
        let source = groth16_verifier_source(self.keys.vk(), self.layout.bits, self.layout.num_values)?;
        let contract = compile_solidity(solc, &source, Some(GROTH16_CONTRACT)).map_err(BackendError::from)?;
        Ok(VerifierContracts::single(source, contract))
    }

    fn verify_on_evm(&self, code: &VerifierCode, proof: &ModelProof) -> Result<EvmVerification, BackendError> {
        check_backend(Backend::Groth16, proof)?;
        let p = read_proof(&proof.proof)?;
        // A Groth16 verifier is one contract, called with the values the instances pack.
        Ok(verify_groth16_on_evm(&code.entry, &p, &self.values(proof)?)?)
    }
}

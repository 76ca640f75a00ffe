//! The halo2 backend: KZG over BN254, SHPLONK multi-opening, Keccak (EVM) transcript.

use halo2_base::halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::{create_proof, keygen_pk, keygen_pk_from_parts, keygen_vk_with_parts, verify_proof, KeygenParts, ProvingKey, VerifyingKey},
    poly::{
        commitment::ParamsProver,
        kzg::{
            commitment::{KZGCommitmentScheme, ParamsKZG},
            multiopen::{ProverSHPLONK, VerifierSHPLONK},
            strategy::SingleStrategy,
        },
    },
    transcript::{TranscriptReadBuffer, TranscriptWriterBuffer},
    SerdeFormat,
};
use rand::rngs::OsRng;
use snark_verifier::system::halo2::transcript::evm::EvmTranscript;
use zkinfer_circuits::{CircuitBuilderStage, CircuitShape, ModelCircuit};
use zkinfer_models::quant::QuantGraph;

use crate::error::ProverError;

/// Keys of one compiled model.
pub struct Halo2Keys {
    pub pk: ProvingKey<G1Affine>,
    /// The shape the keys were made for, with keygen's break points.
    pub shape: CircuitShape,
}

impl Halo2Keys {
    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<G1Affine> {
        self.pk.get_vk()
    }
}

/// Runs key generation for `graph` at `shape` (from the layout planner), with any valid
/// input (the layout does not depend on values).
pub fn keygen(
    params: &ParamsKZG<Bn256>,
    graph: &QuantGraph,
    sample_inputs: &[Vec<i64>],
    shape: &CircuitShape,
) -> Result<Halo2Keys, ProverError> {
    let vk = keygen_vk_stage(params, graph, sample_inputs, shape)?;
    keygen_pk_from(params, vk, graph, sample_inputs)
}

/// The verifying key alone: far cheaper than the proving key, and all that the
/// Solidity verifier depends on (to size it before committing to a shape).
pub fn keygen_vk_only(
    params: &ParamsKZG<Bn256>,
    graph: &QuantGraph,
    sample_inputs: &[Vec<i64>],
    shape: &CircuitShape,
) -> Result<VerifyingKey<G1Affine>, ProverError> {
    Ok(keygen_vk_stage(params, graph, sample_inputs, shape)?.vk)
}

/// A verifying key with what its proving key needs from the same synthesis of the
/// circuit: the fixed columns, the permutation polynomials' values and the shape with
/// keygen's break points. [`keygen_pk_from`] finishes the proving key from it without
/// building and synthesizing the circuit again (a sixth of a k = 19 keygen).
pub struct VerifyingKeyStage {
    pub vk: VerifyingKey<G1Affine>,
    parts: Option<KeygenParts<G1Affine>>,
    shape: CircuitShape,
}

impl VerifyingKeyStage {
    /// Frees the proving key's parts (the size of its fixed and permutation columns):
    /// for a verifying key kept aside while another shape is tried. Its proving key then
    /// synthesizes the circuit again.
    pub fn release_parts(&mut self) {
        self.parts = None;
    }
}

/// The verifying key, kept with the parts of the proving key's synthesis.
pub fn keygen_vk_stage(
    params: &ParamsKZG<Bn256>,
    graph: &QuantGraph,
    sample_inputs: &[Vec<i64>],
    shape: &CircuitShape,
) -> Result<VerifyingKeyStage, ProverError> {
    let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Keygen, graph, sample_inputs, shape)?;
    // Selectors not compressed, as halo2-axiom's `keygen_vk` (the keys are its keys).
    let (vk, parts) = keygen_vk_with_parts(params, &circuit, false).map_err(|e| ProverError::Keygen(format!("{e:?}")))?;
    let shape = CircuitShape { break_points: circuit.builder.break_points(), ..shape.clone() };
    Ok(VerifyingKeyStage { vk, parts: Some(parts), shape })
}

/// The proving key for a verifying key from [`keygen_vk_stage`] with the same graph,
/// inputs and shape.
pub fn keygen_pk_from(
    params: &ParamsKZG<Bn256>,
    stage: VerifyingKeyStage,
    graph: &QuantGraph,
    sample_inputs: &[Vec<i64>],
) -> Result<Halo2Keys, ProverError> {
    let VerifyingKeyStage { vk, parts, shape } = stage;
    let pk = match parts {
        Some(parts) => keygen_pk_from_parts(params, vk, parts),
        None => {
            let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Keygen, graph, sample_inputs, &shape)?;
            keygen_pk(params, vk, &circuit)
        }
    };
    let mut pk = pk.map_err(|e| ProverError::Keygen(format!("{e:?}")))?;
    cache_extended_parts(&mut pk);
    Ok(Halo2Keys { pk, shape })
}

/// Largest cache of extended-domain polynomials a proving key carries: 512 MiB, which
/// covers circuits up to about k = 18 (the cache grows with the fixed and permutation
/// columns times 2^(k+2)).
pub const EXTENDED_PARTS_BUDGET: usize = 512 << 20;

/// Lets the key carry its fixed, permutation and selector polynomials on the extended
/// domain (the patched halo2-axiom, `vendor/halo2-axiom/PATCHES.md`) when that fits
/// [`EXTENDED_PARTS_BUDGET`]: each proof then skips one FFT per such polynomial and
/// quotient part, about a fifth of the proving time of a small model. Proofs are the same
/// either way.
fn cache_extended_parts(pk: &mut ProvingKey<G1Affine>) {
    if !pk.has_extended_parts() && pk.extended_parts_bytes() <= EXTENDED_PARTS_BUDGET {
        pk.cache_extended_parts();
    }
}

/// Serializes a proving key (which contains the verifying key).
pub fn write_pk(pk: &ProvingKey<G1Affine>) -> Vec<u8> {
    let mut out = Vec::new();
    pk.write(&mut out, SerdeFormat::RawBytesUnchecked).expect("writing to a Vec cannot fail");
    out
}

/// Reads a proving key written by [`write_pk`] for a circuit of `shape` (validated first:
/// [`CircuitShape::validate`]).
pub fn read_pk(bytes: &[u8], shape: &CircuitShape) -> Result<ProvingKey<G1Affine>, ProverError> {
    shape.validate().map_err(zkinfer_circuits::CircuitError::from)?;
    let corrupt =
        |why: &dyn std::fmt::Display| ProverError::Key(format!("the proving key ({} bytes) is truncated or corrupt: {why}", bytes.len()));
    // The patched reader returns errors for short or malformed polynomials; halo2 can
    // still panic building the domain from a corrupt header's k, hence the guard.
    let read = std::panic::catch_unwind(|| {
        ProvingKey::read::<_, ModelCircuit<Fr>>(&mut &bytes[..], SerdeFormat::RawBytesUnchecked, shape.params.clone())
    });
    let mut pk = match read {
        Ok(r) => r.map_err(|e| corrupt(&e))?,
        Err(_) => return Err(corrupt(&"its header does not describe a key of this circuit")),
    };
    // A key written without the cache (by an earlier zkinfer) gains it here.
    cache_extended_parts(&mut pk);
    Ok(pk)
}

/// Serializes a verifying key.
pub fn write_vk(vk: &VerifyingKey<G1Affine>) -> Vec<u8> {
    let mut out = Vec::new();
    vk.write(&mut out, SerdeFormat::RawBytes).expect("writing to a Vec cannot fail");
    out
}

/// Reads a verifying key written by [`write_vk`] (points are checked to be on the curve)
/// for a circuit of `shape` (validated first).
pub fn read_vk(bytes: &[u8], shape: &CircuitShape) -> Result<VerifyingKey<G1Affine>, ProverError> {
    shape.validate().map_err(zkinfer_circuits::CircuitError::from)?;
    VerifyingKey::read::<_, ModelCircuit<Fr>>(&mut &bytes[..], SerdeFormat::RawBytes, shape.params.clone())
        .map_err(|e| ProverError::Key(e.to_string()))
}

/// A proof with the public instances it proves (quantized inputs, then outputs).
#[derive(Clone, Debug)]
pub struct Halo2Proof {
    pub instances: Vec<Fr>,
    pub proof: Vec<u8>,
}

/// Builds the witness and proves. Proving is parallel inside halo2 (rayon).
pub fn prove(params: &ParamsKZG<Bn256>, keys: &Halo2Keys, graph: &QuantGraph, inputs: &[Vec<i64>]) -> Result<Halo2Proof, ProverError> {
    let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Prover, graph, inputs, &keys.shape)?;
    let instances = circuit.instances.clone();
    let mut transcript = TranscriptWriterBuffer::<_, G1Affine, _>::init(Vec::new());
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, EvmTranscript<G1Affine, _, _, _>, _>(
        params,
        &keys.pk,
        &[circuit],
        &[&[&instances]],
        OsRng,
        &mut transcript,
    )
    .map_err(|e| ProverError::Prove(format!("{e:?}")))?;
    Ok(Halo2Proof { instances, proof: transcript.finalize() })
}

/// Verifies a proof natively; `false` for any invalid proof or instance.
pub fn verify(params: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>, instances: &[Fr], proof: &[u8]) -> bool {
    let verifier_params = params.verifier_params();
    let mut transcript = TranscriptReadBuffer::<_, G1Affine, _>::init(proof);
    let strategy = SingleStrategy::new(params);
    verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, EvmTranscript<G1Affine, _, _, _>, _>(
        verifier_params,
        vk,
        strategy,
        &[&[instances]],
        &mut transcript,
    )
    .is_ok()
}

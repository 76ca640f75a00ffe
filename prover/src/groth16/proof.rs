//! Proving and native verification.

use ark_bn254::{Bn254, Fr};
use ark_ff::UniformRand;
use ark_groth16::{prepare_verifying_key, Groth16, Proof, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use ark_std::rand::{CryptoRng, RngCore};
use zkinfer_models::quant::QuantGraph;

use super::circuit::synthesize;
use super::error::Groth16Error;
use super::keys::Groth16Keys;
use super::public::PublicLayout;

/// Bytes of a compressed proof: A and C in G1 (32 each), B in G2 (64).
pub const PROOF_BYTES: usize = 128;

/// A proof with the public values it proves (quantized inputs, then outputs).
#[derive(Clone, Debug, PartialEq)]
pub struct Groth16Proof {
    pub proof: Proof<Bn254>,
    pub public: Vec<i128>,
}

/// Serializes a proof, compressed ([`PROOF_BYTES`] bytes).
pub fn write_proof(proof: &Proof<Bn254>) -> Vec<u8> {
    let mut out = Vec::with_capacity(PROOF_BYTES);
    proof.serialize_compressed(&mut out).expect("writing to a Vec cannot fail");
    out
}

/// Reads a proof written by [`write_proof`]; points are checked to be on the curve and
/// in the prime-order subgroup.
pub fn read_proof(bytes: &[u8]) -> Result<Proof<Bn254>, Groth16Error> {
    if bytes.len() != PROOF_BYTES {
        return Err(ark_serialize::SerializationError::InvalidData.into());
    }
    Ok(Proof::deserialize_with_mode(bytes, Compress::Yes, Validate::Yes)?)
}

/// Builds the witness, checks it satisfies the R1CS and proves (zero-knowledge, with
/// blinding from `rng`; the MSMs run in parallel with rayon).
///
/// The proof is verified against the key's own verifying key before it is returned, so
/// keys imported for another circuit of the same shape fail here, not on-chain.
pub fn prove<R: RngCore + CryptoRng>(
    keys: &Groth16Keys,
    graph: &QuantGraph,
    inputs: &[Vec<i64>],
    rng: &mut R,
) -> Result<Groth16Proof, Groth16Error> {
    let syn = synthesize(graph, inputs)?;
    let shape = syn.shape();
    if shape != keys.shape {
        return Err(Groth16Error::KeyMismatch {
            what: "the number of R1CS constraints",
            expected: shape.num_constraints,
            got: keys.shape.num_constraints,
        });
    }
    if !syn.cs.is_satisfied()? {
        return Err(Groth16Error::Unsatisfied);
    }
    let matrices = syn.cs.to_matrices().ok_or(Groth16Error::Unsatisfied)?;
    let full: Vec<Fr> = {
        let cs = syn.cs.borrow().ok_or(Groth16Error::Unsatisfied)?;
        cs.instance_assignment.iter().chain(&cs.witness_assignment).copied().collect()
    };
    let (r, s) = (Fr::rand(rng), Fr::rand(rng));
    let proof = Groth16::<Bn254>::create_proof_with_reduction_and_matrices(
        &keys.pk,
        r,
        s,
        &matrices,
        shape.num_instance,
        shape.num_constraints,
        &full,
    )?;
    let public = syn.lowered.public;
    if !verify(keys.vk(), &PublicLayout::of(graph), &public, &proof)? {
        return Err(Groth16Error::KeysForAnotherCircuit);
    }
    Ok(Groth16Proof { proof, public })
}

/// Verifies a proof natively for public values laid out as `layout` says: `Ok(false)`
/// for an invalid proof or wrong (or out-of-range) public values; an error only when
/// the number of values does not match `layout` or `layout` does not match the key.
pub fn verify(vk: &VerifyingKey<Bn254>, layout: &PublicLayout, public: &[i128], proof: &Proof<Bn254>) -> Result<bool, Groth16Error> {
    if layout.num_words() + 1 != vk.gamma_abc_g1.len() {
        return Err(Groth16Error::KeyMismatch {
            what: "the verifying key's number of public inputs plus one",
            expected: layout.num_words() + 1,
            got: vk.gamma_abc_g1.len(),
        });
    }
    if public.len() != layout.num_values {
        return Err(Groth16Error::PublicCount { expected: layout.num_values, got: public.len() });
    }
    let Some(words) = layout.pack(public) else { return Ok(false) };
    let pvk = prepare_verifying_key(vk);
    Ok(Groth16::<Bn254>::verify_proof(&pvk, proof, &words)?)
}

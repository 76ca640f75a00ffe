//! Circuit-specific setup and key (de)serialization.
//!
//! Trust: Groth16 keys come from a per-circuit setup whose randomness ("toxic waste")
//! lets whoever knows it forge proofs for any output. [`setup`] draws it from the
//! caller's RNG and drops it, so locally generated keys are exactly as trustworthy as
//! the machine and person that ran setup. Keys made elsewhere (a multi-party ceremony)
//! are imported with [`read_pk`] / [`read_vk`], which check the curve points and that
//! the keys have this circuit's shape.

use std::cell::RefCell;

use ark_bn254::Bn254;
use ark_groth16::{Groth16, ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use ark_snark::SNARK;
use ark_std::rand::{CryptoRng, RngCore};
use zkinfer_models::quant::QuantGraph;

use super::circuit::{shape, ModelCircuit, R1csShape};
use super::error::Groth16Error;
use super::lower::placeholder_inputs;

/// Keys of one compiled model, with the shape they were made for.
#[derive(Clone, Debug)]
pub struct Groth16Keys {
    pub pk: ProvingKey<Bn254>,
    pub shape: R1csShape,
}

impl Groth16Keys {
    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<Bn254> {
        &self.pk.vk
    }
}

/// Runs the circuit-specific setup for `graph` with randomness from `rng`.
pub fn setup<R: RngCore + CryptoRng>(graph: &QuantGraph, rng: &mut R) -> Result<Groth16Keys, Groth16Error> {
    let shape = shape(graph)?;
    let error = RefCell::new(None);
    let circuit = ModelCircuit { graph, inputs: placeholder_inputs(graph), error: &error };
    let (pk, _vk) = Groth16::<Bn254>::circuit_specific_setup(circuit, rng).map_err(|e| error.take().unwrap_or(e.into()))?;
    Ok(Groth16Keys { pk, shape })
}

/// Serializes a proving key (which contains the verifying key), uncompressed.
pub fn write_pk(pk: &ProvingKey<Bn254>) -> Vec<u8> {
    let mut out = Vec::new();
    pk.serialize_uncompressed(&mut out).expect("writing to a Vec cannot fail");
    out
}

/// Serializes a verifying key, compressed.
pub fn write_vk(vk: &VerifyingKey<Bn254>) -> Vec<u8> {
    let mut out = Vec::new();
    vk.serialize_compressed(&mut out).expect("writing to a Vec cannot fail");
    out
}

/// Reads a proving key written by [`write_pk`] (or by any arkworks 0.5 program that
/// serializes `ProvingKey<Bn254>` uncompressed) and checks it against `graph`'s R1CS:
/// points on the curve and in the subgroup, query lengths equal to the circuit's.
pub fn read_pk(bytes: &[u8], graph: &QuantGraph) -> Result<Groth16Keys, Groth16Error> {
    let pk = ProvingKey::<Bn254>::deserialize_with_mode(bytes, Compress::No, Validate::Yes)?;
    let shape = shape(graph)?;
    check_vk_shape(&pk.vk, &shape)?;
    let vars = shape.num_instance + shape.num_witness;
    expect("proving key A-query length", vars, pk.a_query.len())?;
    expect("proving key L-query length", shape.num_witness, pk.l_query.len())?;
    Ok(Groth16Keys { pk, shape })
}

/// Reads a verifying key written by [`write_vk`] (compressed) and checks that it takes
/// `graph`'s number of public values.
pub fn read_vk(bytes: &[u8], graph: &QuantGraph) -> Result<VerifyingKey<Bn254>, Groth16Error> {
    let vk = VerifyingKey::<Bn254>::deserialize_with_mode(bytes, Compress::Yes, Validate::Yes)?;
    check_vk_shape(&vk, &shape(graph)?)?;
    Ok(vk)
}

fn check_vk_shape(vk: &VerifyingKey<Bn254>, shape: &R1csShape) -> Result<(), Groth16Error> {
    expect("the verifying key's number of public inputs plus one", shape.num_instance, vk.gamma_abc_g1.len())
}

fn expect(what: &'static str, expected: usize, got: usize) -> Result<(), Groth16Error> {
    if expected == got {
        Ok(())
    } else {
        Err(Groth16Error::KeyMismatch { what, expected, got })
    }
}

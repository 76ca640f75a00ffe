//! Proofs of a model proved as segments ([`zkinfer_circuits::segment`]): one halo2
//! proof per segment, chained by the Poseidon hashes of the values crossing each cut.
//!
//! A run is valid when every segment's proof verifies under its own key **and** each
//! segment's output hash (its last instance) equals the next segment's input hash (its
//! first): the hash binds the two proofs to the same boundary values, so the chain
//! proves the whole graph on the first segment's inputs. Proofs of different runs, each
//! valid alone, do not chain ([`ChainError::Broken`]).

use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_base::halo2_proofs::plonk::VerifyingKey;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use thiserror::Error;
use zkinfer_circuits::segment::check_boundaries;
use zkinfer_circuits::InstanceLayout;
use zkinfer_models::interp;
use zkinfer_models::quant::QuantGraph;

use crate::error::ProverError;
use crate::halo2::{self as h2, Halo2Proof};

/// Why a chain of segment proofs is rejected.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ChainError {
    #[error("the model has {expected} segments, {got} proofs were given")]
    Count { expected: usize, got: usize },
    #[error("segment {segment}: the proof has {got} public instances, the circuit has {expected}")]
    InstanceCount { segment: usize, expected: usize, got: usize },
    #[error("segment {segment}: the proof is not valid for its public instances")]
    InvalidProof { segment: usize },
    #[error("segment {segment}'s output hash is not segment {}'s input hash: the proofs are not of one run", segment + 1)]
    Broken { segment: usize },
}

/// What verifying one segment needs: the SRS at its `k`, its verifying key and the
/// layout of its instances.
pub struct SegmentVerifier<'a> {
    pub params: &'a ParamsKZG<Bn256>,
    pub vk: &'a VerifyingKey<G1Affine>,
    pub layout: InstanceLayout,
}

/// Checks the hash chain alone: instance counts, and each output hash against the next
/// input hash. Cheap; [`verify_chain`] runs it before the proofs.
pub fn check_links(layouts: &[InstanceLayout], instances: &[&[Fr]]) -> Result<(), ChainError> {
    if layouts.len() != instances.len() {
        return Err(ChainError::Count { expected: layouts.len(), got: instances.len() });
    }
    for (segment, (l, inst)) in layouts.iter().zip(instances).enumerate() {
        if inst.len() != l.len() {
            return Err(ChainError::InstanceCount { segment, expected: l.len(), got: inst.len() });
        }
    }
    for segment in 0..layouts.len().saturating_sub(1) {
        let out = layouts[segment].output_hash_index().map(|i| instances[segment][i]);
        let next = layouts[segment + 1].input_hash_index().map(|i| instances[segment + 1][i]);
        match (out, next) {
            (Some(a), Some(b)) if a == b => {}
            _ => return Err(ChainError::Broken { segment }),
        }
    }
    Ok(())
}

/// Verifies a run proved as segments: the chain ([`check_links`]), then every proof.
pub fn verify_chain(segments: &[SegmentVerifier<'_>], proofs: &[Halo2Proof]) -> Result<(), ChainError> {
    let layouts: Vec<InstanceLayout> = segments.iter().map(|s| s.layout).collect();
    let instances: Vec<&[Fr]> = proofs.iter().map(|p| p.instances.as_slice()).collect();
    check_links(&layouts, &instances)?;
    for (segment, (s, p)) in segments.iter().zip(proofs).enumerate() {
        if !h2::verify(s.params, s.vk, &p.instances, &p.proof) {
            return Err(ChainError::InvalidProof { segment });
        }
    }
    Ok(())
}

/// Each segment's quantized inputs for one run of the full graph on `inputs`, after
/// checking that every crossing value is in the range segments hash
/// ([`check_boundaries`]).
pub fn segment_inputs(full: &QuantGraph, segments: &[QuantGraph], inputs: &[Vec<i64>]) -> Result<Vec<Vec<Vec<i64>>>, ProverError> {
    let trace = interp::run(full, inputs)?;
    check_boundaries(segments, &trace.values)?;
    Ok(segments.iter().map(|s| s.inputs.iter().map(|p| trace.values[p.value].clone()).collect()).collect())
}

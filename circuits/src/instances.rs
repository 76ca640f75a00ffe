//! The layout of the public instance column.
//!
//! Instances are, in order: the Poseidon hash of the inputs (only when inputs are
//! [`Visibility::Hashed`]), then the packed public values ([`crate::public`]: public
//! inputs, then public outputs, packed together), then the Poseidon hash of the outputs
//! (only when outputs are [`Visibility::Hashed`]). With at most one of public/hashed per
//! kind this is "[input hash or packed inputs], then [output hash or packed outputs]".

use std::ops::Range;

use zkinfer_models::quant::{QPort, QuantGraph};

use crate::hash::hash_values;
use crate::public;
use crate::visibility::{Visibility, VisibilityConfig};
use crate::Fr;

/// Where each kind of public value sits in the instance column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstanceLayout {
    /// Packed public input values.
    pub n_in: usize,
    /// Packed public output values.
    pub n_out: usize,
    /// Instances holding the packed values.
    pub packed: usize,
    /// Instance 0 is the hash of the inputs.
    pub input_hash: bool,
    /// The last instance is the hash of the outputs.
    pub output_hash: bool,
}

/// Number of values of a list of ports.
pub fn port_len(ports: &[QPort]) -> usize {
    ports.iter().map(|p| p.shape.iter().product::<usize>()).sum()
}

impl InstanceLayout {
    /// The layout for `graph` under `visibility`.
    pub fn new(graph: &QuantGraph, visibility: &VisibilityConfig) -> Self {
        let (n_in, n_out) = visibility.public_counts(graph);
        InstanceLayout {
            n_in,
            n_out,
            packed: public::num_instances(n_in + n_out, graph.bits),
            input_hash: visibility.inputs == Visibility::Hashed,
            output_hash: visibility.outputs == Visibility::Hashed,
        }
    }

    /// Total number of instances.
    pub fn len(&self) -> usize {
        self.input_hash as usize + self.packed + self.output_hash as usize
    }

    /// Whether there are no instances at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Indices of the packed instances.
    pub fn packed_range(&self) -> Range<usize> {
        let start = self.input_hash as usize;
        start..start + self.packed
    }

    /// Index of the input hash, if the inputs are hashed.
    pub fn input_hash_index(&self) -> Option<usize> {
        self.input_hash.then_some(0)
    }

    /// Index of the output hash, if the outputs are hashed.
    pub fn output_hash_index(&self) -> Option<usize> {
        self.output_hash.then(|| self.len() - 1)
    }
}

/// The instances a proof of `graph` on quantized `inputs` with quantized `outputs` (the
/// reference interpreter's) must carry, computed natively.
pub fn native_instances(graph: &QuantGraph, visibility: &VisibilityConfig, inputs: &[Vec<i64>], outputs: &[Vec<i64>]) -> Vec<Fr> {
    let layout = InstanceLayout::new(graph, visibility);
    let flat = |v: &[Vec<i64>]| v.iter().flatten().map(|x| *x as i128).collect::<Vec<_>>();
    let (ins, outs) = (flat(inputs), flat(outputs));
    let mut packed_values = ins[..layout.n_in].to_vec();
    packed_values.extend_from_slice(&outs[..layout.n_out]);
    let mut instances = Vec::with_capacity(layout.len());
    if layout.input_hash {
        instances.push(hash_values(&ins));
    }
    instances.extend(public::pack::<Fr>(&packed_values, graph.bits));
    if layout.output_hash {
        instances.push(hash_values(&outs));
    }
    instances
}

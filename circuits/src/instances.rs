//! The layout of the public instance column.
//!
//! Instances are, in order: the Poseidon hash of the inputs (only when inputs are
//! [`Visibility::Hashed`]), then the Poseidon hash of the model parameters in canonical
//! order (only when they are [`ParamVisibility::Hashed`]), then the packed public values ([`crate::public`]: public
//! inputs, then public outputs, packed together), then the Poseidon hash of the outputs
//! (only when outputs are [`Visibility::Hashed`]). With at most one of public/hashed per
//! kind this is "[input hash or packed inputs], then [output hash or packed outputs]".

use std::ops::Range;

use zkinfer_models::quant::{QPort, QuantGraph};

use crate::hash::{hash_packed, hash_values};
use crate::public;
use crate::visibility::{ParamVisibility, Visibility, VisibilityConfig};
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
    /// The instance after the input hash (if any) is the hash of the parameters.
    pub param_hash: bool,
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
            param_hash: visibility.params == ParamVisibility::Hashed,
            output_hash: visibility.outputs == Visibility::Hashed,
        }
    }

    /// Total number of instances.
    pub fn len(&self) -> usize {
        self.input_hash as usize + self.param_hash as usize + self.packed + self.output_hash as usize
    }

    /// Whether there are no instances at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Indices of the packed instances.
    pub fn packed_range(&self) -> Range<usize> {
        let start = self.input_hash as usize + self.param_hash as usize;
        start..start + self.packed
    }

    /// Index of the input hash, if the inputs are hashed.
    pub fn input_hash_index(&self) -> Option<usize> {
        self.input_hash.then_some(0)
    }

    /// Index of the parameter hash, if the parameters are hashed.
    pub fn param_hash_index(&self) -> Option<usize> {
        self.param_hash.then_some(self.input_hash as usize)
    }

    /// What each instance stands for, in order: `input hash`, `param hash`, `packed
    /// input[a..b]` / `packed output[a..b]` (flat value ranges, both when one element
    /// packs the end of the inputs and the start of the outputs), `output hash`.
    pub fn meanings(&self, bits: u32) -> Vec<String> {
        let per = public::values_per_instance(bits);
        let mut out = Vec::with_capacity(self.len());
        if self.input_hash {
            out.push("input hash".to_string());
        }
        if self.param_hash {
            out.push("param hash".to_string());
        }
        let total = self.n_in + self.n_out;
        for i in 0..self.packed {
            let (a, b) = (i * per, ((i + 1) * per).min(total));
            let mut parts = Vec::new();
            if a < self.n_in {
                parts.push(format!("input[{a}..{}]", b.min(self.n_in)));
            }
            if b > self.n_in {
                parts.push(format!("output[{}..{}]", a.max(self.n_in) - self.n_in, b - self.n_in));
            }
            out.push(format!("packed {}", parts.join(", ")));
        }
        if self.output_hash {
            out.push("output hash".to_string());
        }
        out
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
        instances.push(hash_packed(&ins, graph.bits));
    }
    if layout.param_hash {
        instances.push(param_hash(graph));
    }
    instances.extend(public::pack::<Fr>(&packed_values, graph.bits));
    if layout.output_hash {
        instances.push(hash_packed(&outs, graph.bits));
    }
    instances
}

/// The Poseidon hash of `graph`'s quantized parameters in canonical order: the
/// instance a proof with [`ParamVisibility::Hashed`] carries after the input hash.
pub fn param_hash(graph: &QuantGraph) -> Fr {
    hash_values(&graph.param_values().iter().map(|v| *v as i128).collect::<Vec<_>>())
}

//! Model parameters: the weights and biases that come from graph constants (ONNX
//! initializers) and enter `Linear` nodes.
//!
//! Quantized with [`super::QuantOptions::private_params`], a [`QuantGraph`] lists them in
//! [`QuantGraph::params`], in the canonical order every consumer uses (the circuit's
//! witness cells, the Poseidon weight hash, `zkinfer hash --params`): nodes in graph
//! order; within a node, its parameter coefficients in term order (output by output),
//! then its parameter biases in output order. The values stay where they were (the
//! `coeff` and `bias` of [`QOp::Linear`]), so the interpreter runs unchanged.

use serde::{Deserialize, Serialize};

use super::{QOp, QuantGraph};

/// Where a parameter sits: a coefficient or a bias of a `Linear` node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ParamRef {
    /// Position of the node in [`QuantGraph::nodes`].
    pub node: u32,
    pub slot: ParamSlot,
}

/// Which number of the node a [`ParamRef`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamSlot {
    /// `coeff[t]`.
    Coeff(u32),
    /// `bias[o]`.
    Bias(u32),
}

impl QuantGraph {
    /// The quantized parameter values, in the canonical order of [`QuantGraph::params`].
    pub fn param_values(&self) -> Vec<i64> {
        self.params.iter().map(|r| *self.param_ref(r).expect("params name Linear terms")).collect()
    }

    /// The same graph with other parameter values (canonical order); `None` when the
    /// count differs.
    pub fn with_param_values(&self, values: &[i64]) -> Option<QuantGraph> {
        if values.len() != self.params.len() {
            return None;
        }
        let mut g = self.clone();
        for (r, v) in self.params.iter().zip(values) {
            *g.param_mut(r)? = *v;
        }
        Some(g)
    }

    /// The graph with every parameter set to 0: what fixes the circuit when the
    /// parameters are private (it names the keys then).
    pub fn architecture(&self) -> QuantGraph {
        self.with_param_values(&vec![0; self.params.len()]).expect("same count")
    }

    fn param_ref(&self, r: &ParamRef) -> Option<&i64> {
        match (&self.nodes.get(r.node as usize)?.op, r.slot) {
            (QOp::Linear { coeff, .. }, ParamSlot::Coeff(t)) => coeff.get(t as usize),
            (QOp::Linear { bias, .. }, ParamSlot::Bias(o)) => bias.get(o as usize),
            _ => None,
        }
    }

    fn param_mut(&mut self, r: &ParamRef) -> Option<&mut i64> {
        match (&mut self.nodes.get_mut(r.node as usize)?.op, r.slot) {
            (QOp::Linear { coeff, .. }, ParamSlot::Coeff(t)) => coeff.get_mut(t as usize),
            (QOp::Linear { bias, .. }, ParamSlot::Bias(o)) => bias.get_mut(o as usize),
            _ => None,
        }
    }

    /// Whether every [`ParamRef`] names an existing coefficient or bias, in canonical
    /// order without repeats.
    pub fn params_well_formed(&self) -> bool {
        let key = |r: &ParamRef| match r.slot {
            ParamSlot::Coeff(t) => (r.node, 0, t),
            ParamSlot::Bias(o) => (r.node, 1, o),
        };
        self.params.iter().all(|r| self.param_ref(r).is_some()) && self.params.windows(2).all(|w| key(&w[0]) < key(&w[1]))
    }
}

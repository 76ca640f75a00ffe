//! Splitting a quantized graph into segments that are proved apart.
//!
//! A cut `c` (`0 < c < nodes.len()`) falls between node `c - 1` and node `c`. The values
//! **live across** it are those defined before it (graph inputs, outputs of nodes `< c`)
//! and needed at or after it (by a node `>= c`, or as a graph output), except the
//! outputs of [`QOp::Const`] nodes: a segment that needs a constant carries its own copy
//! of the node, so constants never cross a cut.
//!
//! Segment `i` of the cuts `c_1 < ... < c_m` runs the nodes `[c_i, c_(i+1))` (with
//! `c_0 = 0`, `c_(m+1) = nodes.len()`). Its inputs are the graph's inputs for the first
//! segment and otherwise the values live across its first cut; its outputs are the
//! graph's outputs for the last segment and otherwise the values live across its last
//! cut: so segment `i`'s outputs are exactly segment `i + 1`'s inputs, port by port, in
//! ascending value order. A value that crosses several cuts passes through the segments
//! between (it is an input and an output of each). Value ids are kept: a segment's
//! `num_values` is the graph's, and running the segments one after the other on the
//! boundary values gives the full graph's trace (see the tests).

use super::{QOp, QPort, QValueId, QuantGraph};
use crate::error::{ModelError, Result};
use crate::tensor::DType;

impl QuantGraph {
    /// Number of elements of value `v` (a graph input's or a node output's).
    fn value_len(&self, producer: &[Option<usize>], v: QValueId) -> usize {
        match producer[v] {
            Some(j) => self.nodes[j].len,
            None => self.inputs.iter().find(|p| p.value == v).map_or(0, |p| p.shape.iter().product()),
        }
    }

    /// The node producing each value (`None` for graph inputs and unused ids).
    fn producers(&self) -> Vec<Option<usize>> {
        let mut producer = vec![None; self.num_values];
        for (j, n) in self.nodes.iter().enumerate() {
            producer[n.output] = Some(j);
        }
        producer
    }

    /// For each value, the first cut it is available at and the last cut it is needed
    /// at (`(usize::MAX, 0)` for a value nothing produces or needs).
    fn live_spans(&self) -> Vec<(usize, usize)> {
        let n = self.nodes.len();
        let mut span = vec![(usize::MAX, 0usize); self.num_values];
        for p in &self.inputs {
            span[p.value].0 = 0;
        }
        for (j, node) in self.nodes.iter().enumerate() {
            span[node.output].0 = j + 1;
            for &i in &node.inputs {
                span[i].1 = span[i].1.max(j);
            }
        }
        for p in &self.outputs {
            span[p.value].1 = n;
        }
        span
    }

    /// Whether value `v` is a constant's output (copied into segments, never crossing).
    fn is_const(&self, producer: &[Option<usize>], v: QValueId) -> bool {
        producer[v].is_some_and(|j| matches!(self.nodes[j].op, QOp::Const { .. }))
    }

    /// The values live across cut `c` (`0 < c < nodes.len()`), in ascending id order.
    pub fn live_across(&self, c: usize) -> Vec<QValueId> {
        let producer = self.producers();
        self.live_spans()
            .iter()
            .enumerate()
            .filter(|&(v, &(from, to))| from <= c && c <= to && !self.is_const(&producer, v))
            .map(|(v, _)| v)
            .collect()
    }

    /// For every cut `c` in `0..=nodes.len()`, the number of elements live across it
    /// (what the two segments meeting there hash and range-check).
    pub fn live_elements(&self) -> Vec<usize> {
        let producer = self.producers();
        let n = self.nodes.len();
        let mut delta = vec![0i64; n + 2];
        for (v, &(from, to)) in self.live_spans().iter().enumerate() {
            if from <= to && from <= n && !self.is_const(&producer, v) {
                let len = self.value_len(&producer, v) as i64;
                delta[from] += len;
                delta[to + 1] -= len;
            }
        }
        let mut out = Vec::with_capacity(n + 1);
        let mut acc = 0i64;
        for d in &delta[..=n] {
            acc += d;
            out.push(acc as usize);
        }
        out
    }

    /// The segments between `cuts` (strictly increasing, each in `1..nodes.len()`).
    /// Models with private or hashed parameters cannot be split: their parameter list
    /// names nodes of the whole graph.
    pub fn split(&self, cuts: &[usize]) -> Result<Vec<QuantGraph>> {
        let n = self.nodes.len();
        if self.private_params {
            return Err(ModelError::Segment("a model quantized with private parameters cannot be split into segments".into()));
        }
        if let Some(w) = cuts.windows(2).find(|w| w[0] >= w[1]) {
            return Err(ModelError::Segment(format!("cuts must increase: {} then {}", w[0], w[1])));
        }
        if let Some(&c) = cuts.iter().find(|&&c| c == 0 || c >= n) {
            return Err(ModelError::Segment(format!("cut {c} is not between two of the {n} nodes")));
        }
        let producer = self.producers();
        let boundary = |c: usize| -> Vec<QPort> {
            self.live_across(c)
                .into_iter()
                .map(|v| QPort {
                    name: match producer[v] {
                        Some(j) => format!("{}@{c}", self.nodes[j].name),
                        None => self.inputs.iter().find(|p| p.value == v).map_or(format!("v{v}@{c}"), |p| format!("{}@{c}", p.name)),
                    },
                    value: v,
                    shape: vec![self.value_len(&producer, v)],
                    dtype: DType::F32,
                })
                .collect()
        };
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(n);
        let mut out = Vec::with_capacity(bounds.len() - 1);
        for (i, w) in bounds.windows(2).enumerate() {
            let (a, b) = (w[0], w[1]);
            let inputs = if a == 0 { self.inputs.clone() } else { boundary(a) };
            let outputs = if b == n { self.outputs.clone() } else { boundary(b) };
            // Constants defined before the segment that it (or its outputs) needs.
            let mut needed = vec![false; self.num_values];
            for node in &self.nodes[a..b] {
                for &v in &node.inputs {
                    needed[v] = true;
                }
            }
            for p in &outputs {
                needed[p.value] = true;
            }
            let mut nodes: Vec<_> =
                self.nodes[..a].iter().filter(|nd| matches!(nd.op, QOp::Const { .. }) && needed[nd.output]).cloned().collect();
            nodes.extend_from_slice(&self.nodes[a..b]);
            let g = QuantGraph { inputs, outputs, nodes, params: Vec::new(), ..self.clone_header() };
            // Every value a node reads is an input, a copied constant or produced before.
            let mut have = vec![false; self.num_values];
            for p in &g.inputs {
                have[p.value] = true;
            }
            for node in &g.nodes {
                if let Some(&v) = node.inputs.iter().find(|&&v| !have[v]) {
                    return Err(ModelError::Segment(format!(
                        "segment {i}: node `{}` reads value {v}, which no earlier segment passes",
                        node.name
                    )));
                }
                have[node.output] = true;
            }
            out.push(g);
        }
        Ok(out)
    }

    /// The graph without inputs, outputs, nodes or parameters: scales, bits, value count.
    fn clone_header(&self) -> QuantGraph {
        QuantGraph {
            scale: self.scale,
            param_scale: self.param_scale,
            bits: self.bits,
            num_values: self.num_values,
            inputs: Vec::new(),
            outputs: Vec::new(),
            nodes: Vec::new(),
            params: Vec::new(),
            private_params: self.private_params,
        }
    }
}

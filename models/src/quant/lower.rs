//! Lowering a float [`Graph`] to a [`QuantGraph`] at calibrated scales.
//!
//! The [`Builder`] holds the quantized nodes emitted so far and small emitters (a
//! linear combination with float coefficients, products, Relu, tables, ...); the
//! per-family lowering lives in `lower_linear` (products and arithmetic),
//! `lower_nonlinear` (activations, logic, reductions, index maps), `lower_norm`
//! (normalisations and soft-max), `lower_elements` (GatherElements, ScatterElements and
//! OneHot) and `lower_topk` (TopK by ranks). Every activation stays at the one scale `2^scale`.

use std::collections::HashMap;

use super::table::{self, TableRequest};
use super::{Calibration, ParamRef, ParamSlot, QNode, QOp, QPort, QValueId, QuantGraph};
use crate::error::{ModelError, Result};
use crate::ir::{Graph, Node, ValueId};
use crate::ops::Op;

/// Quantized nodes under construction.
pub(super) struct Builder<'g> {
    pub graph: &'g Graph,
    pub cal: &'g Calibration,
    map: HashMap<ValueId, QValueId>,
    nodes: Vec<QNode>,
    lens: Vec<usize>,
    params: Vec<ParamRef>,
}

/// `round(x * 2^scale)`.
pub(super) fn q(x: f64, scale: u32) -> i64 {
    (x * 2f64.powi(scale as i32)).round() as i64
}

/// A linear combination being assembled, output by output, with float coefficients
/// (real units) and a float bias; [`Builder::lin`] quantizes it.
#[derive(Default)]
pub(super) struct Terms {
    slots: Vec<QValueId>,
    offsets: Vec<usize>,
    slot: Vec<u8>,
    idx: Vec<u32>,
    coeff: Vec<f64>,
    bias: Vec<f64>,
    /// Weights of a layer: held at the weight scale exactly, as calibrated.
    weights: bool,
    /// Parameters will be private: terms and biases added as parameters are kept even
    /// when zero and marked in `param` / `bias_param`.
    private: bool,
    param: Vec<bool>,
    bias_param: Vec<bool>,
}

impl Terms {
    pub fn new() -> Terms {
        Terms { offsets: vec![0], ..Default::default() }
    }

    /// The slot of an input value (added on first use).
    pub fn slot(&mut self, v: QValueId) -> u8 {
        match self.slots.iter().position(|&s| s == v) {
            Some(i) => i as u8,
            None => {
                self.slots.push(v);
                (self.slots.len() - 1) as u8
            }
        }
    }

    /// Adds `c * v[i]` to the current output.
    pub fn term(&mut self, v: QValueId, i: usize, c: f64) {
        let s = self.slot(v);
        if c != 0.0 {
            self.push(s, i, c, false);
        }
    }

    /// Adds `c * v[i]` where `c` is a model parameter (from a graph constant): with
    /// private parameters the term exists whatever `c` is, so the circuit does not
    /// depend on it.
    pub fn param(&mut self, v: QValueId, i: usize, c: f64) {
        if !self.private {
            return self.term(v, i, c);
        }
        let s = self.slot(v);
        self.push(s, i, c, true);
    }

    fn push(&mut self, s: u8, i: usize, c: f64, param: bool) {
        self.slot.push(s);
        self.idx.push(i as u32);
        self.coeff.push(c);
        self.param.push(param);
    }

    /// Closes the current output with a constant `bias` (real units).
    pub fn end(&mut self, bias: f64) {
        self.close(bias, false);
    }

    /// Closes the current output with a `bias` that is a model parameter.
    pub fn end_param(&mut self, bias: f64) {
        self.close(bias, self.private);
    }

    fn close(&mut self, bias: f64, param: bool) {
        self.bias.push(bias);
        self.bias_param.push(param);
        self.offsets.push(self.slot.len());
    }

    /// Whether a term or bias is a (private) parameter.
    fn has_params(&self) -> bool {
        self.param.iter().chain(&self.bias_param).any(|&p| p)
    }

    /// Number of closed outputs.
    pub fn len(&self) -> usize {
        self.bias.len()
    }
}

impl<'g> Builder<'g> {
    /// The activation scale.
    pub fn s(&self) -> u32 {
        self.cal.scale
    }

    /// An empty linear combination; `weights`: its coefficients are a layer's weights
    /// (Gemm, Conv, ...), held at the weight scale.
    pub fn terms(&self, weights: bool) -> Terms {
        Terms { offsets: vec![0], weights, private: self.cal.private_params, ..Default::default() }
    }

    /// The quantized 1.0.
    pub fn one(&self) -> i64 {
        1i64 << self.cal.scale
    }

    /// Float range of a graph value over calibration (constants: their own range).
    pub fn range(&self, id: ValueId) -> (f64, f64) {
        if let Some(t) = self.graph.constant(id) {
            return t.data.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        }
        self.cal.ranges.get(&id).copied().unwrap_or((-self.cal.max_abs, self.cal.max_abs))
    }

    /// The op that produced a quantized value (`None` for a graph input).
    pub fn producer(&self, v: QValueId) -> Option<&QOp> {
        self.nodes.iter().rev().find(|n| n.output == v).map(|n| &n.op)
    }

    /// Number of elements of a quantized value.
    pub fn len_of(&self, v: QValueId) -> usize {
        self.lens[v]
    }

    /// The quantized value of a graph value; constants become `Const` nodes.
    pub fn value(&mut self, id: ValueId) -> QValueId {
        if let Some(&v) = self.map.get(&id) {
            return v;
        }
        let t = self.graph.constant(id).expect("non-constant values are mapped before use");
        let values = t.data.iter().map(|x| q(*x, self.cal.scale)).collect::<Vec<_>>();
        let name = format!("const:{}", self.graph.values[id].name);
        let out = self.consts(&name, values);
        self.map.insert(id, out);
        out
    }

    /// Emits a node and returns its output value.
    pub fn emit(&mut self, name: &str, op: QOp, inputs: Vec<QValueId>, len: usize) -> QValueId {
        let out = self.lens.len();
        self.lens.push(len);
        self.nodes.push(QNode { name: name.to_string(), op, inputs, output: out, len });
        out
    }

    /// Binds a graph node's output to a quantized value.
    pub fn bind(&mut self, node: &Node, v: QValueId) {
        self.map.insert(node.output, v);
    }

    /// A constant vector (already quantized).
    pub fn consts(&mut self, name: &str, values: Vec<i64>) -> QValueId {
        let n = values.len();
        self.emit(name, QOp::Const { values }, vec![], n)
    }

    /// `max(x, 0)`.
    pub fn relu(&mut self, name: &str, x: QValueId) -> QValueId {
        let n = self.len_of(x);
        self.emit(name, QOp::Relu, vec![x], n)
    }

    /// Element `map[o]` of the listed inputs.
    pub fn select(&mut self, name: &str, inputs: Vec<QValueId>, map: Vec<(u32, u32)>) -> QValueId {
        let n = map.len();
        self.emit(name, QOp::Select { map }, inputs, n)
    }

    /// `v[idx[o]]`: one input gathered (e.g. broadcast).
    pub fn gather(&mut self, name: &str, v: QValueId, idx: &[usize]) -> QValueId {
        if idx.len() == self.len_of(v) && idx.iter().enumerate().all(|(i, &j)| i == j) {
            return v;
        }
        self.select(name, vec![v], idx.iter().map(|&i| (0, i as u32)).collect())
    }

    /// `rescale(sum a[left] * b[right], scale)` per output.
    pub fn bilin(&mut self, name: &str, a: QValueId, b: QValueId, offsets: Vec<usize>, left: Vec<u32>, right: Vec<u32>) -> QValueId {
        let n = offsets.len() - 1;
        self.emit(name, QOp::Bilinear { offsets, left, right, shift: self.s() }, vec![a, b], n)
    }

    /// Element-wise product of two equally long values.
    pub fn mul(&mut self, name: &str, a: QValueId, b: QValueId) -> QValueId {
        let n = self.len_of(a);
        let ids: Vec<u32> = (0..n as u32).collect();
        self.bilin(name, a, b, (0..=n).collect(), ids.clone(), ids)
    }

    /// Quantizes a linear combination: integer coefficients need no rescale (exact);
    /// others are held at the weight scale, or finer while their rounding error
    /// exceeds 2^-12 relative (up to 8 more bits). With private parameters among the
    /// terms the shift is the weight scale, whatever their values.
    pub fn lin(&mut self, name: &str, t: Terms) -> QValueId {
        let s = self.s();
        let integral = |c: f64| (c - c.round()).abs() < 1e-12;
        let exact = t.coeff.iter().all(|&c| integral(c)) && t.bias.iter().all(|&b| integral(b * 2f64.powi(s as i32)));
        let has_params = t.has_params();
        let shift = if has_params {
            self.cal.param_scale
        } else if exact {
            0
        } else if t.weights {
            self.cal.param_scale
        } else {
            let p = self.cal.param_scale;
            let rel_err = |sh: u32| {
                t.coeff
                    .iter()
                    .filter(|c| **c != 0.0)
                    .map(|&c| {
                        let v = c * 2f64.powi(sh as i32);
                        if v.abs() < 0.5 {
                            1.0
                        } else {
                            (v - v.round()).abs() / v.abs()
                        }
                    })
                    .fold(0.0, f64::max)
            };
            (p..=p + 8).find(|&sh| rel_err(sh) <= 2f64.powi(-12)).unwrap_or(p + 8)
        };
        let coeff = t.coeff.iter().map(|&c| q(c, shift)).collect();
        let bias = t.bias.iter().map(|&b| q(b, s + shift)).collect();
        let n = t.len();
        let node = self.nodes.len() as u32;
        if has_params {
            let coeffs = t.param.iter().enumerate().filter(|(_, p)| **p).map(|(i, _)| ParamSlot::Coeff(i as u32));
            let biases = t.bias_param.iter().enumerate().filter(|(_, p)| **p).map(|(o, _)| ParamSlot::Bias(o as u32));
            self.params.extend(coeffs.chain(biases).map(|slot| ParamRef { node, slot }));
        }
        let op = QOp::Linear { offsets: t.offsets, slot: t.slot, idx: t.idx, coeff, bias, shift };
        self.emit(name, op, t.slots, n)
    }

    /// A lookup table of `f` applied element-wise to `x`.
    pub fn table(&mut self, name: &str, x: QValueId, f: &dyn Fn(f64) -> f64, req: TableRequest) -> Result<QValueId> {
        let op = table::build(f, req, self.s(), self.cal.bits, self.cal.table_bits)
            .map_err(|e| ModelError::Quantization(format!("node `{name}`: {e}")))?;
        let n = self.len_of(x);
        Ok(self.emit(name, op, vec![x], n))
    }

    /// A table request over a graph value's calibrated range.
    pub fn request(&self, id: ValueId) -> TableRequest {
        let (a, b) = self.range(id);
        TableRequest::calibrated(a, b, self.cal.headroom)
    }
}

/// An error for a node that cannot be quantized.
pub(super) fn unsupported(node: &Node, msg: impl Into<String>) -> ModelError {
    ModelError::UnsupportedOp { op_type: node.op.name().to_string(), node: node.name.clone(), detail: format!(": {}", msg.into()) }
}

fn lower(b: &mut Builder, node: &Node) -> Result<()> {
    let out = match &node.op {
        Op::Linear(_) | Op::Conv(_) | Op::Arith(_) => super::lower_linear::lower(b, node)?,
        Op::Activation(_) | Op::Pointwise(_) | Op::Logic(_) | Op::Reduce(_) | Op::Remap(_) | Op::Layout(_) => {
            super::lower_nonlinear::lower(b, node)?
        }
        Op::Norm(_) => super::lower_norm::lower(b, node)?,
        Op::Elements(e) => super::lower_elements::lower(b, node, e)?,
        Op::OneHot(o) => super::lower_elements::onehot(b, node, o),
        Op::TopK(t) => super::lower_topk::lower(b, node, t),
    };
    b.bind(node, out);
    Ok(())
}

/// Quantizes `graph` at the scales of `cal`.
pub fn quantize(graph: &Graph, cal: &Calibration) -> Result<QuantGraph> {
    let mut b = Builder { graph, cal, map: HashMap::new(), nodes: Vec::new(), lens: Vec::new(), params: Vec::new() };
    let mut inputs = Vec::new();
    for &i in &graph.inputs {
        let val = &graph.values[i];
        let n = val.shape.iter().product();
        let v = b.lens.len();
        b.lens.push(n);
        b.map.insert(i, v);
        inputs.push(QPort { name: val.name.clone(), value: v, shape: val.shape.clone(), dtype: val.dtype });
    }
    for node in &graph.nodes {
        lower(&mut b, node)?;
    }
    let mut outputs = Vec::new();
    for &o in &graph.outputs {
        let v = b.value(o);
        let val = &graph.values[o];
        outputs.push(QPort { name: val.name.clone(), value: v, shape: val.shape.clone(), dtype: val.dtype });
    }
    Ok(QuantGraph {
        scale: cal.scale,
        param_scale: cal.param_scale,
        bits: cal.bits,
        num_values: b.lens.len(),
        inputs,
        outputs,
        nodes: b.nodes,
        params: b.params,
        private_params: cal.private_params,
    })
}

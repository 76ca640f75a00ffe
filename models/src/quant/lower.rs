//! Lowering a float [`Graph`] to a [`QuantGraph`] at calibrated scales.

use std::collections::HashMap;

use super::{Calibration, QNode, QOp, QPort, QValueId, QuantGraph};
use crate::error::{ModelError, Result};
use crate::ir::{Graph, Node, ValueId};
use crate::ops::arith::broadcast_all;
use crate::ops::{Arith, Layout, Op};
use crate::tensor::Tensor;

struct Builder<'g> {
    graph: &'g Graph,
    cal: &'g Calibration,
    map: HashMap<ValueId, QValueId>,
    nodes: Vec<QNode>,
    next: QValueId,
}

fn q(x: f64, scale: u32) -> i64 {
    (x * 2f64.powi(scale as i32)).round() as i64
}

impl<'g> Builder<'g> {
    fn fresh(&mut self) -> QValueId {
        self.next += 1;
        self.next - 1
    }

    /// The quantized value of a graph value; constants become `Const` nodes at the activation scale.
    fn value(&mut self, id: ValueId) -> QValueId {
        if let Some(&v) = self.map.get(&id) {
            return v;
        }
        let t = self.graph.constant(id).expect("non-constant values are mapped before use");
        let values = t.data.iter().map(|x| q(*x, self.cal.scale)).collect::<Vec<_>>();
        let out = self.fresh();
        self.nodes.push(QNode {
            name: format!("const:{}", self.graph.values[id].name),
            len: values.len(),
            op: QOp::Const { values },
            inputs: vec![],
            output: out,
        });
        self.map.insert(id, out);
        out
    }

    fn push(&mut self, node: &Node, op: QOp, inputs: Vec<ValueId>, len: usize) {
        let inputs = inputs.into_iter().map(|i| self.value(i)).collect();
        let out = self.fresh();
        self.nodes.push(QNode { name: node.name.clone(), op, inputs, output: out, len });
        self.map.insert(node.output, out);
    }

    fn err(node: &Node, msg: impl Into<String>) -> ModelError {
        ModelError::node(&node.name, node.op.name(), msg)
    }

    fn lower(&mut self, node: &Node) -> Result<()> {
        let g = self.graph;
        let shapes: Vec<&[usize]> = node.inputs.iter().map(|&i| g.shape(i)).collect();
        let (s, p) = (self.cal.scale, self.cal.param_scale);
        match &node.op {
            Op::Linear(lin) => {
                let ps = lin.structure(&shapes)?;
                let c = |i: usize| node.inputs.get(i).and_then(|&v| g.constant(v));
                let n_out = ps.offsets.len() - 1;
                match (c(0), c(1)) {
                    (None, None) => {
                        if ps.alpha != 1.0 || ps.bias.is_some() {
                            return Err(Self::err(node, "a product of two activations with alpha or bias is not supported"));
                        }
                        let op = QOp::Bilinear { offsets: ps.offsets, left: ps.left, right: ps.right, shift: s };
                        self.push(node, op, vec![node.inputs[0], node.inputs[1]], n_out);
                    }
                    (a_const, b_const) => {
                        // The activation side becomes the index, the constant side the coefficient.
                        let (act, weights, act_idx, w_idx) = match (a_const, b_const) {
                            (None, Some(w)) => (node.inputs[0], w, &ps.left, &ps.right),
                            (Some(w), None) => (node.inputs[1], w, &ps.right, &ps.left),
                            _ => unreachable!("constant-only nodes are folded at import"),
                        };
                        let coeff: Vec<i64> = w_idx.iter().map(|&i| q(ps.alpha * weights.data[i as usize], p)).collect();
                        let mut slots = vec![act];
                        let mut slot = vec![0u8; act_idx.len()];
                        let mut idx = act_idx.clone();
                        let mut coeffs = coeff;
                        let mut offsets = ps.offsets.clone();
                        let mut bias = vec![0i64; n_out];
                        if let Some((bidx, beta)) = &ps.bias {
                            let c_in = node.inputs[2];
                            match g.constant(c_in) {
                                Some(ct) => {
                                    for o in 0..n_out {
                                        bias[o] = q(beta * ct.data[bidx[o]], s + p);
                                    }
                                }
                                None => {
                                    // An activation bias: one more term per output, weight beta at scale p.
                                    slots.push(c_in);
                                    let (mut s2, mut i2, mut c2, mut o2) = (vec![], vec![], vec![], vec![0]);
                                    for o in 0..n_out {
                                        for t in offsets[o]..offsets[o + 1] {
                                            s2.push(slot[t]);
                                            i2.push(idx[t]);
                                            c2.push(coeffs[t]);
                                        }
                                        s2.push(1);
                                        i2.push(bidx[o] as u32);
                                        c2.push(q(*beta, p));
                                        o2.push(s2.len());
                                    }
                                    (slot, idx, coeffs, offsets) = (s2, i2, c2, o2);
                                }
                            }
                        }
                        let op = QOp::Linear { offsets, slot, idx, coeff: coeffs, bias, shift: p };
                        self.push(node, op, slots, n_out);
                    }
                }
            }
            Op::Arith(a) => {
                let (_, maps) = broadcast_all(&shapes)?;
                let n_out = maps[0].len();
                let consts: Vec<Option<&Tensor>> = node.inputs.iter().map(|&i| g.constant(i)).collect();
                match a {
                    Arith::Mul => {
                        let (x, y) = (node.inputs[0], node.inputs[1]);
                        match (consts[0], consts[1]) {
                            (None, None) => {
                                let offsets = (0..=n_out).collect();
                                let left = maps[0].iter().map(|&i| i as u32).collect();
                                let right = maps[1].iter().map(|&i| i as u32).collect();
                                self.push(node, QOp::Bilinear { offsets, left, right, shift: s }, vec![x, y], n_out);
                            }
                            (cx, cy) => {
                                let (act, w, am, wm) = if cy.is_some() {
                                    (x, cy.unwrap(), &maps[0], &maps[1])
                                } else {
                                    (y, cx.unwrap(), &maps[1], &maps[0])
                                };
                                let op = QOp::Linear {
                                    offsets: (0..=n_out).collect(),
                                    slot: vec![0; n_out],
                                    idx: am.iter().map(|&i| i as u32).collect(),
                                    coeff: wm.iter().map(|&i| q(w.data[i], p)).collect(),
                                    bias: vec![0; n_out],
                                    shift: p,
                                };
                                self.push(node, op, vec![act], n_out);
                            }
                        }
                    }
                    Arith::Add | Arith::Sub | Arith::Neg | Arith::Sum => {
                        let sign = |k: usize| -> i64 {
                            match a {
                                Arith::Sub if k == 1 => -1,
                                Arith::Neg => -1,
                                _ => 1,
                            }
                        };
                        let mut slots = Vec::new();
                        let mut bias = vec![0i64; n_out];
                        let mut slot_of = vec![None; node.inputs.len()];
                        for (k, &inp) in node.inputs.iter().enumerate() {
                            match consts[k] {
                                Some(t) => {
                                    for o in 0..n_out {
                                        bias[o] += sign(k) * q(t.data[maps[k][o]], s);
                                    }
                                }
                                None => {
                                    slot_of[k] = Some(slots.len() as u8);
                                    slots.push(inp);
                                }
                            }
                        }
                        let (mut offsets, mut slot, mut idx, mut coeff) = (vec![0], vec![], vec![], vec![]);
                        for o in 0..n_out {
                            for k in 0..node.inputs.len() {
                                if let Some(sl) = slot_of[k] {
                                    slot.push(sl);
                                    idx.push(maps[k][o] as u32);
                                    coeff.push(sign(k));
                                }
                            }
                            offsets.push(slot.len());
                        }
                        self.push(node, QOp::Linear { offsets, slot, idx, coeff, bias, shift: 0 }, slots, n_out);
                    }
                }
            }
            Op::Activation(_) => {
                let n = g.shape(node.output).iter().product();
                self.push(node, QOp::Relu, vec![node.inputs[0]], n);
            }
            Op::Layout(l) => {
                let (_, map) = Layout::index_map(l, &shapes)?;
                let n = map.len();
                let map = map.into_iter().map(|(s, i)| (s as u32, i as u32)).collect();
                self.push(node, QOp::Select { map }, node.inputs.clone(), n);
            }
        }
        Ok(())
    }
}

/// Quantizes `graph` at the scales of `cal`.
pub fn quantize(graph: &Graph, cal: &Calibration) -> Result<QuantGraph> {
    let mut b = Builder { graph, cal, map: HashMap::new(), nodes: Vec::new(), next: 0 };
    let mut inputs = Vec::new();
    for &i in &graph.inputs {
        let v = b.fresh();
        b.map.insert(i, v);
        let val = &graph.values[i];
        inputs.push(QPort { name: val.name.clone(), value: v, shape: val.shape.clone(), dtype: val.dtype });
    }
    for node in &graph.nodes {
        b.lower(node)?;
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
        num_values: b.next,
        inputs,
        outputs,
        nodes: b.nodes,
    })
}

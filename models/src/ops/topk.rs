//! TopK with a constant `k`: the `k` largest (or smallest) elements along an axis and
//! their positions, ties ordered by position as onnxruntime orders them.
//!
//! Quantized as ranks (see `quant::lower_topk`): element `i` of a group has rank
//! `#{j > i: x_j beats x_i} + #{j < i: x_j ties or beats x_i}`, a permutation of
//! `0..n`; output `r` picks the element of rank `r` by constrained equality indicators.

use serde::{Deserialize, Serialize};

use super::{norm_axis, Imported, NodeCtx, Op, Registry};
use crate::error::Result;
use crate::tensor::{numel, DType, Tensor};

/// Registers TopK.
pub fn register(r: &mut Registry) {
    r.insert("TopK", import);
}

/// One output of TopK: the values, or with `indices` the positions along the axis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopK {
    pub axis: usize,
    pub k: usize,
    pub largest: bool,
    pub indices: bool,
}

fn import(c: &NodeCtx) -> Result<Imported> {
    let x = c.inputs.first().and_then(|x| x.as_ref()).map(|x| x.shape).ok_or_else(|| c.err("missing input 0"))?;
    let axis = norm_axis(c.attrs.int_or("axis", -1), x.len()).ok_or_else(|| c.err("axis out of range"))?;
    let k = match c.attrs.int("k") {
        Some(k) if c.opset < 10 => k,
        _ => c.const_input(1)?.data.first().copied().ok_or_else(|| c.err("empty k"))? as i64,
    };
    if k < 1 || k as usize > x[axis] {
        return Err(c.err(format!("k = {k} is outside 1..={}", x[axis])));
    }
    let largest = c.attrs.int_or("largest", 1) != 0;
    let top = |indices| Imported::Op { op: Op::TopK(TopK { axis, k: k as usize, largest, indices }), inputs: vec![0] };
    Ok(Imported::Multi((0..c.num_outputs.max(1)).map(|o| top(o == 1)).collect()))
}

/// The groups TopK ranks: per group, the flat input index of each element along the axis.
pub fn groups(x: &[usize], axis: usize) -> Vec<Vec<usize>> {
    let (outer, inner) = (numel(&x[..axis]), numel(&x[axis + 1..]));
    (0..outer).flat_map(|o| (0..inner).map(move |i| (0..x[axis]).map(|j| (o * x[axis] + j) * inner + i).collect())).collect()
}

impl TopK {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        "TopK"
    }

    /// Output shape, and per output element `(group, rank)`.
    pub fn out_map(&self, x: &[usize]) -> (Vec<usize>, Vec<(usize, usize)>) {
        let mut out = x.to_vec();
        out[self.axis] = self.k;
        let (outer, inner) = (numel(&x[..self.axis]), numel(&x[self.axis + 1..]));
        let map = (0..outer).flat_map(|o| (0..self.k).flat_map(move |r| (0..inner).map(move |i| (o * inner + i, r)))).collect();
        (out, map)
    }

    /// `a` is strictly better than `b` (larger, or smaller for `largest = 0`).
    pub fn better(&self, a: f64, b: f64) -> bool {
        if self.largest {
            a > b
        } else {
            a < b
        }
    }

    /// Float semantics (stable: equal values keep their order).
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let groups = groups(&x.shape, self.axis);
        let sorted: Vec<Vec<usize>> = groups
            .iter()
            .map(|g| {
                let mut order: Vec<usize> = (0..g.len()).collect();
                order.sort_by(|&a, &b| {
                    let (va, vb) = (x.data[g[a]], x.data[g[b]]);
                    if self.better(va, vb) {
                        std::cmp::Ordering::Less
                    } else if self.better(vb, va) {
                        std::cmp::Ordering::Greater
                    } else {
                        a.cmp(&b)
                    }
                });
                order
            })
            .collect();
        let (shape, map) = self.out_map(&x.shape);
        let data = map.iter().map(|&(g, r)| if self.indices { sorted[g][r] as f64 } else { x.data[groups[g][sorted[g][r]]] }).collect();
        Ok(Tensor::new(shape, data, if self.indices { DType::I64 } else { x.dtype }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topk_orders_ties_by_position_along_any_axis() {
        let x = Tensor::new(vec![2, 3], vec![1., 3., 3., 2., 0., 2.], DType::F32);
        let run = |axis, k, largest, indices| TopK { axis, k, largest, indices }.eval(&[&x]).unwrap();
        assert_eq!(run(1, 2, true, false).data, vec![3., 3., 2., 2.]);
        assert_eq!(run(1, 2, true, true).data, vec![1., 2., 0., 2.]);
        assert_eq!(run(1, 3, false, true).data, vec![0., 1., 2., 1., 0., 2.]);
        let t = run(0, 1, true, true);
        assert_eq!((t.shape, t.data, t.dtype), (vec![1, 3], vec![1., 0., 0.], DType::I64));
    }
}

//! GatherElements, ScatterElements and OneHot: element-wise indexing along one axis.
//!
//! With constant indices both are index maps (free in circuits). With activation
//! indices every candidate position `j` along the axis is compared with the index
//! (`[idx == j]`, constrained) and the result is the sum of the candidates weighted by
//! these indicators; see `quant::lower_elements`.

use serde::{Deserialize, Serialize};

use super::conv::coords;
use super::{norm_axis, Imported, NodeCtx, Op, Registry};
use crate::error::{ModelError, Result};
use crate::tensor::{numel, strides, Tensor};

/// Registers GatherElements and ScatterElements.
pub fn register(r: &mut Registry) {
    r.insert("GatherElements", |c: &NodeCtx| import(c, false));
    r.insert("ScatterElements", |c: &NodeCtx| import(c, true));
    r.insert("Scatter", |c: &NodeCtx| import(c, true));
    r.insert("OneHot", import_onehot);
}

/// OneHot with a constant depth and values: `out[.., k, ..] = on` where `idx == k`,
/// else `off`; `axis` is the position of the new axis in the output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OneHot {
    pub axis: usize,
    pub depth: usize,
    pub off: f64,
    pub on: f64,
}

fn import_onehot(c: &NodeCtx) -> Result<Imported> {
    let rank = c.inputs.first().and_then(|x| x.as_ref()).map(|x| x.shape.len()).ok_or_else(|| c.err("missing input 0"))?;
    let axis = norm_axis(c.attrs.int_or("axis", -1), rank + 1).ok_or_else(|| c.err("axis out of range"))?;
    let depth = c.const_input(1)?.data.first().copied().ok_or_else(|| c.err("empty depth"))?;
    let values = &c.const_input(2)?.data;
    if depth < 1.0 || values.len() != 2 {
        return Err(c.err(format!("needs depth >= 1 and two values, got depth {depth} and {} values", values.len())));
    }
    Ok(Imported::Op { op: Op::OneHot(OneHot { axis, depth: depth as usize, off: values[0], on: values[1] }), inputs: vec![0] })
}

impl OneHot {
    /// Output shape and, per output element, `(index element, k)`.
    pub fn index_map(&self, idx_shape: &[usize]) -> (Vec<usize>, Vec<(usize, usize)>) {
        let mut out = idx_shape.to_vec();
        out.insert(self.axis, self.depth);
        let is = strides(idx_shape);
        let map = coords(&out)
            .iter()
            .map(|c| {
                let u = c.iter().enumerate().filter(|(d, _)| *d != self.axis).zip(&is).map(|((_, a), s)| a * s).sum();
                (u, c[self.axis])
            })
            .collect();
        (out, map)
    }

    /// Float semantics; negative indices count from the end.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let (shape, map) = self.index_map(&x.shape);
        let d = self.depth as f64;
        let data = map
            .iter()
            .map(|&(u, k)| {
                let i = if x.data[u] < 0.0 { x.data[u] + d } else { x.data[u] };
                if i == k as f64 {
                    self.on
                } else {
                    self.off
                }
            })
            .collect();
        Ok(Tensor::new(shape, data, crate::tensor::DType::F32))
    }
}

/// Element-wise indexing along `axis`. `indices` is `Some` (normalised to be
/// non-negative) when constant; else the node's input 1 holds them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Elements {
    /// ScatterElements (inputs data, [indices,] updates) rather than GatherElements
    /// (inputs data[, indices]).
    pub scatter: bool,
    pub axis: usize,
    pub indices: Option<Vec<i64>>,
    pub idx_shape: Vec<usize>,
}

fn import(c: &NodeCtx, scatter: bool) -> Result<Imported> {
    let shape = |i: usize| c.inputs.get(i).and_then(|x| x.as_ref()).map(|x| x.shape).ok_or_else(|| c.err(format!("missing input {i}")));
    let (data, idx_shape) = (shape(0)?, shape(1)?.to_vec());
    let axis = norm_axis(c.attrs.int_or("axis", 0), data.len()).ok_or_else(|| c.err("axis out of range"))?;
    if idx_shape.len() != data.len() || idx_shape.iter().zip(data).enumerate().any(|(d, (i, x))| d != axis && i > x) {
        return Err(c.err(format!("indices of shape {idx_shape:?} do not fit data of shape {data:?}")));
    }
    if scatter {
        if let Some(r) = c.attrs.string("reduction").filter(|r| r != "none") {
            return Err(c.err(format!("attribute reduction = `{r}` is not supported (none only)")));
        }
        if shape(2)? != idx_shape.as_slice() {
            return Err(c.err("updates and indices differ in shape"));
        }
    }
    let dim = data[axis] as i64;
    let (indices, inputs) = match c.is_const(1).then(|| c.opt_const_ints(1)).transpose()?.flatten() {
        Some(idx) => {
            let idx = idx.iter().map(|&i| if i < 0 { i + dim } else { i }).collect::<Vec<_>>();
            if let Some(i) = idx.iter().find(|&&i| i < 0 || i >= dim) {
                return Err(c.err(format!("index {i} is out of range for axis {axis} of size {dim}")));
            }
            (Some(idx), if scatter { vec![0, 2] } else { vec![0] })
        }
        _ => (None, if scatter { vec![0, 1, 2] } else { vec![0, 1] }),
    };
    Ok(Imported::Op { op: Op::Elements(Elements { scatter, axis, indices, idx_shape }), inputs })
}

/// Where an index acts: per index element, the flat data index of its position with
/// coordinate 0 along the axis; the data stride along the axis; the axis size.
pub struct Sites {
    pub base: Vec<usize>,
    pub stride: usize,
    pub dim: usize,
}

impl Elements {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        if self.scatter {
            "ScatterElements"
        } else {
            "GatherElements"
        }
    }

    /// The positions the indices act on, for data of shape `data`.
    pub fn sites(&self, data: &[usize]) -> Sites {
        let ds = strides(data);
        let base = coords(&self.idx_shape)
            .iter()
            .map(|c| c.iter().zip(&ds).enumerate().filter(|(d, _)| *d != self.axis).map(|(_, (a, s))| a * s).sum())
            .collect();
        Sites { base, stride: ds[self.axis], dim: data[self.axis] }
    }

    /// Output shape and, per output element, `(input, flat index)`: input 0 is data, 1
    /// the updates (constant indices only).
    pub fn index_map(&self, data: &[usize]) -> Result<super::SourceMap> {
        let idx = self
            .indices
            .as_ref()
            .ok_or_else(|| ModelError::Shape(format!("{} with activation indices is not an index map", self.name())))?;
        let s = self.sites(data);
        if self.scatter {
            let mut map: Vec<(usize, usize)> = (0..numel(data)).map(|i| (0, i)).collect();
            for (u, (&b, &i)) in s.base.iter().zip(idx).enumerate() {
                map[b + i as usize * s.stride] = (1, u);
            }
            Ok((data.to_vec(), map))
        } else {
            Ok((self.idx_shape.clone(), s.base.iter().zip(idx).map(|(&b, &i)| (0, b + i as usize * s.stride)).collect()))
        }
    }

    /// Float semantics.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let (shape, map) = match &self.indices {
            Some(_) => self.index_map(&x.shape)?,
            None => {
                let dynamic = Elements { indices: Some(checked_indices(inputs[1], x.shape[self.axis])?), ..self.clone() };
                let (shape, map) = dynamic.index_map(&x.shape)?;
                (shape, map.into_iter().map(|(s, i)| (if s == 1 { 2 } else { 0 }, i)).collect())
            }
        };
        Ok(Tensor::new(shape, map.iter().map(|&(s, i)| inputs[s].data[i]).collect(), x.dtype))
    }
}

fn checked_indices(t: &Tensor, dim: usize) -> Result<Vec<i64>> {
    t.data
        .iter()
        .map(|&v| {
            let i = if v < 0.0 { v + dim as f64 } else { v };
            if i < 0.0 || i >= dim as f64 {
                Err(ModelError::Shape(format!("index {v} is out of range for an axis of size {dim}")))
            } else {
                Ok(i as i64)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::DType;

    fn t(shape: &[usize], data: &[f64]) -> Tensor {
        Tensor::new(shape.to_vec(), data.to_vec(), DType::F32)
    }

    #[test]
    fn gather_and_scatter_elements_follow_the_onnx_examples() {
        // ONNX GatherElements example 1 (axis 1) and ScatterElements example 2 (axis 1).
        let g = Elements { scatter: false, axis: 1, indices: None, idx_shape: vec![2, 2] };
        let out = g.eval(&[&t(&[2, 2], &[1., 2., 3., 4.]), &t(&[2, 2], &[0., 0., 1., 0.])]).unwrap();
        assert_eq!((out.shape, out.data), (vec![2, 2], vec![1., 1., 4., 3.]));
        let s = Elements { scatter: true, axis: 1, indices: None, idx_shape: vec![1, 2] };
        let out = s.eval(&[&t(&[1, 5], &[1., 2., 3., 4., 5.]), &t(&[1, 2], &[1., 3.]), &t(&[1, 2], &[1.1, 2.1])]).unwrap();
        assert_eq!(out.data, vec![1., 1.1, 3., 2.1, 5.]);
        // The constant-index form is the same index map.
        let c = Elements { indices: Some(vec![1, 3]), ..s };
        let out = c.eval(&[&t(&[1, 5], &[1., 2., 3., 4., 5.]), &t(&[1, 2], &[1.1, 2.1])]).unwrap();
        assert_eq!(out.data, vec![1., 1.1, 3., 2.1, 5.]);
        let bad = g.eval(&[&t(&[2, 2], &[1., 2., 3., 4.]), &t(&[2, 2], &[0., 2., 1., 0.])]);
        assert!(matches!(bad, Err(ModelError::Shape(m)) if m.contains("index 2 is out of range")));
    }

    #[test]
    fn onehot_inserts_the_axis_and_counts_negative_indices_from_the_end() {
        let o = OneHot { axis: 1, depth: 3, off: -1.0, on: 5.0 };
        let out = o.eval(&[&t(&[2], &[2., -3.])]).unwrap();
        assert_eq!((out.shape, out.data), (vec![2, 3], vec![-1., -1., 5., 5., -1., -1.]));
        let o = OneHot { axis: 0, ..o };
        let out = o.eval(&[&t(&[2], &[1., 0.])]).unwrap();
        assert_eq!((out.shape, out.data), (vec![3, 2], vec![-1., 5., 5., -1., -1., -1.]));
    }
}

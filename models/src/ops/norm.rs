//! Normalisations and soft-max: BatchNormalization (inference), LayerNormalization,
//! InstanceNormalization, Softmax, LogSoftmax.
//!
//! Each normalises over groups given by reduction axes ([`Norm::axes`]); the affine
//! parameters (scale, bias, running statistics) must be compile-time constants.

use serde::{Deserialize, Serialize};

use super::reduce::{Geometry, Reduce, ReduceKind};
use super::{norm_axis, Imported, NodeCtx, Op, Registry};
use crate::error::Result;
use crate::tensor::Tensor;

/// Registers the normalisations.
pub fn register(r: &mut Registry) {
    r.insert("BatchNormalization", |c: &NodeCtx| {
        for i in 1..5 {
            c.const_input(i)?;
        }
        let op = Norm::Batch { epsilon: c.attrs.float_or("epsilon", 1e-5) as f64 };
        Ok(Imported::Op { op: Op::Norm(op), inputs: (0..5).collect() })
    });
    r.insert("LayerNormalization", |c: &NodeCtx| {
        let rank = shape(c).len();
        let axis = norm_axis(c.attrs.int_or("axis", -1), rank).ok_or_else(|| c.err("axis out of range"))?;
        let op = Norm::Layer { axis, epsilon: c.attrs.float_or("epsilon", 1e-5) as f64 };
        affine_inputs(c, op)
    });
    r.insert("InstanceNormalization", |c: &NodeCtx| affine_inputs(c, Norm::Instance { epsilon: c.attrs.float_or("epsilon", 1e-5) as f64 }));
    r.insert("Softmax", |c: &NodeCtx| softmax(c, false));
    r.insert("LogSoftmax", |c: &NodeCtx| softmax(c, true));
}

/// Normalisation ops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Norm {
    /// `(x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]`, inputs x, scale, bias, mean, var.
    Batch { epsilon: f64 },
    /// Normalise over dims `axis..`; inputs x, scale[, bias].
    Layer { axis: usize, epsilon: f64 },
    /// Normalise over the spatial dims per (n, c); inputs x, scale, bias.
    Instance { epsilon: f64 },
    /// `exp(x) / sum exp(x)` over `axes`.
    Softmax { axes: Vec<usize>, log: bool },
}

fn shape<'a>(c: &NodeCtx<'a>) -> &'a [usize] {
    c.inputs.first().and_then(|x| x.as_ref()).map(|x| x.shape).unwrap_or(&[])
}

fn affine_inputs(c: &NodeCtx, op: Norm) -> Result<Imported> {
    let n = c.num_inputs();
    for i in 1..n {
        if c.inputs[i].is_some() {
            c.const_input(i)?;
        }
    }
    Ok(Imported::Op { op: Op::Norm(op), inputs: (0..n).filter(|&i| c.inputs[i].is_some()).collect() })
}

fn softmax(c: &NodeCtx, log: bool) -> Result<Imported> {
    let rank = shape(c).len();
    let default = if c.opset >= 13 { -1 } else { 1 };
    let axis = norm_axis(c.attrs.int_or("axis", default), rank).ok_or_else(|| c.err("axis out of range"))?;
    // Before opset 13 the input is coerced to 2-D at `axis`: normalise over all dims from it.
    let axes = if c.opset >= 13 { vec![axis] } else { (axis..rank).collect() };
    Ok(Imported::Op { op: Op::Norm(Norm::Softmax { axes, log }), inputs: vec![0] })
}

impl Norm {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        match self {
            Norm::Batch { .. } => "BatchNormalization",
            Norm::Layer { .. } => "LayerNormalization",
            Norm::Instance { .. } => "InstanceNormalization",
            Norm::Softmax { log: false, .. } => "Softmax",
            Norm::Softmax { log: true, .. } => "LogSoftmax",
        }
    }

    /// The reduction axes for an input of rank `rank` (BatchNorm: none, it is affine).
    pub fn axes(&self, rank: usize) -> Vec<usize> {
        match self {
            Norm::Batch { .. } => vec![],
            Norm::Layer { axis, .. } => (*axis..rank).collect(),
            Norm::Instance { .. } => (2..rank).collect(),
            Norm::Softmax { axes, .. } => axes.clone(),
        }
    }

    /// The groups as a keep-dims reduction.
    pub fn reduce(&self, rank: usize) -> Reduce {
        Reduce { kind: ReduceKind::Sum, geometry: Geometry::Axes { axes: self.axes(rank), keepdims: true, select_last: false } }
    }

    /// For BatchNorm and the affine part of Layer/InstanceNorm: per-element `(scale, bias)`
    /// flat indices into the parameter tensors, or `None` when a parameter is absent.
    pub fn param_index(&self, x: &[usize], param: &[usize]) -> Vec<usize> {
        let n: usize = x.iter().product();
        match self {
            Norm::Batch { .. } | Norm::Instance { .. } => {
                let sp: usize = x[2..].iter().product();
                (0..n).map(|o| (o / sp) % x[1]).collect()
            }
            _ => {
                let pn: usize = param.iter().product::<usize>().max(1);
                (0..n).map(|o| o % pn).collect()
            }
        }
    }

    /// Float semantics.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let mut out = x.data.clone();
        if let Norm::Batch { epsilon } = self {
            let idx = self.param_index(&x.shape, &inputs[1].shape);
            for (o, v) in out.iter_mut().enumerate() {
                let c = idx[o];
                let (s, b, m, var) = (inputs[1].data[c], inputs[2].data[c], inputs[3].data[c], inputs[4].data[c]);
                *v = (*v - m) / (var + epsilon).sqrt() * s + b;
            }
            return Ok(Tensor::new(x.shape.clone(), out, x.dtype));
        }
        let g = self.reduce(x.shape.len()).groups(&x.shape)?;
        for o in 0..g.divisor.len() {
            let ids = &g.idx[g.offsets[o]..g.offsets[o + 1]];
            let vals: Vec<f64> = ids.iter().map(|&i| x.data[i as usize]).collect();
            let n = vals.len() as f64;
            let res: Vec<f64> = match self {
                Norm::Softmax { log, .. } => {
                    let m = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let s: f64 = vals.iter().map(|v| (v - m).exp()).sum();
                    vals.iter().map(|v| if *log { v - m - s.ln() } else { (v - m).exp() / s }).collect()
                }
                Norm::Layer { epsilon, .. } | Norm::Instance { epsilon } => {
                    let mean = vals.iter().sum::<f64>() / n;
                    let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                    vals.iter().map(|v| (v - mean) / (var + epsilon).sqrt()).collect()
                }
                Norm::Batch { .. } => unreachable!(),
            };
            for (&i, r) in ids.iter().zip(res) {
                out[i as usize] = r;
            }
        }
        if matches!(self, Norm::Layer { .. } | Norm::Instance { .. }) {
            let idx = self.param_index(&x.shape, &inputs[1].shape);
            for (o, v) in out.iter_mut().enumerate() {
                *v = *v * inputs[1].data[idx[o]] + inputs.get(2).map_or(0.0, |b| b.data[idx[o]]);
            }
        }
        Ok(Tensor::new(x.shape.clone(), out, x.dtype))
    }
}

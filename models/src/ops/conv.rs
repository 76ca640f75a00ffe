//! Conv and ConvTranspose (any number of spatial dims, strides, pads, dilations, groups).
//!
//! Both are [`ProductSum`]s like Gemm: input 0 is the activation (left), input 1 the
//! weights (right), input 2 the optional per-output-channel bias. Padding contributes
//! no term, so padded positions cost nothing in circuits.

use serde::{Deserialize, Serialize};

use super::linear::ProductSum;
use super::{Imported, NodeCtx, Op, Registry};
use crate::error::{ModelError, Result};
use crate::tensor::{numel, strides, Tensor};

/// Registers Conv and ConvTranspose.
pub fn register(r: &mut Registry) {
    r.insert("Conv", |c: &NodeCtx| import(c, false));
    r.insert("ConvTranspose", |c: &NodeCtx| import(c, true));
}

/// Geometry of a convolution over `n` spatial dims. `pads` is `[begin.., end..]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvSpec {
    pub transpose: bool,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub pads: Vec<usize>,
    pub group: usize,
    /// ConvTranspose only.
    pub output_padding: Vec<usize>,
}

fn import(ctx: &NodeCtx, transpose: bool) -> Result<Imported> {
    if !(2..=3).contains(&ctx.num_inputs()) {
        return Err(ctx.err("takes 2 or 3 inputs"));
    }
    let x = ctx.inputs[0].as_ref().ok_or_else(|| ctx.err("missing input"))?.shape;
    let w = ctx.inputs[1].as_ref().ok_or_else(|| ctx.err("missing weights"))?.shape;
    if x.len() < 3 || w.len() != x.len() {
        return Err(ctx.err(format!("input {x:?} and weights {w:?} do not form a convolution")));
    }
    let n = x.len() - 2;
    let ints = |name: &str, d: i64| -> Vec<usize> {
        ctx.attrs.ints(name).map(|v| v.iter().map(|&a| a as usize).collect()).unwrap_or_else(|| vec![d as usize; n])
    };
    let (strides, dilations) = (ints("strides", 1), ints("dilations", 1));
    let kernel: Vec<usize> = w[2..].iter().zip(&dilations).map(|(k, d)| (k - 1) * d + 1).collect();
    let auto = ctx.attrs.string("auto_pad").unwrap_or_default();
    let pads = match auto.as_str() {
        "" | "NOTSET" => ctx.attrs.ints("pads").map(|v| v.iter().map(|&a| a as usize).collect()).unwrap_or(vec![0; 2 * n]),
        "VALID" => vec![0; 2 * n],
        "SAME_UPPER" | "SAME_LOWER" if !transpose => {
            let mut p = vec![0; 2 * n];
            for i in 0..n {
                let out = x[2 + i].div_ceil(strides[i]);
                let total = ((out - 1) * strides[i] + kernel[i]).saturating_sub(x[2 + i]);
                let (small, big) = (total / 2, total - total / 2);
                (p[i], p[n + i]) = if auto == "SAME_UPPER" { (small, big) } else { (big, small) };
            }
            p
        }
        other => return Err(ctx.err(format!("auto_pad {other} is not supported"))),
    };
    let spec = ConvSpec {
        transpose,
        strides,
        dilations,
        pads,
        group: ctx.attrs.int_or("group", 1) as usize,
        output_padding: ints("output_padding", 0),
    };
    if ctx.attrs.has("output_shape") {
        return Err(ctx.err("ConvTranspose with an explicit output_shape is not supported"));
    }
    Ok(Imported::Op { op: Op::Conv(spec), inputs: (0..ctx.num_inputs()).collect() })
}

impl ConvSpec {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        if self.transpose {
            "ConvTranspose"
        } else {
            "Conv"
        }
    }

    /// The product-sum structure for these input shapes (activation, weights[, bias]).
    pub fn structure(&self, shapes: &[&[usize]]) -> Result<ProductSum> {
        let (x, w) = (shapes[0], shapes[1]);
        let n = x.len() - 2;
        let (batch, cin, g) = (x[0], x[1], self.group.max(1));
        let (cout, cin_g) = if self.transpose { (w[1] * g, w[0] / g) } else { (w[0], w[1]) };
        if cin != cin_g * g || (self.transpose && w[0] != cin) {
            return Err(ModelError::Shape(format!("{}: input {x:?} and weights {w:?} with group {g}", self.name())));
        }
        let cout_g = cout / g;
        let ksz = &w[2..];
        let mut out_sp = Vec::with_capacity(n);
        for i in 0..n {
            let k = (ksz[i] - 1) * self.dilations[i] + 1;
            let (pb, pe) = (self.pads[i], self.pads[n + i]);
            let o = if self.transpose {
                (self.strides[i] * (x[2 + i] - 1) + self.output_padding[i] + k).checked_sub(pb + pe)
            } else {
                (x[2 + i] + pb + pe).checked_sub(k).map(|v| v / self.strides[i] + 1)
            };
            out_sp.push(o.filter(|&o| o > 0).ok_or_else(|| ModelError::Shape(format!("{}: empty output", self.name())))?);
        }
        let mut out_shape = vec![batch, cout];
        out_shape.extend(&out_sp);
        let (xs, ws) = (strides(x), strides(w));
        let n_out = numel(&out_shape);
        let mut terms: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n_out];
        let os = strides(&out_shape);
        let kpos: Vec<Vec<usize>> = coords(ksz);
        let in_pos: Vec<Vec<usize>> = coords(&x[2..]);
        for b in 0..batch {
            for m in 0..cout {
                let gi = m / cout_g;
                for c in 0..cin_g {
                    let ci = gi * cin_g + c;
                    for kp in &kpos {
                        let wi = if self.transpose { ci * ws[0] + (m % cout_g) * ws[1] } else { m * ws[0] + c * ws[1] }
                            + kp.iter().enumerate().map(|(d, v)| v * ws[2 + d]).sum::<usize>();
                        if self.transpose {
                            for ip in &in_pos {
                                let mut oi = b * os[0] + m * os[1];
                                let ok = (0..n).all(|d| {
                                    let o = (ip[d] * self.strides[d] + kp[d] * self.dilations[d]) as i64 - self.pads[d] as i64;
                                    oi += o.max(0) as usize * os[2 + d];
                                    o >= 0 && (o as usize) < out_sp[d]
                                });
                                if ok {
                                    let xi = b * xs[0] + ci * xs[1] + ip.iter().enumerate().map(|(d, v)| v * xs[2 + d]).sum::<usize>();
                                    terms[oi].push((xi as u32, wi as u32));
                                }
                            }
                        } else {
                            for op in coords(&out_sp) {
                                let mut xi = b * xs[0] + ci * xs[1];
                                let ok = (0..n).all(|d| {
                                    let p = (op[d] * self.strides[d] + kp[d] * self.dilations[d]) as i64 - self.pads[d] as i64;
                                    xi += p.max(0) as usize * xs[2 + d];
                                    p >= 0 && (p as usize) < x[2 + d]
                                });
                                if ok {
                                    let oi = b * os[0] + m * os[1] + op.iter().enumerate().map(|(d, v)| v * os[2 + d]).sum::<usize>();
                                    terms[oi].push((xi as u32, wi as u32));
                                }
                            }
                        }
                    }
                }
            }
        }
        let mut ps = ProductSum::new(out_shape.clone(), 1.0);
        for t in terms {
            for (l, r) in t {
                ps.left.push(l);
                ps.right.push(r);
            }
            ps.offsets.push(ps.left.len());
        }
        if shapes.len() > 2 {
            if numel(shapes[2]) != cout {
                return Err(ModelError::Shape(format!("{}: bias {:?} for {cout} channels", self.name(), shapes[2])));
            }
            ps.bias = Some(((0..n_out).map(|o| (o / os[1]) % cout).collect(), 1.0));
        }
        Ok(ps)
    }

    /// Float semantics.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape.as_slice()).collect();
        Ok(self.structure(&shapes)?.eval(inputs))
    }
}

/// All coordinates of a shape in row-major order.
pub fn coords(shape: &[usize]) -> Vec<Vec<usize>> {
    let mut out = Vec::with_capacity(numel(shape));
    let mut c = vec![0usize; shape.len()];
    for _ in 0..numel(shape) {
        out.push(c.clone());
        for d in (0..shape.len()).rev() {
            c[d] += 1;
            if c[d] < shape[d] {
                break;
            }
            c[d] = 0;
        }
    }
    out
}

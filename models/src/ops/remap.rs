//! Ops that pick input elements by index, with shapes and indices fixed at import:
//! Pad, Gather, Resize/Upsample (nearest), Tile, Expand, Split, DepthToSpace.
//!
//! Like [`super::Layout`] they are index maps and cost nothing in circuits; an entry
//! of `None` stands for Pad's constant. Gather with non-constant indices is the one
//! exception: it is a one-hot selection (see [`Remap::Gather`]).

use serde::{Deserialize, Serialize};

use super::conv::coords;
use super::layout::Layout;
use super::{broadcast_index, broadcast_shapes, norm_axis, Imported, NodeCtx, Op, Registry};
use crate::error::{ModelError, Result};
use crate::tensor::{numel, strides, Tensor};

/// Registers the index-map ops.
pub fn register(r: &mut Registry) {
    r.insert("Pad", import_pad);
    r.insert("Gather", import_gather);
    r.insert("Resize", import_resize);
    r.insert("Upsample", import_resize);
    r.insert("Tile", |c: &NodeCtx| {
        let reps = c.opt_const_ints(1)?.ok_or_else(|| c.err("missing repeats"))?;
        let x = shape(c, 0)?;
        let shape = x.iter().zip(&reps).map(|(d, r)| d * (*r as usize)).collect();
        Ok(Imported::Op { op: Op::Remap(Remap::Tile { shape }), inputs: vec![0] })
    });
    r.insert("Expand", |c: &NodeCtx| {
        let target: Vec<usize> = c.opt_const_ints(1)?.ok_or_else(|| c.err("missing shape"))?.iter().map(|&d| d as usize).collect();
        let shape = broadcast_shapes(shape(c, 0)?, &target).ok_or_else(|| c.err("shapes do not broadcast"))?;
        Ok(Imported::Op { op: Op::Remap(Remap::Expand { shape }), inputs: vec![0] })
    });
    r.insert("Split", import_split);
    r.insert("DepthToSpace", |c: &NodeCtx| {
        let crd = c.attrs.string("mode").is_some_and(|m| m == "CRD");
        let block = c.attrs.int("blocksize").ok_or_else(|| c.err("missing blocksize"))? as usize;
        Ok(Imported::Op { op: Op::Remap(Remap::DepthToSpace { block, crd }), inputs: vec![0] })
    });
}

/// Index-map ops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Remap {
    /// Constant, reflect or edge padding; `pads` is `[begin.., end..]` (negative crops).
    Pad {
        pads: Vec<i64>,
        mode: PadMode,
        value: f64,
    },
    /// `data.take(indices, axis)`; `indices` is `Some` when constant (a pure index map),
    /// else input 1 holds them and data must be constant.
    Gather {
        axis: usize,
        indices: Option<Vec<i64>>,
        idx_shape: Vec<usize>,
    },
    /// Nearest-neighbour resize: the source coordinate per output coordinate per dim.
    Resize {
        shape: Vec<usize>,
        src: Vec<Vec<usize>>,
    },
    Tile {
        shape: Vec<usize>,
    },
    Expand {
        shape: Vec<usize>,
    },
    DepthToSpace {
        block: usize,
        crd: bool,
    },
}

/// How Pad fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PadMode {
    Constant,
    Reflect,
    Edge,
}

fn shape<'a>(c: &NodeCtx<'a>, i: usize) -> Result<&'a [usize]> {
    c.inputs.get(i).and_then(|x| x.as_ref()).map(|x| x.shape).ok_or_else(|| c.err(format!("missing input {i}")))
}

fn import_pad(c: &NodeCtx) -> Result<Imported> {
    let rank = shape(c, 0)?.len();
    let mut pads = match c.opt_const_ints(1)? {
        Some(p) if c.opset >= 11 => p,
        _ => c.attrs.ints("pads").or_else(|| c.attrs.ints("paddings")).ok_or_else(|| c.err("missing pads"))?,
    };
    let value = if c.opset >= 11 {
        c.inputs.get(2).and_then(|x| x.as_ref()).map(|_| c.const_input(2).map(|t| t.data[0])).transpose()?.unwrap_or(0.0)
    } else {
        c.attrs.float_or("value", 0.0) as f64
    };
    if let Some(axes) = c.opt_const_ints(3)? {
        let mut full = vec![0; 2 * rank];
        for (k, &a) in axes.iter().enumerate() {
            let a = norm_axis(a, rank).ok_or_else(|| c.err("axis out of range"))?;
            full[a] = pads[k];
            full[rank + a] = pads[axes.len() + k];
        }
        pads = full;
    }
    let mode = match c.attrs.string("mode").as_deref() {
        None | Some("constant") => PadMode::Constant,
        Some("reflect") => PadMode::Reflect,
        Some("edge") => PadMode::Edge,
        Some(m) => return Err(c.err(format!("pad mode {m} is not supported"))),
    };
    if pads.len() != 2 * rank {
        return Err(c.err(format!("{} pads for rank {rank}", pads.len())));
    }
    Ok(Imported::Op { op: Op::Remap(Remap::Pad { pads, mode, value }), inputs: vec![0] })
}

fn import_gather(c: &NodeCtx) -> Result<Imported> {
    let rank = shape(c, 0)?.len();
    let axis = norm_axis(c.attrs.int_or("axis", 0), rank).ok_or_else(|| c.err("axis out of range"))?;
    let idx_shape = shape(c, 1)?.to_vec();
    if c.is_const(1) {
        let dim = shape(c, 0)?[axis] as i64;
        let idx = c.opt_const_ints(1)?.unwrap().iter().map(|&i| if i < 0 { i + dim } else { i }).collect();
        Ok(Imported::Op { op: Op::Remap(Remap::Gather { axis, indices: Some(idx), idx_shape }), inputs: vec![0] })
    } else {
        Ok(Imported::Op { op: Op::Remap(Remap::Gather { axis, indices: None, idx_shape }), inputs: vec![0, 1] })
    }
}

fn import_resize(c: &NodeCtx) -> Result<Imported> {
    let x = shape(c, 0)?;
    let mode = c.attrs.string("mode").unwrap_or_else(|| "nearest".into());
    if mode != "nearest" {
        return Err(c.err(format!("Resize mode `{mode}` is not supported (nearest only)")));
    }
    let (scales, sizes) = if c.op_type == "Upsample" {
        (
            c.inputs
                .get(1)
                .and_then(|x| x.as_ref())
                .map(|_| c.const_input(1).map(|t| t.data.clone()))
                .transpose()?
                .or_else(|| c.attrs.floats("scales").map(|v| v.iter().map(|&f| f as f64).collect())),
            None,
        )
    } else {
        let get = |i: usize| -> Result<Option<Vec<f64>>> {
            match c.inputs.get(i).and_then(|x| x.as_ref()) {
                Some(inf) if inf.constant.is_some_and(|t| !t.is_empty()) => Ok(Some(c.const_input(i)?.data.clone())),
                _ => Ok(None),
            }
        };
        (get(2)?, get(3)?)
    };
    let out: Vec<usize> = match (&sizes, &scales) {
        (Some(s), _) => s.iter().map(|&v| v as usize).collect(),
        (None, Some(s)) if s.len() == x.len() => x.iter().zip(s).map(|(&d, f)| (d as f64 * f).floor() as usize).collect(),
        _ => return Err(c.err("Resize needs constant scales or sizes")),
    };
    let ctm = c.attrs.string("coordinate_transformation_mode").unwrap_or_else(|| {
        if c.opset >= 11 {
            "half_pixel".into()
        } else {
            "asymmetric".into()
        }
    });
    let nearest = c.attrs.string("nearest_mode").unwrap_or_else(|| "round_prefer_floor".into());
    let mut src = Vec::new();
    for d in 0..x.len() {
        let (i_len, o_len) = (x[d] as f64, out[d] as f64);
        let scale = scales.as_ref().map(|s| s[d]).unwrap_or(o_len / i_len);
        let col = (0..out[d])
            .map(|o| {
                let o = o as f64;
                let f = match ctm.as_str() {
                    "asymmetric" => o / scale,
                    "align_corners" => {
                        if o_len > 1.0 {
                            o * (i_len - 1.0) / (o_len - 1.0)
                        } else {
                            0.0
                        }
                    }
                    "pytorch_half_pixel" => {
                        if o_len > 1.0 {
                            (o + 0.5) / scale - 0.5
                        } else {
                            0.0
                        }
                    }
                    "tf_half_pixel_for_nn" => (o + 0.5) / scale,
                    _ => (o + 0.5) / scale - 0.5,
                };
                let r = match nearest.as_str() {
                    "floor" => f.floor(),
                    "ceil" => f.ceil(),
                    "round_prefer_ceil" => f.round(),
                    _ => {
                        if f.fract().abs() == 0.5 {
                            f.floor()
                        } else {
                            f.round()
                        }
                    }
                };
                r.clamp(0.0, i_len - 1.0) as usize
            })
            .collect();
        src.push(col);
    }
    Ok(Imported::Op { op: Op::Remap(Remap::Resize { shape: out, src }), inputs: vec![0] })
}

fn import_split(c: &NodeCtx) -> Result<Imported> {
    let x = shape(c, 0)?;
    let axis = norm_axis(c.attrs.int_or("axis", 0), x.len()).ok_or_else(|| c.err("axis out of range"))?;
    let n_out = c.num_outputs.max(1);
    let sizes: Vec<usize> = match c.opt_const_ints(1)?.or_else(|| c.attrs.ints("split")) {
        Some(s) => s.iter().map(|&v| v as usize).collect(),
        None => {
            let part = x[axis].div_ceil(n_out);
            (0..n_out).map(|k| part.min(x[axis].saturating_sub(k * part))).collect()
        }
    };
    let mut start = 0;
    let mut parts = Vec::new();
    for s in sizes {
        let mut starts = vec![0i64; x.len()];
        starts[axis] = start as i64;
        let mut shape = x.to_vec();
        shape[axis] = s;
        parts.push(Imported::Op { op: Op::Layout(Layout::Slice { starts, steps: vec![1; x.len()], shape }), inputs: vec![0] });
        start += s;
    }
    Ok(Imported::Multi(parts))
}

/// What [`Remap::gather_rows`] returns: the output shape, per output element the flat
/// data index of every candidate along the axis, and per output element the index input's
/// element that selects among them.
pub type GatherRows = (Vec<usize>, Vec<Vec<usize>>, Vec<usize>);

impl Remap {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        match self {
            Remap::Pad { .. } => "Pad",
            Remap::Gather { .. } => "Gather",
            Remap::Resize { .. } => "Resize",
            Remap::Tile { .. } => "Tile",
            Remap::Expand { .. } => "Expand",
            Remap::DepthToSpace { .. } => "DepthToSpace",
        }
    }

    /// Output shape and, per output element, the flat input index (`None`: Pad's value).
    /// For Gather with activation indices, the index into data per (output, candidate) is
    /// given by [`Remap::gather_rows`] instead.
    pub fn index_map(&self, x: &[usize]) -> Result<(Vec<usize>, Vec<Option<usize>>)> {
        let xs = strides(x);
        let flat = |c: &[usize]| c.iter().zip(&xs).map(|(a, b)| a * b).sum::<usize>();
        match self {
            Remap::Pad { pads, mode, .. } => {
                let r = x.len();
                let out: Vec<usize> = (0..r).map(|d| (x[d] as i64 + pads[d] + pads[r + d]).max(0) as usize).collect();
                let map = coords(&out)
                    .iter()
                    .map(|c| {
                        let mut src = Vec::with_capacity(r);
                        for d in 0..r {
                            let (p, n) = (c[d] as i64 - pads[d], x[d] as i64);
                            let v = match mode {
                                _ if (0..n).contains(&p) => p,
                                PadMode::Constant => return None,
                                PadMode::Edge => p.clamp(0, n - 1),
                                PadMode::Reflect => {
                                    let period = 2 * (n - 1).max(1);
                                    let m = p.rem_euclid(period);
                                    if m < n {
                                        m
                                    } else {
                                        period - m
                                    }
                                }
                            };
                            src.push(v as usize);
                        }
                        Some(flat(&src))
                    })
                    .collect();
                Ok((out, map))
            }
            Remap::Gather { axis, indices: Some(idx), idx_shape } => {
                let out: Vec<usize> = x[..*axis].iter().chain(idx_shape.iter()).chain(&x[axis + 1..]).copied().collect();
                let (outer, inner) = (numel(&x[..*axis]), numel(&x[axis + 1..]));
                let mut map = Vec::with_capacity(numel(&out));
                for o in 0..outer {
                    for &i in idx {
                        if i < 0 || i as usize >= x[*axis] {
                            return Err(ModelError::Shape(format!("Gather index {i} out of range for {x:?}")));
                        }
                        map.extend((0..inner).map(|k| Some((o * x[*axis] + i as usize) * inner + k)));
                    }
                }
                Ok((out, map))
            }
            Remap::Gather { .. } => Err(ModelError::Shape("Gather with activation indices is not an index map".into())),
            Remap::Resize { shape, src } => Ok((
                shape.clone(),
                coords(shape).iter().map(|c| Some(flat(&c.iter().enumerate().map(|(d, &v)| src[d][v]).collect::<Vec<_>>()))).collect(),
            )),
            Remap::Tile { shape } => Ok((
                shape.clone(),
                coords(shape).iter().map(|c| Some(flat(&c.iter().zip(x).map(|(v, d)| v % d).collect::<Vec<_>>()))).collect(),
            )),
            Remap::Expand { shape } => Ok((shape.clone(), broadcast_index(x, shape).into_iter().map(Some).collect())),
            Remap::DepthToSpace { block, crd } => {
                let (n, c, h, w, b) = (x[0], x[1], x[2], x[3], *block);
                let out = vec![n, c / (b * b), h * b, w * b];
                let map = coords(&out)
                    .iter()
                    .map(|o| {
                        let (bh, bw) = (o[2] % b, o[3] % b);
                        let ci = if *crd { o[1] * b * b + bh * b + bw } else { (bh * b + bw) * (c / (b * b)) + o[1] };
                        Some(flat(&[o[0], ci, o[2] / b, o[3] / b]))
                    })
                    .collect();
                Ok((out, map))
            }
        }
    }

    /// Gather with activation indices: output shape and, per output element and per
    /// candidate index `j` along the axis, the flat index into the constant data.
    pub fn gather_rows(&self, x: &[usize]) -> Result<GatherRows> {
        let Remap::Gather { axis, idx_shape, .. } = self else {
            return Err(ModelError::Shape("not a Gather".into()));
        };
        let out: Vec<usize> = x[..*axis].iter().chain(idx_shape.iter()).chain(&x[axis + 1..]).copied().collect();
        let (outer, inner, ni) = (numel(&x[..*axis]), numel(&x[axis + 1..]), numel(idx_shape));
        let (mut rows, mut which_idx) = (Vec::new(), Vec::new());
        for o in 0..outer {
            for i in 0..ni {
                for k in 0..inner {
                    rows.push((0..x[*axis]).map(|j| (o * x[*axis] + j) * inner + k).collect());
                    which_idx.push(i);
                }
            }
        }
        Ok((out, rows, which_idx))
    }

    /// Float semantics.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        if let Remap::Gather { indices: None, .. } = self {
            let (out, rows, which) = self.gather_rows(&x.shape)?;
            let data = rows
                .iter()
                .zip(&which)
                .map(|(r, &i)| {
                    let j = inputs[1].data[i];
                    let j = if j < 0.0 { j + r.len() as f64 } else { j } as usize;
                    r.get(j).map(|&k| x.data[k]).unwrap_or(0.0)
                })
                .collect();
            return Ok(Tensor::new(out, data, x.dtype));
        }
        let (shape, map) = self.index_map(&x.shape)?;
        let pad = if let Remap::Pad { value, .. } = self { *value } else { 0.0 };
        let data = map.iter().map(|m| m.map_or(pad, |i| x.data[i])).collect();
        Ok(Tensor::new(shape, data, x.dtype))
    }
}

//! Pure data movement: every op here is an index map from output elements to input
//! elements, so circuits lower them by re-using cells, at no cost in constraints.

use serde::{Deserialize, Serialize};

use super::{norm_axis, Imported, NodeCtx, Op, Registry};
use crate::error::{ModelError, Result};
use crate::tensor::{numel, strides, Tensor};

/// Registers the layout ops.
pub fn register(r: &mut Registry) {
    r.insert("Reshape", import_reshape);
    r.insert("Flatten", import_flatten);
    r.insert("Identity", import_identity);
    r.insert("Dropout", import_identity);
    r.insert("Squeeze", import_squeeze);
    r.insert("Unsqueeze", import_unsqueeze);
    r.insert("Transpose", import_transpose);
    r.insert("Concat", import_concat);
    r.insert("Slice", import_slice);
}

/// Data-movement ops, with every shape resolved at import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Layout {
    /// Same elements, new shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout).
    Reshape {
        shape: Vec<usize>,
    },
    Transpose {
        perm: Vec<usize>,
    },
    Concat {
        axis: usize,
    },
    /// Per input dimension: first index and step; `shape` is the output shape.
    Slice {
        starts: Vec<i64>,
        steps: Vec<i64>,
        shape: Vec<usize>,
    },
}

fn in_shape<'a>(ctx: &NodeCtx<'a>, i: usize) -> Result<&'a [usize]> {
    ctx.inputs.get(i).and_then(|x| x.as_ref()).map(|x| x.shape).ok_or_else(|| ctx.err(format!("missing input {i}")))
}

fn reshape_to(shape: Vec<usize>) -> Result<Imported> {
    Ok(Imported::Op { op: Op::Layout(Layout::Reshape { shape }), inputs: vec![0] })
}

fn import_identity(ctx: &NodeCtx) -> Result<Imported> {
    reshape_to(in_shape(ctx, 0)?.to_vec())
}

fn import_reshape(ctx: &NodeCtx) -> Result<Imported> {
    let input = in_shape(ctx, 0)?;
    let target = match ctx.opt_const_ints(1)? {
        Some(t) => t,
        None => ctx.attrs.ints("shape").ok_or_else(|| ctx.err("no target shape"))?,
    };
    let allow_zero = ctx.attrs.int_or("allowzero", 0) != 0;
    let total = numel(input);
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allow_zero => out.push(*input.get(i).ok_or_else(|| ctx.err("0 in shape beyond input rank"))?),
            d if d >= 0 => out.push(d as usize),
            _ => return Err(ctx.err(format!("invalid target shape {target:?}"))),
        }
    }
    if let Some(i) = infer {
        let known: usize = out.iter().product();
        if known == 0 || !total.is_multiple_of(known) {
            return Err(ctx.err(format!("cannot reshape {input:?} to {target:?}")));
        }
        out[i] = total / known;
    }
    if numel(&out) != total {
        return Err(ctx.err(format!("cannot reshape {input:?} ({total} elements) to {out:?}")));
    }
    reshape_to(out)
}

fn import_flatten(ctx: &NodeCtx) -> Result<Imported> {
    let input = in_shape(ctx, 0)?;
    let axis = norm_axis(ctx.attrs.int_or("axis", 1), input.len() + 1).ok_or_else(|| ctx.err("axis out of range"))?;
    reshape_to(vec![numel(&input[..axis]), numel(&input[axis..])])
}

fn axes_of(ctx: &NodeCtx, rank: usize) -> Result<Option<Vec<usize>>> {
    let raw = match ctx.opt_const_ints(1)? {
        Some(a) => Some(a),
        None => ctx.attrs.ints("axes"),
    };
    raw.map(|axes| axes.iter().map(|&a| norm_axis(a, rank).ok_or_else(|| ctx.err(format!("axis {a} out of range")))).collect()).transpose()
}

fn import_squeeze(ctx: &NodeCtx) -> Result<Imported> {
    let input = in_shape(ctx, 0)?;
    let axes = axes_of(ctx, input.len())?;
    let mut out = Vec::new();
    for (i, &d) in input.iter().enumerate() {
        let drop = match &axes {
            Some(a) => a.contains(&i),
            None => d == 1,
        };
        if drop && d != 1 {
            return Err(ctx.err(format!("cannot squeeze axis {i} of size {d}")));
        }
        if !drop {
            out.push(d);
        }
    }
    reshape_to(out)
}

fn import_unsqueeze(ctx: &NodeCtx) -> Result<Imported> {
    let input = in_shape(ctx, 0)?;
    let rank = input.len() + axes_of(ctx, usize::MAX / 2)?.map(|a| a.len()).unwrap_or(0);
    let mut axes = axes_of(ctx, rank)?.ok_or_else(|| ctx.err("no axes"))?;
    axes.sort_unstable();
    let mut out = input.to_vec();
    for a in axes {
        if a > out.len() {
            return Err(ctx.err(format!("axis {a} out of range")));
        }
        out.insert(a, 1);
    }
    reshape_to(out)
}

fn import_transpose(ctx: &NodeCtx) -> Result<Imported> {
    let rank = in_shape(ctx, 0)?.len();
    let perm: Vec<usize> = match ctx.attrs.ints("perm") {
        Some(p) => p.iter().map(|&a| norm_axis(a, rank).ok_or_else(|| ctx.err("perm out of range"))).collect::<Result<_>>()?,
        None => (0..rank).rev().collect(),
    };
    let mut seen = perm.clone();
    seen.sort_unstable();
    if perm.len() != rank || seen != (0..rank).collect::<Vec<_>>() {
        return Err(ctx.err(format!("perm {perm:?} is not a permutation of rank {rank}")));
    }
    Ok(Imported::Op { op: Op::Layout(Layout::Transpose { perm }), inputs: vec![0] })
}

fn import_concat(ctx: &NodeCtx) -> Result<Imported> {
    let rank = in_shape(ctx, 0)?.len();
    let axis =
        norm_axis(ctx.attrs.int("axis").ok_or_else(|| ctx.err("missing axis"))?, rank).ok_or_else(|| ctx.err("axis out of range"))?;
    let inputs: Vec<usize> = (0..ctx.num_inputs()).collect();
    Ok(Imported::Op { op: Op::Layout(Layout::Concat { axis }), inputs })
}

fn import_slice(ctx: &NodeCtx) -> Result<Imported> {
    let input = in_shape(ctx, 0)?;
    let rank = input.len();
    let (starts, ends, axes, steps) = if ctx.opset < 10 {
        (ctx.attrs.ints("starts"), ctx.attrs.ints("ends"), ctx.attrs.ints("axes"), None)
    } else {
        (ctx.opt_const_ints(1)?, ctx.opt_const_ints(2)?, ctx.opt_const_ints(3)?, ctx.opt_const_ints(4)?)
    };
    let starts = starts.ok_or_else(|| ctx.err("missing starts"))?;
    let ends = ends.ok_or_else(|| ctx.err("missing ends"))?;
    let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(ctx.err("starts, ends, axes and steps differ in length"));
    }
    let mut first: Vec<i64> = vec![0; rank];
    let mut step: Vec<i64> = vec![1; rank];
    let mut shape = input.to_vec();
    for i in 0..starts.len() {
        let ax = norm_axis(axes[i], rank).ok_or_else(|| ctx.err(format!("axis {} out of range", axes[i])))?;
        let dim = input[ax] as i64;
        let st = steps[i];
        if st == 0 {
            return Err(ctx.err("step 0"));
        }
        let clamp = |v: i64, lo: i64, hi: i64| v.max(lo).min(hi);
        let norm = |v: i64| if v < 0 { v + dim } else { v };
        let (s, e) = if st > 0 {
            (clamp(norm(starts[i]), 0, dim), clamp(norm(ends[i]), 0, dim))
        } else {
            (clamp(norm(starts[i]), -1, dim - 1), clamp(norm(ends[i]), -1, dim - 1))
        };
        let count = if st > 0 { (e - s + st - 1).div_euclid(st) } else { (s - e + (-st) - 1).div_euclid(-st) };
        first[ax] = s;
        step[ax] = st;
        shape[ax] = count.max(0) as usize;
    }
    Ok(Imported::Op { op: Op::Layout(Layout::Slice { starts: first, steps: step, shape }), inputs: vec![0] })
}

/// Iterates over the coordinates of a shape in row-major order.
fn for_each_coord(shape: &[usize], mut f: impl FnMut(&[usize])) {
    let total = numel(shape);
    let mut c = vec![0usize; shape.len()];
    for _ in 0..total {
        f(&c);
        for d in (0..shape.len()).rev() {
            c[d] += 1;
            if c[d] < shape[d] {
                break;
            }
            c[d] = 0;
        }
    }
}

impl Layout {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        match self {
            Layout::Reshape { .. } => "Reshape",
            Layout::Transpose { .. } => "Transpose",
            Layout::Concat { .. } => "Concat",
            Layout::Slice { .. } => "Slice",
        }
    }

    /// Output shape and, for every output element, `(input slot, flat index)` of its source.
    pub fn index_map(&self, shapes: &[&[usize]]) -> Result<super::SourceMap> {
        let input = shapes[0];
        match self {
            Layout::Reshape { shape } => {
                if numel(shape) != numel(input) {
                    return Err(ModelError::Shape(format!("reshape {input:?} to {shape:?}")));
                }
                Ok((shape.clone(), (0..numel(input)).map(|i| (0, i)).collect()))
            }
            Layout::Transpose { perm } => {
                let out: Vec<usize> = perm.iter().map(|&p| input[p]).collect();
                let st = strides(input);
                let mut map = Vec::with_capacity(numel(input));
                for_each_coord(&out, |c| map.push((0, c.iter().zip(perm).map(|(ci, &p)| ci * st[p]).sum())));
                Ok((out, map))
            }
            Layout::Concat { axis } => {
                let mut out = input.to_vec();
                out[*axis] = 0;
                for s in shapes {
                    if s.len() != input.len() || s.iter().enumerate().any(|(d, &v)| d != *axis && v != input[d]) {
                        return Err(ModelError::Shape(format!("concat of {shapes:?} on axis {axis}")));
                    }
                    out[*axis] += s[*axis];
                }
                let mut bounds = vec![0];
                for s in shapes {
                    bounds.push(bounds.last().unwrap() + s[*axis]);
                }
                let sts: Vec<Vec<usize>> = shapes.iter().map(|s| strides(s)).collect();
                let mut map = Vec::with_capacity(numel(&out));
                for_each_coord(&out, |c| {
                    let slot = bounds.iter().rposition(|&b| b <= c[*axis]).unwrap().min(shapes.len() - 1);
                    let flat = c.iter().enumerate().map(|(d, &v)| if d == *axis { v - bounds[slot] } else { v } * sts[slot][d]).sum();
                    map.push((slot, flat));
                });
                Ok((out, map))
            }
            Layout::Slice { starts, steps, shape } => {
                let st = strides(input);
                let mut map = Vec::with_capacity(numel(shape));
                for_each_coord(shape, |c| {
                    let flat: i64 = c.iter().enumerate().map(|(d, &v)| (starts[d] + v as i64 * steps[d]) * st[d] as i64).sum();
                    map.push((0, flat as usize));
                });
                Ok((shape.clone(), map))
            }
        }
    }

    /// Float semantics.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape.as_slice()).collect();
        let (shape, map) = self.index_map(&shapes)?;
        let data = map.iter().map(|&(s, i)| inputs[s].data[i]).collect();
        Ok(Tensor::new(shape, data, inputs[0].dtype))
    }
}

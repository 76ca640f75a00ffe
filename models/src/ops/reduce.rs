//! Reductions over axes or pooling windows: ReduceSum/Mean/Max/Min/Prod/SumSquare/L1/L2/
//! LogSumExp, ArgMax/ArgMin, AveragePool, MaxPool, GlobalAveragePool, GlobalMaxPool.
//!
//! Every op here is described by [`Groups`]: for each output element the list of input
//! elements it reduces (padding contributes nothing) and, for means, the divisor.

use serde::{Deserialize, Serialize};

use super::conv::coords;
use super::{norm_axis, Imported, NodeCtx, Op, Registry};
use crate::error::{ModelError, Result};
use crate::tensor::{numel, strides, DType, Tensor};

/// Registers the reductions and pools.
pub fn register(r: &mut Registry) {
    use ReduceKind as K;
    for (name, kind) in [
        ("ReduceSum", K::Sum),
        ("ReduceMean", K::Mean),
        ("ReduceMax", K::Max),
        ("ReduceMin", K::Min),
        ("ReduceProd", K::Prod),
        ("ReduceSumSquare", K::SumSquare),
        ("ReduceL1", K::L1),
        ("ReduceL2", K::L2),
        ("ReduceLogSumExp", K::LogSumExp),
    ] {
        let f: super::Importer = match kind {
            K::Sum => |c| import_axes(c, K::Sum),
            K::Mean => |c| import_axes(c, K::Mean),
            K::Max => |c| import_axes(c, K::Max),
            K::Min => |c| import_axes(c, K::Min),
            K::Prod => |c| import_axes(c, K::Prod),
            K::SumSquare => |c| import_axes(c, K::SumSquare),
            K::L1 => |c| import_axes(c, K::L1),
            K::L2 => |c| import_axes(c, K::L2),
            _ => |c| import_axes(c, K::LogSumExp),
        };
        r.insert(name, f);
    }
    r.insert("ArgMax", |c: &NodeCtx| import_arg(c, K::ArgMax));
    r.insert("ArgMin", |c: &NodeCtx| import_arg(c, K::ArgMin));
    r.insert("AveragePool", |c: &NodeCtx| import_pool(c, K::Mean));
    r.insert("MaxPool", |c: &NodeCtx| import_pool(c, K::Max));
    r.insert("GlobalAveragePool", |c: &NodeCtx| global(c, K::Mean));
    r.insert("GlobalMaxPool", |c: &NodeCtx| global(c, K::Max));
}

/// What is computed over each group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReduceKind {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    SumSquare,
    L1,
    L2,
    LogSumExp,
    /// Index of the first (or last) maximum along one axis.
    ArgMax,
    ArgMin,
}

/// Which input elements form each group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Geometry {
    /// Reduce the listed axes (all when empty).
    Axes { axes: Vec<usize>, keepdims: bool, select_last: bool },
    /// Sliding windows over the spatial dims (after N and C); `pads` is `[begin.., end..]`.
    Pool { kernel: Vec<usize>, strides: Vec<usize>, dilations: Vec<usize>, pads: Vec<usize>, ceil: bool, count_pad: bool },
    /// Every spatial dim at once.
    Global,
}

/// A reduction op.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reduce {
    pub kind: ReduceKind,
    pub geometry: Geometry,
}

/// Output shape and, per output, the reduced input elements (CSR) and the divisor of a mean.
#[derive(Clone, Debug)]
pub struct Groups {
    pub out_shape: Vec<usize>,
    pub offsets: Vec<usize>,
    pub idx: Vec<u32>,
    pub divisor: Vec<usize>,
}

fn in_shape<'a>(ctx: &NodeCtx<'a>) -> Result<&'a [usize]> {
    ctx.inputs.first().and_then(|x| x.as_ref()).map(|x| x.shape).ok_or_else(|| ctx.err("missing input"))
}

fn import_axes(ctx: &NodeCtx, kind: ReduceKind) -> Result<Imported> {
    let rank = in_shape(ctx)?.len();
    let raw = match ctx.opt_const_ints(1)? {
        Some(a) => Some(a),
        None => ctx.attrs.ints("axes"),
    };
    let mut axes: Vec<usize> = raw
        .unwrap_or_default()
        .iter()
        .map(|&a| norm_axis(a, rank).ok_or_else(|| ctx.err(format!("axis {a} out of range"))))
        .collect::<Result<_>>()?;
    if axes.is_empty() && ctx.attrs.int_or("noop_with_empty_axes", 0) != 0 {
        return Err(ctx.err("noop_with_empty_axes is not supported"));
    }
    if axes.is_empty() {
        axes = (0..rank).collect();
    }
    let geometry = Geometry::Axes { axes, keepdims: ctx.attrs.int_or("keepdims", 1) != 0, select_last: false };
    Ok(Imported::Op { op: Op::Reduce(Reduce { kind, geometry }), inputs: vec![0] })
}

fn import_arg(ctx: &NodeCtx, kind: ReduceKind) -> Result<Imported> {
    let rank = in_shape(ctx)?.len();
    let axis = norm_axis(ctx.attrs.int_or("axis", 0), rank).ok_or_else(|| ctx.err("axis out of range"))?;
    let geometry = Geometry::Axes {
        axes: vec![axis],
        keepdims: ctx.attrs.int_or("keepdims", 1) != 0,
        select_last: ctx.attrs.int_or("select_last_index", 0) != 0,
    };
    Ok(Imported::Op { op: Op::Reduce(Reduce { kind, geometry }), inputs: vec![0] })
}

fn import_pool(ctx: &NodeCtx, kind: ReduceKind) -> Result<Imported> {
    let x = in_shape(ctx)?;
    let n = x.len().saturating_sub(2);
    let kernel: Vec<usize> =
        ctx.attrs.ints("kernel_shape").ok_or_else(|| ctx.err("missing kernel_shape"))?.iter().map(|&v| v as usize).collect();
    let ints = |name: &str, d: usize| -> Vec<usize> {
        ctx.attrs.ints(name).map(|v| v.iter().map(|&a| a as usize).collect()).unwrap_or_else(|| vec![d; n])
    };
    let auto = ctx.attrs.string("auto_pad").unwrap_or_default();
    if !matches!(auto.as_str(), "" | "NOTSET" | "VALID") {
        return Err(ctx.err(format!("auto_pad {auto} is not supported")));
    }
    if ctx.attrs.int_or("storage_order", 0) != 0 {
        return Err(ctx.err("storage_order 1 is not supported"));
    }
    let geometry = Geometry::Pool {
        strides: ints("strides", 1),
        dilations: ints("dilations", 1),
        pads: if auto == "VALID" {
            vec![0; 2 * n]
        } else {
            ctx.attrs.ints("pads").map(|v| v.iter().map(|&a| a as usize).collect()).unwrap_or(vec![0; 2 * n])
        },
        ceil: ctx.attrs.int_or("ceil_mode", 0) != 0,
        count_pad: ctx.attrs.int_or("count_include_pad", 0) != 0,
        kernel,
    };
    Ok(Imported::Op { op: Op::Reduce(Reduce { kind, geometry }), inputs: vec![0] })
}

fn global(_ctx: &NodeCtx, kind: ReduceKind) -> Result<Imported> {
    Ok(Imported::Op { op: Op::Reduce(Reduce { kind, geometry: Geometry::Global }), inputs: vec![0] })
}

impl Reduce {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        use ReduceKind as K;
        match (&self.geometry, self.kind) {
            (Geometry::Pool { .. }, K::Max) => "MaxPool",
            (Geometry::Pool { .. }, _) => "AveragePool",
            (Geometry::Global, K::Max) => "GlobalMaxPool",
            (Geometry::Global, _) => "GlobalAveragePool",
            (_, K::Sum) => "ReduceSum",
            (_, K::Mean) => "ReduceMean",
            (_, K::Max) => "ReduceMax",
            (_, K::Min) => "ReduceMin",
            (_, K::Prod) => "ReduceProd",
            (_, K::SumSquare) => "ReduceSumSquare",
            (_, K::L1) => "ReduceL1",
            (_, K::L2) => "ReduceL2",
            (_, K::LogSumExp) => "ReduceLogSumExp",
            (_, K::ArgMax) => "ArgMax",
            (_, K::ArgMin) => "ArgMin",
        }
    }

    /// The groups for an input of shape `x`.
    pub fn groups(&self, x: &[usize]) -> Result<Groups> {
        let xs = strides(x);
        let mut g = Groups { out_shape: Vec::new(), offsets: vec![0], idx: Vec::new(), divisor: Vec::new() };
        match &self.geometry {
            Geometry::Axes { axes, keepdims, .. } => {
                let kept: Vec<usize> = (0..x.len()).filter(|d| !axes.contains(d)).collect();
                let red: Vec<usize> = axes.iter().map(|&a| x[a]).collect();
                let red_coords = coords(&red);
                for oc in coords(&kept.iter().map(|&d| x[d]).collect::<Vec<_>>()) {
                    let base: usize = kept.iter().zip(&oc).map(|(&d, v)| v * xs[d]).sum();
                    for rc in &red_coords {
                        g.idx.push((base + axes.iter().zip(rc).map(|(&a, v)| v * xs[a]).sum::<usize>()) as u32);
                    }
                    g.offsets.push(g.idx.len());
                    g.divisor.push(red_coords.len());
                }
                g.out_shape = if *keepdims {
                    x.iter().enumerate().map(|(d, &v)| if axes.contains(&d) { 1 } else { v }).collect()
                } else {
                    kept.iter().map(|&d| x[d]).collect()
                };
            }
            Geometry::Global => {
                let sp = numel(&x[2..]);
                for o in 0..x[0] * x[1] {
                    g.idx.extend((0..sp).map(|i| (o * sp + i) as u32));
                    g.offsets.push(g.idx.len());
                    g.divisor.push(sp);
                }
                g.out_shape = x.iter().enumerate().map(|(d, &v)| if d < 2 { v } else { 1 }).collect();
            }
            Geometry::Pool { kernel, strides: st, dilations, pads, ceil, count_pad } => {
                let n = x.len() - 2;
                if kernel.len() != n || st.len() != n || pads.len() != 2 * n {
                    return Err(ModelError::Shape(format!("pool attributes do not fit input {x:?}")));
                }
                let mut out_sp = Vec::new();
                for d in 0..n {
                    let span = x[2 + d] + pads[d] + pads[n + d];
                    let k = (kernel[d] - 1) * dilations[d] + 1;
                    let num = span.checked_sub(k).ok_or_else(|| ModelError::Shape("pool kernel larger than input".into()))?;
                    let mut o = if *ceil { num.div_ceil(st[d]) } else { num / st[d] } + 1;
                    if *ceil && (o - 1) * st[d] >= x[2 + d] + pads[d] {
                        o -= 1;
                    }
                    out_sp.push(o);
                }
                let kc = coords(kernel);
                for nc in 0..x[0] * x[1] {
                    for op in coords(&out_sp) {
                        let mut count_pad_n = 0;
                        for kp in &kc {
                            let mut flat = nc * xs[1];
                            let mut inside = true;
                            let mut in_padded = true;
                            for d in 0..n {
                                let p = (op[d] * st[d] + kp[d] * dilations[d]) as i64 - pads[d] as i64;
                                inside &= p >= 0 && (p as usize) < x[2 + d];
                                in_padded &= p < (x[2 + d] + pads[n + d]) as i64;
                                flat += p.max(0) as usize * xs[2 + d];
                            }
                            if inside {
                                g.idx.push(flat as u32);
                            }
                            count_pad_n += in_padded as usize;
                        }
                        let inside_n = g.idx.len() - g.offsets.last().unwrap();
                        g.offsets.push(g.idx.len());
                        g.divisor.push(if *count_pad { count_pad_n } else { inside_n });
                    }
                }
                g.out_shape = [x[0], x[1]].into_iter().chain(out_sp).collect();
            }
        }
        Ok(g)
    }

    /// Float semantics.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        use ReduceKind as K;
        let x = inputs[0];
        let g = self.groups(&x.shape)?;
        let select_last = matches!(self.geometry, Geometry::Axes { select_last: true, .. });
        let mut out = Vec::with_capacity(g.divisor.len());
        for o in 0..g.divisor.len() {
            let vals: Vec<f64> = g.idx[g.offsets[o]..g.offsets[o + 1]].iter().map(|&i| x.data[i as usize]).collect();
            let v = match self.kind {
                K::Sum => vals.iter().sum(),
                K::Mean => vals.iter().sum::<f64>() / g.divisor[o] as f64,
                K::Max => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                K::Min => vals.iter().copied().fold(f64::INFINITY, f64::min),
                K::Prod => vals.iter().product(),
                K::SumSquare => vals.iter().map(|v| v * v).sum(),
                K::L1 => vals.iter().map(|v| v.abs()).sum(),
                K::L2 => vals.iter().map(|v| v * v).sum::<f64>().sqrt(),
                K::LogSumExp => {
                    let m = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    m + vals.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
                }
                K::ArgMax | K::ArgMin => {
                    let better = |a: f64, b: f64| if self.kind == K::ArgMax { a > b } else { a < b };
                    let mut best = 0;
                    for (i, &v) in vals.iter().enumerate() {
                        if better(v, vals[best]) || (select_last && v == vals[best]) {
                            best = i;
                        }
                    }
                    best as f64
                }
            };
            out.push(v);
        }
        let dtype = if matches!(self.kind, K::ArgMax | K::ArgMin) { DType::I64 } else { x.dtype };
        Ok(Tensor::new(g.out_shape, out, dtype))
    }
}

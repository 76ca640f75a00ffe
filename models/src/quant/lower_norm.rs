//! Lowering of normalisations and soft-max into linear maps, products, tables and
//! constrained divisions.
//!
//! - BatchNormalization: one per-channel affine `Linear`.
//! - Layer/InstanceNormalization: `mu = mean(x)`, `c = x - mu`, `v = mean(c^2) + eps`,
//!   `sd = sqrt(v + eps)` (exact, [`QOp::Sqrt`]), `y = c / sd` (Div), then the affine parameters.
//! - Softmax: `m = max(x)`, `d = x - m <= 0`, `e = exp(d)` (table, clamped exactly
//!   where exp underflows), `z = sum(e) >= 1`, `y = e / z` (Div by a positive divisor, as is `c / sd`); LogSoftmax: `d - log(z)`.

use super::lower::{q, Builder, Terms};
use super::lower_nonlinear::reduce;
use super::table::TableRequest;
use super::{QOp, QValueId};
use crate::error::Result;
use crate::ir::Node;
use crate::ops::{Norm, ReduceKind};

pub(super) fn lower(b: &mut Builder, node: &Node) -> Result<QValueId> {
    let Some(norm) = (match &node.op {
        crate::ops::Op::Norm(n) => Some(n),
        _ => None,
    }) else {
        unreachable!("dispatched by family")
    };
    let g = b.graph;
    let name = node.name.as_str();
    let shape = g.shape(node.inputs[0]).to_vec();
    let x = b.value(node.inputs[0]);
    let n = b.len_of(x);
    let param = |i: usize| node.inputs.get(i).and_then(|&v| g.constant(v));
    if let Norm::Batch { epsilon } = norm {
        let (sc, bi, mean, var) = (param(1).unwrap(), param(2).unwrap(), param(3).unwrap(), param(4).unwrap());
        let idx = norm.param_index(&shape, &sc.shape);
        let mut t = b.terms(true);
        for (o, &c) in idx.iter().enumerate() {
            let a = sc.data[c] / (var.data[c] + epsilon).sqrt();
            t.param(x, o, a);
            t.end_param(bi.data[c] - mean.data[c] * a);
        }
        return Ok(b.lin(name, t));
    }
    let groups = norm.reduce(shape.len()).groups(&shape)?;
    let ng = groups.divisor.len();
    // Group of each element.
    let mut group_of = vec![0usize; n];
    for gi in 0..ng {
        for k in groups.offsets[gi]..groups.offsets[gi + 1] {
            group_of[groups.idx[k] as usize] = gi;
        }
    }
    let (lo, hi) = b.range(node.inputs[0]);
    let spread = (hi - lo).max(1e-6);
    let (off, ids, div) = (groups.offsets.clone(), groups.idx.clone(), groups.divisor.clone());
    match norm {
        Norm::Softmax { log, .. } => {
            let m = reduce(b, node, ReduceKind::Max, x, off.clone(), ids.clone(), div, false)?;
            let mut t = Terms::new();
            for o in 0..n {
                t.term(x, o, 1.0);
                t.term(m, group_of[o], -1.0);
                t.end(0.0);
            }
            let d = b.lin(&format!("{name}:shifted"), t);
            let req = TableRequest { min: -spread, max: 0.0, headroom: b.cal.headroom, floor: f64::NEG_INFINITY, ceil: 0.0 };
            let e = b.table(&format!("{name}:exp"), d, &f64::exp, req)?;
            let mut t = Terms::new();
            for gi in 0..ng {
                for k in off[gi]..off[gi + 1] {
                    t.term(e, ids[k] as usize, 1.0);
                }
                t.end(0.0);
            }
            let z = b.lin(&format!("{name}:sum"), t);
            if *log {
                let width = (off[1] - off[0]) as f64;
                let req = TableRequest { min: 1.0, max: width, headroom: 1.0, floor: 1.0, ceil: width * 1.01 };
                let lz = b.table(&format!("{name}:log"), z, &f64::ln, req)?;
                let mut t = Terms::new();
                for o in 0..n {
                    t.term(d, o, 1.0);
                    t.term(lz, group_of[o], -1.0);
                    t.end(0.0);
                }
                return Ok(b.lin(name, t));
            }
            let zb = b.gather(&format!("{name}:sum_b"), z, &group_of);
            Ok(b.emit(name, QOp::Div { scale: b.s(), positive: true }, vec![e, zb], n))
        }
        Norm::Layer { epsilon, .. } | Norm::Instance { epsilon } => {
            let mu = reduce(b, node, ReduceKind::Mean, x, off.clone(), ids.clone(), div.clone(), false)?;
            let mut t = Terms::new();
            for o in 0..n {
                t.term(x, o, 1.0);
                t.term(mu, group_of[o], -1.0);
                t.end(0.0);
            }
            let c = b.lin(&format!("{name}:centred"), t);
            let sq = b.bilin(&format!("{name}:sumsq"), c, c, off.clone(), ids.clone(), ids.clone());
            let mut t = Terms::new();
            for gi in 0..ng {
                t.term(sq, gi, 1.0 / div[gi] as f64);
                t.end(0.0);
            }
            let var = b.lin(&format!("{name}:var"), t);
            // sd = sqrt(var + eps), exact (no table).
            let offset = q(*epsilon, b.s());
            let sd = b.emit(&format!("{name}:sd"), QOp::Sqrt { scale: b.s(), offset }, vec![var], ng);
            let sdb = b.gather(&format!("{name}:sd_b"), sd, &group_of);
            let y = b.emit(&format!("{name}:normed"), QOp::Div { scale: b.s(), positive: true }, vec![c, sdb], n);
            let (sc, bi) = (param(1), param(2));
            let idx = norm.param_index(&shape, sc.map_or(&[][..], |t| &t.shape));
            let mut t = b.terms(true);
            for (o, &pi) in idx.iter().enumerate() {
                match sc {
                    Some(s) => t.param(y, o, s.data[pi]),
                    None => t.term(y, o, 1.0),
                }
                match bi {
                    Some(bt) => t.end_param(bt.data[pi]),
                    None => t.end(0.0),
                }
            }
            Ok(b.lin(name, t))
        }
        Norm::Batch { .. } => unreachable!("handled above"),
    }
}

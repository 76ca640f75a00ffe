//! Lowering of point-wise activations, comparisons and logic, reductions and index maps.
//!
//! Smooth functions become lookup tables; functions with linear tails (Elu, Softplus,
//! Gelu, LeakyRelu, Abs, ...) are split into `left*x + (right-left)*relu(x)` plus a
//! table of the saturating remainder, so that the table can be clamped exactly.

use std::collections::HashMap;

use super::lower::{q, unsupported, Builder, Terms};
use super::table::{TableOp, TableRequest};
use super::{QOp, QValueId};
use crate::error::Result;
use crate::ir::Node;
use crate::ops::arith::broadcast_all;
use crate::ops::reduce::Geometry;
use crate::ops::{Activation, Layout, Logic, Op, ReduceKind, Remap};

pub(super) fn lower(b: &mut Builder, node: &Node) -> Result<QValueId> {
    let g = b.graph;
    let shapes: Vec<&[usize]> = node.inputs.iter().map(|&i| g.shape(i)).collect();
    match &node.op {
        Op::Activation(a) => activation(b, node, *a),
        Op::Pointwise(p) => {
            let f = p.clone();
            function(b, node, p.tails(), &move |v| f.apply(v))
        }
        Op::Logic(l) => logic(b, node, *l, &shapes),
        Op::Reduce(r) => {
            let x = b.value(node.inputs[0]);
            let groups = r.groups(shapes[0])?;
            let select_last = matches!(r.geometry, Geometry::Axes { select_last: true, .. });
            reduce(b, node, r.kind, x, groups.offsets, groups.idx, groups.divisor, select_last)
        }
        Op::Layout(l) => {
            let (_, map) = Layout::index_map(l, &shapes)?;
            let ins = node.inputs.iter().map(|&v| b.value(v)).collect();
            Ok(b.select(&node.name, ins, map.into_iter().map(|(s, i)| (s as u32, i as u32)).collect()))
        }
        Op::Remap(r) => remap(b, node, r, shapes[0]),
        _ => unreachable!("dispatched by family"),
    }
}

fn activation(b: &mut Builder, node: &Node, a: Activation) -> Result<QValueId> {
    use Activation as A;
    let name = node.name.as_str();
    let x = b.value(node.inputs[0]);
    let n = b.len_of(x);
    let in_dtype = b.graph.values[node.inputs[0]].dtype;
    let (s, one) = (b.s(), b.one());
    match a {
        A::Relu => Ok(b.relu(name, x)),
        A::Cast { to } => {
            if to.is_float() || !in_dtype.is_float() {
                Ok(x)
            } else if to == crate::DType::Bool {
                let zero = b.consts(&format!("{name}:zero"), vec![0; n]);
                let eq = b.emit(&format!("{name}:eq0"), QOp::Cmp { eq: true, one }, vec![x, zero], n);
                let mut t = Terms::new();
                for o in 0..n {
                    t.term(eq, o, -1.0);
                    t.end(1.0);
                }
                Ok(b.lin(name, t))
            } else {
                Err(unsupported(node, "Cast of a fractional float activation to an integer type"))
            }
        }
        A::Floor | A::Ceil | A::Round => {
            // rescale(x + bias, s) with the rounding constant folded: floor, ceil, half up.
            let bias = match a {
                A::Floor => -(one / 2),
                A::Ceil => one / 2 - 1,
                _ => 0,
            };
            let op = QOp::Linear {
                offsets: (0..=n).collect(),
                slot: vec![0; n],
                idx: (0..n as u32).collect(),
                coeff: vec![1; n],
                bias: vec![bias; n],
                shift: s,
            };
            let r = b.emit(&format!("{name}:int"), op, vec![x], n);
            let mut t = Terms::new();
            for o in 0..n {
                t.term(r, o, one as f64);
                t.end(0.0);
            }
            Ok(b.lin(name, t))
        }
        A::Sign => Ok(b.emit(name, QOp::Table(TableOp::exact(-1, true, true, vec![-one, 0, one])), vec![x], n)),
        A::Clip { min, max } => clip(b, name, x, min, max),
        A::HardSigmoid { alpha, beta } => {
            let mut t = Terms::new();
            for o in 0..n {
                t.term(x, o, alpha);
                t.end(beta);
            }
            let y = b.lin(&format!("{name}:affine"), t);
            clip(b, name, y, 0.0, 1.0)
        }
        // Exact: y^2 <= (x * 2^s) < (y + 1)^2, no table.
        A::Sqrt => Ok(b.emit(name, QOp::Sqrt { scale: b.s(), offset: 0 }, vec![x], n)),
        A::Pow { exponent: 1.0 } => Ok(x),
        A::Pow { exponent } if exponent == 2.0 || exponent == 3.0 => {
            let sq = b.mul(&format!("{name}:sq"), x, x);
            Ok(if exponent == 2.0 { sq } else { b.mul(name, sq, x) })
        }
        _ => function(b, node, a.tails(), &move |v| a.apply(v)),
    }
}

/// A smooth point-wise function `f` of the node's single input: a table, after
/// splitting off the linear asymptotes `left*x + (right-left)*relu(x)` when it has them.
fn function(b: &mut Builder, node: &Node, tails: Option<(f64, f64)>, f: &dyn Fn(f64) -> f64) -> Result<QValueId> {
    let name = node.name.as_str();
    let x = b.value(node.inputs[0]);
    let n = b.len_of(x);
    match tails {
        Some((left, right)) => {
            let r = b.relu(&format!("{name}:relu"), x);
            let rest = move |v: f64| f(v) - left * v - (right - left) * v.max(0.0);
            let flat = [-1e3, -7.0, -1.0, -0.3, 0.0, 0.3, 1.0, 7.0, 1e3].iter().all(|&v| rest(v).abs() < 1e-12);
            let g = if flat { None } else { Some(b.table(&format!("{name}:table"), x, &rest, b.request(node.inputs[0]))?) };
            let mut t = Terms::new();
            for o in 0..n {
                t.term(x, o, left);
                t.term(r, o, right - left);
                if let Some(g) = g {
                    t.term(g, o, 1.0);
                }
                t.end(0.0);
            }
            Ok(b.lin(name, t))
        }
        None => b.table(name, x, f, b.request(node.inputs[0])),
    }
}

/// `min + relu(x - min) - relu(x - max)`: exact, at full resolution.
fn clip(b: &mut Builder, name: &str, x: QValueId, min: f64, max: f64) -> Result<QValueId> {
    let n = b.len_of(x);
    let shifted = |b: &mut Builder, c: f64, tag: &str| {
        let mut t = Terms::new();
        for o in 0..n {
            t.term(x, o, 1.0);
            t.end(-c);
        }
        let d = b.lin(&format!("{name}:{tag}"), t);
        b.relu(&format!("{name}:relu_{tag}"), d)
    };
    let lo = min.is_finite().then(|| shifted(b, min, "lo"));
    let hi = max.is_finite().then(|| shifted(b, max, "hi"));
    let mut t = Terms::new();
    for o in 0..n {
        match lo {
            Some(l) => t.term(l, o, 1.0),
            None => t.term(x, o, 1.0),
        }
        if let Some(h) = hi {
            t.term(h, o, -1.0);
        }
        t.end(if lo.is_some() { min } else { 0.0 });
    }
    Ok(b.lin(name, t))
}

fn logic(b: &mut Builder, node: &Node, l: Logic, shapes: &[&[usize]]) -> Result<QValueId> {
    let name = node.name.as_str();
    let (_, maps) = broadcast_all(shapes)?;
    let n = maps[0].len();
    let one = b.one();
    // A constant condition (a causal mask) makes Where data movement: free.
    if let (Logic::Where, Some(cond)) = (l, b.graph.constant(node.inputs[0])) {
        let (x, y) = (b.value(node.inputs[1]), b.value(node.inputs[2]));
        let map = (0..n).map(|o| if cond.data[maps[0][o]] != 0.0 { (0, maps[1][o] as u32) } else { (1, maps[2][o] as u32) }).collect();
        return Ok(b.select(name, vec![x, y], map));
    }
    let ins: Vec<QValueId> = node.inputs.iter().map(|&v| b.value(v)).collect();
    let v: Vec<QValueId> = ins.iter().enumerate().map(|(i, &x)| b.gather(&format!("{name}:in{i}"), x, &maps[i])).collect();
    let affine = |b: &mut Builder, parts: &[(QValueId, f64)], bias: f64, nm: &str| {
        let mut t = Terms::new();
        for o in 0..n {
            for &(x, c) in parts {
                t.term(x, o, c);
            }
            t.end(bias);
        }
        b.lin(nm, t)
    };
    let lt = |b: &mut Builder, x: QValueId, y: QValueId, nm: &str| b.emit(nm, QOp::Cmp { eq: false, one }, vec![x, y], n);
    Ok(match l {
        Logic::Less => lt(b, v[0], v[1], name),
        Logic::Greater => lt(b, v[1], v[0], name),
        Logic::GreaterOrEqual => {
            let c = lt(b, v[0], v[1], &format!("{name}:lt"));
            affine(b, &[(c, -1.0)], 1.0, name)
        }
        Logic::LessOrEqual => {
            let c = lt(b, v[1], v[0], &format!("{name}:gt"));
            affine(b, &[(c, -1.0)], 1.0, name)
        }
        Logic::Equal => b.emit(name, QOp::Cmp { eq: true, one }, vec![v[0], v[1]], n),
        Logic::Not => affine(b, &[(v[0], -1.0)], 1.0, name),
        Logic::And => b.mul(name, v[0], v[1]),
        Logic::Or | Logic::Xor => {
            let p = b.mul(&format!("{name}:and"), v[0], v[1]);
            let k = if l == Logic::Or { -1.0 } else { -2.0 };
            affine(b, &[(v[0], 1.0), (v[1], 1.0), (p, k)], 0.0, name)
        }
        Logic::Where => {
            let d = affine(b, &[(v[1], 1.0), (v[2], -1.0)], 0.0, &format!("{name}:diff"));
            let p = b.mul(&format!("{name}:pick"), v[0], d);
            affine(b, &[(v[2], 1.0), (p, 1.0)], 0.0, name)
        }
    })
}

/// A reduction over CSR groups of `x`.
#[allow(clippy::too_many_arguments)]
pub(super) fn reduce(
    b: &mut Builder,
    node: &Node,
    kind: ReduceKind,
    x: QValueId,
    offsets: Vec<usize>,
    idx: Vec<u32>,
    divisor: Vec<usize>,
    select_last: bool,
) -> Result<QValueId> {
    use ReduceKind as K;
    let name = node.name.as_str();
    let n = offsets.len() - 1;
    if (0..n).any(|o| offsets[o] == offsets[o + 1]) {
        return Err(unsupported(node, "an empty reduction window"));
    }
    let sum_terms = |v: QValueId, scale_of: &dyn Fn(usize) -> f64| {
        let mut t = Terms::new();
        for o in 0..n {
            for k in offsets[o]..offsets[o + 1] {
                t.term(v, idx[k] as usize, scale_of(o));
            }
            t.end(0.0);
        }
        t
    };
    match kind {
        K::Sum => {
            let t = sum_terms(x, &|_| 1.0);
            Ok(b.lin(name, t))
        }
        K::Mean => {
            let t = sum_terms(x, &|o| 1.0 / divisor[o] as f64);
            Ok(b.lin(name, t))
        }
        K::Max | K::Min | K::ArgMax | K::ArgMin => {
            let op = QOp::Reduce {
                max: matches!(kind, K::Max | K::ArgMax),
                arg: matches!(kind, K::ArgMax | K::ArgMin),
                strict: !select_last,
                offsets,
                idx,
                one: b.one(),
            };
            Ok(b.emit(name, op, vec![x], n))
        }
        K::SumSquare | K::L2 => {
            let sq = b.bilin(&format!("{name}:sumsq"), x, x, offsets.clone(), idx.clone(), idx.clone());
            if kind == K::SumSquare {
                return Ok(sq);
            }
            let (lo, hi) = b.range(node.inputs[0]);
            let m = lo.abs().max(hi.abs());
            let req = TableRequest {
                min: 0.0,
                max: m * m * divisor.iter().max().copied().unwrap_or(1) as f64,
                headroom: b.cal.headroom,
                floor: 0.0,
                ceil: f64::INFINITY,
            };
            b.table(name, sq, &f64::sqrt, req)
        }
        K::L1 => {
            let n_in = b.len_of(x);
            let r = b.relu(&format!("{name}:relu"), x);
            let mut t = Terms::new();
            for o in 0..n_in {
                t.term(x, o, -1.0);
                t.term(r, o, 2.0);
                t.end(0.0);
            }
            let abs = b.lin(&format!("{name}:abs"), t);
            let t = sum_terms(abs, &|_| 1.0);
            Ok(b.lin(name, t))
        }
        K::Prod | K::LogSumExp => Err(unsupported(node, "this reduction has no quantized lowering yet")),
    }
}

fn remap(b: &mut Builder, node: &Node, r: &Remap, x_shape: &[usize]) -> Result<QValueId> {
    let name = node.name.as_str();
    if let Remap::Gather { indices: None, .. } = r {
        let data = b.graph.constant(node.inputs[0]).ok_or_else(|| unsupported(node, "Gather of activation data at activation indices"))?;
        let (_, rows, which) = r.gather_rows(x_shape)?;
        let iv = b.value(node.inputs[1]);
        if let Some(out) = gather_tables(b, name, &data.data, &rows, &which, iv) {
            return Ok(out);
        }
        // One-hot selection: out[o] = sum_j [idx == j] * data[row_j], 0 for an index
        // outside [0, dim) (a negative one too).
        let j_count = rows.first().map_or(0, |r| r.len());
        let one = b.one();
        let sel: Vec<usize> = which.iter().flat_map(|&i| std::iter::repeat_n(i, j_count)).collect();
        let idx = b.gather(&format!("{name}:idx"), iv, &sel);
        let cands: Vec<i64> = (0..rows.len()).flat_map(|_| (0..j_count as i64).map(|j| j * one)).collect();
        let m = cands.len();
        let cands = b.consts(&format!("{name}:cand"), cands);
        let eq = b.emit(&format!("{name}:onehot"), QOp::Cmp { eq: true, one }, vec![idx, cands], m);
        let mut t = Terms::new();
        for (o, row) in rows.iter().enumerate() {
            for (j, &k) in row.iter().enumerate() {
                t.term(eq, o * j_count + j, data.data[k]);
            }
            t.end(0.0);
        }
        return Ok(b.lin(name, t));
    }
    let x = b.value(node.inputs[0]);
    let (_, map) = r.index_map(x_shape)?;
    let pad = if let Remap::Pad { value, .. } = r { *value } else { 0.0 };
    let mut ins = vec![x];
    if map.iter().any(|m| m.is_none()) {
        ins.push(b.consts(&format!("{name}:pad"), vec![q(pad, b.s())]));
    }
    let map = map.iter().map(|m| m.map_or((1, 0), |i| (0, i as u32))).collect();
    Ok(b.select(name, ins, map))
}

/// Most entries that the tables of one Gather may hold together before it falls back to
/// one-hot selection (a GPT-2 vocabulary times its embedding width is far above).
const GATHER_TABLE_ENTRIES: usize = 1 << 18;

/// Gather of constant `data` at activation indices as lookups: output `o` is
/// `data[rows[o][j]]` for the index `x = iv[which[o]]` read as `j = rescale(x, s)`.
///
/// Outputs with the same candidate list `rows[o]` (one embedding column across tokens)
/// share one non-interpolating [`QOp::Table`] with `shift = s`, `lo = -dim` and no
/// clamped side, whose entries are the quantized candidates twice: `j` in `[-dim, -1]`
/// reads `rows[o][j + dim]` (ONNX's negative indices wrap) and `j` in `[0, dim - 1]`
/// reads `rows[o][j]`. An index outside `[-dim, dim - 1]` has no entry: no witness, and
/// the interpreter refuses it naming the table node. A [`QOp::Select`] puts the table
/// outputs in output order. Values are `round(data * 2^s)`, as a Gather at constant
/// indices gives; `data` itself becomes no node (its values live in the tables).
///
/// `None` (the caller selects one-hot) when a table would exceed `2^table_bits` entries,
/// all tables together [`GATHER_TABLE_ENTRIES`], or a value the activation bound.
fn gather_tables(b: &mut Builder, name: &str, data: &[f64], rows: &[Vec<usize>], which: &[usize], iv: QValueId) -> Option<QValueId> {
    let dim = rows.first()?.len();
    let s = b.s();
    // Candidate lists in order of first use, and each output's (list, position in it).
    let mut lists: Vec<&[usize]> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut slot: HashMap<&[usize], usize> = HashMap::new();
    let mut map = Vec::with_capacity(rows.len());
    for (o, row) in rows.iter().enumerate() {
        let g = *slot.entry(row.as_slice()).or_insert_with(|| {
            lists.push(row);
            members.push(Vec::new());
            lists.len() - 1
        });
        map.push((g as u32, members[g].len() as u32));
        members[g].push(o);
    }
    let len = 2 * dim;
    if dim == 0 || len > 1usize << b.cal.table_bits.min(62) || lists.len().saturating_mul(len) > GATHER_TABLE_ENTRIES {
        return None;
    }
    let bound = 1i64 << (b.cal.bits - 1);
    let mut tables = Vec::with_capacity(lists.len());
    for list in &lists {
        let half: Vec<i64> = list.iter().map(|&k| q(data[k], s)).collect();
        if half.iter().any(|v| v.abs() >= bound) {
            return None;
        }
        tables.push([half.clone(), half].concat());
    }
    let outs: Vec<QValueId> = tables
        .into_iter()
        .zip(&members)
        .enumerate()
        .map(|(g, (values, outs))| {
            let sel: Vec<usize> = outs.iter().map(|&o| which[o]).collect();
            let idx = b.gather(&format!("{name}:idx{g}"), iv, &sel);
            let op = TableOp { shift: s, lo: -(dim as i64), clamp_lo: false, clamp_hi: false, values, interpolate: false };
            b.emit(&format!("{name}:table{g}"), QOp::Table(op), vec![idx], outs.len())
        })
        .collect();
    if let [single] = outs[..] {
        if members[0].iter().enumerate().all(|(i, &o)| i == o) {
            return Some(single);
        }
    }
    Some(b.select(name, outs, map))
}

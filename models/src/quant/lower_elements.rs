//! Lowering of GatherElements, ScatterElements and OneHot.
//!
//! Constant indices give a `Select`. Activation indices (quantized like every activation,
//! so index `j` is `j * 2^scale`) are compared with every candidate `j` along the axis by
//! `Cmp { eq }` (an `is_equal`, constrained), giving indicators `e_j = one * [idx == j]`;
//! the result is `rescale(sum_j e_j * x_j, scale)` (a `Bilinear`, exact), or a `Linear`
//! with the data as coefficients when the data is constant.
//!
//! An index outside `0..dim` matches no candidate, and ONNX rejects it: so does the
//! circuit. Each index's indicators must sum to `one`, checked as a division by that
//! sum that must be positive (`Div { positive }`: a sum of 0 has no witness, and the
//! interpreter fails naming the `:in_range` node). Negative activation indices are not
//! normalised, so they are out of range too. For ScatterElements two updates at one
//! position (undefined in ONNX for `reduction = none`) add up.
//!
//! OneHot is `off + (on - off) * e_k / one`, and the exception to the range rule: ONNX
//! defines an index outside the depth as all `off`, which is what no hit gives.

use super::lower::{Builder, Terms};
use super::{QOp, QValueId};
use crate::error::Result;
use crate::ir::Node;
use crate::ops::elements::Sites;
use crate::ops::{Elements, OneHot};

pub(super) fn lower(b: &mut Builder, node: &Node, e: &Elements) -> Result<QValueId> {
    let name = node.name.as_str();
    let data_shape = b.graph.shape(node.inputs[0]).to_vec();
    if e.indices.is_some() {
        let (_, map) = e.index_map(&data_shape)?;
        let ins = node.inputs.iter().map(|&v| b.value(v)).collect();
        return Ok(b.select(name, ins, map.into_iter().map(|(s, i)| (s as u32, i as u32)).collect()));
    }
    let sites = e.sites(&data_shape);
    let hits = indicators(b, name, node.inputs[1], &sites, 0, true);
    if e.scatter {
        return Ok(scatter(b, node, &sites, hits, data_shape.iter().product()));
    }
    let dim = sites.dim;
    if let Some(data) = b.graph.constant(node.inputs[0]) {
        let mut t = Terms::new();
        for (o, &base) in sites.base.iter().enumerate() {
            for j in 0..dim {
                t.term(hits, o * dim + j, data.data[base + j * sites.stride]);
            }
            t.end(0.0);
        }
        return Ok(b.lin(name, t));
    }
    let x = b.value(node.inputs[0]);
    let left = (0..sites.base.len() * dim).map(|k| k as u32).collect();
    let right = sites.base.iter().flat_map(|&base| (0..dim).map(move |j| (base + j * sites.stride) as u32)).collect();
    Ok(b.bilin(name, hits, x, (0..=sites.base.len()).map(|o| o * dim).collect(), left, right))
}

/// `one * [idx[u] == first + j]` at position `u * dim + j`, for every index `u` and
/// candidate `j`. With `require_hit`, an index that hits no candidate has no witness.
fn indicators(b: &mut Builder, name: &str, indices: usize, sites: &Sites, first: i64, require_hit: bool) -> QValueId {
    let (n, dim, one) = (sites.base.len(), sites.dim, b.one());
    let iv = b.value(indices);
    let sel: Vec<usize> = (0..n).flat_map(|u| std::iter::repeat_n(u, dim)).collect();
    let idx = b.gather(&format!("{name}:idx"), iv, &sel);
    let cands = b.consts(&format!("{name}:cand"), (0..n).flat_map(|_| (0..dim as i64).map(|j| (first + j) * one)).collect());
    let hits = b.emit(&format!("{name}:onehot"), QOp::Cmp { eq: true, one }, vec![idx, cands], n * dim);
    if !require_hit {
        return hits;
    }
    // Every index hits exactly one candidate: its indicator sum (0 or `one`) must divide.
    let mut t = Terms::new();
    for u in 0..n {
        for j in 0..dim {
            t.term(hits, u * dim + j, 1.0);
        }
        t.end(0.0);
    }
    let sums = b.lin(&format!("{name}:hits"), t);
    let zeros = b.consts(&format!("{name}:zero"), vec![0; n]);
    b.emit(&format!("{name}:in_range"), QOp::Div { scale: b.s(), positive: true }, vec![zeros, sums], n);
    hits
}

/// `out[p] = rescale((one - sum_u e_u) * data[p] + sum_u e_u * upd[u], scale)` over the
/// updates `u` whose candidate position is `p`.
fn scatter(b: &mut Builder, node: &Node, sites: &Sites, hits: QValueId, n_out: usize) -> QValueId {
    let name = node.name.as_str();
    let dim = sites.dim;
    let mut at: Vec<Vec<usize>> = vec![Vec::new(); n_out];
    for (u, &base) in sites.base.iter().enumerate() {
        for j in 0..dim {
            at[base + j * sites.stride].push(u * dim + j);
        }
    }
    let mut t = Terms::new();
    for ks in &at {
        for &k in ks {
            t.term(hits, k, -1.0);
        }
        t.end(1.0);
    }
    let keep = b.lin(&format!("{name}:keep"), t);
    let (data, upd) = (b.value(node.inputs[0]), b.value(node.inputs[2]));
    // Weights [keep, hits] against values [data, updates].
    let weights = b.select(
        &format!("{name}:w"),
        vec![keep, hits],
        (0..n_out as u32).map(|p| (0, p)).chain((0..(sites.base.len() * dim) as u32).map(|k| (1, k))).collect(),
    );
    let n_upd = b.len_of(upd) as u32;
    let vals =
        b.select(&format!("{name}:v"), vec![data, upd], (0..n_out as u32).map(|p| (0, p)).chain((0..n_upd).map(|u| (1, u))).collect());
    let (mut offsets, mut left, mut right) = (vec![0], Vec::new(), Vec::new());
    for (p, ks) in at.iter().enumerate() {
        left.push(p as u32);
        right.push(p as u32);
        for &k in ks {
            left.push((n_out + k) as u32);
            right.push(n_out as u32 + (k / dim) as u32);
        }
        offsets.push(left.len());
    }
    b.bilin(name, weights, vals, offsets, left, right)
}

/// OneHot: `off + (on - off) * [idx == k]` (exact: a `Linear` without rescale when the
/// values are multiples of `2^-scale`).
pub(super) fn onehot(b: &mut Builder, node: &Node, o: &OneHot) -> QValueId {
    let name = node.name.as_str();
    let iv = b.value(node.inputs[0]);
    let n = b.len_of(iv);
    // Candidates `-depth..depth`: a negative index counts from the end (it hits `k` at
    // `k - depth`). ONNX gives all `off` for an index outside `[-depth, depth)`: no hit
    // is required.
    let d = o.depth;
    let hits = indicators(b, name, node.inputs[0], &Sites { base: vec![0; n], stride: 0, dim: 2 * d }, -(d as i64), false);
    let (_, map) = o.index_map(b.graph.shape(node.inputs[0]));
    let mut t = Terms::new();
    for (u, k) in map {
        t.term(hits, u * 2 * d + k, o.on - o.off);
        t.term(hits, u * 2 * d + d + k, o.on - o.off);
        t.end(o.off);
    }
    b.lin(name, t)
}

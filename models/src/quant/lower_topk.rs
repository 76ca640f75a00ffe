//! Lowering of TopK by ranks, with comparisons that are all constrained.
//!
//! Per pair `i < j` of a group, `c_ij = one * [x_i < x_j]` (largest) or
//! `one * [x_j < x_i]` (smallest) by `Cmp`; `rank_i = sum_{j>i} c_ij + sum_{j<i} (one - c_ji)`
//! (a `Linear` without rescale) counts the elements ranked before `i`, so the ranks are a
//! permutation of `0..n`. Output `r` is `rescale(sum_i [rank_i == r] * x_i, scale)` (a
//! `Bilinear`, exact) or, for the indices, `sum_i [rank_i == r] * i` (a `Linear`).
//! The values and the indices outputs each build their own ranks.

use super::lower::{Builder, Terms};
use super::{QOp, QValueId};
use crate::ir::Node;
use crate::ops::topk::{groups, TopK};

pub(super) fn lower(b: &mut Builder, node: &Node, t: &TopK) -> QValueId {
    let name = node.name.as_str();
    let shape = b.graph.shape(node.inputs[0]).to_vec();
    let gs = groups(&shape, t.axis);
    let n = shape[t.axis];
    let one = b.one();
    let x = b.value(node.inputs[0]);
    // Pairs i < j per group, in order; the pair index of (g, i, j).
    let pairs: Vec<(usize, usize, usize)> =
        (0..gs.len()).flat_map(|g| (0..n).flat_map(move |i| (i + 1..n).map(move |j| (g, i, j)))).collect();
    let pair_at = |g: usize, i: usize, j: usize| g * n * (n - 1) / 2 + i * (2 * n - i - 1) / 2 + (j - i - 1);
    let (lo, hi): (Vec<usize>, Vec<usize>) =
        pairs.iter().map(|&(g, i, j)| if t.largest { (gs[g][i], gs[g][j]) } else { (gs[g][j], gs[g][i]) }).unzip();
    let a = b.gather(&format!("{name}:a"), x, &lo);
    let c = b.gather(&format!("{name}:b"), x, &hi);
    let beats = b.emit(&format!("{name}:cmp"), QOp::Cmp { eq: false, one }, vec![a, c], pairs.len());
    let mut rt = Terms::new();
    for g in 0..gs.len() {
        for i in 0..n {
            let mut bias = 0.0;
            for j in 0..n {
                if j > i {
                    rt.term(beats, pair_at(g, i, j), 1.0);
                } else if j < i {
                    rt.term(beats, pair_at(g, j, i), -1.0);
                    bias += 1.0;
                }
            }
            rt.end(bias);
        }
    }
    let rank = b.lin(&format!("{name}:rank"), rt);
    // Indicators [rank_i == r] per (output element, i).
    let (_, map) = t.out_map(&shape);
    let sel: Vec<usize> = map.iter().flat_map(|&(g, _)| (0..n).map(move |i| g * n + i)).collect();
    let ranks = b.gather(&format!("{name}:ranks"), rank, &sel);
    let cands = b.consts(&format!("{name}:r"), map.iter().flat_map(|&(_, r)| std::iter::repeat_n(r as i64 * one, n)).collect());
    let ind = b.emit(&format!("{name}:onehot"), QOp::Cmp { eq: true, one }, vec![ranks, cands], map.len() * n);
    if t.indices {
        let mut it = Terms::new();
        for o in 0..map.len() {
            for i in 1..n {
                it.term(ind, o * n + i, i as f64);
            }
            it.end(0.0);
        }
        return b.lin(name, it);
    }
    let left = (0..(map.len() * n) as u32).collect();
    let right = map.iter().flat_map(|&(g, _)| gs[g].iter().map(|&p| p as u32)).collect();
    b.bilin(name, ind, x, (0..=map.len()).map(|o| o * n).collect(), left, right)
}

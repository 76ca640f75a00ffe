//! Lowering of normalisations and soft-max into linear maps, products, tables and
//! constrained divisions.
//!
//! - BatchNormalization: one per-channel affine `Linear`.
//! - Layer/InstanceNormalization: `mu = mean(x)`, `c = x - mu`, `v = mean(c^2)`,
//!   `sd = sqrt(v + eps)` (exact, [`QOp::Sqrt`]), `y = c / sd` (row division), then the affine parameters.
//! - Softmax: `m = max(x)`, `d = x - m <= 0`, `e = exp(d)` (table, clamped exactly
//!   where exp underflows), `z = sum(e) >= 1`, `y = e / z` (row division); LogSoftmax: `d - log(z)`.
//!
//! A row division `y = a / den` (one positive divisor per row) is one [`QOp::Div`] per
//! row, `r = round(2^(s+t) / den)` at `t` extra fractional bits, and one product per
//! element, `y = rescale(a * r, s + t)` ([`QOp::Bilinear`]), instead of one Div per
//! element (a product's rescale costs about half a positive Div's cells). `t` is chosen so that `r`
//! stays in the activation range for **every** input (from a lower bound on `den`:
//! `z >= exp(0)` for soft-max, `sd >= sqrt(eps)` for the norms), so the new path adds no
//! failure; where no `t` of at least [`MIN_RECIP_BITS`] effective bits fits, the
//! division stays per element. Error: with `r = 2^(s+t)/den + delta`, `|delta| <= 1/2`,
//! `y` is off the exact quotient by at most `1/2 + |a| 2^-(s+t+1)` LSB, against `1/2`
//! for the per-element Div: `2^-(t+1)` LSB more for soft-max (`a = e <= 1.0`),
//! `A 2^-(t+1)` for the norms when `|c| <= A`.

use super::lower::{q, Builder, Terms};
use super::lower_nonlinear::reduce;
use super::table::TableRequest;
use super::{isqrt, QOp, QValueId};
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
            // The row maximum has d = 0 exactly, so z >= T(0) + (width - 1) * min(T, 0).
            let width = (0..ng).map(|gi| off[gi + 1] - off[gi]).max().unwrap_or(1) as i128;
            let z_min = match b.producer(e) {
                Some(QOp::Table(t)) => {
                    let (u, r) = t.split(0);
                    let at0 = t.index(u).map_or(0, |i| t.output(i, r)) as i128;
                    // An interpolated output lies between two entries.
                    let low = t.values.iter().copied().min().unwrap_or(0).min(0) as i128;
                    at0 + (width - 1) * low
                }
                _ => 0,
            };
            Ok(divide_rows(b, name, e, z, &group_of, z_min, 1.0))
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
            // var >= 0 (a rescaled sum of squares times 1/N), so sd >= isqrt(offset * 2^s).
            let sd_min = isqrt((offset as i128) << b.s()).unwrap_or(0);
            let y = divide_rows(b, &format!("{name}:normed"), c, sd, &group_of, sd_min, spread);
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

/// Fewest effective extra bits (`t - log2 A` for numerators `|a| <= A`) a row reciprocal
/// must carry: its rounding then adds at most `2^-(MIN_RECIP_BITS+1)` LSB to a quotient.
pub(super) const MIN_RECIP_BITS: u32 = 4;

/// Most extra bits of a row reciprocal: beyond this its rounding error is negligible.
pub(super) const MAX_RECIP_BITS: u32 = 16;

/// The extra bits `t` of a row reciprocal `r = round(2^s * 2^(s+t) / den)` (a [`QOp::Div`]
/// of the constant 1.0 at scale `s + t`) for divisors `den >= den_min` (quantized) and
/// numerators `|a| <= num_abs` (real units, calibrated): the largest `t <=`
/// [`MAX_RECIP_BITS`] whose largest quotient, at `den = den_min`, is in the activation
/// range `|r| < 2^(bits-1)`; `None` when it is not [`MIN_RECIP_BITS`] effective bits.
pub(super) fn recip_bits(s: u32, bits: u32, den_min: i128, num_abs: f64) -> Option<u32> {
    if den_min < 1 {
        return None;
    }
    let need = MIN_RECIP_BITS as f64 + num_abs.max(1.0).log2().ceil();
    let r_max = |t: u32| (2 * (1i128 << s) * (1i128 << (s + t)) + den_min).div_euclid(2 * den_min);
    (0..=MAX_RECIP_BITS).rev().filter(|&t| 2 * s + t + 2 < 127).find(|&t| r_max(t) < 1i128 << (bits - 1)).filter(|&t| t as f64 >= need)
}

/// `a[o] / den[group_of[o]]` at the activation scale, for positive divisors
/// `den >= den_min` (quantized; checked by the Div) and numerators `|a| <= num_abs` (real
/// units, calibrated): one reciprocal per row and a product per element when
/// [`recip_bits`] admits one, else one positive [`QOp::Div`] per element. The output is
/// named `name`.
fn divide_rows(b: &mut Builder, name: &str, a: QValueId, den: QValueId, group_of: &[usize], den_min: i128, num_abs: f64) -> QValueId {
    let (s, n, ng) = (b.s(), group_of.len(), b.len_of(den));
    let Some(t) = recip_bits(s, b.cal.bits, den_min, num_abs) else {
        let db = b.gather(&format!("{name}:den_b"), den, group_of);
        return b.emit(name, QOp::Div { scale: s, positive: true }, vec![a, db], n);
    };
    let one = b.consts(&format!("{name}:one"), vec![b.one()]);
    let ones = b.gather(&format!("{name}:ones"), one, &vec![0; ng]);
    let r = b.emit(&format!("{name}:recip"), QOp::Div { scale: s + t, positive: true }, vec![ones, den], ng);
    let op = QOp::Bilinear {
        offsets: (0..=n).collect(),
        left: (0..n as u32).collect(),
        right: group_of.iter().map(|&g| g as u32).collect(),
        shift: s + t,
    };
    b.emit(name, op, vec![a, r], n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest reciprocal the Div can give for divisors `>= den_min`.
    fn r_max(s: u32, t: u32, den_min: i128) -> i128 {
        (2 * (1i128 << s) * (1i128 << (s + t)) + den_min).div_euclid(2 * den_min)
    }

    #[test]
    fn reciprocal_bits_keep_the_largest_reciprocal_in_range() {
        // Soft-max, z >= 1.0: r <= 2^(s+t), so s + t <= bits - 2.
        let (s, bits) = (20, 32);
        assert_eq!(recip_bits(s, bits, 1 << s, 1.0), Some(10));
        assert!(r_max(s, 10, 1 << s) < 1 << (bits - 1) && r_max(s, 11, 1 << s) >= 1 << (bits - 1));
        assert_eq!(recip_bits(12, 32, 1 << 12, 1.0), Some(MAX_RECIP_BITS));
        // Too little room: fewer than MIN_RECIP_BITS.
        assert_eq!(recip_bits(26, 32, 1 << 26, 1.0), Some(MIN_RECIP_BITS));
        assert_eq!(recip_bits(27, 32, 1 << 27, 1.0), None);
        // Larger numerators need more bits: |a| <= 8 takes 3 more.
        assert_eq!(recip_bits(23, 32, 1 << 23, 8.0), Some(7));
        assert_eq!(recip_bits(24, 32, 1 << 24, 8.0), None);
        // A divisor that may be 0 (or below) has no bound.
        assert_eq!(recip_bits(12, 32, 0, 1.0), None);
        // Layer norm, sd >= isqrt(q(1e-5) * 2^s): at 2^20 only 2 bits fit; at 2^12 eps
        // quantizes to 0 and sd has no lower bound; at 2^16 (sd >= 2^-8) 6 bits fit.
        let sd_min = |s: u32| isqrt((q(1e-5, s) as i128) << s).unwrap();
        assert_eq!(recip_bits(20, 32, sd_min(20), 1.0), None);
        assert_eq!(sd_min(12), 0);
        assert_eq!(recip_bits(12, 32, sd_min(12), 1.0), None);
        assert_eq!(sd_min(16), 256);
        assert_eq!(recip_bits(16, 32, sd_min(16), 2.0), Some(6));
        assert!(r_max(16, 6, 256) < 1 << 31 && r_max(16, 7, 256) >= 1 << 31);
    }
}

//! Lookup tables for point-wise functions, generated from the plain `f64` function over
//! a calibrated input range.
//!
//! The input `x` (scale `s`) is rounded to the table resolution `t <= s`
//! (`u = rescale(x, s - t)`), and the table holds `round(f(u / 2^t) * 2^s)` for
//! `u in lo..=hi`. Outside the table a side is either
//! - *clamped*, only where `f` has saturated: every input beyond the edge has the same
//!   quantized output as the edge (checked far out), so clamping loses nothing; or
//! - *rejected*: the circuit's lookup has no entry, so no proof exists, and the
//!   interpreter reports the node and the calibrated range.

use crate::error::{ModelError, Result};
use crate::quant::QOp;

/// Where a table may be placed: the calibrated input range and the domain of `f`.
#[derive(Clone, Copy, Debug)]
pub struct TableRequest {
    /// Smallest and largest input seen in calibration (float units).
    pub min: f64,
    pub max: f64,
    /// Widen the calibrated range by this factor around its centre (rejected sides).
    pub headroom: f64,
    /// Inputs never go below / above these (e.g. a softmax's `x - max <= 0`).
    pub floor: f64,
    pub ceil: f64,
}

impl TableRequest {
    /// A request for a calibrated range with head-room and no known bounds.
    pub fn calibrated(min: f64, max: f64, headroom: f64) -> TableRequest {
        TableRequest { min, max, headroom, floor: f64::NEG_INFINITY, ceil: f64::INFINITY }
    }
}

/// Builds the [`QOp::Table`] for `f` at activation scale `scale`, with at most
/// `2^table_bits` entries and outputs in `|v| < 2^(bits-1)`.
pub fn build(f: &dyn Fn(f64) -> f64, req: TableRequest, scale: u32, bits: u32, table_bits: u32) -> Result<QOp> {
    let bound = 2f64.powi(bits as i32 - 1);
    let qf = |x: f64| -> Option<i64> {
        let v = (f(x) * 2f64.powi(scale as i32)).round();
        (v.is_finite() && v.abs() < bound).then_some(v as i64)
    };
    let far = bound / 2f64.powi(scale as i32);
    // Saturated value of a side, if f is constant (after quantization) far out there.
    let saturated = |dir: f64| -> Option<i64> {
        let v = qf(dir * far)?;
        (1..=10).map(|k| far / 2f64.powi(k)).filter(|&x| x >= 16.0f64.min(far / 2.0)).all(|x| qf(dir * x) == Some(v)).then_some(v)
    };
    let sat_lo = if req.floor.is_finite() { None } else { saturated(-1.0) };
    let sat_hi = if req.ceil.is_finite() { None } else { saturated(1.0) };
    let (mut cmin, mut cmax) = (req.min.max(req.floor), req.max.min(req.ceil));
    if !(cmin <= cmax) {
        (cmin, cmax) = (req.floor.max(-1.0).min(0.0), req.ceil.min(1.0).max(0.0));
    }
    let centre = (cmin + cmax) / 2.0;
    let half = ((cmax - cmin) / 2.0).max(centre.abs() * 0.25).max(16.0 / 2f64.powi(scale as i32));
    let (wlo, whi) = ((centre - half * req.headroom).max(req.floor), (centre + half * req.headroom).min(req.ceil));
    for t in (0..=scale).rev() {
        let res = 2f64.powi(t as i32);
        let max_len = 1i64 << table_bits;
        // A saturating side extends to where f reaches its far value (and stays there).
        let edge = |sat: Option<i64>, from: f64, dir: f64| -> Option<i64> {
            let v = sat?;
            let mut u = (from * res).round() as i64;
            for _ in 0..max_len {
                let x = u as f64 / res;
                if qf(x) == Some(v) && (1..=32).all(|k| qf(x + dir * (k as f64).powi(3) / 8.0) == Some(v)) {
                    return Some(u);
                }
                u += dir as i64;
            }
            None
        };
        let lo_sat = edge(sat_lo, cmin.min(0.0), -1.0);
        let hi_sat = edge(sat_hi, cmax.max(0.0), 1.0);
        let mut lo = lo_sat.unwrap_or((wlo * res).floor() as i64);
        let mut hi = hi_sat.unwrap_or((whi * res).ceil() as i64);
        // Stay inside f's domain and the activation bound (those sides are rejected).
        while lo <= hi && qf(lo as f64 / res).is_none() {
            lo += 1;
        }
        while hi >= lo && qf(hi as f64 / res).is_none() {
            hi -= 1;
        }
        if lo > hi || (cmin * res).round() as i64 + 1 < lo || (cmax * res).round() as i64 - 1 > hi {
            if t == 0 {
                break;
            }
            continue;
        }
        if hi - lo + 1 > max_len {
            continue;
        }
        let values = (lo..=hi).map(|u| qf(u as f64 / res).expect("checked above")).collect();
        return Ok(QOp::Table {
            shift: scale - t,
            lo,
            clamp_lo: lo_sat == Some(lo),
            clamp_hi: hi_sat == Some(hi),
            values,
        });
    }
    Err(ModelError::Quantization(format!(
        "no lookup table of at most 2^{table_bits} entries covers the calibrated input range [{:.4}, {:.4}] \
         with outputs inside {bits} bits; raise --table-bits or --bits",
        req.min, req.max
    )))
}

/// The interpreter's semantics of a table (must match the circuit exactly): the index
/// after rounding and clamping, or `None` when the input is outside an unclamped side.
pub fn index(u: i64, lo: i64, len: usize, clamp_lo: bool, clamp_hi: bool) -> Option<usize> {
    let hi = lo + len as i64 - 1;
    let c = if clamp_lo && u < lo { lo } else { u };
    let c = if clamp_hi && c > hi { hi } else { c };
    (lo..=hi).contains(&c).then(|| (c - lo) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn sigmoid_table_clamps_both_saturated_sides_exactly() {
        let QOp::Table { shift, lo, clamp_lo, clamp_hi, values } =
            build(&sigmoid, TableRequest::calibrated(-1.0, 1.0, 2.0), 8, 16, 12).unwrap()
        else {
            panic!()
        };
        assert!(clamp_lo && clamp_hi);
        assert_eq!(values[0], 0);
        assert_eq!(*values.last().unwrap(), 256);
        assert!(values.len() <= 4096);
        // Far inputs map to the edges with the exact quantized output.
        for x in [-1000.0f64, -30.0, 30.0, 1000.0] {
            let u = ((x * 256.0) as i64 + (1 << shift >> 1)) >> shift;
            let i = index(u, lo, values.len(), clamp_lo, clamp_hi).unwrap();
            assert_eq!(values[i], (sigmoid(x) * 256.0).round() as i64, "x = {x}");
        }
    }

    #[test]
    fn unbounded_function_rejects_outside_the_calibrated_range() {
        let QOp::Table { lo, clamp_lo, clamp_hi, values, .. } =
            build(&f64::exp, TableRequest::calibrated(0.0, 2.0, 2.0), 10, 32, 14).unwrap()
        else {
            panic!()
        };
        assert!(clamp_lo, "exp saturates at 0 on the left");
        assert!(!clamp_hi);
        assert!(index(lo + values.len() as i64 + 5, lo, values.len(), clamp_lo, clamp_hi).is_none());
    }

    #[test]
    fn sqrt_table_stays_in_its_domain() {
        let QOp::Table { lo, values, clamp_lo, .. } =
            build(&f64::sqrt, TableRequest::calibrated(0.1, 4.0, 2.0), 8, 24, 12).unwrap()
        else {
            panic!()
        };
        assert!(lo >= 0 && !clamp_lo);
        assert!(values.windows(2).all(|w| w[0] <= w[1]));
    }
}

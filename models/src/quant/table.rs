//! Lookup tables for point-wise functions, generated from the plain `f64` function over
//! a calibrated input range.
//!
//! The input `x` (scale `s`) is brought to the table resolution `t <= s` and the table
//! holds `round(f(u / 2^t) * 2^s)` for `u in lo..=hi`. With `t < s` the table
//! *interpolates*: `u = floor(x / 2^(s - t))`, and the remainder moves the output along
//! the straight line to the next entry, so the error is that of the line (second order
//! in the step) rather than of the step. Outside the table a side is either
//! - *clamped*, only where `f` has saturated: every input beyond the edge has the same
//!   quantized output as the edge (checked far out), so clamping loses nothing; or
//! - *rejected*: the circuit's lookup has no entry, so no proof exists, and the
//!   interpreter reports the node and the calibrated range.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::quant::{rescale, QOp};

/// A lookup table over inputs `x` at the activation scale.
///
/// Without `interpolate`: `u = rescale(x, shift)` (rounded; range-checked when
/// `shift > 0`), clamped to `[lo, hi]` (`hi = lo + len - 1`) on the sides whose flag is
/// set, and `out = values[u - lo]`.
///
/// With `interpolate` (and `shift > 0`): `u = floor(x / 2^shift)` (range-checked) and
/// `r = x - u * 2^shift`; `u` is clamped as above and
/// `out = values[i] + rescale(slope(i) * r, shift)` for `i = u - lo`, with
/// `slope(i) = values[i + 1] - values[i]` and `0` for the last entry. Clamping keeps `r`,
/// so a clamped side's edge entry has slope 0: the last always, the first by
/// construction in [`build`] (`values[0] == values[1]`).
///
/// An input outside the table on a side without clamping has no witness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableOp {
    pub shift: u32,
    pub lo: i64,
    pub clamp_lo: bool,
    pub clamp_hi: bool,
    pub values: Vec<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interpolate: bool,
}

impl TableOp {
    /// A table read at the input's own resolution (no rescale, no interpolation).
    pub fn exact(lo: i64, clamp_lo: bool, clamp_hi: bool, values: Vec<i64>) -> TableOp {
        TableOp { shift: 0, lo, clamp_lo, clamp_hi, values, interpolate: false }
    }

    /// The last input with an entry.
    pub fn hi(&self) -> i64 {
        self.lo + self.values.len() as i64 - 1
    }

    /// Whether outputs interpolate between entries (needs a rescale to step between).
    pub fn interpolates(&self) -> bool {
        self.interpolate && self.shift > 0
    }

    /// `values[i + 1] - values[i]`, and 0 for the last entry.
    pub fn slope(&self, i: usize) -> i64 {
        self.values.get(i + 1).map_or(0, |next| next - self.values[i])
    }

    /// Bits of the range check on the interpolation step `rescale(slope * r, shift)`:
    /// the step lies in `[-B, B]` for `B` the largest `|slope|`, so `step + B` is checked
    /// in this many bits (at least one).
    pub fn step_bits(&self) -> u32 {
        (128 - (2 * self.slope_bound() as u128).leading_zeros()).max(1)
    }

    /// The largest `|slope(i)|`.
    pub fn slope_bound(&self) -> i64 {
        (0..self.values.len()).map(|i| self.slope(i).abs()).max().unwrap_or(0)
    }

    /// The table input `u` and the remainder `r` that interpolation uses (0 without it).
    pub fn split(&self, x: i128) -> (i128, i128) {
        if self.interpolates() {
            let d = 1i128 << self.shift;
            (x.div_euclid(d), x.rem_euclid(d))
        } else {
            (rescale(x, self.shift), 0)
        }
    }

    /// The entry index of `u` after clamping, or `None` outside an unclamped side (the
    /// circuits must match this exactly).
    pub fn index(&self, u: i128) -> Option<usize> {
        let (lo, hi) = (self.lo as i128, self.hi() as i128);
        let c = if self.clamp_lo && u < lo { lo } else { u };
        let c = if self.clamp_hi && c > hi { hi } else { c };
        (lo..=hi).contains(&c).then(|| (c - lo) as usize)
    }

    /// The interpolation step from entry `i` for remainder `r`.
    pub fn step(&self, i: usize, r: i128) -> i128 {
        if self.interpolates() {
            rescale(self.slope(i) as i128 * r, self.shift)
        } else {
            0
        }
    }

    /// The output for entry `i` and remainder `r`.
    pub fn output(&self, i: usize, r: i128) -> i64 {
        (self.values[i] as i128 + self.step(i, r)) as i64
    }
}

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
    // Also for NaN bounds.
    if !matches!(cmin.partial_cmp(&cmax), Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)) {
        (cmin, cmax) = (req.floor.clamp(-1.0, 0.0), req.ceil.clamp(0.0, 1.0));
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
        let interpolate = t < scale;
        // An interpolating table clamped below starts one entry early with the edge's
        // value, so its first slope is 0 (inputs clamped to it keep their remainder).
        let lo_sat = lo_sat.map(|u| u - i64::from(interpolate));
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
        let mut values: Vec<i64> = (lo..=hi).map(|u| qf(u as f64 / res).expect("checked above")).collect();
        let clamp_lo = lo_sat == Some(lo);
        if interpolate && clamp_lo && values.len() > 1 {
            values[0] = values[1];
        }
        return Ok(QOp::Table(TableOp { shift: scale - t, lo, clamp_lo, clamp_hi: hi_sat == Some(hi), values, interpolate }));
    }
    Err(ModelError::Quantization(format!(
        "no lookup table of at most 2^{table_bits} entries covers the calibrated input range [{:.4}, {:.4}] \
         with outputs inside {bits} bits; raise the table size (`table_bits`) or the activation bits (`bits`)",
        req.min, req.max
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    fn table(f: &dyn Fn(f64) -> f64, req: TableRequest, scale: u32, bits: u32, table_bits: u32) -> TableOp {
        let QOp::Table(t) = build(f, req, scale, bits, table_bits).unwrap() else { panic!() };
        t
    }

    /// The table's output for the float `x` at scale `s`, as a float.
    fn eval(t: &TableOp, x: f64, s: u32) -> Option<f64> {
        let (u, r) = t.split((x * 2f64.powi(s as i32)).round() as i128);
        t.index(u).map(|i| t.output(i, r) as f64 / 2f64.powi(s as i32))
    }

    #[test]
    fn sigmoid_table_clamps_both_saturated_sides_exactly() {
        let t = table(&sigmoid, TableRequest::calibrated(-1.0, 1.0, 2.0), 8, 16, 12);
        assert!(t.clamp_lo && t.clamp_hi);
        assert_eq!(t.values[0], 0);
        assert_eq!(*t.values.last().unwrap(), 256);
        assert!(t.values.len() <= 4096);
        // Far inputs map to the edges with the exact quantized output.
        for x in [-1000.0f64, -30.0, 30.0, 1000.0] {
            assert_eq!(eval(&t, x, 8).unwrap(), (sigmoid(x) * 256.0).round() / 256.0, "x = {x}");
        }
    }

    #[test]
    fn interpolation_is_second_order_in_the_step_and_exact_when_saturated() {
        let s = 16;
        let t = table(&f64::tanh, TableRequest::calibrated(-2.0, 2.0, 2.0), s, 32, 10);
        assert!(t.interpolates() && t.clamp_lo && t.clamp_hi, "{} entries, shift {}", t.values.len(), t.shift);
        assert_eq!(t.slope(0), 0, "a clamped first entry is flat");
        assert_eq!(t.slope(t.values.len() - 1), 0);
        let step = 2f64.powi(t.shift as i32 - s as i32);
        let nearest = TableOp { interpolate: false, ..t.clone() };
        let (mut worst, mut worst_nearest) = (0f64, 0f64);
        for k in -4000..=4000 {
            let x = k as f64 / 997.0;
            worst = worst.max((eval(&t, x, s).unwrap() - x.tanh()).abs());
            worst_nearest = worst_nearest.max((eval(&nearest, x, s).unwrap() - x.tanh()).abs());
        }
        // Line error <= max|f''| h^2 / 8 (|tanh''| < 0.77), plus two roundings at 2^-s.
        let bound = 0.77 * step * step / 8.0 + 2.0 / 2f64.powi(s as i32);
        assert!(worst <= bound, "interpolated error {worst:.3e} > {bound:.3e} (step {step})");
        assert!(worst * 20.0 < worst_nearest, "interpolated {worst:.3e}, nearest entry {worst_nearest:.3e}");
        for x in [-1000.0f64, -30.0, 30.0, 1000.0] {
            assert_eq!(eval(&t, x, s).unwrap(), x.tanh().round(), "x = {x}");
        }
        // The step stays inside its range check.
        let b = t.slope_bound() as i128;
        assert!(2 * b < 1 << t.step_bits());
        for i in 0..t.values.len() {
            for r in [0, 1, (1i128 << t.shift) - 1] {
                assert!(t.step(i, r).abs() <= b);
            }
        }
    }

    #[test]
    fn unbounded_function_rejects_outside_the_calibrated_range() {
        let t = table(&f64::exp, TableRequest::calibrated(0.0, 2.0, 2.0), 10, 32, 14);
        assert!(t.clamp_lo, "exp saturates at 0 on the left");
        assert!(!t.clamp_hi);
        assert!(t.index(t.hi() as i128 + 5).is_none());
    }

    #[test]
    fn sqrt_table_stays_in_its_domain() {
        let t = table(&f64::sqrt, TableRequest::calibrated(0.1, 4.0, 2.0), 8, 24, 12);
        assert!(t.lo >= 0 && !t.clamp_lo);
        assert!(t.values.windows(2).all(|w| w[0] <= w[1]));
    }
}

//! Lookup tables (`QOp::Table`) in R1CS at `O(sqrt(len))` constraints per element.
//!
//! The input is rescaled to the table resolution ([`ops::rescale`], range-checked) and
//! clamped on saturated sides with sign bits ([`compare::sign_bit`],
//! [`compare::select`]), as the halo2 chip does. The index `i = u - lo` is then written
//! `i = a * m + c` with one-hot boolean vectors `A` (over `0..na`) and `C` (over `0..m`):
//! booleanity, `sum = 1` and `u - lo = m * sum_a a A_a + sum_c c C_c`. For every
//! `a`, `t_a = sum_c C_c * T[a*m + c]` is a linear combination (free), and the output is
//! `sum_a A_a * t_a`, one multiplication per `a`. Indices `na*m > i >= len` are excluded
//! by `A_{na-1} * sum_{c >= len - (na-1) m} C_c = 0`. An input outside an unclamped side
//! has no witness: [`Groth16Error::OutsideTable`] names the node.
//!
//! An interpolating table (see `TableOp`) floors the input instead, keeps the rescale's
//! remainder `r` (its bits are already constrained), selects the slope with the same
//! one-hot vectors (`na` more multiplications) and adds `rescale(slope * r, shift)`,
//! whose quotient is checked in [`TableOp::step_bits`] bits.
//!
//! Cost per element: `m + 2 na + 4` (plus one when the last row is partial), `m`
//! chosen to minimize it (`m ~ sqrt(2 len)`), plus `bits + shift + 3` for a rescale
//! and `bits + 3` per clamped side; interpolation adds `na + shift + step_bits + 3`.

use ark_bn254::Fr;
use ark_relations::r1cs::{LinearCombination, Variable};

use zkinfer_models::quant::table::TableOp;

use super::builder::{Builder, Wire};
use super::compare::{diff, select, shifted, sign_bit, sub};
use super::error::Groth16Error;
use super::field::fr;
use super::ops;

/// A table as the gadget sees it: the op, and for an interpolating one its slopes and
/// the range of its step (computed once per table, not per element).
pub struct TableSpec<'a> {
    pub op: &'a TableOp,
    slopes: Vec<i64>,
    step_within: (i128, u32),
}

impl<'a> TableSpec<'a> {
    pub fn new(op: &'a TableOp) -> TableSpec<'a> {
        let slopes = if op.interpolates() { (0..op.values.len()).map(|j| op.slope(j)).collect() } else { Vec::new() };
        TableSpec { op, slopes, step_within: (op.slope_bound() as i128, op.step_bits()) }
    }
}

/// The row width `m` minimizing the lookup's constraints for a table of `len` entries
/// (searched around `sqrt(2 len)`, where the minimum lies: `O(sqrt(len))` work).
pub fn row_width(len: usize) -> usize {
    let len = len.max(1);
    let guess = (2 * len).isqrt().max(1);
    (guess / 2..=(2 * guess).min(len)).filter(|&m| m >= 1).min_by_key(|&m| (lookup_cost(len, m), m)).unwrap_or(1)
}

/// Constraints of the one-hot lookup (without rescale and clamps) for rows of `m`.
pub fn lookup_cost(len: usize, m: usize) -> usize {
    let na = len.div_ceil(m);
    let one_hot = |n: usize| if n == 1 { 0 } else { n + 1 };
    one_hot(m) + one_hot(na) + 1 + na + 1 + usize::from(na * m > len)
}

/// `f(x)` from table `spec.op`: its entry at the clamped input, interpolated when the
/// table does.
pub fn lookup(b: &mut Builder, node: &str, spec: &TableSpec, x: &Wire) -> Result<Wire, Groth16Error> {
    let t = spec.op;
    let (mut u, r) = if t.interpolates() {
        // floor(x / 2^shift) is the rounded rescale of x - 2^(shift-1); its remainder
        // x - u * 2^shift is the linear combination below, already range-checked.
        let u = ops::rescale(b, node, sub(x, &Wire::constant(0), 1i128 << (t.shift - 1)), t.shift)?;
        let r = Wire { lc: diff(&x.lc, &shifted(&u.lc, t.shift), 0), value: x.value - (u.value << t.shift), sign: None };
        (u, Some(r))
    } else if t.shift > 0 {
        (ops::rescale(b, node, x.clone(), t.shift)?, None)
    } else {
        (x.clone(), None)
    };
    let hi = t.hi();
    if t.clamp_lo {
        let edge = Wire::constant(t.lo);
        let (s, keep) = sign_bit(b, node, &sub(&u, &edge, 0))?;
        u = select(b, s, keep, &u, &edge)?;
    }
    if t.clamp_hi {
        let edge = Wire::constant(hi);
        let (s, keep) = sign_bit(b, node, &sub(&edge, &u, 0))?;
        u = select(b, s, keep, &u, &edge)?;
    }
    let i = u.value - t.lo as i128;
    let len = t.values.len();
    let inside = (0..len as i128).contains(&i);
    if !inside && !b.is_setup() {
        return Err(Groth16Error::OutsideTable { node: node.into(), value: u.value, lo: t.lo, hi });
    }
    let i = if inside { i as usize } else { 0 };
    let m = row_width(len);
    let mut out = lookup_at(b, &u, spec, m, i / m, i % m)?;
    let Some(r) = r else { return Ok(out.swap_remove(0)) };
    let slope = out.pop().expect("an interpolating lookup selects the slope");
    let value = out.pop().expect("and the value");
    let p = b.mul(&slope, &r)?;
    let step = ops::rescale_within(b, node, p, t.shift, Some(spec.step_within))?;
    let mut lc = value.lc;
    lc.0.extend(step.lc.0);
    lc.compactify();
    b.compact(Wire { lc, value: value.value + step.value, sign: None })
}

/// The one-hot lookup of the clamped `u` with row `a` and column `c` supplied by the
/// caller (tests forge them): the selected value, and for an interpolating table its
/// slope after it.
pub fn lookup_at(b: &mut Builder, u: &Wire, spec: &TableSpec, m: usize, a: usize, c: usize) -> Result<Vec<Wire>, Groth16Error> {
    let t = spec.op;
    let len = t.values.len();
    let na = len.div_ceil(m);
    let rows = one_hot(b, na, a)?;
    let cols = one_hot(b, m, c)?;
    // u - lo = m * sum_a a A_a + sum_c c C_c
    let mut idx = LinearCombination(Vec::with_capacity(na + m));
    idx.0.extend(rows.iter().enumerate().map(|(k, v)| (fr((k * m) as i128), *v)));
    idx.0.extend(cols.iter().enumerate().map(|(k, v)| (fr(k as i128), *v)));
    let mut eq = diff(&u.lc, &idx, -(t.lo as i128));
    eq.compactify();
    b.enforce_zero(eq)?;
    if na * m > len {
        let tail = LinearCombination(cols[len - (na - 1) * m..].iter().map(|v| (Fr::from(1u8), *v)).collect());
        b.enforce(rows[na - 1].into(), tail, LinearCombination::zero())?;
    }
    let mut columns: Vec<&[i64]> = vec![&t.values];
    if t.interpolates() {
        columns.push(&spec.slopes);
    }
    columns.into_iter().map(|column| select_entry(b, &rows, &cols, column, m, a * m + c)).collect()
}

/// `sum_a A_a * (sum_c C_c * column[a*m + c])`: one multiplication per row with a
/// non-zero entry; `j` is the selected index (for the witness).
fn select_entry(b: &mut Builder, rows: &[Variable], cols: &[Variable], column: &[i64], m: usize, j: usize) -> Result<Wire, Groth16Error> {
    let value = column.get(j).copied().unwrap_or(0) as i128;
    let a = j / m;
    let mut out = LinearCombination(Vec::with_capacity(rows.len()));
    let mut partial = 0i128;
    for (r, row) in rows.iter().enumerate() {
        let t: LinearCombination<Fr> = LinearCombination(
            cols.iter()
                .enumerate()
                .filter_map(|(k, col)| column.get(r * m + k).filter(|v| **v != 0).map(|v| (fr(*v as i128), *col)))
                .collect(),
        );
        if t.is_empty() {
            continue;
        }
        if *row == Variable::One {
            out.0.extend(t.0);
            partial = value;
            continue;
        }
        let pv = if r == a { value } else { 0 };
        let p = b.witness(pv)?;
        b.enforce((*row).into(), t, p.into())?;
        out.0.push((Fr::from(1u8), p));
        partial += pv;
    }
    debug_assert!(b.is_setup() || partial == value);
    b.compact(Wire { lc: out, value, sign: None })
}

/// `n` booleans, the one at `k` set, constrained to sum to 1; the constant one when
/// `n == 1`. `n + 1` constraints otherwise.
fn one_hot(b: &mut Builder, n: usize, k: usize) -> Result<Vec<Variable>, Groth16Error> {
    if n == 1 {
        return Ok(vec![Variable::One]);
    }
    let mut sum = LinearCombination(vec![(-Fr::from(1u8), Variable::One)]);
    let mut out = Vec::with_capacity(n);
    for j in 0..n {
        let v = b.witness((j == k) as i128)?;
        b.enforce_bit(v)?;
        sum.0.push((Fr::from(1u8), v));
        out.push(v);
    }
    b.enforce_zero(sum)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_width_is_the_cheapest() {
        for len in [1usize, 2, 3, 10, 11, 100, 3809, 4096, 65536] {
            let best = (1..=len).map(|m| lookup_cost(len, m)).min().unwrap();
            assert_eq!(lookup_cost(len, row_width(len)), best, "len {len}");
        }
    }
}

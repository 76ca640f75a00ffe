//! Lookup tables of `(input, f(input), slope)` rows for point-wise functions.
//!
//! halo2-base's own lookup is a single column `[0, 2^lookup_bits)`, so the model
//! circuit adds a three-column *fixed* table `(key, value, slope)` and `table_sets`
//! triples of advice columns with a lookup argument into it ([`TableConfig`]). Fixed
//! columns make the tables part of the verifying key. Every table `tag >= 1` stores
//! entry `u` under the key `tag * 2^72 + u`: every looked-up `u` is below `2^65` in
//! magnitude whatever its input cell holds ([`clamped_index`] bounds it, or for a
//! shift-0 table with no clamped side the lowering's static bound of its input does,
//! [`TableSpec::input_below`]), so keys of different tables never meet; the row `(0, 0, 0)` is always present for unused
//! lookup rows. The slope is the difference to the next entry (0 for the last).
//!
//! The chip [`lookup`] brings the input to the table resolution (a range-checked
//! rescale: rounded, or floored with its remainder when the table interpolates), clamps
//! it on saturated sides with sign bits (the decomposition of [`super::compare::sign_bit`],
//! laid out around the edge: [`clamp`]) and looks up
//! `(key, value, slope)`; an input outside an unclamped side has no table row. An
//! interpolating table then adds `rescale(slope * r, shift)`, its quotient range-checked
//! in [`TableOp::step_bits`] (see `zkinfer_models::quant::table::TableOp`).
//!
//! A shape with `range_in_table` ([`crate::ModelParams::range_in_table`]) has no range
//! lookup of halo2-base's: the range table `[0, 2^lookup_bits)` is table 0 of the same
//! fixed table, rows `(u, 0, range_mark)`, and the range-checked limbs fill the key
//! column of the lookup triples before the function lookups, each with its slope cell
//! copied from the constant [`range_mark`] (`2^100`). One lookup argument, one triple of
//! advice columns and one fixed table serve both: five commitments fewer in the
//! verifier. No function row has that slope (slopes are below `2^64` in magnitude), so a
//! limb row matches only the range table; a function key is `tag * 2^72 + u` with
//! `|u| < 2^64` and `tag >= 1`, never below `2^lookup_bits`, so a function lookup never
//! matches a range row.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use halo2_base::gates::GateInstructions;
use halo2_base::halo2_proofs::{
    circuit::{Region, Value},
    plonk::{Advice, Any, Column, ConstraintSystem, Fixed},
    poly::Rotation,
};
use halo2_base::utils::halo2::{constrain_virtual_equals_external, raw_assign_advice, raw_assign_fixed};
use halo2_base::virtual_region::copy_constraints::SharedCopyConstraintManager;
use halo2_base::virtual_region::lookups::LookupAnyManager;
use halo2_base::virtual_region::manager::VirtualRegionManager;
use halo2_base::{
    AssignedValue, Context, ContextTag,
    QuantumCell::{Constant, Existing, Witness},
};

use zkinfer_models::quant::table::TableOp;

use super::linear::{self, Quotient};
use super::Chips;
use crate::field::{fe, to_i128, ScalarField};

/// Bit position of the table tag in a key.
const TAG_SHIFT: u32 = 72;

/// Columns of a table row (and of each lookup set): key, value and slope.
pub const TABLE_WIDTH: usize = 3;

/// Columns of the table lookup: the fixed table and the lookup-enabled advice triples.
#[derive(Clone, Debug)]
pub struct TableConfig {
    pub table: [Column<Fixed>; TABLE_WIDTH],
    pub to_lookup: Vec<[Column<Advice>; TABLE_WIDTH]>,
}

impl TableConfig {
    /// Adds the table columns and `sets` advice triples, each looked up in the table.
    pub fn configure<F: ScalarField>(meta: &mut ConstraintSystem<F>, sets: usize) -> TableConfig {
        let table = [(); TABLE_WIDTH].map(|_| meta.fixed_column());
        let to_lookup: Vec<[Column<Advice>; TABLE_WIDTH]> = (0..sets)
            .map(|_| {
                [(); TABLE_WIDTH].map(|_| {
                    let c = meta.advice_column();
                    meta.enable_equality(c);
                    c
                })
            })
            .collect();
        for cols in &to_lookup {
            meta.lookup_any("function table", |meta| {
                cols.iter()
                    .zip(&table)
                    .map(|(a, t)| (meta.query_advice(*a, Rotation::cur()), meta.query_fixed(*t, Rotation::cur())))
                    .collect()
            });
        }
        TableConfig { table, to_lookup }
    }
}

/// The slope cell of a range row in the merged table: no function table's slope.
pub fn range_mark<F: ScalarField>() -> F {
    F::from(2u64).pow_vartime([100u64])
}

/// Lookup triples queued per context (halo2-base's lookup managers key them the same way).
type LookupQueue<F> = BTreeMap<ContextTag, Vec<[AssignedValue<F>; TABLE_WIDTH]>>;

/// The tables of one model and the `(key, value, slope)` cells to look up in them.
#[derive(Clone, Debug)]
pub struct Tables<F: ScalarField> {
    /// Table rows, starting with `(0, 0, 0)`.
    pub rows: Vec<[F; TABLE_WIDTH]>,
    /// Cells to look up, by context as halo2-base's lookup managers keep them.
    lookups: Arc<Mutex<LookupQueue<F>>>,
    copy_manager: SharedCopyConstraintManager<F>,
    witness_gen_only: bool,
    /// Tests only: `(i, v)` writes `v` into the slope cell of range row `i` instead of
    /// [`range_mark`] (the copy from the constant must reject it).
    #[doc(hidden)]
    pub forged_range_slope: Option<(usize, F)>,
}

/// halo2-base's range-check limbs, laid into the table lookup columns
/// ([`crate::ModelParams::range_in_table`]).
pub struct RangeRows<'a, F: ScalarField> {
    pub cells: &'a LookupAnyManager<F, 1>,
    pub lookup_bits: usize,
}

impl<F: ScalarField> Tables<F> {
    /// No table yet; lookups share the builder's copy constraints.
    pub fn new(witness_gen_only: bool, copy_manager: SharedCopyConstraintManager<F>) -> Tables<F> {
        Tables { rows: vec![[F::ZERO; TABLE_WIDTH]], lookups: Default::default(), copy_manager, witness_gen_only, forged_range_slope: None }
    }

    /// Adds table `tag` with entries `values[j]` (and their slopes) for inputs `lo + j`.
    pub fn add_table(&mut self, tag: usize, table: &TableOp) {
        for (j, &v) in table.values.iter().enumerate() {
            self.rows.push([key::<F>(tag, table.lo + j as i64), fe(v as i128), fe(table.slope(j) as i128)]);
        }
    }

    /// Looks up `(key, value, slope)` cells in the tables.
    pub fn add_lookup(&self, tag: ContextTag, cells: [AssignedValue<F>; TABLE_WIDTH]) {
        self.lookups.lock().unwrap().entry(tag).or_default().push(cells);
    }

    /// Number of `(key, value, slope)` cell triples to look up.
    pub fn num_lookups(&self) -> usize {
        self.lookups.lock().unwrap().values().map(Vec::len).sum()
    }

    /// Assigns the fixed table and copies the looked-up cells into the lookup columns,
    /// row after row across the column triples; with `range`, its limbs come first
    /// (rows `(limb, 0, range_mark)`) and the range table joins the fixed table. Must
    /// run inside the builder's region, before its copy constraints are imposed.
    pub fn assign(&self, config: &TableConfig, region: &mut Region<F>, range: Option<RangeRows<F>>) {
        let mut fixed_rows = self.rows.len();
        for (i, row) in self.rows.iter().enumerate() {
            for (col, v) in config.table.iter().zip(row) {
                raw_assign_fixed(region, *col, i, *v);
            }
        }
        let sets = config.to_lookup.len();
        let mut first = 0;
        if let Some(range) = range {
            let mark = range_mark::<F>();
            for u in 0..1u64 << range.lookup_bits {
                let row = [F::from(u), F::ZERO, mark];
                for (col, v) in config.table.iter().zip(row) {
                    raw_assign_fixed(region, *col, fixed_rows, v);
                }
                fixed_rows += 1;
            }
            let keys: Vec<[Column<Advice>; 1]> = config.to_lookup.iter().map(|t| [t[0]]).collect();
            range.cells.assign_raw(&keys, region);
            let n = range.cells.total_rows();
            let mut cm = (!self.witness_gen_only).then(|| self.copy_manager.lock().unwrap());
            // Slope cells the copy manager already ties to the mark (key generation
            // synthesizes twice and the manager keeps its constant equalities) are not
            // tied again; every other one is, so a cleared manager loses none.
            let tied: HashSet<(Column<Any>, usize)> = cm
                .as_ref()
                .map(|cm| {
                    cm.constant_equalities
                        .iter()
                        .filter(|(c, _)| *c == mark)
                        .filter_map(|(_, cell)| cm.assigned_advices.get(cell))
                        .map(|cell| (cell.column, cell.row_offset))
                        .collect()
                })
                .unwrap_or_default();
            for i in 0..n {
                let t = &config.to_lookup[i % sets];
                raw_assign_advice(region, t[1], i / sets, Value::known(F::ZERO));
                let slope = raw_assign_advice(
                    region,
                    t[2],
                    i / sets,
                    Value::known(match self.forged_range_slope {
                        Some((j, v)) if j == i => v,
                        _ => mark,
                    }),
                )
                .cell();
                if let Some(cm) = cm.as_mut().filter(|_| !tied.contains(&(slope.column, slope.row_offset))) {
                    let cell = cm.load_external_cell(slope);
                    cm.constant_equalities.push((mark, cell));
                }
            }
            drop(cm);
            first = n.div_ceil(sets);
        }
        let mut copy_manager = (!self.witness_gen_only).then(|| self.copy_manager.lock().unwrap());
        let lookups = self.lookups.lock().unwrap();
        for (i, cells) in lookups.values().flatten().enumerate() {
            for (cell, col) in cells.iter().zip(config.to_lookup[i % sets]) {
                let assigned = raw_assign_advice(region, col, first + i / sets, Value::known(*cell.value()));
                if let Some(cm) = copy_manager.as_mut() {
                    constrain_virtual_equals_external(region, *cell, assigned.cell(), cm);
                }
            }
        }
    }
}

/// The key of entry `u` of table `tag`.
pub fn key<F: ScalarField>(tag: usize, u: i64) -> F {
    fe::<F>((tag as i128) << TAG_SHIFT) + fe::<F>(u as i128)
}

/// A table as the chip sees it: its tag, its op and the range check of its
/// interpolation step (computed once per table, not per element).
pub struct TableSpec<'a> {
    pub tag: usize,
    pub op: &'a TableOp,
    step_check: Quotient,
    /// Every input cell is below `2^64` in magnitude for any witness that satisfies the
    /// constraints before the lookup (see [`TableSpec::input_below`]).
    input_bounded: bool,
    /// A bound on the magnitude of every input cell, for any such witness (`u128::MAX`:
    /// none known).
    input_bound: u128,
}

impl<'a> TableSpec<'a> {
    /// A table whose inputs may be any field element: [`clamped_index`] bounds them.
    pub fn new(tag: usize, op: &'a TableOp) -> TableSpec<'a> {
        TableSpec {
            tag,
            op,
            step_check: Quotient::Within { bound: op.slope_bound() as i128, bits: op.step_bits() },
            input_bounded: false,
            input_bound: u128::MAX,
        }
    }

    /// The same table for inputs that the constraints before it keep below `bound` in
    /// magnitude whatever the witness (the lowering's static bound): below `2^64`, a
    /// shift-0 table with no clamped side needs no index check of its own; and see
    /// [`TableSpec::clamp_bounds_quotient`].
    pub fn input_below(self, bound: u128) -> TableSpec<'a> {
        TableSpec { input_bounded: bound <= 1 << 64, input_bound: bound, ..self }
    }

    /// Whether the rescale of a clamped table may skip the activation-range check of its
    /// quotient `u` for `bits`-bit activations. The check makes `u` unique (no other
    /// `(u, r)` with `0 <= r < 2^shift` meets `x = u * 2^shift + r`) and refuses
    /// `|u| >= 2^(bits-1)` as the interpreter does. A clamp's sign decomposition bounds
    /// `u` too, within `2^bits` of its edge: two such solutions differ by less than
    /// `2^(bits+2+shift)`, far below the field's half, so they are equal as integers, and
    /// `u` is as unique. And for inputs `|x| < 2^shift * (2^(bits-1) - 2)` (the static
    /// bound) `|u| < 2^(bits-1)` always, so the interpreter's refusal never happens.
    pub fn clamp_bounds_quotient(&self, bits: u32) -> bool {
        let t = self.op;
        let limit = 1u128.checked_shl(t.shift).and_then(|p| p.checked_mul((1u128 << (bits - 1)).saturating_sub(2)));
        (t.clamp_lo || t.clamp_hi) && t.shift > 0 && self.input_bound < u128::MAX && limit.is_none_or(|l| self.input_bound < l)
    }
}

/// `f(x)` from table `spec.tag`: its entry at the clamped input, interpolated when the
/// table does.
pub fn lookup<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    tables: &Tables<F>,
    spec: &TableSpec,
    x: AssignedValue<F>,
) -> AssignedValue<F> {
    let (u, r) = clamped_index_with(ctx, chips, spec.op, x, !spec.input_bounded, spec.clamp_bounds_quotient(chips.bits));
    let t = spec.op;
    let j = t.index(to_i128(u.value()).unwrap_or(i128::MAX));
    // Outside an unclamped side there is no row: any witness fails the lookup.
    let (v, slope) = j.map_or((0, 0), |j| (t.values[j], t.slope(j)));
    let [v, slope] = lookup_with(ctx, chips, tables, spec.tag, u, v as i128, slope as i128);
    match r {
        Some(r) => {
            let rv = to_i128(r.value()).unwrap_or(0);
            let step = j.map_or(0, |j| t.step(j, rv));
            let q = interpolation_step(ctx, chips, spec, slope, r, step);
            chips.gate().add(ctx, v, q)
        }
        None => v,
    }
}

/// Bits of an index `u - lo` into `t` (at least 1): `[0, 2^index_bits)` covers its entries.
pub fn index_bits(t: &TableOp) -> usize {
    (usize::BITS - (t.values.len().max(2) - 1).leading_zeros()) as usize
}

/// The table input after rescaling and clamping, and with an interpolating table the
/// remainder of the (floored) rescale. The returned `u` is bounded whatever the input
/// cell holds (`|u| < 2^65`, so its key stays inside its table, see [`lookup_with`]):
/// by the rescale's range-checked quotient when `shift > 0`, by a clamp's sign
/// decomposition (`u - lo` or `hi - u` within `±2^bits`), and otherwise by a range
/// check of `u - lo` in [`index_bits`] bits, which every input the interpreter accepts
/// (`lo <= u <= hi`) passes.
pub fn clamped_index<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    t: &TableOp,
    x: AssignedValue<F>,
) -> (AssignedValue<F>, Option<AssignedValue<F>>) {
    clamped_index_with(ctx, chips, t, x, true, false)
}

/// [`clamped_index`]; with `check_open` false the caller guarantees `|x| < 2^64` and a
/// shift-0 table with no clamped side skips its index check; with `clamp_bounds_q`
/// ([`TableSpec::clamp_bounds_quotient`]) the rescale's quotient is left to the clamp.
fn clamped_index_with<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    t: &TableOp,
    x: AssignedValue<F>,
    check_open: bool,
    clamp_bounds_q: bool,
) -> (AssignedValue<F>, Option<AssignedValue<F>>) {
    let gate = chips.gate();
    // The rescale skips its quotient's range check as for a quotient a ReLU decomposes:
    // here the clamp below decomposes it.
    let rescale_chips = Chips { q_checked_by_relu: clamp_bounds_q, ..*chips };
    let (mut u, r) = if t.interpolates() {
        let (q, r) = linear::rescale_parts(ctx, &rescale_chips, x, t.shift, Quotient::Signed);
        (q, Some(r))
    } else if t.shift > 0 {
        let acc = gate.add(ctx, x, Constant(fe(1i128 << (t.shift - 1))));
        (linear::rescale(ctx, &rescale_chips, acc, t.shift), None)
    } else if t.clamp_lo || t.clamp_hi || !check_open {
        (x, None)
    } else {
        // Nothing above bounds `x` (a shift-0 sum with private parameters can be any
        // field element): `x - lo` in `index_bits` bits keeps the key inside its table.
        let i = gate.sub(ctx, x, Constant(fe(t.lo as i128)));
        chips.range_check(ctx, i, index_bits(t));
        (x, None)
    };
    if t.clamp_lo {
        u = clamp(ctx, chips, u, t.lo, true);
    }
    if t.clamp_hi {
        u = clamp(ctx, chips, u, t.hi(), false);
    }
    (u, r)
}

/// `max(u, edge)` (`lower`) or `min(u, edge)`, for `-2^bits <= d < 2^bits` with
/// `d = u - edge` (`edge - u`): no witness exists outside, as for the interpreter's sign
/// bit. The decomposition of [`super::compare::sign_bit`], `d + 2^bits = b * 2^bits + low`
/// with `low` range-checked in `bits` bits and `b` boolean (so `b = [d >= 0]`), in one
/// region with the shift: `[u, 2^bits - edge, 1, s, b, -2^bits, low]` (lower;
/// `[edge + 2^bits, u, -1, s, ..]` upper) under the gate `a + b * c = d` at rows 0 and 3;
/// then the result `edge + b * low` (lower: `b = 1` makes `low = u - edge`) or the
/// witness `out` with `out + b * low = edge` (upper).
pub fn clamp<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, u: AssignedValue<F>, edge: i64, lower: bool) -> AssignedValue<F> {
    let uv = to_i128(u.value()).unwrap_or(0);
    let d = if lower { uv - edge as i128 } else { edge as i128 - uv };
    clamp_with(ctx, chips, u, edge, lower, F::from((d >= 0) as u64))
}

/// [`clamp`] with the sign bit `b` supplied by the caller (tests forge it); `low` and
/// the result follow from it.
pub fn clamp_with<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    u: AssignedValue<F>,
    edge: i64,
    lower: bool,
    b: F,
) -> AssignedValue<F> {
    let off = fe::<F>(1i128 << chips.bits);
    let e = fe::<F>(edge as i128);
    let s = if lower { *u.value() - e + off } else { e - *u.value() + off };
    let low = s - b * off;
    let first =
        if lower { [Existing(u), Constant(off - e), Constant(F::ONE)] } else { [Constant(e + off), Existing(u), Constant(-F::ONE)] };
    ctx.assign_region(first.into_iter().chain([Witness(s), Witness(b), Constant(-off), Witness(low)]), [0, 3]);
    let (b_cell, low_cell) = (ctx.get(-3), ctx.get(-1));
    chips.range_check(ctx, low_cell, chips.bits as usize);
    chips.gate().assert_bit(ctx, b_cell);
    if lower {
        chips.gate().mul_add(ctx, b_cell, low_cell, Constant(e))
    } else {
        ctx.assign_region([Witness(e - b * low), Existing(b_cell), Existing(low_cell), Constant(e)], [0]);
        ctx.get(-4)
    }
}

/// `rescale(slope * r, shift)` with the quotient `step` supplied by the caller (tests
/// forge it), range-checked within the table's largest slope.
pub fn interpolation_step<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    spec: &TableSpec,
    slope: AssignedValue<F>,
    r: AssignedValue<F>,
    step: i128,
) -> AssignedValue<F> {
    let shift = spec.op.shift;
    let acc = chips.gate().mul_add(ctx, slope, r, Constant(fe(1i128 << (shift - 1))));
    let rem = to_i128(acc.value()).unwrap_or(0) - (step << shift);
    linear::rescale_parts_with(ctx, chips, acc, shift, step, rem, spec.step_check).0
}

/// Looks up `(key(tag, u), value, slope)` with a caller-supplied value and slope (tests
/// forge them); returns the value and slope cells. The caller bounds `|u| < 2^71`
/// ([`clamped_index`] does): else `u` can reach another table's entries, or with
/// `range_in_table` a range row.
pub fn lookup_with<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    tables: &Tables<F>,
    tag: usize,
    u: AssignedValue<F>,
    value: i128,
    slope: i128,
) -> [AssignedValue<F>; 2] {
    let k = chips.gate().add(ctx, u, Constant(key::<F>(tag, 0)));
    let v = ctx.load_witness(fe(value));
    let s = ctx.load_witness(fe(slope));
    tables.add_lookup(ctx.tag(), [k, v, s]);
    [v, s]
}

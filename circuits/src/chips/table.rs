//! Lookup tables of `(input, f(input), slope)` rows for point-wise functions.
//!
//! halo2-base's own lookup is a single column `[0, 2^lookup_bits)`, so the model
//! circuit adds a three-column *fixed* table `(key, value, slope)` and `table_sets`
//! triples of advice columns with a lookup argument into it ([`TableConfig`]). Fixed
//! columns make the tables part of the verifying key. Every table `tag >= 1` stores
//! entry `u` under the key `tag * 2^72 + u`: inputs are below `2^64` in magnitude, so
//! keys of different tables never meet; the row `(0, 0, 0)` is always present for unused
//! lookup rows. The slope is the difference to the next entry (0 for the last).
//!
//! The chip [`lookup`] brings the input to the table resolution (a range-checked
//! rescale: rounded, or floored with its remainder when the table interpolates), clamps
//! it on saturated sides with sign bits ([`super::compare::sign_bit`]) and looks up
//! `(key, value, slope)`; an input outside an unclamped side has no table row. An
//! interpolating table then adds `rescale(slope * r, shift)`, its quotient range-checked
//! in [`TableOp::step_bits`] (see `zkinfer_models::quant::table::TableOp`).

use halo2_base::gates::GateInstructions;
use halo2_base::halo2_proofs::{
    circuit::Region,
    plonk::{Advice, Column, ConstraintSystem, Fixed},
    poly::Rotation,
};
use halo2_base::utils::halo2::raw_assign_fixed;
use halo2_base::virtual_region::copy_constraints::SharedCopyConstraintManager;
use halo2_base::virtual_region::lookups::LookupAnyManager;
use halo2_base::virtual_region::manager::VirtualRegionManager;
use halo2_base::{AssignedValue, Context, QuantumCell::Constant};

use zkinfer_models::quant::table::TableOp;

use super::compare::sign_bit;
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

/// The tables of one model and the `(key, value, slope)` cells to look up in them.
#[derive(Clone, Debug)]
pub struct Tables<F: ScalarField> {
    /// Table rows, starting with `(0, 0, 0)`.
    pub rows: Vec<[F; TABLE_WIDTH]>,
    pub lookups: LookupAnyManager<F, TABLE_WIDTH>,
}

impl<F: ScalarField> Tables<F> {
    /// No table yet; lookups share the builder's copy constraints.
    pub fn new(witness_gen_only: bool, copy_manager: SharedCopyConstraintManager<F>) -> Tables<F> {
        Tables { rows: vec![[F::ZERO; TABLE_WIDTH]], lookups: LookupAnyManager::new(witness_gen_only, copy_manager) }
    }

    /// Adds table `tag` with entries `values[j]` (and their slopes) for inputs `lo + j`.
    pub fn add_table(&mut self, tag: usize, table: &TableOp) {
        for (j, &v) in table.values.iter().enumerate() {
            self.rows.push([key::<F>(tag, table.lo + j as i64), fe(v as i128), fe(table.slope(j) as i128)]);
        }
    }

    /// Number of cells pairs to look up.
    pub fn num_lookups(&self) -> usize {
        self.lookups.total_rows()
    }

    /// Assigns the fixed table and copies the looked-up cells into the lookup columns.
    /// Must run inside the builder's region, before its copy constraints are imposed.
    pub fn assign(&self, config: &TableConfig, region: &mut Region<F>) {
        for (i, row) in self.rows.iter().enumerate() {
            for (col, v) in config.table.iter().zip(row) {
                raw_assign_fixed(region, *col, i, *v);
            }
        }
        if self.num_lookups() > 0 {
            self.lookups.assign_raw(&config.to_lookup, region);
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
}

impl<'a> TableSpec<'a> {
    pub fn new(tag: usize, op: &'a TableOp) -> TableSpec<'a> {
        TableSpec { tag, op, step_check: Quotient::Within { bound: op.slope_bound() as i128, bits: op.step_bits() } }
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
    let (u, r) = clamped_index(ctx, chips, spec.op, x);
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

/// The table input after rescaling and clamping, and with an interpolating table the
/// remainder of the (floored) rescale.
pub fn clamped_index<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    t: &TableOp,
    x: AssignedValue<F>,
) -> (AssignedValue<F>, Option<AssignedValue<F>>) {
    let gate = chips.gate();
    let (mut u, r) = if t.interpolates() {
        let (q, r) = linear::rescale_parts(ctx, chips, x, t.shift, Quotient::Signed);
        (q, Some(r))
    } else if t.shift > 0 {
        let acc = gate.add(ctx, x, Constant(fe(1i128 << (t.shift - 1))));
        (linear::rescale(ctx, chips, acc, t.shift), None)
    } else {
        (x, None)
    };
    if t.clamp_lo {
        let d = gate.sub(ctx, u, Constant(fe(t.lo as i128)));
        let keep = sign_bit(ctx, chips, d);
        u = gate.select(ctx, u, Constant(fe(t.lo as i128)), keep);
    }
    if t.clamp_hi {
        let d = gate.sub(ctx, Constant(fe(t.hi() as i128)), u);
        let keep = sign_bit(ctx, chips, d);
        u = gate.select(ctx, u, Constant(fe(t.hi() as i128)), keep);
    }
    (u, r)
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
/// forge them); returns the value and slope cells.
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
    tables.lookups.add_lookup(ctx.tag(), [k, v, s]);
    [v, s]
}

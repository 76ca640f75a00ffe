//! Lookup tables of `(input, f(input))` pairs for point-wise functions.
//!
//! halo2-base's own lookup is a single column `[0, 2^lookup_bits)`, so the model
//! circuit adds a two-column *fixed* table `(key, value)` and `table_sets` pairs of
//! advice columns with a lookup argument into it ([`TableConfig`]). Fixed columns make
//! the tables part of the verifying key. Every table `tag >= 1` stores entry `u` under
//! the key `tag * 2^72 + u`: inputs are below `2^64` in magnitude, so keys of different
//! tables never meet; the row `(0, 0)` is always present for unused lookup rows.
//!
//! The chip [`lookup`] rescales the input to the table resolution (range-checked),
//! clamps it on saturated sides with sign bits ([`super::compare::sign_bit`]) and looks
//! up `(key, value)`; an input outside an unclamped side has no table row.

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

use super::compare::sign_bit;
use super::{linear, Chips};
use crate::field::{fe, to_i128, ScalarField};

/// Bit position of the table tag in a key.
const TAG_SHIFT: u32 = 72;

/// Columns of the table lookup: the fixed table and the lookup-enabled advice pairs.
#[derive(Clone, Debug)]
pub struct TableConfig {
    pub table: [Column<Fixed>; 2],
    pub to_lookup: Vec<[Column<Advice>; 2]>,
}

impl TableConfig {
    /// Adds the table columns and `sets` advice pairs, each looked up in the table.
    pub fn configure<F: ScalarField>(meta: &mut ConstraintSystem<F>, sets: usize) -> TableConfig {
        let table = [meta.fixed_column(), meta.fixed_column()];
        let to_lookup: Vec<[Column<Advice>; 2]> = (0..sets)
            .map(|_| {
                [(); 2].map(|_| {
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

/// The tables of one model and the `(key, value)` cells to look up in them.
#[derive(Clone, Debug)]
pub struct Tables<F: ScalarField> {
    /// Table rows, starting with `(0, 0)`.
    pub rows: Vec<[F; 2]>,
    pub lookups: LookupAnyManager<F, 2>,
}

impl<F: ScalarField> Tables<F> {
    /// No table yet; lookups share the builder's copy constraints.
    pub fn new(witness_gen_only: bool, copy_manager: SharedCopyConstraintManager<F>) -> Tables<F> {
        Tables { rows: vec![[F::ZERO; 2]], lookups: LookupAnyManager::new(witness_gen_only, copy_manager) }
    }

    /// Adds table `tag` with entries `values[j]` for inputs `lo + j`.
    pub fn add_table(&mut self, tag: usize, lo: i64, values: &[i64]) {
        for (j, &v) in values.iter().enumerate() {
            self.rows.push([key::<F>(tag, lo + j as i64), fe(v as i128)]);
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

/// A table as the chip sees it (see `QOp::Table`).
pub struct TableSpec<'a> {
    pub tag: usize,
    pub shift: u32,
    pub lo: i64,
    pub clamp_lo: bool,
    pub clamp_hi: bool,
    pub values: &'a [i64],
}

/// `values[clamp(rescale(x, shift)) - lo]`, looked up in table `spec.tag`.
pub fn lookup<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    tables: &Tables<F>,
    spec: &TableSpec,
    x: AssignedValue<F>,
) -> AssignedValue<F> {
    let c = clamped_index(ctx, chips, spec, x);
    let cv = to_i128(c.value()).unwrap_or(i128::MAX);
    let j = cv - spec.lo as i128;
    let v = if (0..spec.values.len() as i128).contains(&j) { spec.values[j as usize] } else { 0 };
    lookup_with(ctx, chips, tables, spec.tag, c, v as i128)
}

/// The table input after rescaling and clamping.
pub fn clamped_index<F: ScalarField>(ctx: &mut Context<F>, chips: &Chips<F>, spec: &TableSpec, x: AssignedValue<F>) -> AssignedValue<F> {
    let gate = chips.gate();
    let mut u = x;
    if spec.shift > 0 {
        let acc = gate.add(ctx, x, Constant(fe(1i128 << (spec.shift - 1))));
        u = linear::rescale(ctx, chips, acc, spec.shift);
    }
    let hi = spec.lo + spec.values.len() as i64 - 1;
    if spec.clamp_lo {
        let d = gate.sub(ctx, u, Constant(fe(spec.lo as i128)));
        let keep = sign_bit(ctx, chips, d);
        u = gate.select(ctx, u, Constant(fe(spec.lo as i128)), keep);
    }
    if spec.clamp_hi {
        let d = gate.sub(ctx, Constant(fe(hi as i128)), u);
        let keep = sign_bit(ctx, chips, d);
        u = gate.select(ctx, u, Constant(fe(hi as i128)), keep);
    }
    u
}

/// Looks up `(key(tag, u), value)` with a caller-supplied value (tests forge it).
pub fn lookup_with<F: ScalarField>(
    ctx: &mut Context<F>,
    chips: &Chips<F>,
    tables: &Tables<F>,
    tag: usize,
    u: AssignedValue<F>,
    value: i128,
) -> AssignedValue<F> {
    let k = chips.gate().add(ctx, u, Constant(key::<F>(tag, 0)));
    let v = ctx.load_witness(fe(value));
    tables.lookups.add_lookup(ctx.tag(), [k, v]);
    v
}

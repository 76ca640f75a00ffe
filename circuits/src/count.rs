//! Counting a model's cells once, for every shape the planner weighs.
//!
//! What the lowering assigns depends on the shape in three ways only: range checks split
//! into limbs of `lookup_bits` (each check's cells, lookups and limb-base constants are a
//! function of its width and `lookup_bits`), the MAC gate's blocks depend on its width,
//! and without the gate the same dot products are halo2-base inner products. So one
//! counting pass lowers the model with the MAC gate, its range checks tallied by width
//! instead of laid out, its dot products logged by share key and length
//! ([`crate::chips::mac::DotShape`]), and what the plain layout would spend on them
//! instead tallied beside ([`crate::chips::Tally`]). Any `(k, lookup_bits, mac_width)`
//! is then arithmetic: the cells of one range check of each width at each
//! `lookup_bits`, measured once on halo2-base's own range chip, and the MAC blocks
//! regrouped ([`block_rows_for`]). A model the MAC gate cannot take (private
//! parameters) is counted by a plain pass. The counts equal a synthesis at that shape
//! exactly (`circuits/tests/counted_layout.rs` checks every corpus model).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use halo2_base::gates::circuit::{builder::BaseCircuitBuilder, CircuitBuilderStage};
use halo2_base::gates::RangeInstructions;
use zkinfer_models::quant::QuantGraph;

use crate::chips::mac::{block_rows_for, DotShape};
use crate::chips::Tally;
use crate::circuit::synthesize_tallied;
use crate::error::CircuitError;
use crate::field::{fe, to_i128, ScalarField};
use crate::lower::{lower_mac_allowed, mac_refused};
use crate::visibility::VisibilityConfig;

/// What the layout arithmetic needs from a lowered model at one shape: the flex gate's
/// advice cells and range-lookup cells per phase, the distinct constants, the function
/// tables, the MAC blocks and the public instances.
#[derive(Clone, Debug, PartialEq)]
pub struct Raw {
    pub advice_per_phase: Vec<usize>,
    pub lookup_per_phase: Vec<usize>,
    pub constants: usize,
    /// Rows of the function tables and lookups into them (both 0 without lookups).
    pub table_rows: usize,
    pub table_lookups: usize,
    /// Rows of every MAC block, in layout order (empty without the MAC gate).
    pub blocks: Vec<usize>,
    pub instances: usize,
}

/// The counts of one layout family (the model with the MAC gate or without it), range
/// checks tallied.
#[derive(Clone, Debug)]
struct Pass<F: ScalarField> {
    advice_per_phase: Vec<usize>,
    lookup_phases: usize,
    /// The distinct constants, sorted.
    constants: Vec<F>,
    range_checks: BTreeMap<usize, usize>,
    table_rows: usize,
    table_lookups: usize,
    dots: Vec<DotShape>,
    instances: usize,
}

/// One range check of some width at some `lookup_bits`: its advice cells, lookup cells
/// and constants.
#[derive(Clone, Debug)]
struct CheckCost<F: ScalarField> {
    advice: usize,
    lookups: usize,
    constants: Vec<F>,
}

/// The plain family's counts and the MAC gate's (`None` where the gate cannot be used).
type Passes<F> = (Pass<F>, Option<Pass<F>>);

/// A model's counts, computed on first use and reused for every shape.
pub struct Counter<'a, F: ScalarField> {
    graph: &'a QuantGraph,
    inputs: &'a [Vec<i64>],
    visibility: VisibilityConfig,
    passes: RefCell<Option<Passes<F>>>,
    checks: RefCell<HashMap<(usize, usize), CheckCost<F>>>,
}

/// The `lookup_bits` the counting passes configure: range checks are only tallied, so
/// any width serves.
const COUNT_LOOKUP_BITS: usize = 8;

impl<'a, F: ScalarField> Counter<'a, F> {
    pub fn new(graph: &'a QuantGraph, inputs: &'a [Vec<i64>], visibility: &VisibilityConfig) -> Self {
        Counter { graph, inputs, visibility: *visibility, passes: RefCell::new(None), checks: RefCell::new(HashMap::new()) }
    }

    /// What a synthesis at `k`, `lookup_bits` and MAC width `mac_width` (0: none) would
    /// yield.
    pub fn raw(&self, lookup_bits: usize, mac_width: usize) -> Result<Raw, CircuitError> {
        if self.passes.borrow().is_none() {
            let passes = self.count()?;
            *self.passes.borrow_mut() = Some(passes);
        }
        let passes = self.passes.borrow();
        let (plain, mac) = passes.as_ref().expect("counted above");
        let pass = match (mac_width, mac) {
            (0, _) => plain,
            (_, Some(mac)) => mac,
            // Refused as the lowering refuses it.
            (_, None) => return Err(mac_refused()),
        };
        let mut advice = pass.advice_per_phase.clone();
        let mut lookups = vec![0; pass.lookup_phases];
        // The range checks' constants (limb bases, shifts) that nothing else uses.
        let mut more: Vec<F> = Vec::new();
        for (&bits, &n) in &pass.range_checks {
            let c = self.check_cost(bits, lookup_bits);
            advice[0] += n * c.advice;
            if let Some(l) = lookups.first_mut() {
                *l += n * c.lookups;
            }
            more.extend(c.constants.iter().filter(|x| pass.constants.binary_search(x).is_err()));
        }
        more.sort_unstable();
        more.dedup();
        Ok(Raw {
            advice_per_phase: advice,
            lookup_per_phase: lookups,
            constants: pass.constants.len() + more.len(),
            table_rows: pass.table_rows,
            table_lookups: pass.table_lookups,
            blocks: if mac_width > 0 { block_rows_for(&pass.dots, mac_width) } else { Vec::new() },
            instances: pass.instances,
        })
    }

    /// Lowers the model once with range checks tallied: with the MAC gate at width 1
    /// where it may be used (the main context does not depend on the width, the blocks
    /// are regrouped; the plain family follows from the tallied inner products), else
    /// plainly.
    fn count(&self) -> Result<Passes<F>, CircuitError> {
        let mac = lower_mac_allowed(self.visibility.params);
        let mut builder = BaseCircuitBuilder::<F>::from_stage(CircuitBuilderStage::Keygen)
            .use_k(COUNT_LOOKUP_BITS + 1)
            .use_lookup_bits(COUNT_LOOKUP_BITS)
            .use_instance_columns(1);
        let tally = Tally::default();
        let (_, gadgets) = synthesize_tallied(&mut builder, self.graph, self.inputs, &self.visibility, usize::from(mac), Some(&tally))?;
        let advice_per_phase: Vec<usize> = builder.core().phase_manager.iter().map(|pm| pm.total_advice()).collect();
        let table_lookups = gadgets.tables.num_lookups();
        // Range checks are only tallied: the lookup phases of an empty builder.
        let lookup_phases = BaseCircuitBuilder::<F>::new(false).statistics().total_lookup_advice_per_phase.len();
        let range_checks = tally.range_checks.into_inner();
        let one = gadgets.macs.as_ref().and_then(|m| m.one_cell()).and_then(|c| c.cell);
        let equalities = &builder.core().copy_manager.lock().unwrap().constant_equalities;
        let mac_pass = Pass {
            advice_per_phase: advice_per_phase.clone(),
            lookup_phases,
            constants: distinct(equalities.iter().map(|(c, _)| *c), Vec::new()),
            range_checks: range_checks.clone(),
            table_rows: if table_lookups > 0 { gadgets.tables.rows.len() } else { 0 },
            table_lookups,
            dots: gadgets.macs.as_ref().map(|m| m.dot_shapes()).unwrap_or_default(),
            instances: builder.assigned_instances.iter().map(Vec::len).sum(),
        };
        if !mac {
            return Ok((mac_pass, None));
        }
        // The plain family: no constant-one cell for the biases, the inner products'
        // cells and constants instead.
        let mut plain_advice = advice_per_phase;
        plain_advice[0] = plain_advice[0] - usize::from(one.is_some()) + tally.plain_cells.get();
        let constants = equalities.iter().filter(|(_, cell)| Some(*cell) != one).map(|(c, _)| *c);
        let constants = distinct(constants, tally.plain_constants.into_inner());
        let plain = Pass { advice_per_phase: plain_advice, constants, dots: Vec::new(), ..mac_pass.clone() };
        Ok((plain, Some(mac_pass)))
    }

    /// One range check of `bits` bits at `lookup_bits`, measured on halo2-base's range chip.
    fn check_cost(&self, bits: usize, lookup_bits: usize) -> CheckCost<F> {
        if let Some(c) = self.checks.borrow().get(&(bits, lookup_bits)) {
            return c.clone();
        }
        let mut builder =
            BaseCircuitBuilder::<F>::from_stage(CircuitBuilderStage::Keygen).use_k(lookup_bits + 1).use_lookup_bits(lookup_bits);
        let range = builder.range_chip();
        let ctx = builder.main(0);
        let a = ctx.load_witness(F::ZERO);
        let before = ctx.advice.len();
        range.range_check(ctx, a, bits);
        let advice = ctx.advice.len() - before;
        let lookups = builder.statistics().total_lookup_advice_per_phase.iter().sum();
        let constants = builder.core().copy_manager.lock().unwrap().constant_equalities.iter().map(|(c, _)| *c).collect();
        let cost = CheckCost { advice, lookups, constants };
        self.checks.borrow_mut().insert((bits, lookup_bits), cost.clone());
        cost
    }
}

/// The distinct values of `constants` and `ints`, sorted. Millions of constants (a
/// rescale's divisor, a dot product's weights) take few values: they are deduplicated
/// as integers, each converted once, and only the distinct ones sorted as field elements
/// (whose comparison converts out of Montgomery form every time).
fn distinct<F: ScalarField>(constants: impl Iterator<Item = F>, mut ints: Vec<i128>) -> Vec<F> {
    let mut large = Vec::new();
    for c in constants {
        match to_i128(&c) {
            Some(v) => ints.push(v),
            None => large.push(c),
        }
    }
    ints.sort_unstable();
    ints.dedup();
    large.extend(ints.into_iter().map(fe::<F>));
    large.sort_unstable();
    large.dedup();
    large
}

/// [`Raw`] of a model synthesized into `builder` (with its function tables' rows and
/// lookups and its MAC blocks).
pub fn raw_of<F: ScalarField>(builder: &BaseCircuitBuilder<F>, table_rows: usize, table_lookups: usize, blocks: Vec<usize>) -> Raw {
    let stats = builder.statistics();
    Raw {
        advice_per_phase: stats.gate.total_advice_per_phase,
        lookup_per_phase: stats.total_lookup_advice_per_phase,
        constants: stats.gate.total_fixed,
        table_rows: if table_lookups > 0 { table_rows } else { 0 },
        table_lookups,
        blocks,
        instances: builder.assigned_instances.iter().map(Vec::len).sum(),
    }
}

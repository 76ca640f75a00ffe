//! The layout planner: the smallest `k` whose rows hold the model in a few columns.
//!
//! Range checks are decomposed into limbs of `lookup_bits = k - 1`, so the lookup table
//! never sets `k`: a 364-row MLP fits `k = 9`, not the `k = 15` a 2^14-entry table forces.
//! A model with function tables may take narrower limbs so that the range table fits
//! beside them and shares their lookup ([`crate::ModelParams::range_in_table`]).

use std::collections::{BTreeMap, HashMap};

use halo2_base::gates::circuit::{builder::BaseCircuitBuilder, BaseCircuitParams, CircuitBuilderStage};
use serde::{Deserialize, Serialize};
use zkinfer_models::quant::{QOp, QuantGraph};

use crate::chips::mac;
use crate::circuit::{synthesize_model, Gadgets};
use crate::count::{raw_of, Counter, Raw};
use crate::error::CircuitError;
use crate::field::ScalarField;
use crate::shape::{mac_layout_for, CircuitShape, ModelParams};
use crate::visibility::VisibilityConfig;
// Defined in `cost` and `shape`; also reachable here, where they were defined before.
pub use crate::cost::{balanced_cost, gas_estimate, prove_cost, verifier_cost, LayoutStats};
pub use crate::shape::{usable_rows, BLINDING_ROWS};

/// Bounds for the planner.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanOptions {
    /// Most advice columns (gate and lookup) the layout may use; the Solidity verifier's
    /// size and gas grow with columns.
    pub max_advice: usize,
    /// Column budget from `large_k` on, where proving time outweighs verifier gas.
    pub max_advice_large: usize,
    /// The `k` from which `max_advice_large` applies.
    pub large_k: u32,
    /// Column budget of the wider plain shapes the planner also weighs, by proving cost,
    /// for a circuit that needs `k >= large_k` within `max_advice_large`: there the
    /// proof takes seconds and a few more commitments are a small part of the gas.
    #[serde(default = "default_max_advice_wide")]
    pub max_advice_wide: usize,
    /// A wider plain shape is weighed only when its [`gas_estimate`] is at most this
    /// factor times the narrow shape's: more columns must not make the verifier much
    /// dearer (they do for a small verifier, hardly for one that many instances dominate).
    #[serde(default = "default_wide_gas_slack")]
    pub wide_gas_slack: f64,
    pub min_k: u32,
    pub max_k: u32,
    /// Use exactly this `k`.
    pub k: Option<u32>,
    /// Which values are public.
    #[serde(default)]
    pub visibility: VisibilityConfig,
    /// Width of the MAC gate (accumulators per group): `Some(0)` never uses it, `Some(w)` always does,
    /// `None` lets the planner choose.
    #[serde(default)]
    pub mac_width: Option<usize>,
    /// With `mac_width` `None`: the plain layout's `k` from which MAC widths are tried.
    #[serde(default = "default_mac_min_k")]
    pub mac_min_k: u32,
    /// What fitting shapes are ranked by.
    #[serde(default)]
    pub optimize: Optimize,
    /// Optimizing for proving time, a [`prove_cost`] at most this is fast enough: among
    /// such shapes the one with the cheapest verifier wins (see [`PlanOptions::rank`]).
    #[serde(default = "default_fast_enough")]
    pub fast_enough: u64,
}

/// What the planner ranks the shapes that fit by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimize {
    /// Least proving time ([`prove_cost`]), then least gas; shapes up to
    /// [`PlanOptions::fast_enough`] count as equally fast.
    #[default]
    Prove,
    /// Least verification gas ([`verifier_cost`]), then least proving time: fewer,
    /// taller columns.
    Gas,
    /// Least product of the two: a shape 10% slower to prove must save over 10% of the
    /// verifier's commitments.
    Balanced,
    /// Least proving time whatever the verifier costs: [`Optimize::Prove`] without its gas
    /// guard on wider shapes ([`PlanOptions::wide_gas_slack`]) and with up to
    /// [`SPEED_MAX_ADVICE`] gate and lookup columns where the default wide budget applies.
    /// On two cores smaller `k` with many columns proves faster (multihead_attention at
    /// k = 17: 32.6 s against 55.5 s at k = 19) for about twice the gas.
    Speed,
}

/// The wide column budget of [`Optimize::Speed`] (unless `max_advice` caps it).
pub const SPEED_MAX_ADVICE: usize = 64;

impl PlanOptions {
    /// These options with every column budget (small, large and wide shapes) capped at
    /// `max_advice`, or left at their values when `None`.
    pub fn with_max_advice(self, max_advice: Option<usize>) -> PlanOptions {
        match max_advice {
            Some(n) => PlanOptions { max_advice: n, max_advice_large: n, max_advice_wide: n, ..self },
            None => self,
        }
    }

    /// The key shapes are ranked by: the objective's cost, then the other cost as the
    /// tie-break ([`prove_cost`] for gas and balanced, [`verifier_cost`] for prove).
    ///
    /// Optimizing for proving time, costs up to [`PlanOptions::fast_enough`] count as
    /// equal: a proof that takes well under a second either way is not worth a dearer
    /// verifier, which every on-chain check of every proof pays. Above it the fastest
    /// shape wins.
    pub fn rank(&self, s: &LayoutStats) -> (u64, u64) {
        match self.optimize {
            Optimize::Prove => (prove_cost(s).max(self.fast_enough), verifier_cost(s)),
            Optimize::Speed => (prove_cost(s), verifier_cost(s)),
            Optimize::Gas => (verifier_cost(s), prove_cost(s)),
            Optimize::Balanced => (balanced_cost(s), prove_cost(s)),
        }
    }
}

impl PlanOptions {
    /// Orders shapes best first: by [`PlanOptions::rank`]; for [`Optimize::Speed`], proving
    /// cost estimates within 5% of the fastest count as equal (measured times of such
    /// shapes are as close) and the cheapest verifier wins among them.
    pub fn sort(&self, plans: &mut [Plan]) {
        if self.optimize != Optimize::Speed {
            return plans.sort_by_key(|p| self.rank(&p.stats));
        }
        let fastest = plans.iter().map(|p| prove_cost(&p.stats)).min().unwrap_or(0);
        let band = fastest + fastest / 20;
        plans.sort_by_key(|p| {
            let (cost, verifier) = self.rank(&p.stats);
            (if cost <= band { 0 } else { cost }, verifier)
        });
    }
}

impl std::str::FromStr for Optimize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "prove" => Ok(Optimize::Prove),
            "gas" => Ok(Optimize::Gas),
            "balanced" => Ok(Optimize::Balanced),
            "speed" => Ok(Optimize::Speed),
            o => Err(format!("`{o}` is none of prove, gas, balanced and speed")),
        }
    }
}

fn default_mac_min_k() -> u32 {
    14
}

fn default_max_advice_wide() -> usize {
    24
}

fn default_wide_gas_slack() -> f64 {
    1.1
}

/// The default [`PlanOptions::fast_enough`]: the [`prove_cost`] of a shape that proves in
/// about 0.6 to 1 s on two cores (`accuracy` at k 13 with a 2-wide MAC gate, 1.2e7,
/// measures 0.6 s; the MNIST MLP at k 13, 2.2e7, 1.45 s). Higher, and small circuits
/// that EZKL proves in 4 to 6 s would give up their five-fold lead for gas.
pub const FAST_ENOUGH: u64 = 12_500_000;

fn default_fast_enough() -> u64 {
    FAST_ENOUGH
}

/// The smallest `k` planned.
pub const MIN_K: u32 = 6;
/// The largest `k` the planner may choose unless told otherwise.
pub const DEFAULT_MAX_K: u32 = 23;

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            max_advice: 3,
            max_advice_large: 6,
            large_k: 16,
            max_advice_wide: default_max_advice_wide(),
            wide_gas_slack: default_wide_gas_slack(),
            min_k: MIN_K,
            max_k: DEFAULT_MAX_K,
            k: None,
            visibility: VisibilityConfig::default(),
            mac_width: None,
            mac_min_k: default_mac_min_k(),
            optimize: Optimize::Prove,
            fast_enough: FAST_ENOUGH,
        }
    }
}

/// A chosen circuit shape with its statistics.
#[derive(Clone, Debug)]
pub struct Plan {
    pub shape: CircuitShape,
    pub stats: LayoutStats,
}

/// Narrowest range-check limbs the planner takes to fit the range table beside large
/// function tables.
const MIN_MERGED_LOOKUP_BITS: usize = 6;

/// The shape at `k` with MAC width `mac_width`: range-check limbs of `k - 1` bits; or,
/// where a model's function tables leave too little room beside them for that range
/// table, limbs as wide as fit, when sharing the table lookup that way makes a cheaper
/// verifier with no more gate columns and no dearer proof (more, narrower limbs: more
/// cells, but one lookup argument and two columns fewer).
fn try_k<F: ScalarField>(counter: &Counter<F>, k: u32, mac_width: usize) -> Result<(ModelParams, LayoutStats), CircuitError> {
    let (params, s) = counted_shape(counter, k, mac_width, (k - 1) as usize)?;
    let usable = usable_rows(k);
    let room = usable.saturating_sub(s.table_rows);
    // Only where the full range table did not fit: narrower limbs need the room.
    let needs_room = room < 1 << s.lookup_bits;
    if !needs_room
        || s.table_sets == 0
        || s.range_in_table
        || s.num_lookup_advice == 0
        || s.rows > usable
        || room < 1 << MIN_MERGED_LOOKUP_BITS
    {
        return Ok((params, s));
    }
    let narrow = counted_shape(counter, k, mac_width, room.ilog2() as usize)?;
    let n = &narrow.1;
    let better = n.range_in_table
        && n.rows <= usable
        && n.num_advice <= s.num_advice
        && n.mac_sets <= s.mac_sets
        && verifier_cost(n) < verifier_cost(&s)
        && prove_cost(n) <= prove_cost(&s);
    Ok(if better { narrow } else { (params, s) })
}

/// The shape at `k` with MAC width `mac_width` and range-check limbs of `lookup_bits`,
/// from the model's counts.
fn counted_shape<F: ScalarField>(
    counter: &Counter<F>,
    k: u32,
    mac_width: usize,
    lookup_bits: usize,
) -> Result<(ModelParams, LayoutStats), CircuitError> {
    Ok(shape_of(&counter.raw(lookup_bits, mac_width)?, k, mac_width, lookup_bits))
}

/// The shape at `k` with MAC width `mac_width` and range-check limbs of `lookup_bits`,
/// by synthesizing the model there: what [`counted_shape`] must equal (tests), and what
/// keygen lays out.
pub fn synthesized_shape<F: ScalarField>(
    graph: &QuantGraph,
    inputs: &[Vec<i64>],
    k: u32,
    visibility: &VisibilityConfig,
    mac_width: usize,
    lookup_bits: usize,
) -> Result<(ModelParams, LayoutStats), CircuitError> {
    let mut builder = BaseCircuitBuilder::<F>::from_stage(CircuitBuilderStage::Keygen)
        .use_k(k as usize)
        .use_lookup_bits(lookup_bits)
        .use_instance_columns(1);
    let (_, Gadgets { tables, macs }) = synthesize_model(&mut builder, graph, inputs, visibility, mac_width)?;
    let blocks = macs.as_ref().map(|m| m.block_rows()).unwrap_or_default();
    let raw = raw_of(&builder, tables.rows.len(), tables.num_lookups(), blocks);
    Ok(shape_of(&raw, k, mac_width, lookup_bits))
}

/// The shape at `k` with MAC width `mac_width` and range-check limbs of `lookup_bits` of
/// a model lowered to `raw`: halo2-base's column counts (as its `calculate_params` makes
/// them), the function-table triples, the merged range table and the MAC groups.
pub fn shape_of(raw: &Raw, k: u32, mac_width: usize, lookup_bits: usize) -> (ModelParams, LayoutStats) {
    let max_rows = (1usize << k) - BLINDING_ROWS;
    let mut params = BaseCircuitParams {
        k: k as usize,
        num_advice_per_phase: raw.advice_per_phase.iter().map(|c| c.div_ceil(max_rows)).collect(),
        num_fixed: raw.constants.div_ceil(1 << k),
        num_lookup_advice_per_phase: raw.lookup_per_phase.iter().map(|c| c.div_ceil(max_rows)).collect(),
        lookup_bits: Some(lookup_bits),
        num_instance_columns: 1,
    };
    let advice_cells: usize = raw.advice_per_phase.iter().sum();
    let lookup_cells: usize = raw.lookup_per_phase.iter().sum();
    let num_advice: usize = params.num_advice_per_phase.iter().sum();
    let mut num_lookup_advice: usize = params.num_lookup_advice_per_phase.iter().sum();
    // Function tables: the fixed table must fit the usable rows (else this k is too
    // small: reported as usable rows + 1); lookups fill as many column triples as needed.
    let usable = usable_rows(k);
    let (mut table_rows, table_lookups) = (raw.table_rows, raw.table_lookups);
    let mut table_sets = table_lookups.div_ceil(usable);
    // The range checks join the table lookup when the range table fits beside the
    // function tables and the triples they need cost less than the range lookup columns
    // they replace (a triple: 3 advice, 3 permutation columns and a lookup's 3
    // commitments; a range column: 1 advice, 1 permutation column and 3 commitments,
    // plus the range table's fixed column once).
    // Limbs fill the triples' first rows, the function lookups the rows after them.
    let merged_rows = |sets: usize| lookup_cells.div_ceil(sets) + table_lookups.div_ceil(sets);
    let mut merged_sets = (lookup_cells + table_lookups).div_ceil(usable).max(1);
    if merged_rows(merged_sets) > usable {
        merged_sets += 1;
    }
    let range_in_table = table_sets > 0
        && num_lookup_advice > 0
        && table_rows + (1 << lookup_bits) <= usable
        && 9 * (merged_sets - table_sets) < 5 * num_lookup_advice + 1;
    if range_in_table {
        table_rows += 1 << lookup_bits;
        table_sets = merged_sets;
        num_lookup_advice = 0;
        params.num_lookup_advice_per_phase.iter_mut().for_each(|n| *n = 0);
        // The range rows copy their slope cell from one more constant.
        params.num_fixed = params.num_fixed.max((raw.constants + 1).div_ceil(1 << k));
    }
    let table_used = if range_in_table { merged_rows(table_sets) } else { table_lookups.div_ceil(table_sets.max(1)) };
    // MAC groups: a block taller than a column makes this k too small.
    let blocks = &raw.blocks;
    let mac_rows: usize = blocks.iter().sum();
    // `None`: some block is taller than a column.
    let mac_sets = if blocks.is_empty() { Some(0) } else { mac::sets_needed(blocks, usable) };
    let rows = advice_cells
        .div_ceil(num_advice.max(1))
        .max(if range_in_table { 0 } else { lookup_cells.div_ceil(num_lookup_advice.max(1)) })
        .max(table_used)
        .max(if table_rows > usable { usable + 1 } else { table_rows })
        .max(mac_sets.map_or(usable + 1, |n| mac_rows.div_ceil(n.max(1))));
    let mac_sets = mac_sets.unwrap_or(0);
    let s = LayoutStats {
        k,
        lookup_bits,
        advice_cells,
        lookup_cells,
        rows,
        num_advice,
        num_lookup_advice,
        num_fixed: params.num_fixed,
        table_rows,
        table_lookups,
        table_sets,
        mac_width: if blocks.is_empty() { 0 } else { mac_width },
        mac_rows,
        mac_sets,
        instances: raw.instances,
        range_in_table,
    };
    let degree = s.degree();
    let mac_layout = mac_layout_for(mac_sets);
    (ModelParams { base: params, table_sets, mac_width: s.mac_width, mac_sets, mac_layout, degree, range_in_table }, s)
}

/// MAC widths the planner tries when it may choose ([`PlanOptions::mac_width`] `None`):
/// narrow ones give taller, cheaper verifiers (an accumulator costs its commitment and
/// its weight column), wide ones smaller k where many dot products share their inputs.
pub const MAC_WIDTHS: [usize; 5] = [1, 2, 4, 8, 16];

/// The MAC width that fits the model's dot products exactly, when it is none of
/// [`MAC_WIDTHS`]: the number of dot products over the same input cells (a convolution's
/// output channels at one position, a dense layer's outputs) that holds the most terms,
/// if at most the widest width. A 3-channel convolution in groups of 4 carries an idle
/// accumulator column and its weight column; in groups of 3 it does not.
pub fn natural_mac_width(graph: &QuantGraph) -> Option<usize> {
    let mut terms_by_width: BTreeMap<usize, usize> = BTreeMap::new();
    for node in &graph.nodes {
        if let QOp::Linear { offsets, slot, idx, .. } = &node.op {
            // Outputs over the same input slots and indices: (count, terms each).
            type Inputs<'a> = (&'a [u8], &'a [u32]);
            let mut groups: HashMap<Inputs, (usize, usize)> = HashMap::new();
            for o in 0..node.len {
                let span = offsets[o]..offsets[o + 1];
                let g = groups.entry((&slot[span.clone()], &idx[span.clone()])).or_default();
                g.0 += 1;
                g.1 += span.len();
            }
            for (dots, terms) in groups.into_values() {
                *terms_by_width.entry(dots).or_default() += terms;
            }
        }
    }
    let max = MAC_WIDTHS[MAC_WIDTHS.len() - 1];
    let (&w, _) = terms_by_width.iter().max_by_key(|(w, t)| (**t, std::cmp::Reverse(**w)))?;
    (w <= max && !MAC_WIDTHS.contains(&w)).then_some(w)
}

/// Chooses `k` (and with it `lookup_bits`, the column counts and the MAC gate) for a
/// model: the first of [`plan_candidates`]. `inputs` may be any valid input: the
/// layout does not depend on values.
pub fn plan<F: ScalarField>(graph: &QuantGraph, inputs: &[Vec<i64>], opts: &PlanOptions) -> Result<Plan, CircuitError> {
    Ok(plan_candidates::<F>(graph, inputs, opts)?.remove(0))
}

/// The shapes that fit, best first by [`PlanOptions::optimize`] (never empty).
///
/// Without a MAC width given, the plain layout (halo2-base's inner product) is searched
/// first: a circuit that fits below `mac_min_k` keeps it alone, for the cheapest
/// verifier. Otherwise proving time dominates, and these join the plain layout:
/// - the plain layout at each smaller `k` it fits within the large column budget (the
///   wide one when it needed `k >= large_k`), where that adds little gas
///   ([`PlanOptions::wide_gas_slack`]);
/// - for each width of [`MAC_WIDTHS`] and the model's [`natural_mac_width`], the
///   smallest `k` that fits, and the next two `k`
///   (at most the plain layout's) where they take fewer columns (MAC groups or gate
///   columns: a smaller verifier).
///
/// They are ordered by [`PlanOptions::sort`].
pub fn plan_candidates<F: ScalarField>(graph: &QuantGraph, inputs: &[Vec<i64>], opts: &PlanOptions) -> Result<Vec<Plan>, CircuitError> {
    let ks: Vec<u32> = match opts.k {
        Some(k) => vec![k],
        None => (opts.min_k.max(4)..=opts.max_k).collect(),
    };
    // Speed: the wide shapes at any gas, and more of them (a budget the user set stays).
    let speed;
    let opts = if opts.optimize == Optimize::Speed {
        let wide = if opts.max_advice_wide == default_max_advice_wide() { SPEED_MAX_ADVICE } else { opts.max_advice_wide };
        speed = PlanOptions { max_advice_wide: wide, wide_gas_slack: f64::INFINITY, ..opts.clone() };
        &speed
    } else {
        opts
    };
    // The model is lowered once per layout family (plain, MAC gate) to count its cells;
    // every shape below is arithmetic on those counts.
    let counter = Counter::<F>::new(graph, inputs, &opts.visibility);
    let counter = &counter;
    let plain = search(counter, opts, &ks, opts.mac_width.unwrap_or(0));
    if opts.mac_width.is_some() {
        return Ok(vec![plain?]);
    }
    // Too large without the MAC gate: every k may be tried with it.
    let (mut found, below, wide) = match plain {
        Ok(p) if p.stats.k < opts.mac_min_k => return Ok(vec![p]),
        Ok(p) => {
            let below: Vec<u32> = ks.iter().copied().filter(|&k| k <= p.stats.k).collect();
            // Proving time matters from here on: the plain layout may also take the
            // large column budget below `large_k`, and the wide one from there on, at
            // every k it saves.
            let budget = if p.stats.k >= opts.large_k { opts.max_advice_wide } else { opts.max_advice_large };
            let budget = budget.max(opts.max_advice);
            let wide = PlanOptions { max_advice: budget, max_advice_large: budget, ..opts.clone() };
            let (plain_k, gas_cap) = (p.stats.k, gas_estimate(&p.stats) as f64 * opts.wide_gas_slack);
            let mut found = vec![p];
            if let Ok(q) = search(counter, &wide, &below[..below.len() - 1], 0) {
                let first = q.stats.k;
                let more = (first + 1..plain_k).filter_map(|k| search(counter, &wide, &[k], 0).ok());
                found.extend(std::iter::once(q).chain(more).filter(|w| gas_estimate(&w.stats) as f64 <= gas_cap));
            }
            let wide = (plain_k >= opts.large_k).then_some((wide, gas_cap));
            (found, below, wide)
        }
        Err(CircuitError::TooLarge { .. }) => {
            // Not even `max_k` fits the narrow budgets (a segment of a large model, or a
            // `max_k` set low): proving time and memory decide here, so the wide budget
            // is weighed with and without the MAC gate, with no gas reference to keep to.
            let budget = opts.max_advice_wide.max(opts.max_advice_large).max(opts.max_advice);
            let wide = PlanOptions { max_advice: budget, max_advice_large: budget, ..opts.clone() };
            let found: Vec<Plan> = search(counter, &wide, &ks, 0).into_iter().collect();
            (found, ks.clone(), Some((wide, f64::INFINITY)))
        }
        Err(e) => return Err(e),
    };
    let mut err = None;
    for w in MAC_WIDTHS.into_iter().chain(natural_mac_width(graph)) {
        match search(counter, opts, &below, w) {
            Ok(p) if p.stats.mac_width == 0 => {}
            Ok(p) => {
                // Up to two k larger (and at most the plain layout's), fewer columns: dearer
                // to prove, a smaller verifier. One MAC group beside one gate column is the
                // narrowest.
                let narrow = |s: &LayoutStats| s.mac_sets <= 1 && s.num_advice <= 1;
                let (mut cols, first_k) = (p.stats.advice_columns(), p.stats.k);
                let mut narrowest = narrow(&p.stats);
                found.push(p);
                // A circuit that needed the wide budget without the MAC gate may take it
                // with the gate too, at each smaller k it saves, where that adds little gas.
                if let Some((wide, gas_cap)) = &wide {
                    let smaller: Vec<u32> = below.iter().copied().filter(|&k| k < first_k).collect();
                    if let Ok(q) = search(counter, wide, &smaller, w) {
                        let more = (q.stats.k + 1..first_k).filter_map(|k| search(counter, wide, &[k], w).ok());
                        found.extend(
                            std::iter::once(q).chain(more).filter(|q| q.stats.mac_width > 0 && gas_estimate(&q.stats) as f64 <= *gas_cap),
                        );
                    }
                }
                for k in below.iter().copied().filter(|&k| k > first_k && k <= first_k + 2) {
                    if narrowest {
                        break;
                    }
                    let Ok(q) = search(counter, opts, &[k], w) else { break };
                    narrowest = narrow(&q.stats);
                    if q.stats.advice_columns() < cols {
                        cols = q.stats.advice_columns();
                        found.push(q);
                    }
                }
            }
            Err(e) => match &wide {
                Some((wide, _)) => match search(counter, wide, &below, w) {
                    Ok(q) if q.stats.mac_width > 0 => found.push(q),
                    Ok(_) => {}
                    Err(e) => err = Some(e),
                },
                None => err = Some(e),
            },
        }
    }
    if found.is_empty() {
        return Err(err.unwrap_or(CircuitError::TooLarge { needed: 0, columns: opts.max_advice, max_k: opts.max_k }));
    }
    opts.sort(&mut found);
    Ok(found)
}

/// The first `k` of `ks` (ascending) at which the model fits the column budget with MAC
/// width `w`. Fitting is monotone in `k` (more rows, wider range-check limbs, a budget
/// that only grows), so the search is a bisection.
fn search<F: ScalarField>(counter: &Counter<F>, opts: &PlanOptions, ks: &[u32], w: usize) -> Result<Plan, CircuitError> {
    let attempt = |k: u32| -> Result<(Option<Plan>, LayoutStats), CircuitError> {
        let (params, stats) = try_k(counter, k, w)?;
        let usable = usable_rows(k);
        let fits = stats.table_rows <= usable && stats.rows <= usable;
        // Small circuits: few columns for a cheap verifier; from `large_k` on, proving
        // time dominates and more columns keep k down. The budget counts
        // `budgeted_columns`: the first function-table triple and the MAC groups are free.
        // With the MAC gate the verifier is no longer the small one: proving time
        // decides, at every k.
        let budget = if k >= opts.large_k || w > 0 { opts.max_advice.max(opts.max_advice_large) } else { opts.max_advice };
        let ok = (fits && stats.budgeted_columns() <= budget) || opts.k.is_some();
        let shape = CircuitShape { params, break_points: Default::default(), visibility: opts.visibility };
        Ok((ok.then(|| Plan { shape, stats: stats.clone() }), stats))
    };
    let (mut lo, mut hi) = (0usize, ks.len());
    let (mut found, mut last) = (None, None);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match attempt(ks[mid])? {
            (Some(p), _) => {
                found = Some(p);
                hi = mid;
            }
            (None, s) => {
                last = Some(s);
                lo = mid + 1;
            }
        }
    }
    found.ok_or_else(|| {
        let s = last.unwrap_or_default();
        CircuitError::TooLarge { needed: s.advice_cells, columns: opts.max_advice, max_k: opts.max_k }
    })
}

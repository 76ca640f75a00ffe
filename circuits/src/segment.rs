//! Models too large for one circuit, proved as segments.
//!
//! The quantized graph is cut between nodes ([`QuantGraph::split`]); each segment is its
//! own circuit, planned, keyed and proved apart (one after the other in bounded memory,
//! or on several workers). The values crossing a cut are **hashed** on both sides
//! ([`Visibility::Hashed`]): segment `i` exposes the Poseidon hash of its outputs as its
//! last instance and segment `i + 1` the hash of its inputs, the same values in the same
//! order, as its first. A verifier checks every segment's proof and that each output
//! hash equals the next input hash; the first segment's inputs and the last one's outputs
//! are public (or private, or hashed) as the model's visibility says. Both sides
//! range-check the crossing values to the activation range (the hash packs them), which
//! the full circuit does not ask of a shift-0 sum: a run whose boundary value leaves the
//! range is refused by the segmented prover ([`check_boundaries`]), never proved wrongly.
//!
//! Cuts are placed where few values cross (each crossing value costs a range check and
//! part of a Poseidon permutation on both sides) near the points that balance the
//! segments' cells ([`balanced_cuts`]); a segment the planner cannot fit in `max_k` is
//! cut again ([`plan_segments`]).

use std::ops::Range;

use halo2_base::gates::circuit::{builder::BaseCircuitBuilder, CircuitBuilderStage};
use zkinfer_models::interp;
use zkinfer_models::quant::{QOp, QuantGraph};

use crate::error::CircuitError;
use crate::field::ScalarField;
use crate::layout::{plan_candidates, Plan, PlanOptions};
use crate::lower::lower;
use crate::shape::usable_rows;
use crate::visibility::{ParamVisibility, Visibility, VisibilityConfig};

/// Most segments [`plan_segments`] makes before giving up.
pub const MAX_SEGMENTS: usize = 64;

/// How far from a balancing point (as a fraction of a segment's cost) a cut may move to
/// where fewer values cross.
const CUT_SLACK: f64 = 0.15;

/// One segment of a model: its graph, the quantized inputs of the sample it was planned
/// on (from the full graph's trace) and its planned shapes, best first.
#[derive(Clone, Debug)]
pub struct PlannedSegment {
    pub graph: QuantGraph,
    /// Node range of the full graph this segment runs.
    pub nodes: Range<usize>,
    pub visibility: VisibilityConfig,
    pub sample: Vec<Vec<i64>>,
    pub candidates: Vec<Plan>,
}

/// The visibility of segment `i` of `n` for a model of visibility `model`: hashed where
/// segments meet, the model's own at its two ends.
pub fn segment_visibility(model: &VisibilityConfig, i: usize, n: usize) -> VisibilityConfig {
    VisibilityConfig {
        inputs: if i == 0 { model.inputs } else { Visibility::Hashed },
        outputs: if i + 1 == n { model.outputs } else { Visibility::Hashed },
        params: model.params,
    }
}

/// What each node costs in the segment that runs it: its flex-gate advice cells from one
/// keygen-stage lowering with a one-wide MAC gate, plus one cell per MAC term (the
/// activation each term reads). Only the balance between segments depends on it: each
/// segment is then planned exactly.
pub fn node_costs<F: ScalarField>(graph: &QuantGraph, inputs: &[Vec<i64>]) -> Result<Vec<usize>, CircuitError> {
    let k = 20;
    let mut builder =
        BaseCircuitBuilder::<F>::from_stage(CircuitBuilderStage::Keygen).use_k(k).use_lookup_bits(k - 1).use_instance_columns(1);
    let lowered = lower(&mut builder, graph, inputs, 1, ParamVisibility::Fixed)?;
    Ok(graph
        .nodes
        .iter()
        .zip(&lowered.node_cells)
        .map(|(node, &cells)| {
            let terms = match &node.op {
                QOp::Linear { offsets, .. } => offsets.last().copied().unwrap_or(0),
                _ => 0,
            };
            cells + terms
        })
        .collect())
}

/// Cuts splitting `nodes` into `parts` segments of about equal cost: near each balancing
/// point (within [`CUT_SLACK`] of a segment's cost) the cut where the fewest elements
/// cross (`live[c]`, see [`QuantGraph::live_elements`]), the nearest of those on a tie.
/// Fewer cuts when `nodes` has too few nodes.
pub fn balanced_cuts(costs: &[usize], live: &[usize], nodes: Range<usize>, parts: usize) -> Vec<usize> {
    let prefix: Vec<f64> = std::iter::once(0.0)
        .chain(costs[nodes.clone()].iter().scan(0.0, |acc, &c| {
            *acc += c as f64;
            Some(*acc)
        }))
        .collect();
    let total = *prefix.last().unwrap_or(&0.0);
    let per = total / parts.max(1) as f64;
    let mut cuts = Vec::new();
    let mut last = nodes.start;
    for p in 1..parts {
        let goal = per * p as f64;
        let best = (last + 1..nodes.end).filter(|&c| (prefix[c - nodes.start] - goal).abs() <= per * CUT_SLACK || c == last + 1).min_by(
            |&a, &b| {
                let d = |c: usize| (prefix[c - nodes.start] - goal).abs();
                live[a].cmp(&live[b]).then(d(a).total_cmp(&d(b)))
            },
        );
        // The slack window can be empty only past its goal's last node: take the node
        // nearest the goal then.
        let best = best.filter(|&c| (prefix[c - nodes.start] - goal).abs() <= per * CUT_SLACK).or_else(|| {
            (last + 1..nodes.end).min_by(|&a, &b| (prefix[a - nodes.start] - goal).abs().total_cmp(&(prefix[b - nodes.start] - goal).abs()))
        });
        if let Some(c) = best {
            cuts.push(c);
            last = c;
        }
    }
    cuts
}

/// Advice columns a segment is assumed to fill when [`plan_segments`] guesses how many
/// segments a model needs (the planner's shapes at k >= 20 take 9 to 24).
const GUESS_COLUMNS: usize = 12;

/// Splits `graph` into segments that each plan within `opts.max_k` and plans each:
/// `parts` segments to start with (0: about the model's cells over what
/// [`GUESS_COLUMNS`] columns hold at `max_k`); a segment that does not fit is cut in two
/// again. `inputs` (quantized, graph-input order) must run.
pub fn plan_segments<F: ScalarField>(
    graph: &QuantGraph,
    inputs: &[Vec<i64>],
    opts: &PlanOptions,
    parts: usize,
) -> Result<Vec<PlannedSegment>, CircuitError> {
    if !opts.visibility.params.is_fixed() {
        return Err(CircuitError::Layout(
            "segments need fixed parameters (private or hashed parameters name nodes of the whole graph)".into(),
        ));
    }
    let trace = interp::run(graph, inputs).map_err(|e| CircuitError::Inputs(e.to_string()))?;
    let costs = node_costs::<F>(graph, inputs)?;
    let live = graph.live_elements();
    let n = graph.nodes.len();
    let capacity = usable_rows(opts.max_k) * GUESS_COLUMNS;
    let parts = if parts == 0 { costs.iter().sum::<usize>().div_ceil(capacity) } else { parts };
    let mut cuts = balanced_cuts(&costs, &live, 0..n, parts.max(1));
    loop {
        if cuts.len() + 1 > MAX_SEGMENTS {
            return Err(CircuitError::Layout(format!("the model does not fit {MAX_SEGMENTS} segments of k <= {}", opts.max_k)));
        }
        let graphs = graph.split(&cuts).map_err(|e| CircuitError::Layout(e.to_string()))?;
        let bounds: Vec<usize> = std::iter::once(0).chain(cuts.iter().copied()).chain(std::iter::once(n)).collect();
        let count = graphs.len();
        let mut planned = Vec::with_capacity(count);
        let mut too_large = None;
        for (i, g) in graphs.into_iter().enumerate() {
            let visibility = segment_visibility(&opts.visibility, i, count);
            let sample: Vec<Vec<i64>> = g.inputs.iter().map(|p| trace.values[p.value].clone()).collect();
            let seg_opts = PlanOptions { visibility, ..opts.clone() };
            match plan_candidates::<F>(&g, &sample, &seg_opts) {
                Ok(candidates) => {
                    planned.push(PlannedSegment { graph: g, nodes: bounds[i]..bounds[i + 1], visibility, sample, candidates })
                }
                Err(CircuitError::TooLarge { .. }) if bounds[i + 1] - bounds[i] > 1 => {
                    too_large = Some(bounds[i]..bounds[i + 1]);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        match too_large {
            None => return Ok(planned),
            Some(r) => {
                cuts.extend(balanced_cuts(&costs, &live, r, 2));
                cuts.sort_unstable();
                cuts.dedup();
            }
        }
    }
}

/// Checks that every value crossing a cut is in the activation range (both segments
/// range-check it): `Err` names the first that is not, with its segment.
pub fn check_boundaries(segments: &[QuantGraph], values: &[Vec<i64>]) -> Result<(), CircuitError> {
    for (i, s) in segments.iter().enumerate().skip(1) {
        let bound = s.max_abs();
        for p in &s.inputs {
            if let Some(x) = values[p.value].iter().find(|x| x.abs() >= bound) {
                return Err(CircuitError::Inputs(format!(
                    "value `{}` crossing into segment {i} is {} (outside the {}-bit activation range segments hash): cut elsewhere or raise the activation bits",
                    p.name,
                    s.dequantize(*x),
                    s.bits
                )));
            }
        }
    }
    Ok(())
}

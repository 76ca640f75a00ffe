//! Lowering a [`QuantGraph`] onto a halo2-base builder.

use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use halo2_base::{AssignedValue, QuantumCell};
use zkinfer_models::quant::{ParamRef, ParamSlot, QOp, QuantGraph};

use crate::chips::mac::Macs;
use crate::chips::table::{self, TableSpec, Tables};
use crate::chips::{compare, div, io, linear, relu, sqrt, Chips, Tally};
use crate::error::CircuitError;
use crate::field::{fe, ScalarField};
use crate::visibility::ParamVisibility;

/// Cells of every value, the public instances (inputs then outputs), the parameter
/// cells (canonical order; empty for fixed parameters), the lookup tables with the
/// cells looked up in them, and the MAC gate's dot products.
pub struct Lowered<F: ScalarField> {
    pub values: Vec<Vec<AssignedValue<F>>>,
    pub public: Vec<AssignedValue<F>>,
    pub params: Vec<AssignedValue<F>>,
    pub tables: Tables<F>,
    pub macs: Option<Macs<F>>,
    /// Per node: advice cells it added to the main context (its MAC terms aside), for
    /// profiling.
    pub node_cells: Vec<usize>,
}

/// Assigns the whole model into `builder`'s main context and registers the public
/// instances (graph inputs, then graph outputs, flattened). With `mac_width > 0`,
/// constant-weight dot products go to the MAC gate of that width. With `params` not
/// fixed, the graph's parameters are witness cells (assigned first, in canonical order,
/// each range-checked to an `i64`: [`io::checked_param`]) and the graph must be
/// quantized for it (`private_params`); the MAC gate, which holds weights in fixed
/// columns, is refused then.
///
/// The witness is computed from the inputs by the chips; it does not depend on the
/// reference interpreter, against which tests compare it.
pub fn lower<F: ScalarField>(
    builder: &mut BaseCircuitBuilder<F>,
    graph: &QuantGraph,
    inputs: &[Vec<i64>],
    mac_width: usize,
    params: ParamVisibility,
) -> Result<Lowered<F>, CircuitError> {
    lower_tallied(builder, graph, inputs, mac_width, params, None)
}

/// [`lower`], with the range checks tallied in `tally` instead of laid out when it is
/// given (the planner's counting pass, [`crate::count`]).
pub fn lower_tallied<F: ScalarField>(
    builder: &mut BaseCircuitBuilder<F>,
    graph: &QuantGraph,
    inputs: &[Vec<i64>],
    mac_width: usize,
    params: ParamVisibility,
    tally: Option<&Tally>,
) -> Result<Lowered<F>, CircuitError> {
    if inputs.len() != graph.inputs.len() {
        return Err(CircuitError::Inputs(format!("expected {} inputs, got {}", graph.inputs.len(), inputs.len())));
    }
    if !params.is_fixed() {
        if !graph.private_params || !graph.params_well_formed() {
            return Err(CircuitError::Params("the graph was not quantized with private parameters (or lists them wrongly)".into()));
        }
        if mac_width > 0 && !lower_mac_allowed(params) {
            return Err(mac_refused());
        }
    }
    let range = builder.range_chip();
    let macs = (mac_width > 0).then(|| Macs::new(mac_width, builder.witness_gen_only(), builder.core().copy_manager.clone()));
    let chips = Chips { mac: macs.as_ref(), tally, ..Chips::new(&range, graph.bits) };
    let mut tables = Tables::new(builder.witness_gen_only(), builder.core().copy_manager.clone());
    let ctx = builder.main(0);
    let (param_cells, param_at): (Vec<AssignedValue<F>>, HashMap<ParamRef, AssignedValue<F>>) = if params.is_fixed() {
        Default::default()
    } else {
        let cells: Vec<_> = graph.param_values().into_iter().map(|v| io::checked_param(ctx, &chips, fe(v as i128))).collect();
        let at = graph.params.iter().copied().zip(cells.iter().copied()).collect();
        (cells, at)
    };
    let mut values: Vec<Vec<AssignedValue<F>>> = vec![Vec::new(); graph.num_values];
    let mut public = Vec::new();
    for (port, data) in graph.inputs.iter().zip(inputs) {
        let n: usize = port.shape.iter().product();
        if data.len() != n {
            return Err(CircuitError::Inputs(format!("input `{}` has {} values, expected {n}", port.name, data.len())));
        }
        let cells: Vec<_> = data.iter().map(|&x| io::checked_input(ctx, &chips, x)).collect();
        public.extend(cells.iter().copied());
        values[port.value] = cells;
    }
    // Values some ReLU decomposes: their range check comes from it.
    let mut relu_fed = vec![false; graph.num_values];
    for node in graph.nodes.iter().filter(|n| matches!(n.op, QOp::Relu)) {
        relu_fed[node.inputs[0]] = true;
    }
    let bounds = value_bounds(graph, params);
    let mut node_cells = Vec::with_capacity(graph.nodes.len());
    for (n, node) in graph.nodes.iter().enumerate() {
        let cells_before = ctx.advice.len();
        let dot = matches!(node.op, QOp::Linear { .. } | QOp::Bilinear { .. });
        let chips = Chips { q_checked_by_relu: dot && relu_fed[node.output], ..chips };
        let chips = &chips;
        let out: Vec<AssignedValue<F>> = {
            let ins: Vec<&Vec<AssignedValue<F>>> = node.inputs.iter().map(|&i| &values[i]).collect();
            match &node.op {
                QOp::Linear { offsets, slot, idx, coeff, bias, shift } if !param_at.is_empty() => {
                    let cell = |s: ParamSlot, v: i64| match param_at.get(&ParamRef { node: n as u32, slot: s }) {
                        Some(c) => QuantumCell::Existing(*c),
                        None => QuantumCell::Constant(fe(v as i128)),
                    };
                    (0..node.len)
                        .map(|o| {
                            let terms: Vec<_> = (offsets[o]..offsets[o + 1])
                                .map(|t| (ins[slot[t] as usize][idx[t] as usize], cell(ParamSlot::Coeff(t as u32), coeff[t])))
                                .collect();
                            linear::linear_cells(ctx, chips, terms, cell(ParamSlot::Bias(o as u32), bias[o]), *shift)
                        })
                        .collect()
                }
                QOp::Linear { offsets, slot, idx, coeff, bias, shift } => (0..node.len)
                    .map(|o| {
                        let span = offsets[o]..offsets[o + 1];
                        let terms: Vec<_> = span.clone().map(|t| (ins[slot[t] as usize][idx[t] as usize], coeff[t])).collect();
                        // Outputs over the same input cells (a dense layer's, a convolution's
                        // channels at one position) may share MAC rows.
                        let mut key = DefaultHasher::new();
                        (n, &slot[span.clone()], &idx[span]).hash(&mut key);
                        linear::linear_shared(ctx, chips, &terms, bias[o], *shift, Some(key.finish()))
                    })
                    .collect(),
                QOp::Bilinear { offsets, left, right, shift } => (0..node.len)
                    .map(|o| {
                        let pairs: Vec<_> =
                            (offsets[o]..offsets[o + 1]).map(|t| (ins[0][left[t] as usize], ins[1][right[t] as usize])).collect();
                        linear::bilinear(ctx, chips, &pairs, *shift)
                    })
                    .collect(),
                QOp::Relu => ins[0].iter().map(|&x| relu::relu(ctx, chips, x)).collect(),
                QOp::Select { map } => map.iter().map(|&(s, i)| ins[s as usize][i as usize]).collect(),
                QOp::Const { values } => io::constants(ctx, values),
                // The best value alone, of elements that fit `best`'s bound: no running compare.
                QOp::Reduce { max, arg: false, offsets, idx, .. } if bounds[node.inputs[0]] <= 1u128 << (graph.bits - 1) => (0..node.len)
                    .map(|o| {
                        let xs: Vec<_> = idx[offsets[o]..offsets[o + 1]].iter().map(|&i| ins[0][i as usize]).collect();
                        compare::best(ctx, chips, &xs, *max)
                    })
                    .collect(),
                QOp::Reduce { max, arg, strict, offsets, idx, one } => (0..node.len)
                    .map(|o| {
                        let xs: Vec<_> = idx[offsets[o]..offsets[o + 1]].iter().map(|&i| ins[0][i as usize]).collect();
                        compare::reduce(ctx, chips, &xs, *max, *arg, *strict, *one)
                    })
                    .collect(),
                QOp::Table(op) => {
                    // Tags are node positions + 1: fixed by the graph, the same at keygen and proving.
                    let spec = TableSpec::new(n + 1, op).input_below(bounds[node.inputs[0]]);
                    tables.add_table(spec.tag, op);
                    ins[0].iter().map(|&x| table::lookup(ctx, chips, &tables, &spec, x)).collect()
                }
                QOp::Div { scale, positive: false } => (0..node.len).map(|o| div::div(ctx, chips, ins[0][o], ins[1][o], *scale)).collect(),
                QOp::Div { scale, positive: true } => {
                    (0..node.len).map(|o| div::div_positive(ctx, chips, ins[0][o], ins[1][o], *scale)).collect()
                }
                QOp::Sqrt { scale, offset } => ins[0].iter().map(|&x| sqrt::sqrt(ctx, chips, x, *scale, *offset)).collect(),
                QOp::Cmp { eq, one } => (0..node.len)
                    .map(|o| {
                        if *eq {
                            compare::equal(ctx, chips, ins[0][o], ins[1][o], *one)
                        } else {
                            compare::less(ctx, chips, ins[0][o], ins[1][o], *one)
                        }
                    })
                    .collect(),
            }
        };
        values[node.output] = out;
        node_cells.push(ctx.advice.len() - cells_before);
    }
    for port in &graph.outputs {
        public.extend(values[port.value].iter().copied());
    }
    builder.assigned_instances = vec![public.clone()];
    Ok(Lowered { values, public, params: param_cells, tables, macs, node_cells })
}

/// Whether the MAC gate may take the dot products: only of fixed parameters (it holds
/// the weights in fixed columns).
pub fn lower_mac_allowed(params: ParamVisibility) -> bool {
    params.is_fixed()
}

/// The error for a MAC gate asked of private parameters ([`lower_mac_allowed`]).
pub fn mac_refused() -> CircuitError {
    CircuitError::Params("the MAC gate holds weights in fixed columns: it cannot take private parameters".into())
}

/// For every value of `graph`, a bound on the magnitude of its cells (saturating at
/// `u128::MAX`) that holds for **any** witness satisfying the constraints the lowering
/// lays out before the value is used, not just the honest one: range-checked cells
/// (inputs, rescaled sums, ReLU outputs, quotients, roots) by their range, a shift-0
/// sum by its terms (a private parameter by its 64-bit range check), a table output by
/// its values and interpolation step, a selection by the values it chooses from.
/// [`TableSpec::input_below`] relies on it.
pub fn value_bounds(graph: &QuantGraph, params: ParamVisibility) -> Vec<u128> {
    let checked = 1u128 << (graph.bits - 1);
    let param_bound = 1u128 << (io::PARAM_BITS - 1);
    let abs = |v: i64| v.unsigned_abs() as u128;
    let mut bounds = vec![u128::MAX; graph.num_values];
    for port in &graph.inputs {
        bounds[port.value] = checked;
    }
    let param_nodes: std::collections::HashSet<u32> =
        if params.is_fixed() { Default::default() } else { graph.params.iter().map(|r| r.node).collect() };
    for (n, node) in graph.nodes.iter().enumerate() {
        let ins: Vec<u128> = node.inputs.iter().map(|&i| bounds[i]).collect();
        let max_in = |slots: &mut dyn Iterator<Item = u128>| slots.max().unwrap_or(0);
        let bound = match &node.op {
            QOp::Linear { shift, .. } | QOp::Bilinear { shift, .. } if *shift > 0 => checked,
            QOp::Linear { offsets, slot, coeff, bias, .. } => {
                // With private parameters every coefficient and bias of the node may be one.
                let private = param_nodes.contains(&(n as u32));
                let c = |v: i64| if private { param_bound.max(abs(v)) } else { abs(v) };
                (0..bias.len())
                    .map(|o| {
                        (offsets[o]..offsets[o + 1])
                            .fold(c(bias[o]), |acc, t| acc.saturating_add(c(coeff[t]).saturating_mul(ins[slot[t] as usize])))
                    })
                    .max()
                    .unwrap_or(0)
            }
            QOp::Bilinear { offsets, .. } => {
                let widest = (0..offsets.len() - 1).map(|o| offsets[o + 1] - offsets[o]).max().unwrap_or(0) as u128;
                ins[0].saturating_mul(ins[1]).saturating_mul(widest)
            }
            QOp::Relu | QOp::Div { .. } => checked,
            QOp::Select { map } => max_in(&mut map.iter().map(|&(s, _)| ins[s as usize])),
            QOp::Const { values } => max_in(&mut values.iter().map(|&v| abs(v))),
            QOp::Reduce { arg: true, offsets, one, .. } => {
                let widest = (0..offsets.len() - 1).map(|o| offsets[o + 1] - offsets[o]).max().unwrap_or(0) as u128;
                abs(*one).saturating_mul(widest)
            }
            QOp::Reduce { .. } => ins[0],
            QOp::Table(t) => {
                let step = if t.interpolates() { 1u128 << t.step_bits() } else { 0 };
                max_in(&mut t.values.iter().map(|&v| abs(v))).saturating_add(step)
            }
            QOp::Sqrt { scale, .. } => 1u128 << zkinfer_models::quant::sqrt_bits(graph.bits, *scale),
            QOp::Cmp { one, .. } => abs(*one),
        };
        bounds[node.output] = bound;
    }
    bounds
}

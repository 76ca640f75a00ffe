//! Lowering a [`QuantGraph`] onto a halo2-base builder.

use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::AssignedValue;
use zkinfer_models::quant::{QOp, QuantGraph};

use crate::chips::{io, linear, relu, Chips};
use crate::error::CircuitError;
use crate::field::ScalarField;

/// Cells of every value, and the public instances (inputs then outputs).
pub struct Lowered<F: ScalarField> {
    pub values: Vec<Vec<AssignedValue<F>>>,
    pub public: Vec<AssignedValue<F>>,
}

/// Assigns the whole model into `builder`'s main context and registers the public
/// instances (graph inputs, then graph outputs, flattened).
///
/// The witness is computed from the inputs by the chips; it does not depend on the
/// reference interpreter, against which tests compare it.
pub fn lower<F: ScalarField>(
    builder: &mut BaseCircuitBuilder<F>,
    graph: &QuantGraph,
    inputs: &[Vec<i64>],
) -> Result<Lowered<F>, CircuitError> {
    if inputs.len() != graph.inputs.len() {
        return Err(CircuitError::Inputs(format!("expected {} inputs, got {}", graph.inputs.len(), inputs.len())));
    }
    let range = builder.range_chip();
    let chips = Chips { range: &range, bits: graph.bits };
    let ctx = builder.main(0);
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
    for node in &graph.nodes {
        let out: Vec<AssignedValue<F>> = {
            let ins: Vec<&Vec<AssignedValue<F>>> = node.inputs.iter().map(|&i| &values[i]).collect();
            match &node.op {
                QOp::Linear { offsets, slot, idx, coeff, bias, shift } => (0..node.len)
                    .map(|o| {
                        let terms: Vec<_> = (offsets[o]..offsets[o + 1])
                            .map(|t| (ins[slot[t] as usize][idx[t] as usize], coeff[t]))
                            .collect();
                        linear::linear(ctx, &chips, &terms, bias[o], *shift)
                    })
                    .collect(),
                QOp::Bilinear { offsets, left, right, shift } => (0..node.len)
                    .map(|o| {
                        let pairs: Vec<_> = (offsets[o]..offsets[o + 1])
                            .map(|t| (ins[0][left[t] as usize], ins[1][right[t] as usize]))
                            .collect();
                        linear::bilinear(ctx, &chips, &pairs, *shift)
                    })
                    .collect(),
                QOp::Relu => ins[0].iter().map(|&x| relu::relu(ctx, &chips, x)).collect(),
                QOp::Select { map } => map.iter().map(|&(s, i)| ins[s as usize][i as usize]).collect(),
                QOp::Const { values } => io::constants(ctx, values),
            }
        };
        values[node.output] = out;
    }
    for port in &graph.outputs {
        public.extend(values[port.value].iter().copied());
    }
    builder.assigned_instances = vec![public.clone()];
    Ok(Lowered { values, public })
}

//! Float (f64) evaluation of a [`Graph`]: the calibration pass and a reference that
//! needs no ONNX Runtime.

use crate::error::{ModelError, Result};
use crate::ir::Graph;
use crate::tensor::Tensor;

/// Checks the inputs against the graph and returns them as tensors of the graph's shapes.
pub fn shape_inputs(graph: &Graph, flat: &[Vec<f64>]) -> Result<Vec<Tensor>> {
    if flat.len() < graph.inputs.len() {
        return Err(ModelError::InputCount { expected: graph.inputs.len(), got: flat.len() });
    }
    graph
        .inputs
        .iter()
        .zip(flat)
        .map(|(&id, data)| {
            let v = &graph.values[id];
            let n: usize = v.shape.iter().product();
            if data.len() != n {
                return Err(ModelError::InputLength { name: v.name.clone(), expected: n, got: data.len(), shape: v.shape.clone() });
            }
            Ok(Tensor::new(v.shape.clone(), data.clone(), v.dtype))
        })
        .collect()
}

/// Evaluates every value of the graph; entry `i` is value `i` (None for values not
/// reached). Inputs must already have the graph's shapes.
pub fn eval_all(graph: &Graph, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
    let mut vals: Vec<Option<Tensor>> = vec![None; graph.values.len()];
    for (id, t) in &graph.constants {
        vals[*id] = Some(t.clone());
    }
    for (&id, t) in graph.inputs.iter().zip(inputs) {
        vals[id] = Some(t.clone());
    }
    for node in &graph.nodes {
        let ins: Vec<&Tensor> = node
            .inputs
            .iter()
            .map(|&i| vals[i].as_ref().ok_or_else(|| ModelError::Shape(format!("node `{}` input not computed", node.name))))
            .collect::<Result<_>>()?;
        let out = node.op.eval(&ins)?;
        vals[node.output] = Some(out);
    }
    Ok(vals)
}

/// Evaluates the graph's outputs.
pub fn eval(graph: &Graph, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
    let vals = eval_all(graph, inputs)?;
    graph.outputs.iter().map(|&o| vals[o].clone().ok_or_else(|| ModelError::Shape("output not computed".into()))).collect()
}

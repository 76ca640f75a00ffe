//! What a proof's public instances state, and the checks that a claimed statement
//! (outputs, parameter hash) is the one proved. Backend-independent: every backend's
//! instances follow [`InstanceLayout`].

use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use zkinfer_circuits::hash::hash_packed;
use zkinfer_circuits::{public, InstanceLayout, VisibilityConfig};
use zkinfer_models::quant::QuantGraph;

use crate::backend::{Expected, VerifyError};

/// The dequantized outputs that public instances stand for, per graph output; `None`
/// when the outputs are private or hashed.
pub fn public_outputs(graph: &QuantGraph, visibility: &VisibilityConfig, instances: &[Fr]) -> Result<Option<Vec<Vec<f64>>>, VerifyError> {
    let layout = InstanceLayout::new(graph, visibility);
    if instances.len() != layout.len() {
        return Err(VerifyError::InstanceCount { expected: layout.len(), got: instances.len() });
    }
    let (n_in, n_out) = (layout.n_in, layout.n_out);
    let values = public::unpack(&instances[layout.packed_range()], n_in + n_out, graph.bits).ok_or(VerifyError::Packing)?;
    if n_out == 0 {
        return Ok(None);
    }
    let mut at = n_in;
    let mut outs = Vec::new();
    for p in &graph.outputs {
        let n: usize = p.shape.iter().product();
        outs.push(values[at..at + n].iter().map(|q| graph.dequantize(*q as i64)).collect());
        at += n;
    }
    Ok(Some(outs))
}

/// Whether two lists of dequantized outputs stand for the same quantized values.
/// Compared as integers: JSON float parsing need not round-trip the last bit.
pub fn same_outputs(graph: &QuantGraph, a: &[Vec<f64>], b: &[Vec<f64>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(u, v)| graph.quantize_value(*u) == graph.quantize_value(*v)))
}

/// Quantizes dequantized outputs back to the integers the circuit used, rounding to the
/// grid; `None` for a value that is not a finite number.
fn requantize(graph: &QuantGraph, values: &[Vec<f64>]) -> Option<Vec<i128>> {
    values
        .iter()
        .flatten()
        .map(|x| {
            let q = graph.quantize_value(*x);
            q.is_finite().then_some(q as i128)
        })
        .collect()
}

/// The Poseidon hash of the model's quantized parameters in canonical order: the
/// instance a proof with hashed parameters carries after the input hash.
pub fn param_hash(graph: &QuantGraph) -> Fr {
    zkinfer_circuits::instances::param_hash(graph)
}

/// Checks `instances` against the model's layout and `expected`: their number and
/// packing, the claimed outputs (public ones equal, hashed ones hashing to the output
/// hash), and the parameter hash (the expected one, else the graph's own).
pub fn check(graph: &QuantGraph, visibility: &VisibilityConfig, instances: &[Fr], expected: &Expected<'_>) -> Result<(), VerifyError> {
    let layout = InstanceLayout::new(graph, visibility);
    let attested = public_outputs(graph, visibility, instances)?;
    if let Some(claimed) = expected.outputs {
        let shapes_ok = claimed.len() == graph.outputs.len()
            && claimed.iter().zip(&graph.outputs).all(|(o, p)| o.len() == p.shape.iter().product::<usize>());
        if let Some(attested) = &attested {
            if !same_outputs(graph, attested, claimed) {
                return Err(VerifyError::OutputMismatch);
            }
        } else if let Some(at) = layout.output_hash_index() {
            if !shapes_ok {
                return Err(VerifyError::OutputShape);
            }
            let values = requantize(graph, claimed).ok_or(VerifyError::OutputHashMismatch)?;
            if hash_packed(&values, graph.bits) != instances[at] {
                return Err(VerifyError::OutputHashMismatch);
            }
        }
    }
    if let Some(at) = layout.param_hash_index() {
        let want = expected.param_hash.unwrap_or_else(|| param_hash(graph));
        if instances[at] != want {
            return Err(VerifyError::ParamHashMismatch);
        }
    }
    Ok(())
}

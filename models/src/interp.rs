//! The integer reference interpreter of a [`QuantGraph`]: plain Rust, no halo2.
//! Circuit witnesses must equal its values exactly.

use crate::error::{ModelError, Result};
use crate::quant::{rescale, QOp, QuantGraph};

/// Every value of one run of the quantized graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub values: Vec<Vec<i64>>,
}

impl Trace {
    /// The integer outputs in graph-output order.
    pub fn outputs(&self, g: &QuantGraph) -> Vec<Vec<i64>> {
        g.outputs.iter().map(|p| self.values[p.value].clone()).collect()
    }
}

/// Quantizes float inputs (flat, graph-input order), checking lengths and range.
pub fn quantize_inputs(g: &QuantGraph, inputs: &[Vec<f64>]) -> Result<Vec<Vec<i64>>> {
    if inputs.len() < g.inputs.len() {
        return Err(ModelError::InputCount { expected: g.inputs.len(), got: inputs.len() });
    }
    let bound = g.max_abs() as f64;
    g.inputs
        .iter()
        .zip(inputs)
        .map(|(port, data)| {
            let n: usize = port.shape.iter().product();
            if data.len() != n {
                return Err(ModelError::InputLength { name: port.name.clone(), expected: n, got: data.len(), shape: port.shape.clone() });
            }
            data.iter()
                .map(|&x| {
                    let v = g.quantize_value(x);
                    if !v.is_finite() || v.abs() >= bound {
                        Err(ModelError::Quantization(format!(
                            "input `{}` value {x} is outside the calibrated range (|x| < {:.4e})",
                            port.name,
                            bound / 2f64.powi(g.scale as i32)
                        )))
                    } else {
                        Ok(v as i64)
                    }
                })
                .collect()
        })
        .collect()
}

fn check_range(g: &QuantGraph, node: &str, v: i128) -> Result<i64> {
    if v.abs() >= g.max_abs() as i128 {
        return Err(ModelError::Quantization(format!(
            "node `{node}`: value {} is outside the calibrated range of {} bits; recalibrate with this input or raise --bits",
            g.dequantize(v as i64),
            g.bits
        )));
    }
    Ok(v as i64)
}

/// Runs the quantized graph on integer inputs.
///
/// Fails, naming the node, where a value that circuits range-check (a rescaled product,
/// a Relu input) leaves `|q| < 2^(bits-1)`: no witness could satisfy the circuit then.
pub fn run(g: &QuantGraph, inputs: &[Vec<i64>]) -> Result<Trace> {
    let mut values: Vec<Vec<i64>> = vec![Vec::new(); g.num_values];
    for (port, data) in g.inputs.iter().zip(inputs) {
        values[port.value] = data.clone();
    }
    for node in &g.nodes {
        let ins: Vec<&Vec<i64>> = node.inputs.iter().map(|&i| &values[i]).collect();
        let out: Vec<i64> = match &node.op {
            QOp::Linear { offsets, slot, idx, coeff, bias, shift } => (0..node.len)
                .map(|o| {
                    let mut acc = bias[o] as i128;
                    for t in offsets[o]..offsets[o + 1] {
                        acc += coeff[t] as i128 * ins[slot[t] as usize][idx[t] as usize] as i128;
                    }
                    if *shift > 0 {
                        check_range(g, &node.name, rescale(acc, *shift))
                    } else {
                        i64::try_from(acc).map_err(|_| ModelError::Quantization(format!("node `{}` overflows", node.name)))
                    }
                })
                .collect::<Result<_>>()?,
            QOp::Bilinear { offsets, left, right, shift } => (0..node.len)
                .map(|o| {
                    let mut acc = 0i128;
                    for t in offsets[o]..offsets[o + 1] {
                        acc += ins[0][left[t] as usize] as i128 * ins[1][right[t] as usize] as i128;
                    }
                    check_range(g, &node.name, rescale(acc, *shift))
                })
                .collect::<Result<_>>()?,
            QOp::Relu => ins[0]
                .iter()
                .map(|&x| check_range(g, &node.name, x as i128).map(|x| x.max(0)))
                .collect::<Result<_>>()?,
            QOp::Select { map } => map.iter().map(|&(s, i)| ins[s as usize][i as usize]).collect(),
            QOp::Const { values } => values.clone(),
        };
        values[node.output] = out;
    }
    Ok(Trace { values })
}

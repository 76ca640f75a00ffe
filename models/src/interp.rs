//! The integer reference interpreter of a [`QuantGraph`]: plain Rust, no halo2.
//! Circuit witnesses must equal its values exactly.

use crate::error::{ModelError, Result};
use crate::quant::{isqrt, rescale, sqrt_bits, QOp, QuantGraph};

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
            "node `{node}`: value {} is outside the calibrated range of {} bits; recalibrate with this input or raise the activation bits (`bits`)",
            g.dequantize(v as i64),
            g.bits
        )));
    }
    Ok(v as i64)
}

/// `d >= 0`, for a difference that circuits sign-decompose in `bits + 1` bits: fails
/// unless `-2^bits <= d < 2^bits`.
fn sign_bit(g: &QuantGraph, node: &str, d: i128) -> Result<bool> {
    let lim = 1i128 << g.bits;
    if d < -lim || d >= lim {
        return Err(ModelError::Quantization(format!(
            "node `{node}`: a compared difference ({}) exceeds {} bits; raise the activation bits (`bits`)",
            g.dequantize(d as i64),
            g.bits + 1
        )));
    }
    Ok(d >= 0)
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
            QOp::Relu => ins[0].iter().map(|&x| check_range(g, &node.name, x as i128).map(|x| x.max(0))).collect::<Result<_>>()?,
            QOp::Select { map } => map.iter().map(|&(s, i)| ins[s as usize][i as usize]).collect(),
            QOp::Const { values } => values.clone(),
            QOp::Reduce { max, arg, strict, offsets, idx, one } => (0..node.len)
                .map(|o| {
                    let group = &idx[offsets[o]..offsets[o + 1]];
                    let (mut best, mut at) = (ins[0][group[0] as usize], 0usize);
                    for (k, &i) in group.iter().enumerate().skip(1) {
                        let e = ins[0][i as usize];
                        let d = if *max { e as i128 - best as i128 } else { best as i128 - e as i128 } - *strict as i128;
                        if sign_bit(g, &node.name, d)? {
                            (best, at) = (e, k);
                        }
                    }
                    Ok(if *arg { at as i64 * one } else { best })
                })
                .collect::<Result<_>>()?,
            QOp::Table(t) => ins[0]
                .iter()
                .map(|&x| {
                    let (u, r) = t.split(x as i128);
                    let u = if t.shift > 0 { check_range(g, &node.name, u)? as i128 } else { u };
                    if t.clamp_lo {
                        sign_bit(g, &node.name, u - t.lo as i128)?;
                    }
                    if t.clamp_hi {
                        let c1 = if t.clamp_lo { u.max(t.lo as i128) } else { u };
                        sign_bit(g, &node.name, t.hi() as i128 - c1)?;
                    }
                    t.index(u).map(|i| t.output(i, r)).ok_or_else(|| {
                        let res = 2f64.powi(g.scale as i32 - t.shift as i32);
                        ModelError::Quantization(format!(
                            "node `{}`: input {:.4} is outside the table's calibrated range [{:.4}, {:.4}]; recalibrate with this input",
                            node.name,
                            u as f64 / res,
                            t.lo as f64 / res,
                            t.hi() as f64 / res
                        ))
                    })
                })
                .collect::<Result<_>>()?,
            QOp::Div { scale, positive: must_be_positive } => (0..node.len)
                .map(|o| {
                    let (a, b) = (ins[0][o] as i128, ins[1][o] as i128);
                    let positive = sign_bit(g, &node.name, b)?;
                    if b == 0 || (*must_be_positive && b < 0) {
                        return Err(ModelError::Quantization(format!(
                            "node `{}`: division by {}",
                            node.name,
                            if b == 0 { "zero" } else { "a negative divisor where it must be positive" }
                        )));
                    }
                    let q = (2 * a * (1i128 << scale) + b.abs()).div_euclid(2 * b.abs());
                    let q = check_range(g, &node.name, q)?;
                    Ok(if positive { q } else { -q })
                })
                .collect::<Result<_>>()?,
            QOp::Cmp { eq, one } => (0..node.len)
                .map(|o| {
                    let (a, b) = (ins[0][o] as i128, ins[1][o] as i128);
                    Ok(if *eq { (a == b) as i64 * one } else { sign_bit(g, &node.name, b - a - 1)? as i64 * one })
                })
                .collect::<Result<_>>()?,
            QOp::Sqrt { scale, offset } => ins[0]
                .iter()
                .map(|&x| {
                    let a = (x as i128 + *offset as i128) << scale;
                    match isqrt(a) {
                        Some(y) if y >> sqrt_bits(g.bits, *scale) == 0 => Ok(y as i64),
                        Some(_) => Err(ModelError::Quantization(format!(
                            "node `{}`: the square root of {} exceeds the checked range; raise the activation bits (`bits`)",
                            node.name,
                            g.dequantize(x)
                        ))),
                        None => Err(ModelError::Quantization(format!(
                            "node `{}`: square root of a negative value ({})",
                            node.name,
                            g.dequantize((x as i128 + *offset as i128) as i64)
                        ))),
                    }
                })
                .collect::<Result<_>>()?,
        };
        values[node.output] = out;
    }
    Ok(Trace { values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{QNode, QPort};
    use crate::tensor::DType;

    /// One division `a / b` at `scale` over 16-bit activations.
    fn div_graph(positive: bool, scale: u32) -> QuantGraph {
        let port = |name: &str, value| QPort { name: name.into(), value, shape: vec![1], dtype: DType::F32 };
        QuantGraph {
            scale: 0,
            param_scale: 0,
            bits: 16,
            num_values: 3,
            inputs: vec![port("a", 0), port("b", 1)],
            outputs: vec![port("q", 2)],
            nodes: vec![QNode { name: "d".into(), op: QOp::Div { scale, positive }, inputs: vec![0, 1], output: 2, len: 1 }],
            params: vec![],
            private_params: false,
        }
    }

    /// The divisors circuits can sign-decompose are `-2^bits <= b < 2^bits`: `3 * 32767`
    /// at 16 bits is refused (so are the halo2 chip and the Groth16 gadget), `2^16 - 1`
    /// divides.
    #[test]
    fn a_divisor_of_2_to_the_bits_or_more_is_refused() {
        for positive in [false, true] {
            for b in [3 * 32767i64, 1 << 16] {
                assert!(run(&div_graph(positive, 4), &[vec![30000], vec![b]]).is_err(), "b = {b}, positive = {positive}");
            }
            let t = run(&div_graph(positive, 4), &[vec![30000], vec![(1 << 16) - 1]]).unwrap();
            assert_eq!(t.values[2], vec![7]);
        }
    }

    /// Ties: `sign(b) * round_half_up(a / |b|)`, toward -inf for a negative divisor.
    #[test]
    fn division_ties_follow_the_sign_of_the_divisor() {
        for (a, b, s, want) in
            [(1, -2, 0, -1), (-1, -2, 0, 0), (3, -2, 0, -2), (-3, -2, 0, 1), (1, 2, 0, 1), (-1, 2, 0, 0), (1, -32, 4, -1), (-1, -32, 4, 0)]
        {
            assert_eq!(run(&div_graph(false, s), &[vec![a], vec![b]]).unwrap().values[2], vec![want], "{a} / {b} at scale {s}");
        }
    }
}

//! Lowering a [`QuantGraph`] to R1CS over BN254.
//!
//! Public values, in order: the quantized graph inputs, then the graph outputs (the
//! same order as the halo2 backend's). Every public value is range-checked like an
//! activation and the values are packed into the Groth16 public inputs as
//! [`PublicLayout`] describes, one equality constraint per packed word.

use zkinfer_models::quant::{QOp, QuantGraph};

use super::builder::{Builder, Wire};
use super::error::Groth16Error;
use super::field::{fr, pow2};
use super::public::PublicLayout;
use super::table;
use super::{compare, div, ops, sqrt};

/// The wires of every value and the public values (inputs then outputs).
pub struct Lowered {
    pub values: Vec<Vec<Wire>>,
    pub public: Vec<i128>,
}

impl Lowered {
    /// The integer value of every graph value, to compare with the interpreter's trace.
    pub fn value_ints(&self) -> Vec<Vec<i128>> {
        self.values.iter().map(|ws| ws.iter().map(|w| w.value).collect()).collect()
    }
}

/// Fails, naming the first node, if the graph has an op this backend cannot lower.
/// Every [`QOp`] is lowered now; the check stays for ops added later.
pub fn check_supported(graph: &QuantGraph) -> Result<(), Groth16Error> {
    for node in &graph.nodes {
        #[allow(unreachable_patterns)]
        match &node.op {
            QOp::Linear { .. }
            | QOp::Bilinear { .. }
            | QOp::Relu
            | QOp::Select { .. }
            | QOp::Const { .. }
            | QOp::Table(_)
            | QOp::Div { .. }
            | QOp::Cmp { .. }
            | QOp::Sqrt { .. }
            | QOp::Reduce { .. } => {}
            other => return Err(Groth16Error::UnsupportedOp { node: node.name.clone(), op: other.name().to_string() }),
        }
    }
    Ok(())
}

/// Inputs of the right shapes, all zero: enough for setup, where values do not matter.
pub fn placeholder_inputs(graph: &QuantGraph) -> Vec<Vec<i64>> {
    graph.inputs.iter().map(|p| vec![0; p.shape.iter().product()]).collect()
}

/// Lowers the whole model into `b` and allocates the public inputs.
///
/// The witness is computed from `inputs` by the gadgets; it does not depend on the
/// reference interpreter, against which tests compare it.
pub fn lower(b: &mut Builder, graph: &QuantGraph, inputs: &[Vec<i64>]) -> Result<Lowered, Groth16Error> {
    check_supported(graph)?;
    if inputs.len() != graph.inputs.len() {
        return Err(Groth16Error::InputCount { expected: graph.inputs.len(), got: inputs.len() });
    }
    let mut values: Vec<Vec<Wire>> = vec![Vec::new(); graph.num_values];
    for (port, data) in graph.inputs.iter().zip(inputs) {
        let n: usize = port.shape.iter().product();
        if data.len() != n {
            return Err(Groth16Error::InputLength { name: port.name.clone(), expected: n, got: data.len() });
        }
        let mut wires = Vec::with_capacity(n);
        for &x in data {
            let v = b.witness(x as i128)?;
            wires.push(b.checked(&port.name, Wire { lc: v.into(), value: x as i128, sign: None })?);
        }
        values[port.value] = wires;
    }
    for node in &graph.nodes {
        let ins: Vec<&Vec<Wire>> = node.inputs.iter().map(|&i| &values[i]).collect();
        let name = node.name.as_str();
        #[allow(unreachable_patterns)]
        let out: Vec<Wire> = match &node.op {
            QOp::Linear { offsets, slot, idx, coeff, bias, shift } => (0..node.len)
                .map(|o| {
                    let terms: Vec<(&Wire, i64)> =
                        (offsets[o]..offsets[o + 1]).map(|t| (&ins[slot[t] as usize][idx[t] as usize], coeff[t])).collect();
                    ops::linear(b, name, &terms, bias[o], *shift)
                })
                .collect::<Result<_, _>>()?,
            QOp::Bilinear { offsets, left, right, shift } => (0..node.len)
                .map(|o| {
                    let pairs: Vec<(&Wire, &Wire)> =
                        (offsets[o]..offsets[o + 1]).map(|t| (&ins[0][left[t] as usize], &ins[1][right[t] as usize])).collect();
                    ops::bilinear(b, name, &pairs, *shift)
                })
                .collect::<Result<_, _>>()?,
            QOp::Relu => ins[0].iter().map(|x| ops::relu(b, name, x)).collect::<Result<_, _>>()?,
            QOp::Select { map } => map.iter().map(|&(s, i)| ins[s as usize][i as usize].clone()).collect(),
            QOp::Const { values } => values.iter().map(|&v| Wire::constant(v)).collect(),
            QOp::Table(t) => {
                let spec = table::TableSpec::new(t);
                ins[0].iter().map(|x| table::lookup(b, name, &spec, x)).collect::<Result<_, _>>()?
            }
            QOp::Div { scale, positive: false } => {
                (0..node.len).map(|o| div::div(b, name, &ins[0][o], &ins[1][o], *scale)).collect::<Result<_, _>>()?
            }
            QOp::Div { scale, positive: true } => {
                (0..node.len).map(|o| div::div_positive(b, name, &ins[0][o], &ins[1][o], *scale)).collect::<Result<_, _>>()?
            }
            QOp::Sqrt { scale, offset } => ins[0].iter().map(|x| sqrt::sqrt(b, name, x, *scale, *offset)).collect::<Result<_, _>>()?,
            QOp::Cmp { eq, one } => (0..node.len)
                .map(|o| {
                    if *eq {
                        compare::equal(b, &ins[0][o], &ins[1][o], *one)
                    } else {
                        compare::less(b, name, &ins[0][o], &ins[1][o], *one)
                    }
                })
                .collect::<Result<_, _>>()?,
            QOp::Reduce { max, arg, strict, offsets, idx, one } => (0..node.len)
                .map(|o| {
                    let xs: Vec<&Wire> = idx[offsets[o]..offsets[o + 1]].iter().map(|&i| &ins[0][i as usize]).collect();
                    compare::reduce(b, name, &xs, *max, *arg, *strict, *one)
                })
                .collect::<Result<_, _>>()?,
            other => return Err(Groth16Error::UnsupportedOp { node: node.name.clone(), op: other.name().to_string() }),
        };
        values[node.output] = out;
    }
    let mut wires: Vec<Wire> = graph.inputs.iter().flat_map(|p| values[p.value].iter().cloned()).collect();
    for port in &graph.outputs {
        for w in &values[port.value] {
            wires.push(b.checked(&port.name, w.clone())?);
        }
    }
    let layout = PublicLayout { bits: graph.bits, num_values: wires.len() };
    for chunk in wires.chunks(layout.per_word()) {
        pack_word(b, &layout, chunk)?;
    }
    let public = wires.iter().map(|w| w.value).collect();
    Ok(Lowered { values, public })
}

/// Allocates the public word packing the checked wires `chunk` and enforces it.
fn pack_word(b: &mut Builder, layout: &PublicLayout, chunk: &[Wire]) -> Result<(), Groth16Error> {
    let mut lc = ark_relations::r1cs::LinearCombination(Vec::new());
    let mut word = ark_bn254::Fr::from(0u8);
    for (i, w) in chunk.iter().enumerate() {
        let k = pow2(layout.bits * i as u32);
        lc.0.extend(w.lc.iter().map(|(c, v)| (*c * k, *v)));
        lc.0.push((fr(layout.offset()) * k, ark_relations::r1cs::Variable::One));
        word += fr(w.value + layout.offset()) * k;
    }
    let inst = b.cs.new_input_variable(|| Ok(word))?;
    lc.0.push((-ark_bn254::Fr::from(1u8), inst));
    lc.compactify();
    b.enforce_zero(lc)
}

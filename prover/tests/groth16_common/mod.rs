//! Shared loading of corpus models for the Groth16 tests.
#![allow(dead_code)]

use ark_bn254::Fr;
use zkinfer_models::input_json::InputData;
use zkinfer_models::interp;
use zkinfer_models::prepare::{hints_for, prepare};
use zkinfer_models::quant::QuantGraph;
use zkinfer_models::QuantOptions;
use zkinfer_prover::groth16::{shape, synthesize, R1csShape};

pub const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// Tier-1 corpus models with an input.
pub const TIER1: &[&str] = &[
    "1l_concat",
    "1l_flatten",
    "1l_identity",
    "1l_linear",
    "1l_mlp",
    "1l_relu",
    "1l_reshape",
    "1l_slice",
    "2l_relu_fc",
    "2l_relu_small",
    "arange",
    "blackman_window",
    "boolean_identity",
    "eye",
    "quantize_dequantize",
];

/// A corpus model quantized with default options, with its first sample quantized.
pub struct Model {
    pub name: String,
    pub graph: QuantGraph,
    pub inputs: Vec<Vec<i64>>,
}

/// Loads and quantizes `name`; `Err` with the reason when the model does not prepare.
pub fn try_load(name: &str) -> Result<Model, String> {
    let dir = format!("{CORPUS}/{name}");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).map_err(|e| e.to_string())?;
    let input = InputData::from_path(format!("{dir}/input.json")).map_err(|e| e.to_string())?;
    let samples = input.samples();
    let p =
        prepare(&onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), &QuantOptions::default()).map_err(|e| e.to_string())?;
    let inputs = interp::quantize_inputs(&p.quant, &samples[0]).map_err(|e| e.to_string())?;
    Ok(Model { name: name.to_string(), graph: p.quant, inputs })
}

/// Loads a model that must prepare.
pub fn load(name: &str) -> Model {
    try_load(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Public values the interpreter predicts: quantized inputs, then outputs.
pub fn expected_public(m: &Model) -> Vec<i128> {
    let trace = interp::run(&m.graph, &m.inputs).unwrap();
    m.inputs.iter().flatten().chain(trace.outputs(&m.graph).iter().flatten()).map(|v| *v as i128).collect()
}

/// Synthesizes `m` and checks the witness against the interpreter on every value, the
/// public values, satisfaction, and the setup-mode shape; returns the shape.
pub fn check_witness(m: &Model) -> R1csShape {
    let name = &m.name;
    let trace = interp::run(&m.graph, &m.inputs).unwrap();
    let syn = synthesize(&m.graph, &m.inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
    let got = syn.lowered.value_ints();
    for (id, want) in trace.values.iter().enumerate() {
        let want: Vec<i128> = want.iter().map(|v| *v as i128).collect();
        assert_eq!(got[id], want, "{name}: value {id} differs from the interpreter");
    }
    assert_eq!(syn.lowered.public, expected_public(m), "{name}: public values");
    assert!(syn.cs.is_satisfied().unwrap(), "{name}: {:?}", syn.cs.which_is_unsatisfied());
    // Setup-mode synthesis (no witness) has the same shape as the proving one.
    assert_eq!(shape(&m.graph).unwrap(), syn.shape(), "{name}");
    syn.shape()
}

/// Adds one to each witness variable of `m`'s R1CS in turn: each change must leave it
/// unsatisfied (+1 moves a bit out of {0,1} and any other value off its equation).
pub fn check_every_witness_constrained(m: &Model) {
    let name = &m.name;
    let syn = synthesize(&m.graph, &m.inputs).unwrap();
    let n = syn.cs.num_witness_variables();
    for i in 0..n {
        syn.cs.borrow_mut().unwrap().witness_assignment[i] += Fr::from(1u8);
        assert!(!syn.cs.is_satisfied().unwrap(), "{name}: witness {i} of {n} is unconstrained");
        syn.cs.borrow_mut().unwrap().witness_assignment[i] -= Fr::from(1u8);
    }
    assert!(syn.cs.is_satisfied().unwrap());
}

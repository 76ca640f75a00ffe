//! Tier-2 corpus models in MockProver: the circuit's public values equal the reference
//! interpreter exactly and every constraint (gates, range and table lookups, copies)
//! holds; a changed public output is rejected.
//!
//! A subset that keeps the suite quick: every new chip (tables, sign-bit reductions,
//! comparisons, division) appears in at least one model.

use halo2_base::halo2_proofs::dev::{MockProver, VerifyFailure};
use zkinfer_circuits::{plan, CircuitBuilderStage, Fr, ModelCircuit, PlanOptions};
use zkinfer_models::input_json::InputData;
use zkinfer_models::interp;
use zkinfer_models::prepare::{hints_for, prepare};
use zkinfer_models::QuantOptions;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

fn check(name: &str) -> String {
    let dir = format!("{CORPUS}/{name}");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    let samples = input.samples();
    let p = prepare(&onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), &QuantOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let qin = interp::quantize_inputs(&p.quant, &samples[0]).unwrap();
    let trace = interp::run(&p.quant, &qin).unwrap_or_else(|e| panic!("{name}: {e}"));
    let plan = plan::<Fr>(&p.quant, &qin, &PlanOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &p.quant, &qin, &plan.shape).unwrap();
    let expected: Vec<i128> =
        qin.iter().flatten().chain(trace.outputs(&p.quant).iter().flatten()).map(|v| *v as i128).collect();
    assert_eq!(circuit.instance_ints(), expected, "{name}: witness differs from the interpreter");
    let k = plan.stats.k;
    let instances = circuit.instances.clone();
    MockProver::run(k, &circuit, vec![instances.clone()]).unwrap().assert_satisfied();
    let mut bad = instances;
    let last = bad.len() - 1;
    bad[last] += Fr::from(1);
    let r = MockProver::run(k, &circuit, vec![bad]).unwrap().verify();
    assert!(
        matches!(&r, Err(fs) if fs.iter().any(|f| matches!(f, VerifyFailure::Permutation { .. }))),
        "{name}: changed output accepted"
    );
    format!("k={k} rows={} tables={} lookups={}", plan.stats.rows, plan.stats.table_rows, plan.stats.table_lookups)
}

macro_rules! model_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test] fn $test() { println!("{}: {}", $name, check($name)); })*
    };
}

model_tests! {
    sigmoid => "1l_sigmoid",
    softmax => "1l_softmax",
    conv => "1l_conv",
    max_pool => "1l_max_pool",
    layernorm => "layernorm",
    decision_tree => "decision_tree",
    softsign => "softsign",
    rounding_ops => "rounding_ops",
    boolean => "boolean",
    gelu => "1l_gelu_noappx",
}

//! The whole-model MockProver check shared by the corpus tests.

use halo2_base::halo2_proofs::dev::{MockProver, VerifyFailure};
use zkinfer_circuits::{plan, CircuitBuilderStage, Fr, LayoutStats, ModelCircuit, PlanOptions};
use zkinfer_models::input_json::InputData;
use zkinfer_models::interp;
use zkinfer_models::prepare::{hints_for, prepare};
use zkinfer_models::{QuantGraph, QuantOptions};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// Corpus model `name` quantized with default options, and its quantized input.json.
#[allow(dead_code)]
pub fn quantized(name: &str) -> (QuantGraph, Vec<Vec<i64>>) {
    let dir = format!("{CORPUS}/{name}");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    let samples = input.samples();
    let p = prepare(&onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), &QuantOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let qin = interp::quantize_inputs(&p.quant, &samples[0]).unwrap();
    (p.quant, qin)
}

/// Builds corpus model `name` on its input.json and checks that the public values equal
/// the reference interpreter exactly (and unpack from the instances), that MockProver
/// accepts the honest witness, and that a changed public output fails the instance copy.
/// Returns the planned layout.
#[allow(dead_code)]
pub fn mock_check(name: &str) -> LayoutStats {
    mock_check_with(name, &PlanOptions::default())
}

/// [`mock_check`] with the given planner options.
pub fn mock_check_with(name: &str, opts: &PlanOptions) -> LayoutStats {
    let (quant, qin) = quantized(name);
    let trace = interp::run(&quant, &qin).unwrap_or_else(|e| panic!("{name}: {e}"));
    let plan = plan::<Fr>(&quant, &qin, opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &quant, &qin, &plan.shape).unwrap();
    // Public instances are the quantized inputs then the outputs of the interpreter.
    let expected: Vec<i128> =
        qin.iter().flatten().chain(trace.outputs(&quant).iter().flatten()).map(|v| *v as i128).collect();
    assert_eq!(circuit.instance_ints(), expected, "{name}: witness differs from the interpreter");
    let k = plan.stats.k;
    let instances = circuit.instances.clone();
    assert_eq!(
        zkinfer_circuits::public::unpack(&instances, expected.len(), quant.bits),
        Some(expected),
        "{name}: instances do not unpack to the public values"
    );
    MockProver::run(k, &circuit, vec![instances.clone()]).unwrap().assert_satisfied();
    let mut bad = instances;
    let last = bad.len() - 1;
    bad[last] += Fr::from(1);
    let r = MockProver::run(k, &circuit, vec![bad]).unwrap().verify();
    assert!(
        matches!(&r, Err(fs) if fs.iter().any(|f| matches!(f, VerifyFailure::Permutation { .. }))),
        "{name}: changed output accepted: {r:?}"
    );
    plan.stats
}

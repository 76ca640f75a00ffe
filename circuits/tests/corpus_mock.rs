//! Whole models: the circuit witness equals the reference interpreter exactly and
//! MockProver accepts it; a changed public output is rejected.

use halo2_base::halo2_proofs::dev::{MockProver, VerifyFailure};
use zkinfer_circuits::{plan, CircuitBuilderStage, Fr, ModelCircuit, PlanOptions};
use zkinfer_models::input_json::InputData;
use zkinfer_models::interp;
use zkinfer_models::prepare::{hints_for, prepare};
use zkinfer_models::QuantOptions;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

const TIER1: &[&str] = &[
    "1l_concat", "1l_flatten", "1l_identity", "1l_linear", "1l_mlp", "1l_relu", "1l_reshape", "1l_slice",
    "2l_relu_fc", "2l_relu_small", "arange", "blackman_window", "boolean_identity", "eye", "quantize_dequantize",
];

#[test]
fn tier1_witness_equals_interpreter_and_mockprover_accepts() {
    for name in TIER1 {
        let dir = format!("{CORPUS}/{name}");
        let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
        let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
        let samples = input.samples();
        let p = prepare(&onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), &QuantOptions::default())
            .unwrap();
        let qin = interp::quantize_inputs(&p.quant, &samples[0]).unwrap();
        let trace = interp::run(&p.quant, &qin).unwrap();
        let plan = plan::<Fr>(&p.quant, &qin, &PlanOptions::default()).unwrap();
        let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &p.quant, &qin, &plan.shape).unwrap();
        // Public instances are the quantized inputs then the outputs of the interpreter.
        let expected: Vec<i128> = qin
            .iter()
            .flatten()
            .chain(trace.outputs(&p.quant).iter().flatten())
            .map(|v| *v as i128)
            .collect();
        assert_eq!(circuit.instance_ints(), expected, "{name}: witness differs from the interpreter");
        let k = plan.stats.k;
        assert!(k <= 12, "{name}: k = {k} for a tiny model");
        let instances = circuit.instances.clone();
        MockProver::run(k, &circuit, vec![instances.clone()]).unwrap().assert_satisfied();
        if !instances.is_empty() {
            assert_eq!(zkinfer_circuits::public::unpack(&instances, expected.len(), p.quant.bits), Some(expected.clone()));
            let mut bad = instances;
            let last = bad.len() - 1;
            bad[last] += Fr::from(1);
            let r = MockProver::run(k, &circuit, vec![bad]).unwrap().verify();
            assert!(
                matches!(&r, Err(fs) if fs.iter().any(|f| matches!(f, VerifyFailure::Permutation { .. }))),
                "{name}: changed output accepted: {r:?}"
            );
        }
        println!("{name}: k={k} rows={} advice={} lookup={}", plan.stats.rows, plan.stats.num_advice, plan.stats.num_lookup_advice);
    }
}

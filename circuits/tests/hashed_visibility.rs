//! Hashed visibility: the in-circuit Poseidon hash equals the native one, the instances
//! equal `native_instances`, and MockProver rejects an instance the private values do
//! not hash to.

use halo2_base::halo2_proofs::dev::{MockProver, VerifyFailure};
use zkinfer_circuits::hash::{hash_cells, hash_packed, hash_packed_cells, hash_values};
use zkinfer_circuits::{
    native_instances, plan, CircuitBuilderStage, Fr, InstanceLayout, ModelCircuit, PlanOptions, Visibility, VisibilityConfig,
};
use zkinfer_models::input_json::InputData;
use zkinfer_models::interp;
use zkinfer_models::prepare::{hints_for, prepare};
use zkinfer_models::QuantOptions;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

#[test]
fn in_circuit_hash_equals_native_hash() {
    use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
    use halo2_base::gates::RangeInstructions;
    // Lengths around RATE = 2 (exact multiples take an extra padding permutation),
    // negative values (p - |x|) and the empty list.
    let lists: Vec<Vec<i128>> = vec![vec![], vec![7], vec![1, -2], vec![-3, 4, 5], vec![i64::MAX as i128, i64::MIN as i128, 0, -1, 9]];
    let mut builder = BaseCircuitBuilder::<Fr>::new(false).use_k(10).use_lookup_bits(8);
    let range = builder.range_chip();
    let ctx = builder.main(0);
    for v in &lists {
        let cells = ctx.assign_witnesses(v.iter().map(|x| zkinfer_circuits::field::fe::<Fr>(*x)));
        let h = hash_cells(ctx, range.gate(), &cells);
        assert_eq!(*h.value(), hash_values(v), "list {v:?}");
    }
    assert_ne!(hash_values(&[1, 2]), hash_values(&[2, 1]));
    assert_ne!(hash_values(&[0]), hash_values(&[0, 0]));
}

#[test]
fn packed_hash_in_circuit_equals_native_and_is_injective() {
    use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
    use zkinfer_circuits::chips::Chips;
    let bits = 16;
    let lim = (1i128 << (bits - 1)) - 1;
    // Around the packing factor (252 / 16 = 15 values per element) and the range ends.
    let lists: Vec<Vec<i128>> =
        vec![vec![], vec![-lim], (0..15).map(|i| i * 7 - 50).collect(), (0..31).map(|i| if i % 2 == 0 { lim } else { -lim }).collect()];
    let mut builder = BaseCircuitBuilder::<Fr>::new(false).use_k(10).use_lookup_bits(8);
    let range = builder.range_chip();
    let chips = Chips::new(&range, bits);
    let ctx = builder.main(0);
    for v in &lists {
        let cells = ctx.assign_witnesses(v.iter().map(|x| zkinfer_circuits::field::fe::<Fr>(*x)));
        let h = hash_packed_cells(ctx, &chips, &cells, &vec![false; cells.len()]);
        assert_eq!(*h.value(), hash_packed(v, bits), "list {v:?}");
    }
    // Packing keeps order and length apart: no two of these lists share a hash.
    assert_ne!(hash_packed(&[1, 2], bits), hash_packed(&[2, 1], bits));
    assert_ne!(hash_packed(&[0], bits), hash_packed(&[0, 0], bits));
    assert_ne!(hash_packed(&[-1], bits), hash_packed(&[1], bits));
    // Each packed element is a packing of range-checked digits, not the raw values.
    assert_ne!(hash_packed(&[3, 4], bits), hash_values(&[3, 4]));
}

#[test]
fn hashed_instances_match_native_and_mockprover_rejects_a_wrong_hash() {
    let dir = format!("{CORPUS}/1l_mlp");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    let samples = input.samples();
    let p = prepare(&onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), &QuantOptions::default()).unwrap();
    let qin = interp::quantize_inputs(&p.quant, &samples[0]).unwrap();
    let qout = interp::run(&p.quant, &qin).unwrap().outputs(&p.quant);
    let cases = [
        (Visibility::Hashed, Visibility::Public),
        (Visibility::Public, Visibility::Hashed),
        (Visibility::Hashed, Visibility::Hashed),
        (Visibility::Hashed, Visibility::Private),
    ];
    for (inputs, outputs) in cases {
        let vis = VisibilityConfig { inputs, outputs, ..Default::default() };
        let opts = PlanOptions { visibility: vis, ..Default::default() };
        let plan = plan::<Fr>(&p.quant, &qin, &opts).unwrap();
        let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &p.quant, &qin, &plan.shape).unwrap();
        let layout = InstanceLayout::new(&p.quant, &vis);
        let instances = circuit.instances.clone();
        assert_eq!(instances.len(), layout.len(), "{vis:?}");
        assert_eq!(instances, native_instances(&p.quant, &vis, &qin, &qout), "{vis:?}");
        let flat = |v: &[Vec<i64>]| v.iter().flatten().map(|x| *x as i128).collect::<Vec<_>>();
        if let Some(i) = layout.input_hash_index() {
            assert_eq!(instances[i], hash_packed(&flat(&qin), p.quant.bits), "{vis:?}");
        }
        if let Some(i) = layout.output_hash_index() {
            assert_eq!(instances[i], hash_packed(&flat(&qout), p.quant.bits), "{vis:?}");
        }
        let k = plan.stats.k;
        MockProver::run(k, &circuit, vec![instances.clone()]).unwrap().assert_satisfied();
        // A hash slot the private values do not hash to: rejected.
        for i in layout.input_hash_index().into_iter().chain(layout.output_hash_index()) {
            let mut bad = instances.clone();
            bad[i] += Fr::from(1);
            let r = MockProver::run(k, &circuit, vec![bad]).unwrap().verify();
            assert!(
                matches!(&r, Err(fs) if fs.iter().any(|f| matches!(f, VerifyFailure::Permutation { .. }))),
                "{vis:?}: wrong hash at instance {i} accepted: {r:?}"
            );
        }
    }
}

/// 1l_mlp quantized for private parameters at pinned scales, and the same graph with
/// every parameter nudged (a second weight set of the same architecture).
fn private_param_graphs() -> (zkinfer_models::QuantGraph, zkinfer_models::QuantGraph, Vec<Vec<i64>>) {
    let dir = format!("{CORPUS}/1l_mlp");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    let samples = input.samples();
    let hints = hints_for(&samples, input.input_shapes.clone());
    let opts = QuantOptions { scale: Some(7), param_scale: Some(7), private_params: true, ..Default::default() };
    let a = prepare(&onnx, &samples, &hints, &opts).unwrap().quant;
    assert!(a.private_params && a.params_well_formed());
    let values = a.param_values();
    assert!(!values.is_empty());
    let nudged: Vec<i64> = values.iter().enumerate().map(|(i, v)| v + (i % 3) as i64 - 1).collect();
    let b = a.with_param_values(&nudged).unwrap();
    let qin = interp::quantize_inputs(&a, &samples[0]).unwrap();
    (a, b, qin)
}

#[test]
fn hashed_params_are_witnesses_bound_by_their_hash() {
    use zkinfer_circuits::instances::param_hash;
    use zkinfer_circuits::ParamVisibility;
    let (a, b, qin) = private_param_graphs();
    assert_ne!(param_hash(&a), param_hash(&b));
    for params in [ParamVisibility::Hashed, ParamVisibility::Private] {
        let vis = VisibilityConfig { inputs: Visibility::Public, outputs: Visibility::Hashed, params };
        let opts = PlanOptions { visibility: vis, mac_width: Some(0), ..Default::default() };
        let plan_a = plan::<Fr>(&a, &qin, &opts).unwrap();
        let plan_b = plan::<Fr>(&b, &qin, &opts).unwrap();
        // The layout does not depend on the weights.
        assert_eq!(format!("{:?}", plan_a.shape), format!("{:?}", plan_b.shape), "{params:?}");
        assert_eq!(plan_a.stats, plan_b.stats, "{params:?}");
        let layout = InstanceLayout::new(&a, &vis);
        assert_eq!(layout.param_hash_index(), (params == ParamVisibility::Hashed).then_some(0));
        let k = plan_a.stats.k;
        for g in [&a, &b] {
            let qout = interp::run(g, &qin).unwrap().outputs(g);
            // Built with the other weight set's shape: one circuit serves both.
            let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, g, &qin, &plan_a.shape).unwrap();
            assert_eq!(circuit.instances, native_instances(g, &vis, &qin, &qout), "{params:?}");
            MockProver::run(k, &circuit, vec![circuit.instances.clone()]).unwrap().assert_satisfied();
        }
        if let Some(i) = layout.param_hash_index() {
            assert_eq!(native_instances(&a, &vis, &qin, &[])[i], param_hash(&a));
            // b's weights as witness, a's weight hash as instance: rejected.
            let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &b, &qin, &plan_a.shape).unwrap();
            let mut bad = circuit.instances.clone();
            bad[i] = param_hash(&a);
            let r = MockProver::run(k, &circuit, vec![bad]).unwrap().verify();
            assert!(
                matches!(&r, Err(fs) if fs.iter().any(|f| matches!(f, VerifyFailure::Permutation { .. }))),
                "weights that do not hash to the instance accepted: {r:?}"
            );
        }
    }
}

#[test]
fn private_params_need_a_graph_quantized_for_them_and_no_mac_gate() {
    use zkinfer_circuits::{CircuitError, ParamVisibility};
    let (a, _, qin) = private_param_graphs();
    let vis = VisibilityConfig { params: ParamVisibility::Hashed, ..Default::default() };
    let mac = PlanOptions { visibility: vis, mac_width: Some(4), ..Default::default() };
    assert!(matches!(plan::<Fr>(&a, &qin, &mac), Err(CircuitError::Params(_))));
    let mut fixed_graph = a.clone();
    fixed_graph.private_params = false;
    let opts = PlanOptions { visibility: vis, mac_width: Some(0), ..Default::default() };
    assert!(matches!(plan::<Fr>(&fixed_graph, &qin, &opts), Err(CircuitError::Params(_))));
}

//! The best-value chip (`compare::best`, `QOp::Reduce` without a position): honest
//! witnesses equal the interpreter's running max/min, and a forged best value fails
//! MockProver with the constraint that catches it: above the maximum the product of
//! the differences is not 0 (the gate), below some element that element's difference
//! is negative (its range check).

mod common;

use halo2_base::halo2_proofs::halo2curves::ff::Field;
use zkinfer_circuits::chips::{compare, io};
use zkinfer_circuits::field::fe;
use zkinfer_circuits::{plan, CircuitBuilderStage, Fr, ModelCircuit, PlanOptions};
use zkinfer_models::quant::{QNode, QOp, QPort, QuantGraph};
use zkinfer_models::{interp, DType};

use common::{base_test, Expect};

/// The harness's activation bits ([`common::base_test`]).
const BITS: u32 = 16;
const LO: i64 = -(1 << (BITS - 1));
const HI: i64 = (1 << (BITS - 1)) - 1;

/// One group reduced by the interpreter's running compare.
fn reference(xs: &[i64], max: bool, strict: bool) -> i64 {
    let port = |name: &str, value, n| QPort { name: name.into(), value, shape: vec![n], dtype: DType::F32 };
    let n = xs.len();
    let op = QOp::Reduce { max, arg: false, strict, offsets: vec![0, n], idx: (0..n as u32).collect(), one: 1 };
    let g = QuantGraph {
        scale: 0,
        param_scale: 0,
        bits: BITS,
        num_values: 2,
        inputs: vec![port("x", 0, n)],
        outputs: vec![port("m", 1, 1)],
        nodes: vec![QNode { name: "reduce".into(), op, inputs: vec![0], output: 1, len: 1 }],
        params: vec![],
        private_params: false,
    };
    interp::run(&g, &[xs.to_vec()]).unwrap().values[1][0]
}

const GROUPS: [&[i64]; 7] = [&[5], &[3, -7], &[-7, 3, 3], &[3, -7, 9, 9, -20, 4], &[-1, -1, -1, -1, -1], &[LO, HI, 0, LO, HI], &[HI, LO]];

#[test]
fn best_value_matches_the_interpreter() {
    for max in [true, false] {
        let (out, r) = base_test().run(|ctx, chips, _| {
            GROUPS
                .iter()
                .map(|xs| {
                    let c: Vec<_> = xs.iter().map(|&x| io::checked_input(ctx, chips, x)).collect();
                    compare::best(ctx, chips, &c, max)
                })
                .collect()
        });
        r.unwrap();
        for strict in [false, true] {
            let want: Vec<i128> = GROUPS.iter().map(|xs| reference(xs, max, strict) as i128).collect();
            assert_eq!(out, want, "max = {max}, strict = {strict}");
        }
    }
}

/// A group of elements `xs` (checked inputs) with the best value forged to `m`.
fn forged(xs: &'static [i64], max: bool, m: i64) -> Result<(), Vec<halo2_base::halo2_proofs::dev::VerifyFailure>> {
    base_test()
        .run(move |ctx, chips, _| {
            let c: Vec<_> = xs.iter().map(|&x| io::checked_input(ctx, chips, x)).collect();
            vec![compare::best_with(ctx, chips, &c, max, fe(m as i128))]
        })
        .1
}

#[test]
fn a_best_value_past_every_element_fails_the_product() {
    for xs in [&[3i64, -7, 9, 4][..], &[3, -7, 9, 9, -20], &[2, 1]] {
        // Above the max (below the min): every difference is positive and in range.
        let r = forged(xs, true, 10);
        assert!(Expect::Gate.seen_in(&r), "{xs:?}: max 10 accepted: {r:?}");
        assert!(!Expect::Lookup.seen_in(&r), "{xs:?}: {r:?}");
        let r = forged(xs, false, -21);
        assert!(Expect::Gate.seen_in(&r), "{xs:?}: min -21 accepted: {r:?}");
        assert!(!Expect::Lookup.seen_in(&r), "{xs:?}: {r:?}");
    }
    // The honest values pass.
    forged(&[3, -7, 9, 4], true, 9).unwrap();
    forged(&[3, -7, 9, 4], false, -7).unwrap();
}

#[test]
fn a_best_value_below_some_element_fails_its_range_check() {
    for xs in [&[3i64, -7, 9, 4][..], &[3, -7, 9, 9, -20], &[HI, LO]] {
        // An element that is not the max (min): the product is 0, but the difference
        // to the true max (min) is negative.
        let not_max = xs.iter().copied().filter(|&x| x < *xs.iter().max().unwrap()).max().unwrap();
        let r = forged(xs, true, not_max);
        assert!(Expect::Lookup.seen_in(&r), "{xs:?}: max {not_max} accepted: {r:?}");
        assert!(!Expect::Gate.seen_in(&r), "{xs:?}: {r:?}");
        let not_min = xs.iter().copied().filter(|&x| x > *xs.iter().min().unwrap()).min().unwrap();
        let r = forged(xs, false, not_min);
        assert!(Expect::Lookup.seen_in(&r), "{xs:?}: min {not_min} accepted: {r:?}");
        assert!(!Expect::Gate.seen_in(&r), "{xs:?}: {r:?}");
    }
}

/// A best value that is no element, even one a field element away from an element's
/// difference, fails: between two elements both checks catch it.
#[test]
fn a_best_value_between_elements_fails() {
    let r = forged(&[3, -7, 9, 4], true, 5);
    assert!(Expect::Gate.seen_in(&r) && Expect::Lookup.seen_in(&r), "{r:?}");
    let r = base_test()
        .run(|ctx, chips, _| {
            let c: Vec<_> = [3i64, 9].iter().map(|&x| io::checked_input(ctx, chips, x)).collect();
            vec![compare::best_with(ctx, chips, &c, true, fe::<Fr>(9) + Fr::ONE.double().invert().unwrap())]
        })
        .1;
    assert!(Expect::Gate.seen_in(&r) || Expect::Lookup.seen_in(&r), "{r:?}");
}

/// Through the lowering: a graph of Max/Min reductions (with and without `strict`, and
/// arg-max beside them on the running compare) over checked inputs, MockProver against
/// the interpreter.
#[test]
fn reductions_through_the_lowering_match_the_interpreter() {
    let port = |name: &str, value, n| QPort { name: name.into(), value, shape: vec![n], dtype: DType::F32 };
    let xs: Vec<i64> = vec![3, -7, 9, 9, -20, 4, 0, 1, -1, 5, LO, HI];
    // Groups of 1, 2, 3 and 6 elements, in a shuffled order.
    let offsets = vec![0, 1, 3, 6, 12];
    let idx: Vec<u32> = vec![4, 0, 1, 2, 3, 11, 5, 6, 7, 8, 9, 10];
    let reduce = |max, arg, strict| QOp::Reduce { max, arg, strict, offsets: offsets.clone(), idx: idx.clone(), one: 1 };
    let ops = [reduce(true, false, false), reduce(false, false, true), reduce(true, true, true), reduce(false, true, false)];
    let nodes: Vec<QNode> =
        ops.into_iter().enumerate().map(|(i, op)| QNode { name: format!("r{i}"), op, inputs: vec![0], output: i + 1, len: 4 }).collect();
    let g = QuantGraph {
        scale: 0,
        param_scale: 0,
        bits: BITS,
        num_values: 5,
        inputs: vec![port("x", 0, xs.len())],
        outputs: (1..=4).map(|v| port(&format!("y{v}"), v, 4)).collect(),
        nodes,
        params: vec![],
        private_params: false,
    };
    let inputs = vec![xs.clone()];
    let trace = interp::run(&g, &inputs).unwrap();
    assert_eq!(trace.values[1], vec![-20, 3, HI, 5]);
    assert_eq!(trace.values[2], vec![-20, -7, 9, LO]);
    let planned = plan::<Fr>(&g, &inputs, &PlanOptions::default()).unwrap();
    let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &g, &inputs, &planned.shape).unwrap();
    let expected: Vec<i128> = inputs.iter().flatten().chain(trace.outputs(&g).iter().flatten()).map(|&v| v as i128).collect();
    assert_eq!(circuit.instance_ints(), expected);
    halo2_base::halo2_proofs::dev::MockProver::run(planned.stats.k, &circuit, vec![circuit.instances.clone()]).unwrap().assert_satisfied();
}

/// The corpus's soft-max row maxima, MaxPool and ReduceMax/Min (and Max/Min of several
/// inputs) take the best-value chip: their inputs are bounded by the activation range
/// for every witness (`lower::value_bounds`). Lists the reductions left on the running
/// compare.
#[test]
fn corpus_reductions_of_checked_values_take_the_best_value_chip() {
    use zkinfer_circuits::lower::value_bounds;
    use zkinfer_circuits::ParamVisibility;
    let mut on_running = Vec::new();
    for name in ["1l_max_pool", "1l_softmax", "max", "min", "self_attention", "multihead_attention"] {
        let (g, _) = common::quantized(name);
        let bounds = value_bounds(&g, ParamVisibility::Fixed);
        let mut seen = 0;
        for node in &g.nodes {
            if let QOp::Reduce { arg: false, .. } = node.op {
                seen += 1;
                if bounds[node.inputs[0]] > 1u128 << (g.bits - 1) {
                    on_running.push(format!("{name}: {}", node.name));
                }
            }
        }
        assert!(seen > 0, "{name} has no reduction of values");
    }
    assert!(on_running.is_empty(), "left on the running compare: {on_running:?}");
}

/// Max and Min of several inputs (element-wise, a reduction per output) in MockProver
/// against the interpreter (MaxPool and soft-max: `ops_corpus_mock`).
#[test]
fn corpus_max_and_min_match_the_interpreter_in_mockprover() {
    for name in ["max", "min"] {
        common::mock_check(name);
    }
}

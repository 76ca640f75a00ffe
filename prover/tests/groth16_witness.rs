//! The R1CS witness equals the reference interpreter exactly, every constraint holds,
//! and every witness variable is constrained: changing any one of them breaks the R1CS.

mod groth16_common;

use ark_bn254::Fr;
use groth16_common::{check_every_witness_constrained, check_witness, expected_public, load, try_load, CORPUS, TIER1};
use zkinfer_models::interp;
use zkinfer_models::quant::QOp;
use zkinfer_prover::groth16::{synthesize, Groth16Error};

#[test]
fn tier1_witness_equals_interpreter_and_satisfies_r1cs() {
    for name in TIER1 {
        let s = check_witness(&load(name));
        println!("{name}: {} constraints, {} witnesses, {} public", s.num_constraints, s.num_witness, s.num_public());
    }
}

#[test]
fn every_witness_variable_is_constrained() {
    for name in ["1l_mlp", "2l_relu_fc", "1l_relu"] {
        check_every_witness_constrained(&load(name));
    }
}

#[test]
fn changed_public_values_break_the_r1cs() {
    let m = load("2l_relu_fc");
    let syn = synthesize(&m.graph, &m.inputs).unwrap();
    let n = syn.cs.num_instance_variables();
    for i in 1..n {
        syn.cs.borrow_mut().unwrap().instance_assignment[i] += Fr::from(1u8);
        assert!(!syn.cs.is_satisfied().unwrap(), "public value {i} is unconstrained");
        syn.cs.borrow_mut().unwrap().instance_assignment[i] -= Fr::from(1u8);
    }
}

#[test]
fn out_of_range_values_name_their_node() {
    let m = load("1l_mlp");
    // An input at the edge of the range is refused by the input's own range check.
    let mut inputs = m.inputs.clone();
    inputs[0][0] = m.graph.max_abs();
    match synthesize(&m.graph, &inputs) {
        Err(Groth16Error::OutOfRange { node, value, bits }) => {
            assert_eq!(node, m.graph.inputs[0].name);
            assert_eq!(value, m.graph.max_abs() as i128);
            assert_eq!(bits, m.graph.bits);
        }
        Err(e) => panic!("expected OutOfRange, got {e}"),
        Ok(_) => panic!("expected OutOfRange, got a witness"),
    }
    // Large inputs that overflow a rescaled node: the node named is the interpreter's.
    let big: Vec<Vec<i64>> = m.inputs.iter().map(|v| v.iter().map(|_| m.graph.max_abs() - 1).collect()).collect();
    let interp_err = interp::run(&m.graph, &big).err().map(|e| e.to_string());
    match (synthesize(&m.graph, &big), interp_err) {
        (Err(Groth16Error::OutOfRange { node, .. }), Some(msg)) => {
            assert!(msg.contains(&format!("`{node}`")), "interpreter says {msg}, R1CS names {node}")
        }
        (Ok(_), None) => {}
        (r, e) => panic!("R1CS and interpreter disagree: {:?} vs {e:?}", r.err()),
    }
    assert!(matches!(synthesize(&m.graph, &[]), Err(Groth16Error::InputCount { expected: 1, got: 0 })));
}

/// Models larger than this are left out of the corpus sweep (memory and CI time).
const MAX_TEST_CONSTRAINTS: usize = 200_000;

/// A rough upper estimate of a graph's R1CS size, from its ops (see the costs in
/// `zkinfer_prover::groth16`), to skip big models before building them.
fn estimated_constraints(g: &zkinfer_models::quant::QuantGraph) -> usize {
    let w = g.bits as usize + 4;
    g.nodes
        .iter()
        .map(|n| match &n.op {
            QOp::Linear { shift, .. } => n.len * (w + *shift as usize),
            QOp::Bilinear { left, shift, .. } => left.len() + n.len * (w + *shift as usize),
            QOp::Relu => n.len * w,
            QOp::Select { .. } | QOp::Const { .. } => 0,
            QOp::Table(t) => {
                let interpolation =
                    if t.interpolates() { (2 * t.values.len()).isqrt() + t.shift as usize + t.step_bits() as usize + 3 } else { 0 };
                n.len * (3 * w + t.shift as usize + 3 * (2 * t.values.len()).isqrt() + 8 + interpolation)
            }
            QOp::Div { .. } => n.len * 4 * w,
            QOp::Cmp { .. } => n.len * w,
            QOp::Sqrt { .. } => n.len * (3 * w + 40),
            QOp::Reduce { idx, .. } => idx.len() * (w + 2),
        })
        .sum()
}

/// Every corpus model either lowers with a witness equal to the interpreter on every
/// value, is refused like the interpreter refuses its input, or is refused with
/// `UnsupportedOp` naming a node of the graph and its op.
#[test]
fn corpus_models_lower_or_name_the_unsupported_op() {
    let mut names: Vec<String> = std::fs::read_dir(CORPUS)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("network.onnx").is_file() && e.path().join("input.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let (mut lowered, mut refused) = (0, 0);
    for name in &names {
        let Ok(m) = try_load(name) else { continue };
        if m.graph.num_public() > 4096 || estimated_constraints(&m.graph) > MAX_TEST_CONSTRAINTS {
            println!("{name}: skipped (about {} constraints)", estimated_constraints(&m.graph));
            continue;
        }
        let trace = interp::run(&m.graph, &m.inputs);
        match synthesize(&m.graph, &m.inputs) {
            Ok(syn) => {
                let trace = trace.unwrap_or_else(|e| panic!("{name}: the R1CS has a witness, the interpreter refuses: {e}"));
                let want: Vec<Vec<i128>> = trace.values.iter().map(|v| v.iter().map(|x| *x as i128).collect()).collect();
                assert_eq!(syn.lowered.value_ints(), want, "{name}: witness differs from the interpreter");
                assert_eq!(syn.lowered.public, expected_public(&m), "{name}");
                lowered += 1;
            }
            Err(Groth16Error::UnsupportedOp { node, op }) => {
                let n = m.graph.nodes.iter().find(|n| n.name == node).unwrap_or_else(|| panic!("{name}: no node {node}"));
                assert_eq!(n.op.name(), op);
                println!("{name}: unsupported `{op}` at `{node}`");
                refused += 1;
            }
            Err(e) => match trace {
                // Both refuse the input (a value out of range, a table's range, a zero divisor).
                Err(ie) => println!("{name}: refused by both: {e} / {ie}"),
                Ok(_) => panic!("{name}: the interpreter runs, the R1CS refuses: {e}"),
            },
        }
    }
    println!("{lowered} corpus models lowered, {refused} refused by op");
    assert!(lowered >= TIER1.len());
}

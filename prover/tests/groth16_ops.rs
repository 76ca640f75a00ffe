//! Table, Div, Cmp and Reduce in R1CS on tier-2 corpus models: the witness equals the
//! interpreter on every value, every witness variable is constrained, and a changed
//! table output, one-hot bit, remainder or comparison bit breaks the R1CS.

mod groth16_common;

use groth16_common::{check_every_witness_constrained, check_witness, load, Model};
use zkinfer_models::interp;
use zkinfer_models::quant::QOp;
use zkinfer_prover::groth16::{shape, synthesize, Groth16Error};

/// Small tier-2 models that use the ops of this file.
const TIER2_OPS: &[&str] = &["1l_sigmoid", "1l_tanh", "1l_softmax", "1l_div", "1l_eltwise_div", "max", "min", "less"];

fn uses(m: &Model) -> Vec<&'static str> {
    let mut ops: Vec<&str> = m.graph.nodes.iter().map(|n| n.op.name()).filter(|o| ["table", "div", "cmp", "reduce"].contains(o)).collect();
    ops.sort();
    ops.dedup();
    ops
}

#[test]
fn tier2_witness_equals_interpreter_and_satisfies_r1cs() {
    let mut seen: Vec<&str> = Vec::new();
    for name in TIER2_OPS {
        let m = load(name);
        let ops = uses(&m);
        let s = check_witness(&m);
        println!("{name} ({ops:?}): {} constraints, {} witnesses", s.num_constraints, s.num_witness);
        seen.extend(ops);
    }
    for op in ["table", "div", "cmp", "reduce"] {
        assert!(seen.contains(&op), "no model exercises `{op}`");
    }
}

#[test]
fn sigmoid_constraints_per_element() {
    let m = load("1l_sigmoid");
    let node = m.graph.nodes.iter().find(|n| matches!(n.op, QOp::Table(_))).unwrap();
    let QOp::Table(t) = &node.op else { unreachable!() };
    let (shift, clamp_lo, clamp_hi, values) = (t.shift, t.clamp_lo, t.clamp_hi, &t.values);
    // Without the table node the R1CS is the same model with the table output replaced.
    let full = shape(&m.graph).unwrap().num_constraints;
    let mut g = m.graph.clone();
    let pos = g.nodes.iter().position(|n| n.name == node.name).unwrap();
    g.nodes[pos].op = QOp::Select { map: (0..node.len as u32).map(|i| (0, i)).collect() };
    let without = shape(&g).unwrap().num_constraints;
    let per = (full - without) as f64 / node.len as f64;
    println!("1l_sigmoid: table of {} entries (shift {shift}, clamps {clamp_lo}/{clamp_hi}), {per} constraints per element", values.len());
    let mut bound = 2.0 * (2.0 * values.len() as f64).sqrt() + 8.0 + 3.0 * (m.graph.bits as f64 + 3.0) + shift as f64;
    if t.interpolates() {
        // The slope's selection, the product and the step's rescale.
        bound += (2.0 * values.len() as f64).sqrt() + shift as f64 + t.step_bits() as f64 + 3.0;
    }
    assert!(per <= bound, "{per} constraints per element, bound {bound}");
}

#[test]
fn every_witness_variable_is_constrained() {
    for name in ["1l_sigmoid", "1l_eltwise_div", "less", "max", "1l_sqrt"] {
        check_every_witness_constrained(&load(name));
    }
}

#[test]
fn table_input_outside_an_unclamped_side_names_the_node() {
    let m = load("1l_sigmoid");
    let mut g = m.graph.clone();
    let pos = g.nodes.iter().position(|n| matches!(n.op, QOp::Table(_))).unwrap();
    if let QOp::Table(t) = &mut g.nodes[pos].op {
        (t.clamp_lo, t.clamp_hi) = (false, false);
    }
    let big: Vec<Vec<i64>> = m.inputs.iter().map(|v| v.iter().map(|_| g.max_abs() / 2).collect()).collect();
    let interp_err = interp::run(&g, &big).expect_err("interpreter accepts an input outside the table").to_string();
    match synthesize(&g, &big) {
        Err(Groth16Error::OutsideTable { node, .. }) => {
            assert_eq!(node, g.nodes[pos].name);
            assert!(interp_err.contains(&format!("`{node}`")), "{interp_err}");
        }
        Err(e) => panic!("expected OutsideTable, got {e}"),
        Ok(_) => panic!("a witness for an input outside the table"),
    }
}

#[test]
fn division_by_zero_names_the_node() {
    let m = load("1l_eltwise_div");
    let node = m.graph.nodes.iter().find(|n| matches!(n.op, QOp::Div { .. })).expect("1l_eltwise_div has a Div");
    let zeros: Vec<Vec<i64>> = m.inputs.iter().map(|v| vec![0; v.len()]).collect();
    match (interp::run(&m.graph, &zeros), synthesize(&m.graph, &zeros)) {
        (Err(e), Err(Groth16Error::DivisionByZero { node: n })) => {
            assert_eq!(n, node.name);
            assert!(e.to_string().contains("division by zero"), "{e}");
        }
        (i, r) => panic!("expected both to refuse: {:?} / {:?}", i.err(), r.err()),
    }
}

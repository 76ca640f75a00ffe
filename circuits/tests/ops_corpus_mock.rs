//! Tier-2 corpus models in MockProver: the circuit's public values equal the reference
//! interpreter exactly and every constraint (gates, range and table lookups, copies)
//! holds; a changed public output is rejected.
//!
//! A subset that keeps the suite quick: every new chip (tables, sign-bit reductions,
//! comparisons, division, one-hot selection by an activation index) appears in at least
//! one model, and the recurrent ops (unrolled into those ops at import).

mod common;

fn check(name: &str) -> String {
    let s = common::mock_check(name);
    format!("k={} rows={} tables={} lookups={}", s.k, s.rows, s.table_rows, s.table_lookups)
}

macro_rules! model_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test] fn $test() { println!("{}: {}", $name, check($name)); })*
    };
}

model_tests! {
    softmax => "1l_softmax",
    conv => "1l_conv",
    max_pool => "1l_max_pool",
    layernorm => "layernorm",
    decision_tree => "decision_tree",
    softsign => "softsign",
    rounding_ops => "rounding_ops",
    boolean => "boolean",
    gelu => "1l_gelu_noappx",
    gather_elements => "gather_elements",
    onehot_tree => "hummingbird_decision_tree",
    topk => "1l_topk",
    lstm => "lstm",
    rnn => "rnn",
}

/// 1l_sigmoid's 3,809-entry table leaves room at k = 12 for a 2^8-row range table only:
/// the planner narrows the range-check limbs so the range checks share the table's
/// lookup, and MockProver accepts the shape.
#[test]
fn sigmoid_range_checks_share_the_table_lookup_with_narrower_limbs() {
    let s = common::mock_check("1l_sigmoid");
    assert!(s.range_in_table && s.num_lookup_advice == 0 && (s.lookup_bits as u32) < s.k - 1, "{s:?}");
}

/// A 3-channel convolution takes a 3-wide MAC gate, and the range checks share the
/// sigmoid table's lookup (limbs of k - 1 bits).
#[test]
fn conv_sigmoid_takes_its_channel_width_and_one_lookup() {
    let s = common::mock_check("2l_relu_sigmoid_conv");
    assert!(s.range_in_table && s.mac_width == 3 && s.lookup_bits as u32 == s.k - 1, "{s:?}");
}

/// GatherElements with an activation index past the axis (18 columns): ONNX rejects it,
/// and so do the interpreter (naming the range check) and the circuit (no witness makes
/// the indicator sum divide), rather than gathering 0.
#[test]
fn gather_index_out_of_range_has_no_witness() {
    use halo2_base::halo2_proofs::dev::MockProver;
    use zkinfer_circuits::{plan, CircuitBuilderStage, Fr, ModelCircuit, PlanOptions};
    let (quant, mut qin) = common::quantized("gather_elements");
    let honest = qin.clone();
    let one = 1i64 << quant.scale;
    qin[1][0] = 18 * one;
    let err = zkinfer_models::interp::run(&quant, &qin).unwrap_err().to_string();
    assert!(err.contains(":in_range") && err.contains("division by zero"), "{err}");
    let p = plan::<Fr>(&quant, &honest, &PlanOptions::default()).unwrap();
    let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &quant, &qin, &p.shape).unwrap();
    let r = MockProver::run(p.stats.k, &circuit, vec![circuit.instances.clone()]).unwrap().verify();
    assert!(r.is_err(), "an out-of-range index was proved");
}

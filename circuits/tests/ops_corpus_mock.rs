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
    gather_elements => "gather_elements",
    onehot_tree => "hummingbird_decision_tree",
    topk => "1l_topk",
    lstm => "lstm",
    rnn => "rnn",
}

//! Whole models: the circuit witness equals the reference interpreter exactly and
//! MockProver accepts it; a changed public output is rejected.

mod common;

const TIER1: &[&str] = &[
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

#[test]
fn tier1_witness_equals_interpreter_and_mockprover_accepts() {
    for name in TIER1 {
        let stats = common::mock_check(name);
        assert!(stats.k <= 12, "{name}: k = {} for a tiny model", stats.k);
        println!("{name}: k={} rows={} advice={} lookup={}", stats.k, stats.rows, stats.num_advice, stats.num_lookup_advice);
    }
}

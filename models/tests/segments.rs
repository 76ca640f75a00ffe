//! Splitting a quantized graph into segments: each segment's outputs are the next one's
//! inputs, port by port, constants never cross a cut, and running the segments one after
//! the other gives exactly the full graph's trace.

use zkinfer_models::interp;
use zkinfer_models::prepare::Prepared;
use zkinfer_models::quant::QOp;
use zkinfer_models::ModelError;

mod corpus_support;

/// Corpus model `name` quantized, with its first sample's quantized inputs.
fn prepared(name: &str) -> (Prepared, Vec<Vec<i64>>) {
    let (p, samples) = corpus_support::prepared(name);
    let qin = interp::quantize_inputs(&p.quant, &samples[0]).unwrap();
    (p, qin)
}

/// Runs the segments between `cuts` in a chain and compares every value with the full run.
fn check_chain(name: &str, cuts: &[usize]) {
    let (p, qin) = prepared(name);
    let g = &p.quant;
    let full = interp::run(g, &qin).unwrap();
    let segs = g.split(cuts).unwrap_or_else(|e| panic!("{name} {cuts:?}: {e}"));
    assert_eq!(segs.len(), cuts.len() + 1);
    let mut carried = qin.clone();
    for (i, s) in segs.iter().enumerate() {
        // No constant crosses a cut; the inputs are what the previous segment output.
        for port in &s.inputs {
            let producer = g.nodes.iter().find(|n| n.output == port.value);
            assert!(!producer.is_some_and(|n| matches!(n.op, QOp::Const { .. })), "{name}: constant {} crosses a cut", port.name);
        }
        if i > 0 {
            assert_eq!(
                s.inputs.iter().map(|p| p.value).collect::<Vec<_>>(),
                segs[i - 1].outputs.iter().map(|p| p.value).collect::<Vec<_>>(),
                "{name}: segment {i}'s inputs are the previous segment's outputs"
            );
        }
        let t = interp::run(s, &carried).unwrap_or_else(|e| panic!("{name} segment {i}: {e}"));
        for node in &s.nodes {
            assert_eq!(t.values[node.output], full.values[node.output], "{name} segment {i}: node `{}`", node.name);
        }
        carried = t.outputs(s);
    }
    assert_eq!(carried, full.outputs(g), "{name}: the last segment's outputs are the graph's");
    // Each node runs in exactly one segment, constants aside.
    let ran: usize = segs.iter().map(|s| s.nodes.iter().filter(|n| !matches!(n.op, QOp::Const { .. })).count()).sum();
    assert_eq!(ran, g.nodes.iter().filter(|n| !matches!(n.op, QOp::Const { .. })).count());
}

#[test]
fn segments_chain_to_the_full_trace() {
    for name in ["4l_relu_conv_fc", "layernorm", "self_attention", "mnist_gan", "nanoGPT"] {
        let (p, _) = prepared(name);
        let n = p.quant.nodes.len();
        assert!(n >= 5, "{name} has {n} nodes");
        check_chain(name, &[n / 2]);
        check_chain(name, &[1, n / 3, 2 * n / 3, n - 1]);
    }
}

#[test]
fn live_elements_count_what_crosses_each_cut() {
    let (p, _) = prepared("self_attention");
    let g = &p.quant;
    let live = g.live_elements();
    assert_eq!(live.len(), g.nodes.len() + 1);
    for c in [1, g.nodes.len() / 4, g.nodes.len() / 2, g.nodes.len() - 1] {
        let vals = g.live_across(c);
        let segs = g.split(&[c]).unwrap();
        let elems: usize = segs[1].inputs.iter().map(|p| p.shape.iter().product::<usize>()).sum();
        assert_eq!(live[c], elems, "cut {c}");
        assert_eq!(vals, segs[1].inputs.iter().map(|p| p.value).collect::<Vec<_>>());
    }
    // The graph's input is live at cut 0.
    assert_eq!(live[0], p.quant.inputs.iter().map(|p| p.shape.iter().product::<usize>()).sum::<usize>());
}

#[test]
fn bad_cuts_are_refused_with_a_reason() {
    let (p, _) = prepared("2l_relu_fc");
    let n = p.quant.nodes.len();
    for (cuts, why) in [(vec![0], "not between"), (vec![n], "not between"), (vec![2, 2], "must increase"), (vec![3, 1], "must increase")] {
        match p.quant.split(&cuts) {
            Err(ModelError::Segment(m)) => assert!(m.contains(why), "{cuts:?}: {m}"),
            other => panic!("{cuts:?}: {other:?}"),
        }
    }
}

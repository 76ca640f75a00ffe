//! Layer norm written as separate ONNX ops (ReduceMean, Sub, Pow, ReduceMean, Add,
//! Sqrt, Div) divides by a square root: a root is never negative, so the Div takes the
//! positive kind, and the interpreter gives the same values as with the general one.

use zkinfer_models::interp;
use zkinfer_models::quant::QOp;

mod corpus_support;

use corpus_support::prepared;

/// Every Div of `name` whose divisor is a square root (selected, for the broadcast) is
/// positive, the others are not; flipping them back to the general Div changes no
/// value of the run.
fn check(name: &str, expect_sqrt_divs: usize) {
    let (p, samples) = prepared(name);
    let g = &p.quant;
    let producer = |v: usize| g.nodes.iter().find(|n| n.output == v);
    let from_sqrt = |v: usize| {
        let sel = producer(v).unwrap();
        let src = match sel.op {
            QOp::Select { .. } => sel.inputs[0],
            _ => v,
        };
        matches!(producer(src).map(|n| &n.op), Some(QOp::Sqrt { .. }))
    };
    let mut general = g.clone();
    let mut sqrt_divs = 0;
    for (n, node) in g.nodes.iter().enumerate() {
        if let QOp::Div { scale, positive } = node.op {
            if from_sqrt(node.inputs[1]) {
                assert!(positive, "{name}: {} divides by a root but is not positive", node.name);
                sqrt_divs += 1;
                general.nodes[n].op = QOp::Div { scale, positive: false };
            }
        }
    }
    assert_eq!(sqrt_divs, expect_sqrt_divs, "{name}");
    for sample in &samples {
        let qin = interp::quantize_inputs(g, sample).unwrap();
        let a = interp::run(g, &qin).unwrap();
        let b = interp::run(&general, &qin).unwrap();
        assert_eq!(a, b, "{name}: the positive Div changed a value");
    }
}

#[test]
fn self_attention_layer_norms_divide_by_a_positive_root() {
    check("self_attention", 2);
}

#[test]
fn multihead_attention_layer_norms_divide_by_a_positive_root() {
    check("multihead_attention", 2);
}

/// A zero root has no quotient in either kind: both refuse it, naming the node.
#[test]
fn a_zero_root_is_refused_by_both_kinds() {
    let (p, samples) = prepared("self_attention");
    let g = &p.quant;
    // A constant row makes the variance 0; at 2^scale eps keeps the root above 0, so
    // the root is zeroed by hand in the graph: its Sqrt reads a zero constant instead.
    let sqrt = g.nodes.iter().position(|n| matches!(n.op, QOp::Sqrt { .. })).unwrap();
    let mut zeroed = g.clone();
    let len = g.nodes[sqrt].len;
    let zero_value = zeroed.num_values;
    zeroed.num_values += 1;
    zeroed.nodes.insert(
        sqrt,
        zkinfer_models::quant::QNode {
            name: "zero".into(),
            op: QOp::Const { values: vec![0; len] },
            inputs: vec![],
            output: zero_value,
            len,
        },
    );
    zeroed.nodes[sqrt + 1].inputs = vec![zero_value];
    let mut general = zeroed.clone();
    for node in general.nodes.iter_mut() {
        if let QOp::Div { scale, .. } = node.op {
            node.op = QOp::Div { scale, positive: false };
        }
    }
    let qin = interp::quantize_inputs(g, &samples[0]).unwrap();
    for graph in [&zeroed, &general] {
        let e = interp::run(graph, &qin).unwrap_err().to_string();
        assert!(e.contains("division by zero"), "{e}");
    }
}

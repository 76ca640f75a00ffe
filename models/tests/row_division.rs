//! Soft-max and the norms divide once per row: a reciprocal `r = round(2^(s+t) / den)`
//! per row ([`QOp::Div`]) and a product `y = rescale(a * r, s + t)` per element
//! ([`QOp::Bilinear`]), within `1/2 + |a| 2^-(s+t+1)` LSB of the exact quotient, and in
//! range for any input.

use zkinfer_models::input_json::InputData;
use zkinfer_models::interp;
use zkinfer_models::prepare::{hints_for, prepare, Prepared};
use zkinfer_models::quant::QOp;
use zkinfer_models::QuantOptions;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// The corpus model `name` calibrated on its own input plus `extra` samples.
fn prepared(name: &str, extra: &[Vec<Vec<f64>>], opts: &QuantOptions) -> (Prepared, Vec<Vec<Vec<f64>>>) {
    let dir = format!("{CORPUS}/{name}");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    let mut samples = input.samples();
    samples.extend(extra.iter().cloned());
    let p = prepare(&onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    (p, samples)
}

/// A row division of the graph: the reciprocal Div node and the product node that uses it.
struct RowDiv {
    div: usize,
    product: usize,
}

fn row_divisions(p: &Prepared) -> Vec<RowDiv> {
    let nodes = &p.quant.nodes;
    nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.name.ends_with(":recip"))
        .map(|(div, d)| {
            assert!(matches!(d.op, QOp::Div { positive: true, .. }), "{}: {:?}", d.name, d.op);
            let product = nodes.iter().position(|n| matches!(n.op, QOp::Bilinear { .. }) && n.inputs.get(1) == Some(&d.output)).unwrap();
            RowDiv { div, product }
        })
        .collect()
}

/// Checks every row division of one run of `p` on `sample` against the exact quotient
/// `a * 2^s / den` and returns the largest error in LSB and the per-row sums of `y` (in
/// LSB) with their row widths.
fn check_run(p: &Prepared, sample: &[Vec<f64>]) -> (f64, Vec<(i64, usize)>) {
    let g = &p.quant;
    let qin = interp::quantize_inputs(g, sample).unwrap();
    let trace = interp::run(g, &qin).unwrap_or_else(|e| panic!("run: {e}"));
    let mut worst = 0f64;
    let mut sums = Vec::new();
    for rd in row_divisions(p) {
        let (d, b) = (&g.nodes[rd.div], &g.nodes[rd.product]);
        let QOp::Div { scale, .. } = d.op else { unreachable!() };
        let QOp::Bilinear { right, shift, .. } = &b.op else { unreachable!() };
        assert_eq!(scale, *shift, "{}", b.name);
        let t = shift - g.scale;
        assert!(t >= 4, "{}: only {t} extra bits", b.name);
        let (a, den, r, y) = (&trace.values[b.inputs[0]], &trace.values[d.inputs[1]], &trace.values[d.output], &trace.values[b.output]);
        // The reciprocal stays in the activation range (the interpreter checked it too).
        assert!(r.iter().all(|&r| r.abs() < g.max_abs()));
        let mut row_sum = vec![(0i64, 0usize); den.len()];
        for o in 0..y.len() {
            let gi = right[o] as usize;
            let exact = a[o] as f64 * 2f64.powi(g.scale as i32) / den[gi] as f64;
            let err = (y[o] as f64 - exact).abs();
            let bound = 0.5 + a[o].abs() as f64 / 2f64.powi(*shift as i32 + 1) + 1e-9;
            assert!(err <= bound, "{} [{o}]: y {} vs {exact}: error {err} > {bound}", b.name, y[o]);
            worst = worst.max(err);
            row_sum[gi].0 += y[o];
            row_sum[gi].1 += 1;
        }
        sums.extend(row_sum);
    }
    (worst, sums)
}

#[test]
fn softmax_divides_once_per_row_and_rows_sum_to_one() {
    // A second sample with a dominant element widens the calibration so that the extreme
    // divisors (z = 1: one element, z = width: all equal) are within range.
    let dominant = vec![vec![30.0, -30.0, 0.0]];
    let equal = vec![vec![0.5, 0.5, 0.5]];
    let (p, samples) = prepared("1l_softmax", std::slice::from_ref(&dominant), &QuantOptions::default());
    let g = &p.quant;
    // One Div, of one row, instead of one per element.
    let divs: Vec<_> = g.nodes.iter().filter(|n| matches!(n.op, QOp::Div { .. })).collect();
    assert_eq!(divs.iter().map(|n| n.len).collect::<Vec<_>>(), vec![1]);
    assert_eq!(row_divisions(&p).len(), 1);
    let one = 1i64 << g.scale;
    for sample in [&samples[0], &dominant, &equal] {
        let (worst, sums) = check_run(&p, sample);
        assert!(worst <= 0.5 + 2f64.powi(-5), "worst error {worst} LSB");
        for (sum, width) in sums {
            assert!((sum - one).abs() as f64 <= width as f64 * (0.5 + 2f64.powi(-5)) + 1.0, "row sums to {sum} LSB, 1.0 = {one}");
        }
        // And the float soft-max within a few LSB (the exp table's error included).
        let float = p.float_outputs(sample).unwrap();
        let quant = p.quantized_outputs(sample).unwrap();
        for (f, q) in float[0].iter().zip(&quant[0]) {
            assert!((f - q).abs() < 8.0 / one as f64, "float {f} vs quantized {q}");
        }
    }
    // The dominant row has z = 1.0 exactly: its reciprocal is the largest possible, 2^(s+t).
    let qin = interp::quantize_inputs(g, &dominant).unwrap();
    let trace = interp::run(g, &qin).unwrap();
    let rd = &row_divisions(&p)[0];
    let QOp::Div { scale, .. } = g.nodes[rd.div].op else { unreachable!() };
    assert_eq!(trace.values[g.nodes[rd.div].output], vec![1i64 << scale]);
}

#[test]
fn attention_softmax_has_one_division_per_row() {
    let (p, samples) = prepared("self_attention", &[], &QuantOptions::default());
    let g = &p.quant;
    let softmax: Vec<_> = g.nodes.iter().filter(|n| n.name.starts_with("/attention/Softmax")).collect();
    let exp = softmax.iter().find(|n| n.name.ends_with(":exp")).unwrap();
    let recip = softmax.iter().find(|n| n.name.ends_with(":recip")).unwrap();
    let y = softmax.iter().find(|n| n.name == "/attention/Softmax" && matches!(n.op, QOp::Bilinear { .. })).unwrap();
    // 16384 probabilities in rows of 64: 256 divisions, 16384 products.
    assert_eq!((exp.len, recip.len, y.len), (16384, 256, 16384));
    assert!(!softmax.iter().any(|n| matches!(n.op, QOp::Div { .. }) && n.len == exp.len));
    let (worst, sums) = check_run(&p, &samples[0]);
    assert!(worst <= 0.5 + 2f64.powi(-5), "worst error {worst} LSB");
    let one = 1i64 << g.scale;
    for (sum, width) in sums {
        assert!((sum - one).abs() as f64 <= width as f64 * (0.5 + 2f64.powi(-5)) + 1.0, "row sums to {sum} LSB");
    }
}

#[test]
fn layernorm_divides_per_row_where_sqrt_eps_bounds_the_reciprocal() {
    // At scale 2^20 and 32 bits, 1/sqrt(1e-5) ~ 2^8.3 leaves r = 2^(s+t)/sd at most
    // 2 extra bits: the per-element Div stays.
    let (p, _) = prepared("layernorm", &[], &QuantOptions::default());
    assert!(row_divisions(&p).is_empty());
    let divs: Vec<_> = p.quant.nodes.iter().filter(|n| matches!(n.op, QOp::Div { .. })).map(|n| n.len).collect();
    assert_eq!(divs, vec![100]);

    // At 2^16 (eps = 1e-5 is 1 LSB, sd >= 2^-8) r has 6 extra bits, one short of the 7
    // that numerators up to |c| <= 4.09 (this input's spread) need; at 2^12 eps rounds to 0
    // and sd has no lower bound.
    for scale in [12, 16] {
        let (p, _) = prepared("layernorm", &[], &QuantOptions { scale: Some(scale), ..QuantOptions::default() });
        assert!(row_divisions(&p).is_empty(), "scale {scale}");
    }
    // With 40-bit activations at 2^20, r <= 2^(40+t) / 3238 < 2^39 leaves t = 10: one Div
    // per row of 10.
    let opts = QuantOptions { bits: 40, ..QuantOptions::default() };
    let (p, samples) = prepared("layernorm", &[], &opts);
    assert_eq!(p.quant.scale, 20);
    let divs: Vec<_> = p.quant.nodes.iter().filter(|n| matches!(n.op, QOp::Div { .. })).map(|n| n.len).collect();
    assert_eq!(divs, vec![10]);
    let (worst, _) = check_run(&p, &samples[0]);
    // At most 1/2 + |c| 2^-(t+1) LSB with |c| < 4.1, t = 10.
    assert!(worst <= 0.5 + 4.1 / 2048.0, "worst error {worst} LSB");
    let float = p.float_outputs(&samples[0]).unwrap();
    let fid = p.fidelity(&samples[0], &float).unwrap();
    assert!(fid.max_abs_error() < 8.0 / (1u64 << 20) as f64, "abs error {}", fid.max_abs_error());
    // A constant row has sd = sqrt(eps), the smallest divisor: its reciprocal, the largest,
    // is still in range.
    let constant = vec![vec![0.25; samples[0][0].len()]];
    check_run(&p, &constant);
}

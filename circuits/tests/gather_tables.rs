//! Gather of constant data at activation indices (a token embedding) as lookup tables,
//! one per candidate list: MockProver accepts the honest witness, equal to the
//! interpreter's, and rejects an index outside `[-dim, dim)` or a forged output, both at
//! the table lookup.

mod common;

use std::collections::BTreeMap;

use halo2_base::halo2_proofs::dev::MockProver;
use zkinfer_circuits::chips::io;
use zkinfer_circuits::chips::table::{self, TableSpec};
use zkinfer_circuits::{plan, CircuitBuilderStage, Fr, ModelCircuit, PlanOptions};
use zkinfer_models::ir::{Graph, Node, Value};
use zkinfer_models::ops::{Op, Remap};
use zkinfer_models::quant::table::TableOp;
use zkinfer_models::quant::{calibrate, quantize, QOp};
use zkinfer_models::{interp, DType, QuantGraph, QuantOptions, Tensor};

use common::{base_test, Expect};

const VOCAB: usize = 7;
const WIDTH: usize = 4;
const TOKENS: [f64; 5] = [3.0, -1.0, 0.0, 6.0, -7.0];

/// `idx[5] (int64) -> Gather(w[VOCAB, WIDTH], idx, axis 0)`, quantized on [`TOKENS`].
fn embedding() -> QuantGraph {
    let value = |name: &str, shape: Vec<usize>, dtype| Value { name: name.into(), shape, dtype };
    let w: Vec<f64> = (0..VOCAB * WIDTH).map(|k| ((k as f64 * 0.913).cos() * 2.5 * 64.0).round() / 64.0).collect();
    let mut graph = Graph {
        values: vec![value("idx", vec![TOKENS.len()], DType::I64), value("y", vec![TOKENS.len(), WIDTH], DType::F32)],
        inputs: vec![0],
        outputs: vec![1],
        nodes: vec![],
        constants: BTreeMap::new(),
    };
    let wid = graph.add_constant("wte".into(), Tensor::new(vec![VOCAB, WIDTH], w, DType::F32));
    graph.nodes.push(Node {
        name: "wte".into(),
        op: Op::Remap(Remap::Gather { axis: 0, indices: None, idx_shape: vec![TOKENS.len()] }),
        inputs: vec![wid, 0],
        output: 1,
    });
    let sample = vec![Tensor::new(vec![TOKENS.len()], TOKENS.to_vec(), DType::I64)];
    let cal = calibrate(&graph, &[sample], &QuantOptions::default()).unwrap();
    quantize(&graph, &cal).unwrap()
}

/// The quantized [`TOKENS`], with `bad` at position 1 when given.
fn inputs(g: &QuantGraph, bad: Option<i64>) -> Vec<Vec<i64>> {
    let mut x = interp::quantize_inputs(g, &[TOKENS.to_vec()]).unwrap();
    if let Some(b) = bad {
        x[0][1] = b << g.scale;
    }
    x
}

#[test]
fn embedding_tables_pass_mock_prover_with_the_interpreters_outputs() {
    let g = embedding();
    let tables = g.nodes.iter().filter(|n| matches!(n.op, QOp::Table(_))).count();
    assert_eq!(tables, WIDTH, "one table per embedding column");
    assert!(!g.nodes.iter().any(|n| matches!(n.op, QOp::Cmp { .. })), "no one-hot compare");
    let qin = inputs(&g, None);
    let trace = interp::run(&g, &qin).unwrap();
    let p = plan::<Fr>(&g, &qin, &PlanOptions::default()).unwrap();
    assert_eq!(p.stats.table_lookups, TOKENS.len() * WIDTH);
    let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &g, &qin, &p.shape).unwrap();
    let expected: Vec<i128> = qin.iter().flatten().chain(trace.outputs(&g).iter().flatten()).map(|v| *v as i128).collect();
    assert_eq!(circuit.instance_ints(), expected);
    MockProver::run(p.stats.k, &circuit, vec![circuit.instances.clone()]).unwrap().assert_satisfied();
    // A changed output instance fails its copy.
    let mut bad = circuit.instances.clone();
    *bad.last_mut().unwrap() += Fr::from(1);
    let r = MockProver::run(p.stats.k, &circuit, vec![bad]).unwrap().verify();
    assert!(Expect::Permutation.seen_in(&r), "{r:?}");
}

/// Indices `VOCAB` and `-VOCAB - 1` have no entry: the interpreter refuses them naming
/// the table node, and no witness passes the circuit's lookup (the public input is the
/// out-of-range index, the outputs whatever the prover claims).
#[test]
fn an_index_outside_the_table_has_no_witness() {
    let g = embedding();
    let honest = inputs(&g, None);
    let p = plan::<Fr>(&g, &honest, &PlanOptions::default()).unwrap();
    for bad in [VOCAB as i64, -(VOCAB as i64) - 1] {
        let qin = inputs(&g, Some(bad));
        let err = interp::run(&g, &qin).unwrap_err().to_string();
        assert!(err.contains("`wte:table") && err.contains("outside the table"), "{err}");
        let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &g, &qin, &p.shape).unwrap();
        let r = MockProver::run(p.stats.k, &circuit, vec![circuit.instances.clone()]).unwrap().verify();
        assert!(Expect::Lookup.seen_in(&r), "index {bad} accepted: {r:?}");
    }
}

/// The chip on a gather table (`shift = s`, `lo = -dim`, no clamped side): honest
/// indices read their entries, negative ones from the end; a forged entry, a fractional
/// index rounded outside, or an index past either end fails the lookup.
#[test]
fn gather_table_chip_reads_entries_and_rejects_forged_outputs_and_indices() {
    let (s, dim) = (4u32, 3i64);
    let half = [-40i64, 7, 25];
    let t = TableOp { shift: s, lo: -dim, clamp_lo: false, clamp_hi: false, values: [half, half].concat(), interpolate: false };
    let read = |x: i64, claim: Option<i64>| {
        base_test().run(|ctx, chips, tables| {
            tables.add_table(1, &t);
            let c = io::checked_input(ctx, chips, x);
            let out = match claim {
                None => table::lookup(ctx, chips, tables, &TableSpec::new(1, &t), c),
                Some(v) => {
                    let (u, _) = table::clamped_index(ctx, chips, &t, c);
                    table::lookup_with(ctx, chips, tables, 1, u, v as i128, 0)[0]
                }
            };
            vec![out]
        })
    };
    for j in -dim..dim {
        let (out, r) = read(j << s, None);
        r.unwrap();
        assert_eq!(out, vec![half[j.rem_euclid(dim) as usize] as i128], "index {j}");
    }
    // A rounding rescale: 1.4 reads entry 1.
    assert_eq!(read((1 << s) + 6, None).0, vec![half[1] as i128]);
    let r = read(2 << s, Some(half[1])).1;
    assert!(Expect::Lookup.seen_in(&r), "forged entry accepted: {r:?}");
    for x in [dim << s, (-dim - 1) << s, ((dim - 1) << s) + (1 << (s - 1))] {
        assert_eq!(t.index(t.split(x as i128).0), None, "the interpreter refuses {x} too");
        let r = read(x, None).1;
        assert!(Expect::Lookup.seen_in(&r), "index {x} accepted: {r:?}");
    }
}

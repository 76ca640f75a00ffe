//! The planner's counts equal synthesis: for every corpus model that quantizes, the
//! cells, lookups, constants, tables, MAC blocks and instances the counting passes give
//! at a shape are exactly what synthesizing the model there yields, and so are the
//! column counts and rows derived from them. Shapes: the planned one, the plain layout
//! one `k` below with narrower limbs, and MAC widths 1 and 4 (the four largest models,
//! whose synthesis takes 10 to 35 s each here: the planned shape and MAC width 1).

mod common;

use std::time::Instant;

use zkinfer_circuits::count::Counter;
use zkinfer_circuits::layout::{shape_of, synthesized_shape};
use zkinfer_circuits::{plan, Fr, ParamVisibility, PlanOptions, Visibility, VisibilityConfig};
use zkinfer_models::input_json::InputData;
use zkinfer_models::prepare::{hints_for, prepare};
use zkinfer_models::{interp, QuantOptions};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// Corpus models of 450k to 7.6M rows, checked at fewer shapes.
const LARGE: [&str; 4] = ["nanoGPT", "mnist_gan", "self_attention", "multihead_attention"];

fn corpus_models() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(CORPUS)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| d.join("network.onnx").exists() && d.join("input.json").exists())
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Compares counted and synthesized layouts of `name` at several shapes; `None` when the
/// model does not quantize (unsupported ops: named by the import tests).
fn check(name: &str, every_shape: bool) -> Option<String> {
    let (graph, qin) = common::try_quantized(name)?;
    let vis = VisibilityConfig::default();
    let t = Instant::now();
    let planned = plan::<Fr>(&graph, &qin, &PlanOptions::default()).unwrap_or_else(|e| panic!("{name}: plan: {e}"));
    let plan_s = t.elapsed().as_secs_f64();
    let s = &planned.stats;
    let counter = Counter::<Fr>::new(&graph, &qin, &vis);
    let mut shapes = vec![(s.k, s.lookup_bits, s.mac_width)];
    if s.k > 8 && every_shape {
        shapes.push((s.k - 1, (s.k - 3) as usize, 0));
    }
    shapes.push((s.k, (s.k - 1) as usize, 1));
    if every_shape {
        shapes.push((s.k + 1, s.k as usize, 4));
    }
    let t = Instant::now();
    for &(k, lookup_bits, w) in &shapes {
        let counted = counter.raw(lookup_bits, w).unwrap();
        let (sp, ss) = synthesized_shape::<Fr>(&graph, &qin, k, &vis, w, lookup_bits).unwrap();
        let (cp, cs) = shape_of(&counted, k, w, lookup_bits);
        assert_eq!(cs, ss, "{name} at k={k}, lookup_bits={lookup_bits}, mac width {w}: counted stats differ from synthesis");
        assert_eq!(format!("{cp:?}"), format!("{sp:?}"), "{name} at k={k}, lookup_bits={lookup_bits}, mac width {w}: params differ");
    }
    Some(format!(
        "{name}: planned k={} rows={} mac={} in {plan_s:.2} s; {} shapes synthesized in {:.2} s",
        s.k,
        s.rows,
        s.mac_width,
        shapes.len(),
        t.elapsed().as_secs_f64()
    ))
}

#[test]
fn counts_equal_synthesis_for_every_corpus_model() {
    let mut checked = 0;
    for name in corpus_models().iter().filter(|n| !LARGE.contains(&n.as_str())) {
        match check(name, true) {
            Some(line) => {
                println!("{line}");
                checked += 1;
            }
            None => println!("{name}: does not quantize (skipped)"),
        }
    }
    assert!(checked >= 70, "only {checked} corpus models checked");
}

#[test]
fn counts_equal_synthesis_for_the_largest_models() {
    for name in LARGE {
        println!("{}", check(name, false).unwrap_or_else(|| panic!("{name} does not quantize")));
    }
}

/// Private and hashed parameters (witness cells, range-checked, no MAC gate) and hashed
/// inputs and outputs (Poseidon in the circuit): counted as synthesized too.
#[test]
fn counts_equal_synthesis_with_private_parameters_and_hashed_values() {
    for name in ["1l_mlp", "2l_relu_fc", "1l_conv", "1l_sigmoid", "layernorm"] {
        let dir = format!("{CORPUS}/{name}");
        let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
        let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
        let samples = input.samples();
        let opts = QuantOptions { private_params: true, ..Default::default() };
        let graph = prepare(&onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), &opts).unwrap().quant;
        let qin = interp::quantize_inputs(&graph, &samples[0]).unwrap();
        for params in [ParamVisibility::Private, ParamVisibility::Hashed] {
            let vis = VisibilityConfig { inputs: Visibility::Hashed, outputs: Visibility::Hashed, params };
            let counter = Counter::<Fr>::new(&graph, &qin, &vis);
            assert!(counter.raw(10, 2).is_err(), "{name}: the MAC gate cannot take private parameters");
            let planned = plan::<Fr>(&graph, &qin, &PlanOptions { visibility: vis, ..Default::default() }).unwrap();
            let k = planned.stats.k;
            for (k, lookup_bits) in [(k, (k - 1) as usize), (k + 1, (k - 2) as usize)] {
                let (sp, ss) = synthesized_shape::<Fr>(&graph, &qin, k, &vis, 0, lookup_bits).unwrap();
                let (cp, cs) = shape_of(&counter.raw(lookup_bits, 0).unwrap(), k, 0, lookup_bits);
                assert_eq!(cs, ss, "{name}, {params:?} parameters, k={k}");
                assert_eq!(format!("{cp:?}"), format!("{sp:?}"), "{name}, {params:?} parameters, k={k}");
            }
        }
    }
}

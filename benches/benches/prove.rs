//! Criterion benchmarks of the hot parts: witness generation per chip family (one-op
//! corpus models), the MAC gate against halo2-base's inner product, and keygen and prove
//! for the zoo models. `cargo bench -p zkinfer-benches` (release profile).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use zkinfer_benches::{load_dir, Loaded};
use zkinfer_circuits::{plan, CircuitBuilderStage, Fr, ModelCircuit, PlanOptions};
use zkinfer_prover::{halo2 as h2, srs};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");
const ZOO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/zoo");

/// One corpus model per chip family.
const FAMILIES: &[(&str, &str)] = &[
    ("linear", "1l_mlp"),
    ("conv", "1l_conv"),
    ("relu", "1l_relu"),
    ("table", "1l_sigmoid"),
    ("softmax", "1l_softmax"),
    ("div", "1l_div"),
    ("reduce", "1l_max_pool"),
    ("norm", "layernorm"),
];

fn witness(c: &mut Criterion, group: &str, models: &[(String, Loaded, PlanOptions)]) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    for (name, m, opts) in models {
        let shape = plan::<Fr>(&m.quant, &m.qin, opts).expect("plan").shape;
        g.bench_function(name.as_str(), |b| {
            b.iter(|| ModelCircuit::<Fr>::build(CircuitBuilderStage::Prover, &m.quant, &m.qin, &shape).expect("witness"))
        });
    }
    g.finish();
}

fn chip_families(c: &mut Criterion) {
    let models: Vec<_> =
        FAMILIES.iter().map(|(fam, m)| (fam.to_string(), load_dir(&format!("{CORPUS}/{m}")).expect(m), PlanOptions::default())).collect();
    witness(c, "witness/chip_family", &models);
}

fn mac_vs_inner_product(c: &mut Criterion) {
    let dir = format!("{ZOO}/mlp_784_128_64_10");
    let models: Vec<_> = [("inner_product", Some(0)), ("mac_8", Some(8)), ("mac_16", Some(16))]
        .into_iter()
        .map(|(n, w)| (n.to_string(), load_dir(&dir).unwrap(), PlanOptions { mac_width: w, ..Default::default() }))
        .collect();
    witness(c, "witness/mlp_784_dense", &models);
}

fn keygen_and_prove(c: &mut Criterion) {
    for zoo in ["mlp_4_8_2", "credit_mlp", "mlp_784_128_64_10"] {
        let m = load_dir(&format!("{ZOO}/{zoo}")).unwrap();
        let planned = plan::<Fr>(&m.quant, &m.qin, &PlanOptions::default()).unwrap();
        let params = srs::insecure_test_srs(planned.stats.k);
        let mut g = c.benchmark_group(format!("zoo/{zoo}"));
        g.sample_size(10);
        g.bench_function("keygen", |b| b.iter(|| h2::keygen(&params, &m.quant, &m.qin, &planned.shape).unwrap()));
        let keys = h2::keygen(&params, &m.quant, &m.qin, &planned.shape).unwrap();
        g.bench_function("prove", |b| b.iter(|| h2::prove(&params, &keys, &m.quant, &m.qin).unwrap()));
        let proof = h2::prove(&params, &keys, &m.quant, &m.qin).unwrap();
        g.bench_function("verify", |b| {
            b.iter_batched(
                || proof.instances.clone(),
                |inst| assert!(h2::verify(&params, keys.vk(), &inst, &proof.proof)),
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

criterion_group!(benches, chip_families, mac_vs_inner_product, keygen_and_prove);
criterion_main!(benches);

//! The conformance runner on a quick subset of the corpus (the full corpus run is a
//! benchmark: `zkinfer conformance ../shared/onnx-corpus --report report.json`).
//! Every new chip family appears: tables (Sigmoid, Softmax's exp), division (Softmax,
//! Softsign), sign-bit reductions (MaxPool, ArgMax), comparisons and one-hot Gather
//! (decision tree), one-hot selection by activation indices (GatherElements, OneHot, TopK by ranks),
//! recurrent ops unrolled at import (LSTM, RNN), and a hand-made model that must be
//! reported as unsupported, by op name.

mod unsupported_model;

use std::path::Path;

use zkinfer_compiler::NoCache;
use zkinfer_service::conformance::{run_dir, run_model, ConformanceOptions, Status};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// The insecure test SRS and the solc the zkinfer binary finds without flags.
fn env() -> zkinfer_compiler::Environment {
    zkinfer_compiler::Environment::new(zkinfer_service::environment::Tools::resolve(&Default::default()).solc)
}

const QUICK: &[&str] = &[
    "1l_sigmoid",
    "1l_softmax",
    "1l_max_pool",
    "softsign",
    "decision_tree",
    "1l_conv",
    "lstm",
    "rnn",
    "gather_elements",
    "hummingbird_decision_tree",
    "1l_topk",
];

#[test]
fn quick_subset_proves_verifies_and_reports_unsupported_ops() {
    let opts = ConformanceOptions { evm: true, ..Default::default() };
    let results = run_dir(Path::new(CORPUS), &|n| QUICK.contains(&n), &opts, &env(), &NoCache, |r| {
        println!("{}", zkinfer_service::conformance::table_row(r))
    })
    .unwrap();
    assert_eq!(results.len(), QUICK.len());
    for r in &results {
        assert!(r.passed(), "{}: {:?}", r.model, r.status);
        assert!(r.rel_error.unwrap() <= 0.01 && r.argmax_agrees == Some(true));
        assert!(r.k.unwrap() <= 14 && r.prove_seconds.is_some());
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run_model(&unsupported_model::write(dir.path()), &opts, &env(), &NoCache);
    // The reason names the op first, then why this instance of it is refused.
    let prefix = format!("unsupported op {}", unsupported_model::OP);
    let Status::Unsupported(reason) = &r.status else { panic!("{r:?}") };
    assert!(reason.starts_with(&prefix) && reason.contains("non-constant"), "{reason}");
    // The JSON report names the status and the reason.
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["status"], "unsupported");
    assert_eq!(json["reason"], reason.as_str());
}

/// The whole corpus (a benchmark, minutes to hours): `CONFORMANCE_REPORT=report.json
/// cargo test -p zkinfer-service --test conformance -- --ignored --nocapture`.
#[test]
#[ignore]
fn full_corpus_report() {
    let opts = ConformanceOptions::default();
    let only = std::env::var("CONFORMANCE_ONLY").ok();
    let filter = |n: &str| only.as_ref().is_none_or(|o| o.split(',').any(|x| x == n));
    let results =
        run_dir(Path::new(CORPUS), &filter, &opts, &env(), &NoCache, |r| println!("{}", zkinfer_service::conformance::table_row(r)))
            .unwrap();
    if let Ok(path) = std::env::var("CONFORMANCE_REPORT") {
        std::fs::write(path, serde_json::to_vec_pretty(&results).unwrap()).unwrap();
    }
    let pass = results.iter().filter(|r| r.passed()).count();
    println!("{pass} of {} pass", results.len());
}

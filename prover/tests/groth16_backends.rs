//! Both backends behind one `Prover` trait, end to end: prove, verify natively, compile
//! the Solidity verifier with npm solc and verify in revm; tampered proofs and changed
//! public values are rejected natively and on-chain. Prints the figures compared in
//! issue 6 (prove time, proof bytes, verification gas).

mod groth16_common;

use std::time::Instant;

use groth16_common::{expected_public, load, Model};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use zkinfer_circuits::{plan, public, Fr, PlanOptions};
use zkinfer_prover::halo2 as h2;
use zkinfer_prover::{srs, Backend, BackendError, Expected, Groth16Prover, Halo2Prover, ModelProof, Prover, VerifyError};
use zkinfer_verifier_contracts::{Solc, EIP170_LIMIT};

/// The solc that scripts/setup.sh installs: `ZKINFER_SOLC_DIR`, else `$ZKINFER_HOME/solc`
/// (default `~/.cache/zkinfer/solc`), run by `ZKINFER_NODE` (default `node`).
fn solc() -> Solc {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
    let home = var("ZKINFER_HOME").unwrap_or_else(|| var("HOME").unwrap_or_default().join(".cache/zkinfer"));
    Solc::in_dir(var("ZKINFER_NODE").unwrap_or_else(|| "node".into()), &var("ZKINFER_SOLC_DIR").unwrap_or_else(|| home.join("solc")))
}

fn groth16(m: &Model) -> Box<dyn Prover> {
    Box::new(Groth16Prover::setup(m.graph.clone(), &mut ChaCha20Rng::from_seed([9; 32])).unwrap())
}

fn halo2(m: &Model) -> Box<dyn Prover> {
    let planned = plan::<Fr>(&m.graph, &m.inputs, &PlanOptions::default()).unwrap();
    let params = srs::insecure_test_srs(planned.stats.k);
    let keys = h2::keygen(&params, &m.graph, &m.inputs, &planned.shape).unwrap();
    Box::new(Halo2Prover::new(params, keys, m.graph.clone()))
}

/// Proves, verifies natively and on the EVM, checks rejections; returns the figures.
fn exercise(prover: &dyn Prover, m: &Model) -> (f64, usize, u64) {
    let name = &m.name;
    let backend = prover.backend();
    let t0 = Instant::now();
    let proof = prover.prove(&m.inputs).unwrap_or_else(|e| panic!("{name} {backend}: {e}"));
    let prove_s = t0.elapsed().as_secs_f64();
    assert_eq!(proof.backend, backend);
    assert_eq!(proof.instances, public::pack::<Fr>(&expected_public(m), m.graph.bits), "{name} {backend}");
    prover.verify(&proof, &Expected::default()).unwrap_or_else(|e| panic!("{name} {backend}: honest proof rejected natively: {e}"));
    // The statement: the proof's own outputs are accepted, other outputs are not.
    let outputs = prover.public_outputs(&proof).unwrap().expect("public outputs");
    prover.verify(&proof, &Expected { outputs: Some(&outputs), param_hash: None }).unwrap();
    let mut claimed = outputs.clone();
    claimed[0][0] += 1.0;
    assert!(matches!(prover.verify(&proof, &Expected { outputs: Some(&claimed), param_hash: None }), Err(VerifyError::OutputMismatch)));

    let verifier = prover.verifier(&solc()).unwrap();
    assert!(verifier.largest_runtime() <= EIP170_LIMIT);
    let code = verifier.code();
    let honest = prover.verify_on_evm(&code, &proof).unwrap();
    assert!(honest.accepted, "{name} {backend}: honest proof rejected on the EVM");

    // A changed public output is rejected natively and on-chain.
    let mut wrong = proof.clone();
    let mut values = expected_public(m);
    let last = values.len() - 1;
    values[last] += if values[last] > 0 { -1 } else { 1 };
    wrong.instances = public::pack::<Fr>(&values, m.graph.bits);
    assert!(
        matches!(prover.verify(&wrong, &Expected::default()), Err(VerifyError::InvalidProof)),
        "{name} {backend}: changed output accepted natively"
    );
    assert!(!prover.verify_on_evm(&code, &wrong).unwrap().accepted, "{name} {backend}: changed output accepted on-chain");
    // A tampered proof is rejected (or refused as malformed) natively and on-chain.
    let mut bad = proof.clone();
    let mid = bad.proof.len() / 2;
    bad.proof[mid] ^= 1;
    assert!(
        matches!(prover.verify(&bad, &Expected::default()), Err(VerifyError::InvalidProof)),
        "{name} {backend}: tampered proof accepted natively"
    );
    match prover.verify_on_evm(&code, &bad) {
        Ok(r) => assert!(!r.accepted, "{name} {backend}: tampered proof accepted on-chain"),
        Err(BackendError::Groth16(_)) => {} // does not even decode to curve points
        Err(e) => panic!("{e}"),
    }
    // A proof of the other backend is refused by type, not by luck.
    let other = ModelProof { backend: if backend == Backend::Groth16 { Backend::Halo2 } else { Backend::Groth16 }, ..proof.clone() };
    assert!(matches!(prover.verify(&other, &Expected::default()), Err(VerifyError::WrongBackend { .. })));
    assert!(matches!(prover.verify_proof(&other), Err(BackendError::WrongBackend { .. })));
    // Instances that are not this model's layout are refused before the proof is checked.
    let short = ModelProof { instances: proof.instances[1..].to_vec(), ..proof.clone() };
    assert!(matches!(prover.verify(&short, &Expected::default()), Err(VerifyError::InstanceCount { .. })));

    println!(
        "{name:>12} {backend:>8}: prove {prove_s:.3}s, proof {} bytes, gas {}, verifier {} bytes, pk {} bytes",
        proof.proof.len(),
        honest.gas_used,
        verifier.largest_runtime(),
        prover.proving_key_bytes().len()
    );
    (prove_s, proof.proof.len(), honest.gas_used)
}

#[test]
fn groth16_end_to_end_on_small_models() {
    for name in ["1l_linear", "1l_mlp", "2l_relu_fc", "1l_relu", "1l_concat"] {
        let m = load(name);
        let prover = groth16(&m);
        let (_, bytes, gas) = exercise(prover.as_ref(), &m);
        assert_eq!(bytes, 128);
        // About 181k for the pairings and 21k per transaction, 6.2k per packed word
        // (7 values of 32 bits), calldata and range checks per value.
        let values = m.graph.num_public() as u64;
        assert!(gas < 230_000 + 6_500 * values.div_ceil(7) + 600 * values, "{name}: gas {gas}");
    }
}

/// A lookup-table model end to end with both backends (the Sigmoid is a `Table` op).
#[test]
fn sigmoid_end_to_end_with_both_backends() {
    let m = load("1l_sigmoid");
    assert!(m.graph.nodes.iter().any(|n| n.op.name() == "table"));
    let (_, g_bytes, g_gas) = exercise(groth16(&m).as_ref(), &m);
    let (_, h_bytes, h_gas) = exercise(halo2(&m).as_ref(), &m);
    assert_eq!(g_bytes, 128);
    assert!(g_bytes < h_bytes && g_gas < h_gas, "groth16 {g_bytes} B / {g_gas} gas vs halo2 {h_bytes} B / {h_gas} gas");
}

#[test]
fn both_backends_behind_one_trait() {
    for name in ["1l_linear", "1l_mlp", "2l_relu_fc"] {
        let m = load(name);
        let provers: Vec<Box<dyn Prover>> = vec![halo2(&m), groth16(&m)];
        let figures: Vec<_> = provers.iter().map(|p| exercise(p.as_ref(), &m)).collect();
        let (_, h_bytes, h_gas) = figures[0];
        let (_, g_bytes, g_gas) = figures[1];
        assert!(g_bytes < h_bytes, "{name}: groth16 proof {g_bytes} bytes vs halo2 {h_bytes}");
        assert!(g_gas < h_gas, "{name}: groth16 gas {g_gas} vs halo2 {h_gas}");
    }
    assert_eq!("groth16".parse::<Backend>().unwrap(), Backend::Groth16);
    assert_eq!(Backend::default().to_string(), "halo2");
    assert!(matches!("plonky3".parse::<Backend>(), Err(BackendError::UnknownBackend(_))));
}

#[test]
fn imported_keys_prove_and_verify() {
    let m = load("2l_relu_fc");
    let made = Groth16Prover::setup(m.graph.clone(), &mut ChaCha20Rng::from_seed([1; 32])).unwrap();
    let imported = Groth16Prover::import(m.graph.clone(), &made.proving_key_bytes()).unwrap();
    assert_eq!(imported.verifying_key_bytes(), made.verifying_key_bytes());
    let proof = imported.prove(&m.inputs).unwrap();
    made.verify(&proof, &Expected::default()).unwrap();
}

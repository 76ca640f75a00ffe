//! End to end: a tiny halo2-base circuit, proved with SHPLONK + Keccak, its
//! generated Solidity verifier compiled by npm solc (optimizer off) and run
//! in revm. Guards against a miscompiled verifier: the honest proof must be
//! accepted and tampered proofs / instances rejected.

mod common;

use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::{BaseCircuitParams, CircuitBuilderStage};
use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use halo2_base::gates::{GateInstructions, RangeInstructions};
use halo2_base::halo2_proofs::halo2curves::bn256::G1Affine;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr};
use halo2_base::halo2_proofs::plonk::ProvingKey;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use rand::rngs::StdRng;
use rand::SeedableRng;
use snark_verifier_sdk::evm::gen_evm_proof_shplonk;
use snark_verifier_sdk::gen_pk;
use zkinfer_verifier_contracts::{
    compile_solidity, compile_solidity_all_with, encode_calldata, halo2_verifier_source, split_verifier, verify_on_evm, Evm, SolcOptions,
    VerifierCode, EIP170_LIMIT,
};

const K: usize = 8;
const LOOKUP_BITS: usize = 7;

/// Proves knowledge of `x, y` with `x, y < 2^16` and publishes
/// `x * y` and `x * y + x`.
fn build_circuit(
    stage: CircuitBuilderStage,
    config: Option<(BaseCircuitParams, MultiPhaseThreadBreakPoints)>,
    x: u64,
    y: u64,
) -> BaseCircuitBuilder<Fr> {
    let mut builder = BaseCircuitBuilder::from_stage(stage);
    builder = match config {
        Some((params, break_points)) => builder.use_params(params).use_break_points(break_points),
        None => builder.use_k(K).use_lookup_bits(LOOKUP_BITS).use_instance_columns(1),
    };
    let range = builder.range_chip();
    let ctx = builder.main(0);
    let x = ctx.load_witness(Fr::from(x));
    let y = ctx.load_witness(Fr::from(y));
    range.range_check(ctx, x, 16);
    range.range_check(ctx, y, 16);
    let product = range.gate().mul(ctx, x, y);
    let total = range.gate().add(ctx, product, x);
    range.range_check(ctx, total, 40);
    builder.assigned_instances[0].push(product);
    builder.assigned_instances[0].push(total);
    builder
}

fn instances_of(builder: &BaseCircuitBuilder<Fr>) -> Vec<Fr> {
    builder.assigned_instances[0].iter().map(|v| *v.value()).collect()
}

/// The toy circuit's params, proving key, instances and an honest SHPLONK proof.
fn toy_proof() -> (ParamsKZG<Bn256>, ProvingKey<G1Affine>, Vec<Fr>, Vec<u8>) {
    let params = ParamsKZG::<Bn256>::setup(K as u32, StdRng::seed_from_u64(0x5eed));

    // Keygen.
    let mut keygen = build_circuit(CircuitBuilderStage::Keygen, None, 0, 0);
    let config = keygen.calculate_params(Some(9));
    let pk = gen_pk(&params, &keygen, None);
    let break_points = keygen.break_points();

    // Prove x = 1234, y = 567.
    let prover = build_circuit(CircuitBuilderStage::Prover, Some((config, break_points)), 1234, 567);
    let instances = instances_of(&prover);
    assert_eq!(instances, vec![Fr::from(1234 * 567), Fr::from(1234 * 567 + 1234)]);
    let proof = gen_evm_proof_shplonk(&params, &pk, prover, vec![instances.clone()]);
    (params, pk, instances, proof)
}

/// A verifier accepts the honest proof and rejects flipped bytes, changed instances, a
/// truncated proof and empty calldata.
fn check_rejections(code: &VerifierCode, instances: &[Fr], proof: &[u8]) {
    for position in [0, 40, proof.len() / 2, proof.len() - 1] {
        let mut tampered = proof.to_vec();
        tampered[position] ^= 0x01;
        let result = verify_on_evm(code, instances, &tampered).expect("evm run");
        assert!(!result.accepted, "proof with byte {position} flipped was accepted");
    }
    for index in 0..instances.len() {
        let mut wrong = instances.to_vec();
        wrong[index] += Fr::from(1);
        let result = verify_on_evm(code, &wrong, proof).expect("evm run");
        assert!(!result.accepted, "changed instance {index} was accepted");
    }
    let truncated = verify_on_evm(code, instances, &proof[..proof.len() - 32]).expect("evm run");
    assert!(!truncated.accepted);
    let empty = verify_on_evm(code, &[], &[]).expect("evm run");
    assert!(!empty.accepted);
}

#[test]
fn halo2_verifier_accepts_honest_and_rejects_tampered_proofs() {
    let (params, pk, instances, proof) = toy_proof();

    // Generate and compile the verifier with our npm solc driver.
    let source = halo2_verifier_source(&params, pk.get_vk(), instances.len());
    assert!(source.contains("contract Halo2Verifier"));
    let contract = compile_solidity(&common::solc(), &source, Some("Halo2Verifier")).expect("verifier compiles");
    assert!(contract.runtime_code.len() <= EIP170_LIMIT);

    // Honest proof.
    let code = VerifierCode::single(contract.deployment_code.clone());
    let honest = verify_on_evm(&code, &instances, &proof).expect("evm run");
    println!(
        "toy verifier: gas_used = {}, runtime = {} bytes, deployment = {} bytes, proof = {} bytes",
        honest.gas_used,
        honest.runtime_size,
        honest.deployment_size,
        proof.len()
    );
    assert!(honest.accepted, "honest proof rejected");
    assert!(honest.gas_used > 21_000);
    assert_eq!(honest.runtime_size, contract.runtime_code.len());
    assert_eq!(honest.deployment_size, contract.deployment_code.len());

    // The verifier signals success with an empty return and failure with an
    // empty revert.
    let mut evm = Evm::new();
    let deployed = evm.deploy(&contract.deployment_code).expect("deploy");
    let ok = evm.call(deployed.address, &encode_calldata(&instances, &proof)).expect("call");
    assert!(ok.success && ok.output.is_empty());
    assert_eq!(ok.gas_used, honest.gas_used);
    let bad = evm.call(deployed.address, &encode_calldata(&instances, &proof[1..])).expect("call");
    assert!(!bad.success && bad.output.is_empty());

    check_rejections(&code, &instances, &proof);
}

#[test]
fn split_verifier_accepts_honest_and_rejects_tampered_proofs_and_wrong_parts() {
    let (params, pk, instances, proof) = toy_proof();
    let source = halo2_verifier_source(&params, pk.get_vk(), instances.len());
    let single = compile_solidity(&common::solc(), &source, Some("Halo2Verifier")).expect("verifier compiles");
    let unsplit = verify_on_evm(&VerifierCode::single(single.deployment_code.clone()), &instances, &proof).expect("evm run");
    assert!(unsplit.accepted);

    // At least three parts, each under half the unsplit size.
    let limit = single.runtime_code.len() / 2;
    let verifier = split_verifier(&common::solc(), &source, 3, limit).expect("splits");
    assert!(verifier.parts.len() >= 3);
    assert!(verifier.parts.iter().all(|p| p.runtime_code.len() <= limit));
    assert_eq!(verifier.contracts(), verifier.parts.len() + 1);
    let code = verifier.code();
    let honest = verify_on_evm(&code, &instances, &proof).expect("evm run");
    println!(
        "split toy verifier: {} parts, gas {} (unsplit {}), largest runtime {} bytes",
        verifier.parts.len(),
        honest.gas_used,
        unsplit.gas_used,
        honest.runtime_size
    );
    assert!(honest.accepted, "honest proof rejected by the split verifier");
    assert_eq!(honest.runtime_size, verifier.largest_runtime());
    check_rejections(&code, &instances, &proof);

    // The published source, compiled whole with the stated settings, gives the same code
    // (the entry pins the parts' code hashes).
    let whole = compile_solidity_all_with(&common::solc(), &verifier.source, SolcOptions { no_metadata_hash: true, ..Default::default() })
        .expect("compiles");
    for c in verifier.parts.iter().chain(std::iter::once(&verifier.entry)) {
        let same = whole.iter().find(|w| w.name == c.name).expect("in the source");
        assert_eq!(same.runtime_code, c.runtime_code, "{}", c.name);
    }

    // Parts of at most 900 bytes: large blocks are cut too (their variables pass
    // through scratch memory), and the verifier still decides the same.
    let tiny = split_verifier(&common::solc(), &source, 2, 900).expect("splits finely");
    assert!(tiny.parts.iter().all(|p| p.runtime_code.len() <= 900));
    assert!(tiny.source.contains("mstore(0x0, "), "no block was cut");
    println!("toy verifier in {} parts of at most 900 bytes", tiny.parts.len());
    let tiny_code = tiny.code();
    assert!(verify_on_evm(&tiny_code, &instances, &proof).expect("evm run").accepted);
    check_rejections(&tiny_code, &instances, &proof);

    // The manifest round-trips.
    assert_eq!(VerifierCode::from_json(&code.to_json()).expect("parses"), code);

    // The entry refuses parts in another order, or an address without the part's code.
    let mut evm = Evm::new();
    let addresses: Vec<_> = code.parts.iter().map(|p| evm.deploy(p).expect("part deploys").address).collect();
    let with = |order: &[usize]| code.entry_creation_code(&order.iter().map(|&i| addresses[i]).collect::<Vec<_>>());
    let n = addresses.len();
    let mut swapped: Vec<usize> = (0..n).collect();
    swapped.swap(0, 1);
    assert!(evm.deploy(&with(&swapped)).is_err(), "parts in the wrong order were accepted");
    let mut repeated: Vec<usize> = (0..n).collect();
    repeated[n - 1] = 0;
    assert!(evm.deploy(&with(&repeated)).is_err(), "a repeated part was accepted");
    let entry = evm.deploy(&with(&(0..n).collect::<Vec<_>>())).expect("the right parts deploy");
    let ok = evm.call(entry.address, &encode_calldata(&instances, &proof)).expect("call");
    assert!(ok.success && ok.output.is_empty());
}

//! A model proved as segments: real halo2 proofs of each segment, chained by the hashes
//! of the values crossing the cuts; and the chains that must be refused (proofs of two
//! runs mixed, a forged boundary hash, a missing proof, a boundary value out of range).

use zkinfer_circuits::segment::{plan_segments, PlannedSegment};
use zkinfer_circuits::{Fr, InstanceLayout, PlanOptions};
use zkinfer_models::input_json::InputData;
use zkinfer_models::interp;
use zkinfer_models::prepare::prepare_input;
use zkinfer_models::quant::QuantGraph;
use zkinfer_models::QuantOptions;
use zkinfer_prover::halo2::{self as h2, Halo2Keys, Halo2Proof};
use zkinfer_prover::segments::{check_links, segment_inputs, verify_chain, ChainError, SegmentVerifier};
use zkinfer_prover::srs::insecure_test_srs;
use zkinfer_verifier_contracts::segments::{build_segment_chain, chain_error, deploy_segment_chain, verify_chain_on_evm};
use zkinfer_verifier_contracts::{compile_halo2_verifier, encode_calldata, halo2_verifier_source, verify_on_evm, Evm, Solc, VerifierCode};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// The model, its sample's float input and the quantized graph.
fn model(name: &str) -> (QuantGraph, Vec<Vec<f64>>) {
    let dir = format!("{CORPUS}/{name}");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    let (p, samples) = prepare_input(&onnx, &input, &QuantOptions::default()).unwrap();
    (p.quant, samples[0].clone())
}

struct Keyed {
    seg: PlannedSegment,
    params: halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG<halo2_base::halo2_proofs::halo2curves::bn256::Bn256>,
    keys: Halo2Keys,
}

fn prove_all(full: &QuantGraph, keyed: &[Keyed], qin: &[Vec<i64>]) -> Vec<Halo2Proof> {
    let graphs: Vec<QuantGraph> = keyed.iter().map(|k| k.seg.graph.clone()).collect();
    let ins = segment_inputs(full, &graphs, qin).unwrap();
    keyed.iter().zip(&ins).map(|(k, i)| h2::prove(&k.params, &k.keys, &k.seg.graph, i).unwrap()).collect()
}

#[test]
fn segment_proofs_chain_and_mixed_runs_do_not() {
    let (full, x) = model("tutorial");
    let qin = interp::quantize_inputs(&full, &x).unwrap();
    let segs = plan_segments::<Fr>(&full, &qin, &PlanOptions::default(), 3).unwrap();
    assert_eq!(segs.len(), 3, "three segments asked");
    assert_eq!(segs[0].nodes.start, 0);
    assert_eq!(segs[2].nodes.end, full.nodes.len());
    let keyed: Vec<Keyed> = segs
        .into_iter()
        .map(|seg| {
            let plan = &seg.candidates[0];
            let params = insecure_test_srs(plan.stats.k);
            let keys = h2::keygen(&params, &seg.graph, &seg.sample, &plan.shape).unwrap();
            Keyed { seg, params, keys }
        })
        .collect();
    let verifiers: Vec<SegmentVerifier<'_>> = keyed
        .iter()
        .map(|k| SegmentVerifier { params: &k.params, vk: k.keys.vk(), layout: InstanceLayout::new(&k.seg.graph, &k.seg.visibility) })
        .collect();

    let run1 = prove_all(&full, &keyed, &qin);
    verify_chain(&verifiers, &run1).unwrap();
    // The first segment's packed instances are the model's quantized inputs, the last
    // one's (after its input hash) the model's quantized outputs.
    let flat = |v: &[Vec<i64>]| v.iter().flatten().map(|x| *x as i128).collect::<Vec<_>>();
    let outputs = interp::run(&full, &qin).unwrap().outputs(&full);
    let l0 = InstanceLayout::new(&keyed[0].seg.graph, &keyed[0].seg.visibility);
    assert_eq!(run1[0].instances[l0.packed_range()], zkinfer_circuits::public::pack::<Fr>(&flat(&qin), full.bits)[..]);
    assert_eq!(run1[2].instances[1..], zkinfer_circuits::public::pack::<Fr>(&flat(&outputs), full.bits)[..]);

    // A second run on another input: each proof is valid alone, but mixed with the first
    // run's they do not chain.
    let x2: Vec<Vec<f64>> = x.iter().map(|v| (0..v.len()).map(|i| v[(i * 7919 + 13) % v.len()]).collect()).collect();
    let qin2 = interp::quantize_inputs(&full, &x2).unwrap();
    let graphs: Vec<QuantGraph> = keyed.iter().map(|k| k.seg.graph.clone()).collect();
    let (b1, b2) = (segment_inputs(&full, &graphs, &qin).unwrap(), segment_inputs(&full, &graphs, &qin2).unwrap());
    assert!(b1[1] != b2[1] && b1[2] != b2[2], "the two runs cross both cuts with different values");
    let run2 = prove_all(&full, &keyed, &qin2);
    verify_chain(&verifiers, &run2).unwrap();
    let mixed = vec![run1[0].clone(), run2[1].clone(), run1[2].clone()];
    assert_eq!(verify_chain(&verifiers, &mixed), Err(ChainError::Broken { segment: 0 }));
    let mixed = vec![run1[0].clone(), run1[1].clone(), run2[2].clone()];
    assert_eq!(verify_chain(&verifiers, &mixed), Err(ChainError::Broken { segment: 1 }));

    // A boundary hash forged on both sides keeps the links but breaks both proofs.
    let mut forged = run1.clone();
    let out = verifiers[0].layout.output_hash_index().unwrap();
    forged[0].instances[out] += Fr::from(1);
    forged[1].instances[0] += Fr::from(1);
    let links: Vec<&[Fr]> = forged.iter().map(|p| p.instances.as_slice()).collect();
    check_links(&verifiers.iter().map(|v| v.layout).collect::<Vec<_>>(), &links).unwrap();
    assert_eq!(verify_chain(&verifiers, &forged), Err(ChainError::InvalidProof { segment: 0 }));
    forged[0] = run1[0].clone();
    assert_eq!(verify_chain(&verifiers, &forged), Err(ChainError::Broken { segment: 0 }));

    // A tampered public output of the last segment, and a missing proof.
    let mut bad = run1.clone();
    bad[2].instances[1] += Fr::from(1);
    assert_eq!(verify_chain(&verifiers, &bad), Err(ChainError::InvalidProof { segment: 2 }));
    assert_eq!(verify_chain(&verifiers, &run1[..2]), Err(ChainError::Count { expected: 3, got: 2 }));

    // The same on an EVM: every segment's Solidity verifier and ZkinferSegmentChain.
    let solc = solc();
    let codes: Vec<VerifierCode> = keyed
        .iter()
        .map(|k| {
            let n = InstanceLayout::new(&k.seg.graph, &k.seg.visibility).len();
            compile_halo2_verifier(&solc, halo2_verifier_source(&k.params, k.keys.vk(), n)).unwrap().code()
        })
        .collect();
    let counts: Vec<usize> = verifiers.iter().map(|v| v.layout.len()).collect();
    let chain = build_segment_chain(&solc).unwrap();
    let mut evm = Evm::new();
    let at = deploy_segment_chain(&mut evm, &chain, &codes, &counts).unwrap();
    let calls = |proofs: &[Halo2Proof]| proofs.iter().map(|p| encode_calldata(&p.instances, &p.proof)).collect::<Vec<_>>();
    let ok = verify_chain_on_evm(&mut evm, at, &calls(&run1)).unwrap();
    assert!(ok.accepted, "revert {:?}", ok.revert);
    let alone: u64 = codes.iter().zip(&run1).map(|(c, p)| verify_on_evm(c, &p.instances, &p.proof).unwrap().gas_used).sum();
    println!("segment chain on the EVM: {} gas; the three verifiers called alone: {alone} gas", ok.gas_used);
    assert!(verify_chain_on_evm(&mut evm, at, &calls(&run2)).unwrap().accepted);
    let short = verify_chain_on_evm(&mut evm, at, &calls(&run1[..2])).unwrap();
    assert!(!short.accepted);
    assert_eq!(short.revert[..4], chain_error("SegmentCount(uint256,uint256)", 0)[..4]);
    let mut rejected = |proofs: &[Halo2Proof], why: &str, segment: usize| {
        let r = verify_chain_on_evm(&mut evm, at, &calls(proofs)).unwrap();
        assert!(!r.accepted, "{why} accepted");
        assert_eq!(r.revert, chain_error(why, segment), "{why}");
    };
    rejected(&[run1[0].clone(), run2[1].clone(), run1[2].clone()], "BrokenChain(uint256)", 0);
    rejected(&[run1[0].clone(), run1[1].clone(), run2[2].clone()], "BrokenChain(uint256)", 1);
    let mut forged = run1.clone();
    forged[0].instances[out] += Fr::from(1);
    forged[1].instances[0] += Fr::from(1);
    rejected(&forged, "SegmentRejected(uint256)", 0);
    rejected(&bad, "SegmentRejected(uint256)", 2);
}

fn solc() -> Solc {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
    let home = var("ZKINFER_HOME").unwrap_or_else(|| var("HOME").unwrap_or_default().join(".cache/zkinfer"));
    Solc::in_dir(var("ZKINFER_NODE").unwrap_or_else(|| "node".into()), &var("ZKINFER_SOLC_DIR").unwrap_or_else(|| home.join("solc")))
}

#[test]
fn a_boundary_value_outside_the_activation_range_is_refused_before_proving() {
    let (full, x) = model("tutorial");
    let qin = interp::quantize_inputs(&full, &x).unwrap();
    let graphs = full.split(&[full.nodes.len() / 2]).unwrap();
    let ins = segment_inputs(&full, &graphs, &qin).unwrap();
    assert_eq!(ins[0], qin);
    // The same graph at 4 activation bits: the crossing values no longer fit.
    let narrow = |g: &QuantGraph| QuantGraph { bits: 4, ..g.clone() };
    let graphs4: Vec<QuantGraph> = graphs.iter().map(narrow).collect();
    let err = zkinfer_circuits::segment::check_boundaries(&graphs4, &interp::run(&full, &qin).unwrap().values).unwrap_err();
    assert!(err.to_string().contains("crossing into segment 1"), "{err}");
}

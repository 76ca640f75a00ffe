//! `zkinfer compile-segments` / `prove-segments` / `verify-segments` end to end on a
//! corpus model cut into three segments: the chain verifies natively, on the EVM
//! (ZkinferSegmentChain in revm) and on anvil after `zkinfer deploy` (idempotent), and
//! states the single-circuit interpreter's outputs; proofs of two runs mixed, a flipped
//! proof byte, a missing segment and outputs that are not the proven ones are refused
//! natively, in revm and by the deployed chain. The chain proved in parts (`--segment`)
//! and put together by `join-segments` verifies and states the same outputs; parts for
//! other inputs or another compile, a segment missing or proved twice are not joined.

mod chain_support;
mod cli_support;

use chain_support::{anvil, number_after, Scratch};
use cli_support::{flip_proof_digit, zkinfer};
use zkinfer_models::input_json::InputData;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

fn write_json(path: &std::path::Path, v: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec(v).unwrap()).unwrap();
}

#[test]
fn segment_proofs_verify_and_mixed_or_tampered_ones_do_not() {
    let model = format!("{CORPUS}/tutorial/network.onnx");
    let input = format!("{CORPUS}/tutorial/input.json");
    let tmp = std::env::temp_dir().join(format!("zkinfer-cli-segments-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let dir = tmp.join("compiled");
    let (d, p1, p2) = (dir.to_str().unwrap(), tmp.join("p1.json"), tmp.join("p2.json"));
    let (code, out, err) = zkinfer(&["compile-segments", &model, "--input", &input, "--out", d, "--segments", "3"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("segment ")).count(), 3, "{out}");

    // Another input: the sample's values permuted, scaled and shifted.
    let data = InputData::from_path(&input).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
    let permuted: Vec<Vec<f64>> =
        data.samples()[0].iter().map(|x| (0..x.len()).map(|i| x[(i * 7919 + 13) % x.len()] * 0.8 + 0.01).collect()).collect();
    v["input_data"] = serde_json::json!(permuted);
    let input2 = tmp.join("input2.json");
    write_json(&input2, &v);

    let (code, out1, err) = zkinfer(&["prove-segments", d, "--input", &input, "--out", p1.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = zkinfer(&["prove-segments", d, "--input", input2.to_str().unwrap(), "--out", p2.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for p in [&p1, &p2] {
        let (code, out, err) = zkinfer(&["verify-segments", d, p.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("segment proofs valid (3 segments"), "{out}");
    }
    let (code, out_evm, err) = zkinfer(&["verify-segments", d, p1.to_str().unwrap(), "--evm"]);
    assert_eq!(code, 0, "{err}");
    assert!(out_evm.contains("valid on the EVM (3 segments"), "{out_evm}");
    // The proven outputs are the outputs prove-segments printed.
    let proven = out_evm.lines().find(|l| l.starts_with("{\"outputs\"")).unwrap();
    assert_eq!(proven.trim(), out1.trim(), "verify states the outputs prove printed");

    let f1: serde_json::Value = serde_json::from_slice(&std::fs::read(&p1).unwrap()).unwrap();
    let f2: serde_json::Value = serde_json::from_slice(&std::fs::read(&p2).unwrap()).unwrap();
    let bad = tmp.join("bad.json");
    // A chain where `zkinfer deploy` put the segments' verifiers and ZkinferSegmentChain.
    let node = anvil();
    let url = node.url();
    let scratch = Scratch::new("cli-segments-chain");
    let key = scratch.key_file();
    for again in [false, true] {
        let (code, out, err) = zkinfer(&["deploy", d, "--rpc", &url, "--key-file", key.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let summary = if again { "0 contracts deployed now, 4 already deployed" } else { "4 contracts deployed now, 0 already deployed" };
        assert!(out.contains(summary), "{out}");
        for name in ["segment-0 ", "segment-1 ", "segment-2 ", "chain "] {
            assert!(out.lines().any(|l| l.starts_with(name)), "{name}: {out}");
        }
    }
    let (code, out_chain, err) = zkinfer(&["verify-segments", d, p1.to_str().unwrap(), "--rpc", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out_chain.contains("segment proofs valid on chain 31337 (3 segments"), "{out_chain}");
    // The outputs read back from what the chain returned are the proven ones.
    let on_chain = out_chain.lines().find(|l| l.starts_with("{\"outputs\"")).unwrap();
    assert_eq!(on_chain.trim(), out1.trim());
    // anvil's estimate of the whole `verify` transaction against revm's gas for it: the
    // estimate may exceed the gas used by what the 63/64 rule holds back, never undercut it.
    let (estimate, revm) = (number_after(&out_chain, "gas estimate"), number_after(&out_evm, "3 segments,"));
    eprintln!("tutorial in 3 segments: chain verify gas estimate on anvil {estimate}, in revm {revm}");
    assert!(estimate >= revm && estimate - revm <= revm / 50, "estimate {estimate}, revm {revm}");

    let refused = |v: &serde_json::Value, how: &[&str], why: &str| {
        write_json(&bad, v);
        let mut args = vec!["verify-segments", d, bad.to_str().unwrap()];
        args.extend_from_slice(how);
        let (code, out, err) = zkinfer(&args);
        assert_ne!(code, 0, "{why} accepted: {out}");
        assert!(err.contains(why), "{why}: {err}");
    };
    let (native, evm, rpc): (&[&str], &[&str], &[&str]) = (&[], &["--evm"], &["--rpc", &url]);
    // Segment 1 from the second run between the first run's segments 0 and 2.
    let mut mixed = f1.clone();
    mixed["segments"][1] = f2["segments"][1].clone();
    refused(&mixed, native, "not segment 1's input hash");
    refused(&mixed, evm, "rejected");
    refused(&mixed, rpc, "BrokenChain");
    // One proof byte flipped.
    let mut flipped = f1.clone();
    flipped["segments"][2] = flip_proof_digit(&f1["segments"][2]);
    refused(&flipped, native, "segment 2: the proof is not valid");
    refused(&flipped, evm, "rejected");
    refused(&flipped, rpc, "SegmentRejected");
    // A segment missing.
    let mut short = f1.clone();
    short["segments"].as_array_mut().unwrap().pop();
    refused(&short, native, "3 segments, 2 proofs");
    refused(&short, rpc, "SegmentCount");
    // Outputs that are not the ones the last segment proves.
    let mut lied = f1.clone();
    lied["outputs"] = f2["outputs"].clone();
    assert_ne!(f1["outputs"], f2["outputs"]);
    refused(&lied, native, "not the ones its last segment's instances state");
    refused(&lied, rpc, "not the ones its last segment's instances state");

    // The same chain proved in parts (as on several machines) and joined.
    let part = |input: &str, which: &str, listed: &str, name: &str| {
        let path = tmp.join(name);
        let (code, out, err) = zkinfer(&["prove-segments", d, "--input", input, "--out", path.to_str().unwrap(), "--segment", which]);
        assert_eq!(code, 0, "{err}");
        assert!(out.is_empty() && err.contains(&format!("proofs of segment(s) {listed} of 3")), "{out}\n{err}");
        path.to_str().unwrap().to_string()
    };
    let (a, b, c) =
        (part(&input, "2,0", "0, 2", "a.json"), part(&input, "1", "1", "b.json"), part(input2.to_str().unwrap(), "1", "1", "c.json"));
    let joined = tmp.join("joined.json");
    let (code, out, err) = zkinfer(&["join-segments", d, &b, &a, "--out", joined.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), out1.trim(), "the joined chain states the outputs of the whole run");
    for how in [native, evm] {
        let mut args = vec!["verify-segments", d, joined.to_str().unwrap()];
        args.extend_from_slice(how);
        let (code, out, err) = zkinfer(&args);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("3 segments") && out.contains(out1.trim()), "{out}");
    }
    let join_refused = |parts: &[&str], why: &str| {
        let mut args = vec!["join-segments", d];
        args.extend_from_slice(parts);
        args.extend_from_slice(&["--out", bad.to_str().unwrap()]);
        let (code, out, err) = zkinfer(&args);
        assert_ne!(code, 0, "{why} joined: {out}");
        assert!(err.contains(why), "{why}: {err}");
    };
    // Segment 1 proved for another input.
    join_refused(&[&a, &c], "do not make a valid chain");
    join_refused(&[&a], "no part holds segment(s) 1 of 3");
    join_refused(&[&a, &b, &c], "segment 1 is proved in both");
    // A part of another compile of the segments.
    let mut other: serde_json::Value = serde_json::from_slice(&std::fs::read(&b).unwrap()).unwrap();
    other["folder"] = serde_json::json!("00".repeat(32));
    let other_path = tmp.join("other.json");
    write_json(&other_path, &other);
    join_refused(&[&a, other_path.to_str().unwrap()], "was not proved with");
    // A part is not a chain.
    let (code, _, err) = zkinfer(&["verify-segments", d, &a]);
    assert_ne!(code, 0);
    assert!(err.contains("holds segment(s) 0, 2 of 3: a part"), "{err}");
    let (code, _, err) = zkinfer(&["prove-segments", d, "--input", &input, "--out", bad.to_str().unwrap(), "--segment", "3"]);
    assert_ne!(code, 0);
    assert!(err.contains("--segment 3:") && err.contains("has 3 segments (0 to 2)"), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}

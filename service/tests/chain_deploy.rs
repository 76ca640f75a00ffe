//! `zkinfer deploy` and `zkinfer verify-evm --rpc` against anvil, with the zoo's credit
//! model: deploying is idempotent (the rerun finds every contract by code hash); the
//! deployed verifier accepts the honest proof and rejects a flipped proof byte and a
//! changed output; its gas estimate is the in-process EVM's gas figure for the same
//! transaction.

mod chain_support;
mod cli_support;

use alloy_primitives::U256;
use chain_support::{anvil, number_after, s, Scratch, ZOO};
use cli_support::{flip_proof_digit, zkinfer};
use zkinfer_service::chain::{connect, verify_on_chain, Deployment};

#[test]
fn deploy_is_idempotent_and_the_deployed_verifier_decides_like_revm() {
    let scratch = Scratch::new("chain-deploy");
    let (dir, proof) = (scratch.path("m"), scratch.path("p.json"));
    let zoo = format!("{ZOO}/credit_mlp");
    let (model, input) = (format!("{zoo}/network.onnx"), format!("{zoo}/input.json"));
    let (code, _, err) = zkinfer(&["compile", &model, "--input", &input, "--out", s(&dir)]);
    assert_eq!(code, 0, "{err}");
    assert!(dir.join("Attestor.sol").exists());
    let (code, _, err) = zkinfer(&["prove", s(&dir), "--input", &input, "--out", s(&proof)]);
    assert_eq!(code, 0, "{err}");

    let node = anvil();
    let key = scratch.key_file();
    let (code, out, err) = zkinfer(&["deploy", s(&dir), "--rpc", &node.url(), "--key-file", s(&key)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 contracts deployed now, 0 already deployed"), "{out}");
    let first: Deployment = serde_json::from_slice(&std::fs::read(dir.join("deployment.json")).unwrap()).unwrap();
    assert_eq!(first.chain_id, 31337);
    assert_eq!(first.contracts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["verifier", "attestor"]);
    let deploy_gas = first.total_gas();
    eprintln!("credit_mlp: deploy gas verifier {} + attestor {} = {deploy_gas}", first.contracts[0].gas_used, first.contracts[1].gas_used);

    // Rerun: everything found on chain, nothing sent, the record unchanged.
    let (code, out, err) = zkinfer(&["deploy", s(&dir), "--rpc", &node.url(), "--key-file", s(&key)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 contracts deployed now, 2 already deployed"), "{out}");
    let second: Deployment = serde_json::from_slice(&std::fs::read(dir.join("deployment.json")).unwrap()).unwrap();
    assert_eq!(first, second);

    // The key is never an argument: without a key file or ZKINFER_PRIVATE_KEY, deploy refuses.
    let (code, _, err) = zkinfer(&["deploy", s(&dir), "--rpc", &node.url()]);
    assert_eq!(code, 1);
    assert!(err.contains("--key-file"), "{err}");

    let (code, out, err) = zkinfer(&["verify-evm", s(&dir), s(&proof), "--rpc", &node.url()]);
    assert_eq!(code, 0, "{err}");
    let verifier_line = out.lines().find(|l| l.starts_with("accepted on chain")).unwrap_or_else(|| panic!("{out}"));
    let estimate = number_after(verifier_line, "gas estimate");
    let revm = number_after(verifier_line, "in-process EVM: gas used");
    let decode = number_after(&out, "verifyAndDecode gas estimate");
    eprintln!("credit_mlp: verifyAndDecode gas estimate on anvil {decode}");
    assert!(decode > estimate, "decoding includes the verifier call");
    eprintln!("credit_mlp: verifier gas estimate on anvil {estimate}, in-process revm {revm}");
    // Both count the whole transaction (21000 intrinsic + calldata + execution). The
    // estimate may exceed the gas used by what the 63/64 rule holds back around the
    // verifier's precompile calls (and the estimator's search tolerance), never undercut it.
    assert!(estimate >= revm && estimate - revm <= revm / 100, "estimate {estimate}, revm {revm}");
    assert!(out.contains("outputs ["), "{out}");

    // A flipped proof byte: the deployed verifier rejects it.
    let orig: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    let bad = scratch.path("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&flip_proof_digit(&orig)).unwrap()).unwrap();
    let (code, _, err) = zkinfer(&["verify-evm", s(&dir), s(&bad), "--rpc", &node.url()]);
    assert_eq!(code, 1, "a flipped proof byte was accepted");
    assert!(err.contains("rejected"), "{err}");

    // A changed output in the file: refused before the chain is asked.
    let mut changed = orig.clone();
    let o = changed["outputs"][0][0].as_f64().unwrap();
    changed["outputs"][0][0] = serde_json::json!(o + 0.5);
    std::fs::write(&bad, serde_json::to_vec(&changed).unwrap()).unwrap();
    let (code, _, err) = zkinfer(&["verify-evm", s(&dir), s(&bad), "--rpc", &node.url()]);
    assert_eq!(code, 1, "a changed output was accepted");
    assert!(err.contains("do not match"), "{err}");

    // A changed output in the instances themselves: the deployed verifier and attestor reject it.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let chain = connect(&node.url(), None).await.unwrap();
        let words: Vec<U256> = orig["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| U256::from_str_radix(w.as_str().unwrap().trim_start_matches("0x"), 16).unwrap())
            .collect();
        let proof_bytes = hex::decode(orig["proof"].as_str().unwrap().trim_start_matches("0x")).unwrap();
        let calldata = |ws: &[U256]| ws.iter().flat_map(|w| w.to_be_bytes::<32>()).chain(proof_bytes.iter().copied()).collect::<Vec<u8>>();
        let honest = verify_on_chain(&chain, &second, calldata(&words), &words, &proof_bytes).await.unwrap();
        // The same call as a transaction: anvil (Prague, as the in-process EVM) uses
        // exactly the in-process figure.
        let signer = connect(&node.url(), Some(zkinfer_service::chain::anvil::DEV_KEY.parse().unwrap())).await.unwrap();
        let r = signer.send(Some(second.verifier().unwrap()), calldata(&words), U256::ZERO).await.unwrap();
        assert_eq!(r.gas_used, revm, "gas used by the transaction on anvil vs in-process");
        assert!(honest.accepted && honest.decoded.is_some(), "{honest:?}");
        // The first output is value 8 (after the 8 inputs): bump its digit by one.
        let settings: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("settings.json")).unwrap()).unwrap();
        let bits = settings["calibration"]["bits"].as_u64().unwrap() as usize;
        let per = 252 / bits;
        let mut tampered = words.clone();
        tampered[8 / per] += U256::from(1u8) << (bits * (8 % per));
        let r = verify_on_chain(&chain, &second, calldata(&tampered), &tampered, &proof_bytes).await.unwrap();
        assert!(!r.accepted, "a changed output was accepted on chain: {r:?}");
    });
}

//! The coordinator on anvil, end to end with the example consumer and the zoo's credit
//! model: a borrower requests a credit limit, the proof of the requested features is
//! delivered, the pool's callback sets the limit and the fee reaches the deliverer.
//! Delivering another input's proof, a tampered proof, or a request twice reverts (the
//! first delivery stands); a reverting consumer does not undo a delivery; after the
//! deadline the requester takes the fee back.

mod chain_support;
#[allow(dead_code)]
mod cli_support;

use std::time::Instant;

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolValue};
use chain_support::{anvil, s, Scratch, ZOO};
use cli_support::zkinfer;
use zkinfer_service::artifacts::ModelDir;
use zkinfer_service::chain::anvil::{DEV_KEY, DEV_KEY_2, DEV_KEY_3};
use zkinfer_service::chain::bindings::{ICreditLendingPool, IZkinferCoordinator};
use zkinfer_service::chain::coordinator::{
    deliver, delivered, deploy_contract, deploy_coordinator, model_id_bytes, register_model, requested_id,
};
use zkinfer_service::chain::{connect, Chain, Deployment};

alloy_sol_types::sol! {
    interface IRevertingConsumer {
        function request(bytes32 modelId, int256[] inputs) external payable returns (uint256);
    }
}

/// A consumer whose callback always reverts.
const REVERTING_CONSUMER: &str = r#"
contract RevertingConsumer is ZkinferConsumer {
    constructor(ZkinferCoordinator c) ZkinferConsumer(c) {}
    function request(bytes32 modelId, int256[] calldata inputs) external payable returns (uint256) {
        return _requestInference(modelId, inputs, 100000, msg.value);
    }
    function _onInference(uint256, int256[] calldata, uint256) internal pure override {
        revert("consumer failure");
    }
}
"#;

const TIMEOUT_S: u64 = 3600;

struct Proof {
    instances: Vec<U256>,
    proof: Vec<u8>,
    outputs: Vec<f64>,
}

fn read_proof(path: &std::path::Path) -> Proof {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    Proof {
        instances: chain_support::words(
            &v["instances"].as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_string()).collect::<Vec<_>>(),
        ),
        proof: hex::decode(v["proof"].as_str().unwrap().trim_start_matches("0x")).unwrap(),
        outputs: v["outputs"][0].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect(),
    }
}

async fn as_party(url: &str, key: &str) -> Chain {
    connect(url, Some(key.parse::<PrivateKeySigner>().unwrap())).await.unwrap()
}

async fn balance(c: &Chain, a: Address) -> U256 {
    c.provider.get_balance(a).await.unwrap()
}

fn fee_paid(r: &alloy_rpc_types_eth::TransactionReceipt) -> U256 {
    U256::from(r.gas_used) * U256::from(r.effective_gas_price)
}

#[test]
fn request_prove_deliver_callback_and_every_wrong_delivery_reverts() {
    let scratch = Scratch::new("chain-coordinator");
    let (dir, p1, p2) = (scratch.path("m"), scratch.path("p1.json"), scratch.path("p2.json"));
    let zoo = format!("{ZOO}/credit_mlp");
    let (model, input) = (format!("{zoo}/network.onnx"), format!("{zoo}/input.json"));
    let (code, _, err) = zkinfer(&["compile", &model, "--input", &input, "--out", s(&dir)]);
    assert_eq!(code, 0, "{err}");
    // Another borrower's features: the first sample negated.
    let sample: serde_json::Value = serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap();
    let other: Vec<f64> = sample["input_data"][0].as_array().unwrap().iter().map(|x| -x.as_f64().unwrap()).collect();
    let input2 = scratch.path("input2.json");
    std::fs::write(&input2, serde_json::to_vec(&serde_json::json!({ "input_data": [other] })).unwrap()).unwrap();
    let (code, _, err) = zkinfer(&["prove", s(&dir), "--input", s(&input2), "--out", s(&p2)]);
    assert_eq!(code, 0, "{err}");

    let node = anvil();
    let url = node.url();
    let (code, _, err) = zkinfer(&["deploy", s(&dir), "--rpc", &url, "--key-file", s(&scratch.key_file())]);
    assert_eq!(code, 0, "{err}");
    let md = ModelDir::new(&dir);
    let settings = md.settings().unwrap();
    let quant = md.quant().unwrap();
    let features: Vec<alloy_primitives::I256> = zkinfer_models::interp::quantize_inputs(
        &quant,
        &[sample["input_data"][0].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()],
    )
    .unwrap()
    .into_iter()
    .flatten()
    .map(|v| alloy_primitives::I256::try_from(v).unwrap())
    .collect();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let owner = as_party(&url, DEV_KEY).await;
        let borrower = as_party(&url, DEV_KEY_2).await;
        let prover = as_party(&url, DEV_KEY_3).await;
        let deployment = Deployment::read(&dir, owner.chain_id).unwrap().unwrap();
        let coordinator = deploy_coordinator(&owner, &chain_support::solc(), TIMEOUT_S).await.unwrap();
        let model_id = model_id_bytes(&settings.settings_hash).unwrap();
        register_model(&owner, coordinator, model_id, deployment.attestor().unwrap()).await.unwrap();
        // Only the model's owner may re-register it.
        let e = register_model(&borrower, coordinator, model_id, deployment.attestor().unwrap()).await.unwrap_err().to_string();
        assert!(e.contains("NotModelOwner"), "{e}");
        let max_limit = U256::from(1_000_000u64);
        let (pool, _) = deploy_contract(
            &owner,
            &chain_support::solc(),
            "CreditLendingPool",
            "",
            &(coordinator, model_id, max_limit).abi_encode_params(),
        )
        .await
        .unwrap();
        let fee = U256::from(10_000_000_000_000_000u64); // 0.01 ether
        let request = ICreditLendingPool::requestCreditLimitCall { features: features.clone() }.abi_encode();

        // Request, prove after seeing it, deliver: the callback sets the limit.
        let t0 = Instant::now();
        let r = borrower.send(Some(pool), request.clone(), fee).await.unwrap();
        let id = requested_id(&r).expect("a request event");
        let (code, _, err) = zkinfer(&["prove", s(&dir), "--input", &input, "--out", s(&p1)]);
        assert_eq!(code, 0, "{err}");
        let honest = read_proof(&p1);
        let before = balance(&prover, prover.sender.unwrap()).await;
        let d = deliver(&prover, coordinator, id, &honest.proof, &honest.instances).await.unwrap();
        let latency = t0.elapsed();
        assert_eq!(delivered(&d), Some(true), "the pool's callback failed");
        eprintln!(
            "credit_mlp: deliver gas (verifyAndDecode + callback) {}; request-to-callback latency on anvil {:.2} s (proof included)",
            d.gas_used,
            latency.as_secs_f64()
        );
        let after = balance(&prover, prover.sender.unwrap()).await;
        assert_eq!(after, before + fee - fee_paid(&d), "the fee did not reach the deliverer");
        let limit_call = ICreditLendingPool::creditLimitCall { borrower: borrower.sender.unwrap() }.abi_encode();
        let limit = |c: &Chain| {
            let (c, data) = (c.clone(), limit_call.clone());
            async move {
                match c.call(Some(pool), data).await.unwrap() {
                    zkinfer_service::chain::client::CallResult::Returned(out) => {
                        ICreditLendingPool::creditLimitCall::abi_decode_returns(&out).unwrap()
                    }
                    other => panic!("{other:?}"),
                }
            }
        };
        let unit = 2f64.powi(quant.scale as i32);
        let margin = ((honest.outputs[0] - honest.outputs[1]) * unit).round() as i128;
        let cap = 4i128 << quant.scale;
        let want = max_limit * U256::from(margin.clamp(0, cap) as u128) / U256::from(cap as u128);
        let set = limit(&borrower).await;
        assert_eq!(set, want);
        assert!(set > U256::ZERO);

        // Twice: reverts, the first stands.
        let e = deliver(&prover, coordinator, id, &honest.proof, &honest.instances).await.unwrap_err().to_string();
        assert!(e.contains("AlreadyFulfilled"), "{e}");
        // Another input's proof, a tampered proof: revert, the request stays open.
        let r2 = borrower.send(Some(pool), request.clone(), fee).await.unwrap();
        let id2 = requested_id(&r2).unwrap();
        let wrong = read_proof(&p2);
        let e = deliver(&prover, coordinator, id2, &wrong.proof, &wrong.instances).await.unwrap_err().to_string();
        assert!(e.contains("InputMismatch"), "{e}");
        let mut tampered = honest.proof.clone();
        tampered[100] ^= 1;
        let e = deliver(&prover, coordinator, id2, &tampered, &honest.instances).await.unwrap_err().to_string();
        assert!(e.contains("ProofRejected"), "{e}");
        assert_eq!(limit(&borrower).await, set, "the first delivery stands");
        // The honest proof still delivers the open request.
        let d2 = deliver(&prover, coordinator, id2, &honest.proof, &honest.instances).await.unwrap();
        assert_eq!(delivered(&d2), Some(true));

        // A consumer that reverts: the delivery stands and the deliverer is paid.
        let (bad_consumer, _) =
            deploy_contract(&owner, &chain_support::solc(), "RevertingConsumer", REVERTING_CONSUMER, &(coordinator,).abi_encode_params())
                .await
                .unwrap();
        let r3 = borrower
            .send(Some(bad_consumer), IRevertingConsumer::requestCall { modelId: model_id, inputs: features.clone() }.abi_encode(), fee)
            .await
            .unwrap();
        let id3 = requested_id(&r3).unwrap();
        let before = balance(&prover, prover.sender.unwrap()).await;
        let d3 = deliver(&prover, coordinator, id3, &honest.proof, &honest.instances).await.unwrap();
        assert_eq!(delivered(&d3), Some(false), "the callback was reported as succeeding");
        assert_eq!(balance(&prover, prover.sender.unwrap()).await, before + fee - fee_paid(&d3));
        let e = deliver(&prover, coordinator, id3, &honest.proof, &honest.instances).await.unwrap_err().to_string();
        assert!(e.contains("AlreadyFulfilled"), "{e}");

        // Past the deadline: no delivery; the borrower takes the fee back, once.
        let r4 = borrower.send(Some(pool), request.clone(), fee).await.unwrap();
        let id4 = requested_id(&r4).unwrap();
        let _: serde_json::Value = owner.provider.raw_request("evm_increaseTime".into(), (TIMEOUT_S + 1,)).await.unwrap();
        let _: serde_json::Value = owner.provider.raw_request("evm_mine".into(), ()).await.unwrap();
        let e = deliver(&prover, coordinator, id4, &honest.proof, &honest.instances).await.unwrap_err().to_string();
        assert!(e.contains("RequestExpired"), "{e}");
        let before = balance(&borrower, borrower.sender.unwrap()).await;
        let reclaim = ICreditLendingPool::reclaimFeeCall { requestId: id4 }.abi_encode();
        let rr = borrower.send(Some(pool), reclaim.clone(), U256::ZERO).await.unwrap();
        assert_eq!(balance(&borrower, borrower.sender.unwrap()).await, before + fee - fee_paid(&rr));
        assert!(borrower.send(Some(pool), reclaim, U256::ZERO).await.is_err(), "reclaimed twice");
    });
}

/// A hashed-input model: the request names the Poseidon hash of the inputs (`zkinfer
/// hash`), a proof of those inputs delivers it, a request for another hash is refused.
/// An EOA requester gets no callback but the delivery stands.
#[test]
fn hashed_input_requests_are_matched_by_their_input_hash() {
    let scratch = Scratch::new("chain-coordinator-hashed");
    let (dir, proof) = (scratch.path("m"), scratch.path("p.json"));
    let zoo = format!("{ZOO}/credit_mlp");
    let (model, input) = (format!("{zoo}/network.onnx"), format!("{zoo}/input.json"));
    let (code, _, err) = zkinfer(&["compile", &model, "--input", &input, "--out", s(&dir), "--input-visibility", "hashed"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = zkinfer(&["prove", s(&dir), "--input", &input, "--out", s(&proof)]);
    assert_eq!(code, 0, "{err}");
    let (code, hash, err) = zkinfer(&["hash", s(&dir), "--input", &input]);
    assert_eq!(code, 0, "{err}");
    let hash = alloy_primitives::I256::from_raw(U256::from_str_radix(hash.trim().trim_start_matches("0x"), 16).unwrap());
    let node = anvil();
    let url = node.url();
    let (code, _, err) = zkinfer(&["deploy", s(&dir), "--rpc", &url, "--key-file", s(&scratch.key_file())]);
    assert_eq!(code, 0, "{err}");
    let settings = ModelDir::new(&dir).settings().unwrap();
    let honest = read_proof(&proof);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let owner = as_party(&url, DEV_KEY).await;
        let requester = as_party(&url, DEV_KEY_2).await;
        let prover = as_party(&url, DEV_KEY_3).await;
        let coordinator = deploy_coordinator(&owner, &chain_support::solc(), TIMEOUT_S).await.unwrap();
        let model_id = model_id_bytes(&settings.settings_hash).unwrap();
        let attestor = Deployment::read(&dir, owner.chain_id).unwrap().unwrap().attestor().unwrap();
        register_model(&owner, coordinator, model_id, attestor).await.unwrap();
        let fee = U256::from(1_000_000u64);
        let request = |inputs: Vec<alloy_primitives::I256>| {
            IZkinferCoordinator::requestInferenceCall { modelId: model_id, inputs, callbackGasLimit: 0 }.abi_encode()
        };
        // The plain inputs are refused: a hashed-input model takes one value, the hash.
        let e = requester.send(Some(coordinator), request(vec![hash, hash]), fee).await.unwrap_err().to_string();
        assert!(e.contains("WrongInputCount"), "{e}");
        let other = requested_id(&requester.send(Some(coordinator), request(vec![hash + alloy_primitives::I256::ONE]), fee).await.unwrap())
            .unwrap();
        let e = deliver(&prover, coordinator, other, &honest.proof, &honest.instances).await.unwrap_err().to_string();
        assert!(e.contains("InputMismatch"), "{e}");
        let id = requested_id(&requester.send(Some(coordinator), request(vec![hash]), fee).await.unwrap()).unwrap();
        let before = balance(&prover, prover.sender.unwrap()).await;
        let d = deliver(&prover, coordinator, id, &honest.proof, &honest.instances).await.unwrap();
        assert_eq!(delivered(&d), Some(false), "an EOA requester gets no callback");
        assert_eq!(balance(&prover, prover.sender.unwrap()).await, before + fee - fee_paid(&d));
    });
}

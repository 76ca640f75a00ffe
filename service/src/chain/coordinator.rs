//! The coordinator from the node's side and for deployments: deploy it, register a
//! model, read request events, deliver proofs.

use alloy_primitives::{Address, B256, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{Filter, TransactionReceipt};
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use zkinfer_verifier_contracts::coordinator::{build_coordinator_contracts, contract};

use super::bindings::IZkinferCoordinator;
use super::client::Chain;
use crate::error::ServiceError;

/// A model id as the coordinator keys it: the service's id (64 hex digits, a SHA-256)
/// as bytes32.
pub fn model_id_bytes(id: &str) -> Result<B256, ServiceError> {
    let raw = hex::decode(id.trim_start_matches("0x")).map_err(|e| ServiceError::Input(format!("model id {id}: {e}")))?;
    if raw.len() != 32 {
        return Err(ServiceError::Input(format!("model id {id}: not 32 bytes")));
    }
    Ok(B256::from_slice(&raw))
}

/// Deploys `name` from the coordinator's compilation unit (plus `extra` source) with
/// ABI-encoded constructor `args`.
pub async fn deploy_contract(
    chain: &Chain,
    solc: &zkinfer_verifier_contracts::Solc,
    name: &str,
    extra: &str,
    args: &[u8],
) -> Result<(Address, TransactionReceipt), ServiceError> {
    let contracts = build_coordinator_contracts(solc, extra)?;
    let mut code = contract(&contracts, name)?.deployment_code.clone();
    code.extend_from_slice(args);
    let receipt = chain.send(None, code, U256::ZERO).await?;
    let address = receipt.contract_address.ok_or_else(|| ServiceError::Input(format!("{name}: no contract address in the receipt")))?;
    Ok((address, receipt))
}

/// Deploys a coordinator whose requests stay open `timeout_s` seconds.
pub async fn deploy_coordinator(chain: &Chain, solc: &zkinfer_verifier_contracts::Solc, timeout_s: u64) -> Result<Address, ServiceError> {
    Ok(deploy_contract(chain, solc, "ZkinferCoordinator", "", &(timeout_s,).abi_encode_params()).await?.0)
}

/// Registers `model_id` with `attestor` (the signer becomes its owner).
pub async fn register_model(
    chain: &Chain,
    coordinator: Address,
    model_id: B256,
    attestor: Address,
) -> Result<TransactionReceipt, ServiceError> {
    let call = IZkinferCoordinator::registerModelCall { modelId: model_id, attestor };
    chain.send(Some(coordinator), call.abi_encode(), U256::ZERO).await
}

/// A request event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestEvent {
    pub request_id: U256,
    pub model_id: B256,
    pub requester: Address,
    pub inputs: Vec<i128>,
    pub fee: U256,
    pub deadline: u64,
    pub block_number: u64,
    pub block_hash: B256,
}

/// The `InferenceRequested` events of blocks `from..=to`.
pub async fn request_events(chain: &Chain, coordinator: Address, from: u64, to: u64) -> Result<Vec<RequestEvent>, ServiceError> {
    let filter = Filter::new()
        .address(coordinator)
        .event_signature(IZkinferCoordinator::InferenceRequested::SIGNATURE_HASH)
        .from_block(from)
        .to_block(to);
    let logs = chain.provider.get_logs(&filter).await.map_err(|e| super::client::rpc_error(&chain.url, e))?;
    let mut out = Vec::with_capacity(logs.len());
    for log in logs {
        let (block_number, block_hash) = (log.block_number.unwrap_or_default(), log.block_hash.unwrap_or_default());
        let ev = log
            .log_decode::<IZkinferCoordinator::InferenceRequested>()
            .map_err(|e| ServiceError::Input(format!("undecodable request event: {e}")))?;
        let e = ev.inner.data;
        out.push(RequestEvent {
            request_id: e.requestId,
            model_id: e.modelId,
            requester: e.requester,
            inputs: e.inputs.iter().map(|v| v.to_string().parse::<i128>().unwrap_or(i128::MAX)).collect(),
            fee: e.fee,
            deadline: e.deadline,
            block_number,
            block_hash,
        });
    }
    Ok(out)
}

/// Whether `request_id` can still be delivered.
pub async fn is_pending(chain: &Chain, coordinator: Address, request_id: U256) -> Result<bool, ServiceError> {
    let call = IZkinferCoordinator::isPendingCall { requestId: request_id };
    match chain.call(Some(coordinator), call.abi_encode()).await? {
        super::client::CallResult::Returned(out) => {
            IZkinferCoordinator::isPendingCall::abi_decode_returns(&out).map_err(|e| ServiceError::Input(e.to_string()))
        }
        super::client::CallResult::Reverted(d) => {
            Err(ServiceError::Input(format!("isPending reverted: {}", super::client::revert_reason(&d))))
        }
    }
}

/// The `deliver` calldata.
pub fn deliver_calldata(request_id: U256, proof: &[u8], instances: &[U256]) -> Vec<u8> {
    IZkinferCoordinator::deliverCall { requestId: request_id, proof: proof.to_vec().into(), instances: instances.to_vec() }.abi_encode()
}

/// Sends `deliver` and waits for its receipt.
pub async fn deliver(
    chain: &Chain,
    coordinator: Address,
    request_id: U256,
    proof: &[u8],
    instances: &[U256],
) -> Result<TransactionReceipt, ServiceError> {
    chain.send(Some(coordinator), deliver_calldata(request_id, proof, instances), U256::ZERO).await
}

/// The `InferenceDelivered` event of a receipt: whether the callback succeeded.
pub fn delivered(receipt: &TransactionReceipt) -> Option<bool> {
    receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| l.log_decode::<IZkinferCoordinator::InferenceDelivered>().ok().map(|e| e.inner.data.callbackSucceeded))
}

/// The request id of a receipt's `InferenceRequested` event.
pub fn requested_id(receipt: &TransactionReceipt) -> Option<U256> {
    receipt.inner.logs().iter().find_map(|l| l.log_decode::<IZkinferCoordinator::InferenceRequested>().ok().map(|e| e.inner.data.requestId))
}

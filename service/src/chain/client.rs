//! A JSON-RPC connection (alloy over HTTP) with an optional local signer, and the few
//! calls zkinfer makes: simulate, estimate, send and wait for the receipt.

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolInterface;
use alloy_transport::TransportError;

use super::bindings::{ICreditLendingPool, IZkinferAttestor, IZkinferCoordinator, IZkinferSegmentChain};
use crate::error::ServiceError;

/// Longest wait for a transaction's receipt.
pub const RECEIPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// A connected chain.
#[derive(Clone)]
pub struct Chain {
    pub provider: DynProvider,
    pub chain_id: u64,
    /// The signer's address; `None`: read-only (calls and estimates only).
    pub sender: Option<Address>,
    pub url: String,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("chain_id", &self.chain_id).field("sender", &self.sender).field("url", &self.url).finish()
    }
}

/// Connects to `url` (reads the chain id); with `signer`, transactions are signed locally
/// (gas limit and fees estimated, the nonce read from the node for each transaction).
pub async fn connect(url: &str, signer: Option<PrivateKeySigner>) -> Result<Chain, ServiceError> {
    let parsed: url::Url = url.parse().map_err(|e| ServiceError::Input(format!("--rpc {url}: {e}")))?;
    let sender = signer.as_ref().map(|s| s.address());
    // The nonce comes from the node's pending count for every transaction: a cached nonce
    // would be spent by a transaction whose gas estimate reverts, leaving a gap that holds
    // every later transaction back.
    let builder = ProviderBuilder::default().with_gas_estimation().with_simple_nonce_management().fetch_chain_id();
    let provider = match signer {
        Some(s) => builder.wallet(EthereumWallet::from(s)).connect_hyper_http(parsed).erased(),
        None => builder.connect_hyper_http(parsed).erased(),
    };
    let chain_id = provider.get_chain_id().await.map_err(|e| rpc_error(url, e))?;
    Ok(Chain { provider, chain_id, sender, url: url.to_string() })
}

/// An RPC failure as a service error, naming the endpoint and any revert reason.
pub fn rpc_error(url: &str, e: TransportError) -> ServiceError {
    match revert_data(&e) {
        Some(data) => ServiceError::Input(format!("reverted: {}", revert_reason(&data))),
        None => ServiceError::Input(format!("JSON-RPC {url}: {e}")),
    }
}

/// The revert data of a failed call or estimate, if the node returned any.
pub fn revert_data(e: &TransportError) -> Option<Bytes> {
    e.as_error_resp().and_then(|p| p.as_revert_data())
}

/// A revert's named error (attestor, coordinator, segment chain or consumer), else its data in hex.
pub fn revert_reason(data: &[u8]) -> String {
    if let Ok(e) = IZkinferAttestor::IZkinferAttestorErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(e) = IZkinferCoordinator::IZkinferCoordinatorErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(e) = IZkinferSegmentChain::IZkinferSegmentChainErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(e) = ICreditLendingPool::ICreditLendingPoolErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if data.is_empty() {
        "empty revert data".into()
    } else {
        format!("0x{}", hex::encode(data))
    }
}

/// The outcome of a read-only call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallResult {
    Returned(Bytes),
    /// The call reverted with this data (possibly empty).
    Reverted(Bytes),
}

impl Chain {
    /// A transaction from the signer (when any) to `to` (a creation when `None`).
    pub fn call_request(&self, to: Option<Address>, data: Vec<u8>, value: U256) -> TransactionRequest {
        let mut tx = TransactionRequest::default().with_input(data).with_value(value);
        if let Some(to) = to {
            tx = tx.with_to(to);
        } else {
            tx.to = Some(alloy_primitives::TxKind::Create);
        }
        if let Some(from) = self.sender {
            tx = tx.with_from(from);
        }
        tx
    }

    /// `eth_call` of `data` to `to` (a creation when `None`: returns the runtime code) on
    /// the latest block; a revert is a result, not an error.
    pub async fn call(&self, to: Option<Address>, data: Vec<u8>) -> Result<CallResult, ServiceError> {
        match self.provider.call(self.call_request(to, data, U256::ZERO)).await {
            Ok(out) => Ok(CallResult::Returned(out)),
            Err(e) => match revert_data(&e) {
                Some(d) => Ok(CallResult::Reverted(d)),
                None if e.as_error_resp().is_some_and(|p| p.message.contains("revert")) => Ok(CallResult::Reverted(Bytes::new())),
                None => Err(rpc_error(&self.url, e)),
            },
        }
    }

    /// `eth_estimateGas` of a call (the whole transaction: intrinsic and calldata gas included).
    pub async fn estimate_gas(&self, to: Address, data: Vec<u8>, value: U256) -> Result<u64, ServiceError> {
        self.provider.estimate_gas(self.call_request(Some(to), data, value)).await.map_err(|e| rpc_error(&self.url, e))
    }

    /// The runtime code at `address`.
    pub async fn code(&self, address: Address) -> Result<Bytes, ServiceError> {
        self.provider.get_code_at(address).await.map_err(|e| rpc_error(&self.url, e))
    }

    /// Sends a transaction (to `to`, or a creation) from the signer and waits for its
    /// receipt; a reverted transaction is an error naming the revert.
    pub async fn send(&self, to: Option<Address>, data: Vec<u8>, value: U256) -> Result<TransactionReceipt, ServiceError> {
        if self.sender.is_none() {
            return Err(ServiceError::Input("sending a transaction needs a key (--key-file)".into()));
        }
        let tx = self.call_request(to, data, value);
        let pending = self.provider.send_transaction(tx).await.map_err(|e| rpc_error(&self.url, e))?;
        let receipt = pending
            .with_timeout(Some(RECEIPT_TIMEOUT))
            .get_receipt()
            .await
            .map_err(|e| ServiceError::Input(format!("JSON-RPC {}: waiting for a receipt: {e}", self.url)))?;
        if !receipt.status() {
            return Err(ServiceError::Input(format!("transaction {} reverted", receipt.transaction_hash)));
        }
        Ok(receipt)
    }
}

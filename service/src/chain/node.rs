//! The node side of the coordinator: `zkinfer serve --chain-rpc URL --coordinator ADDR`.
//!
//! The follower scans `InferenceRequested` events up to `confirmations` blocks below the
//! head, turns each request for a model this server has into a proving job whose
//! idempotency key is `chain:<chain id>:<coordinator>:<request id>`, and sends
//! `deliver` when the job is done.
//!
//! The first start scans from `requestTimeout` blocks below the head (older requests
//! have expired: blocks are at least a second apart). Exactly once, across crashes: the cursor in the job store is the first block that
//! still holds an unresolved request (or the next block to scan when none is). After a
//! restart the follower rescans from it: a request seen before maps to the same job by
//! its idempotency key, and before any `deliver` the coordinator is asked whether the
//! request is still pending, so a delivery sent before a crash is never repeated; a
//! revert for "already fulfilled" counts as delivered. A request that is no longer
//! pending (delivered by another node, expired, or dropped by a reorg) is resolved
//! without a delivery and its job cancelled if it had not finished. RPC failures, and
//! requests that cannot be submitted yet (the model still compiling), are retried with
//! exponential backoff (capped, a bounded number of times); gRPC serving is unaffected.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use alloy_signer_local::PrivateKeySigner;
use tokio::sync::watch;

use super::client::{connect, Chain};
use super::coordinator::{deliver_calldata, is_pending, request_events, RequestEvent};
use crate::error::ServiceError;
use crate::jobs::{Engine, SubmitInput, SubmitRequest};
use crate::store::{ArtifactName, JobState, ModelState};

/// TEST ONLY: exit the process (as a crash would) right after a `deliver` transaction
/// was handed to the node, before its receipt is read.
pub const TEST_EXIT_AFTER_SEND_ENV: &str = "ZKINFER_TEST_EXIT_AFTER_DELIVER_SEND";

/// Blocks scanned per `eth_getLogs`.
const WINDOW: u64 = 2_000;
/// Windows scanned per step, so delivery gets its turn while catching up.
const WINDOWS_PER_STEP: u64 = 8;
/// Delivery attempts of one request before it is given up.
const MAX_DELIVERY_ATTEMPTS: u32 = 8;
/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How the node follows a coordinator.
#[derive(Clone)]
pub struct FollowerConfig {
    pub rpc: String,
    pub coordinator: Address,
    pub key: PrivateKeySigner,
    /// Blocks a request must be under the head before it is served.
    pub confirmations: u64,
    /// Time between polls when idle.
    pub poll: Duration,
}

impl std::fmt::Debug for FollowerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FollowerConfig")
            .field("rpc", &self.rpc)
            .field("coordinator", &self.coordinator)
            .field("sender", &self.key.address())
            .field("confirmations", &self.confirmations)
            .finish()
    }
}

/// The follower's configuration from `serve`'s flags; `None` without `--chain-rpc`.
pub fn config_from_args(args: &crate::config::ServeArgs) -> Result<Option<FollowerConfig>, ServiceError> {
    let (Some(rpc), Some(coordinator)) = (&args.chain_rpc, &args.coordinator) else {
        return Ok(None);
    };
    let coordinator: Address = coordinator.parse().map_err(|e| ServiceError::Input(format!("--coordinator {coordinator}: {e}")))?;
    let key = super::keys::load_key(args.key_file.as_deref())?;
    Ok(Some(FollowerConfig {
        rpc: rpc.clone(),
        coordinator,
        key,
        confirmations: args.confirmations.unwrap_or(0),
        poll: Duration::from_millis(500),
    }))
}

/// A request being served.
#[derive(Clone, Debug)]
struct Pending {
    block: u64,
    /// Empty until its job was submitted (a model still compiling is retried).
    job_id: String,
    event: RequestEvent,
    attempts: u32,
    next_try: Instant,
}

struct Follower {
    engine: Arc<Engine>,
    cfg: FollowerConfig,
    chain: Option<Chain>,
    /// Next block to scan (`None` until read from the store).
    next: Option<u64>,
    pending: BTreeMap<U256, Pending>,
}

/// The idempotency key of a request's proving job.
pub fn request_key(chain_id: u64, coordinator: Address, request_id: U256) -> String {
    format!("chain:{chain_id}:{coordinator:#x}:{request_id}")
}

fn cursor_key(chain_id: u64, coordinator: Address) -> String {
    format!("{chain_id}:{coordinator:#x}")
}

/// Follows the coordinator until `stop` turns true.
pub async fn follow(engine: Arc<Engine>, cfg: FollowerConfig, mut stop: watch::Receiver<bool>) {
    tracing::info!(rpc = %cfg.rpc, coordinator = %cfg.coordinator, sender = %cfg.key.address(), confirmations = cfg.confirmations, "following the coordinator");
    let mut f = Follower { engine, cfg, chain: None, next: None, pending: BTreeMap::new() };
    let mut backoff = f.cfg.poll;
    while !*stop.borrow() {
        match f.step().await {
            Ok(()) => backoff = f.cfg.poll,
            Err(e) => {
                backoff = (backoff * 2).min(MAX_BACKOFF);
                tracing::warn!(retry_in = ?backoff, "chain follower: {e}");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => {}
        }
    }
    tracing::info!("chain follower stopped");
}

impl Follower {
    async fn chain(&mut self) -> Result<Chain, ServiceError> {
        if let Some(c) = &self.chain {
            return Ok(c.clone());
        }
        let c = connect(&self.cfg.rpc, Some(self.cfg.key.clone())).await?;
        tracing::info!(chain_id = c.chain_id, "connected to the chain");
        self.chain = Some(c.clone());
        Ok(c)
    }

    /// Scans new confirmed blocks, then delivers what is ready.
    async fn step(&mut self) -> Result<(), ServiceError> {
        let chain = self.chain().await?;
        let head = chain.provider.get_block_number().await.map_err(|e| super::client::rpc_error(&chain.url, e))?;
        let key = cursor_key(chain.chain_id, self.cfg.coordinator);
        let mut next = match self.next {
            Some(n) => n,
            None => match self.engine.store().chain_cursor(&key).map_err(|e| ServiceError::Internal(e.to_string()))? {
                Some(n) => n,
                // First start: requests older than the coordinator's timeout have expired,
                // and that many blocks span at least that many seconds.
                None => head.saturating_sub(request_timeout(&chain, self.cfg.coordinator).await?),
            },
        };
        if head >= self.cfg.confirmations {
            let safe = head - self.cfg.confirmations;
            for _ in 0..WINDOWS_PER_STEP {
                if next > safe {
                    break;
                }
                let to = safe.min(next + WINDOW - 1);
                for ev in request_events(&chain, self.cfg.coordinator, next, to).await? {
                    self.accept(&chain, ev).await;
                }
                next = to + 1;
                self.next = Some(next);
                self.save_cursor(&key)?;
            }
        }
        self.next = Some(next);
        self.deliver_ready(&chain).await;
        self.save_cursor(&key)
    }

    /// The durable cursor: the first block with an unresolved request, else the next to scan.
    fn save_cursor(&self, key: &str) -> Result<(), ServiceError> {
        let Some(next) = self.next else { return Ok(()) };
        let cursor = self.pending.values().map(|p| p.block).min().unwrap_or(next).min(next);
        self.engine.store().set_chain_cursor(key, cursor).map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Turns a request into a proving job (the same job when seen again), or skips it.
    async fn accept(&mut self, chain: &Chain, ev: RequestEvent) {
        if self.pending.contains_key(&ev.request_id) {
            return;
        }
        let mut p = Pending { block: ev.block_number, job_id: String::new(), event: ev, attempts: 0, next_try: Instant::now() };
        if self.submit_job(chain.chain_id, &mut p).await {
            self.pending.insert(p.event.request_id, p);
        }
    }

    /// Submits `p`'s job; `false` when the request is not for this node. A failure (the
    /// model still compiling, say) is retried with backoff, up to the attempt limit.
    async fn submit_job(&self, chain_id: u64, p: &mut Pending) -> bool {
        let ev = p.event.clone();
        let model_id = hex::encode(ev.model_id);
        let key = request_key(chain_id, self.cfg.coordinator, ev.request_id);
        let engine = self.engine.clone();
        match tokio::task::spawn_blocking(move || submit(&engine, &model_id, &ev.inputs, key)).await {
            Ok(Ok(Some(job_id))) => {
                tracing::info!(request = %ev.request_id, job = %job_id, "on-chain request accepted");
                p.job_id = job_id;
                true
            }
            Ok(Ok(None)) => false,
            Ok(Err(e)) => {
                p.attempts += 1;
                if p.attempts >= MAX_DELIVERY_ATTEMPTS {
                    tracing::warn!(request = %ev.request_id, "on-chain request skipped: {e}");
                    return false;
                }
                let wait = (self.cfg.poll * 2u32.pow(p.attempts)).min(MAX_BACKOFF);
                tracing::warn!(request = %ev.request_id, retry_in = ?wait, "on-chain request not accepted yet: {e}");
                p.next_try = Instant::now() + wait;
                true
            }
            Err(e) => {
                tracing::error!(request = %ev.request_id, "submitting the request's job panicked: {e}");
                false
            }
        }
    }

    /// Delivers every request whose job is done (bounded: each is tried once per step).
    async fn deliver_ready(&mut self, chain: &Chain) {
        let ids: Vec<U256> = self.pending.keys().copied().collect();
        for id in ids {
            let mut p = self.pending[&id].clone();
            if p.next_try > Instant::now() {
                continue;
            }
            if p.job_id.is_empty() {
                let keep = self.submit_job(chain.chain_id, &mut p).await;
                if keep {
                    self.pending.insert(id, p);
                } else {
                    self.pending.remove(&id);
                }
                continue;
            }
            let job = match self.engine.job(&p.job_id) {
                Ok(j) => j,
                Err(e) => {
                    tracing::error!(request = %id, job = %p.job_id, "the request's job is gone: {e}");
                    self.pending.remove(&id);
                    continue;
                }
            };
            match job.state {
                JobState::Queued | JobState::Running => {
                    // Still proving; drop it if the request can no longer be delivered.
                    if let Ok(false) = is_pending(chain, self.cfg.coordinator, id).await {
                        tracing::info!(request = %id, job = %p.job_id, "request no longer pending (delivered elsewhere, expired or reorged out): cancelling its job");
                        let _ = self.engine.cancel(&p.job_id);
                        self.pending.remove(&id);
                    }
                }
                JobState::Failed | JobState::Cancelled => {
                    tracing::error!(request = %id, job = %p.job_id, error = job.error.as_deref().unwrap_or(""), "the request's proving job did not finish; not delivered");
                    self.pending.remove(&id);
                }
                JobState::Done => match self.deliver(chain, id, &p.job_id).await {
                    Ok(outcome) => {
                        tracing::info!(request = %id, job = %p.job_id, "{outcome}");
                        self.pending.remove(&id);
                    }
                    Err(e) => {
                        let attempts = p.attempts + 1;
                        if attempts >= MAX_DELIVERY_ATTEMPTS {
                            tracing::error!(request = %id, attempts, "giving up delivering: {e}");
                            self.pending.remove(&id);
                        } else {
                            let wait = (self.cfg.poll * 2u32.pow(attempts)).min(MAX_BACKOFF);
                            tracing::warn!(request = %id, attempts, retry_in = ?wait, "delivery failed: {e}");
                            let entry = self.pending.get_mut(&id).expect("present");
                            entry.attempts = attempts;
                            entry.next_try = Instant::now() + wait;
                        }
                    }
                },
            }
        }
    }

    /// Sends `deliver` for a done job unless the request is no longer pending.
    async fn deliver(&self, chain: &Chain, id: U256, job_id: &str) -> Result<String, ServiceError> {
        if !is_pending(chain, self.cfg.coordinator, id).await? {
            return Ok("request no longer pending (already fulfilled or expired): nothing to send".into());
        }
        let owner = crate::jobs::Owner::Job(job_id.to_string());
        let proof = self.engine.artifact(&owner, ArtifactName::PROOF, true).map_err(|e| ServiceError::Internal(e.to_string()))?.0;
        let instances: Vec<String> = serde_json::from_slice(
            &self.engine.artifact(&owner, ArtifactName::INSTANCES, true).map_err(|e| ServiceError::Internal(e.to_string()))?.0,
        )
        .map_err(|e| ServiceError::Internal(format!("instances.json: {e}")))?;
        let words = instances
            .iter()
            .map(|w| U256::from_str_radix(w.trim_start_matches("0x"), 16).map_err(|e| ServiceError::Internal(format!("instance {w}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let data = deliver_calldata(id, &proof, &words);
        let tx = chain.call_request(Some(self.cfg.coordinator), data, U256::ZERO);
        let pending = match chain.provider.send_transaction(tx).await {
            Ok(p) => p,
            Err(e) => {
                let reason = super::client::revert_data(&e).map(|d| super::client::revert_reason(&d));
                if reason.as_deref().is_some_and(|r| r.contains("AlreadyFulfilled")) {
                    return Ok("already fulfilled (revert on send): counted as delivered".into());
                }
                return Err(match reason {
                    Some(r) => ServiceError::Input(format!("deliver reverts: {r}")),
                    None => super::client::rpc_error(&chain.url, e),
                });
            }
        };
        let tx_hash = *pending.tx_hash();
        if std::env::var_os(TEST_EXIT_AFTER_SEND_ENV).is_some() {
            tracing::warn!(request = %id, tx = %tx_hash, "{TEST_EXIT_AFTER_SEND_ENV}: exiting after sending (TEST ONLY)");
            std::process::exit(3);
        }
        let receipt = pending
            .with_timeout(Some(super::client::RECEIPT_TIMEOUT))
            .get_receipt()
            .await
            .map_err(|e| ServiceError::Input(format!("waiting for the receipt of {tx_hash}: {e}")))?;
        if !alloy_network::ReceiptResponse::status(&receipt) {
            // Reverted on chain (e.g. another node delivered first): settled by the next check.
            if !is_pending(chain, self.cfg.coordinator, id).await? {
                return Ok(format!("deliver {tx_hash} reverted but the request is fulfilled: counted as delivered"));
            }
            return Err(ServiceError::Input(format!("deliver {tx_hash} reverted")));
        }
        Ok(format!("delivered in {tx_hash} (block {}, gas {})", receipt.block_number.unwrap_or_default(), receipt.gas_used))
    }
}

/// The coordinator's request timeout in seconds.
async fn request_timeout(chain: &Chain, coordinator: Address) -> Result<u64, ServiceError> {
    use alloy_sol_types::SolCall;
    let call = super::bindings::IZkinferCoordinator::requestTimeoutCall {};
    match chain.call(Some(coordinator), call.abi_encode()).await? {
        super::client::CallResult::Returned(out) => super::bindings::IZkinferCoordinator::requestTimeoutCall::abi_decode_returns(&out)
            .map_err(|e| ServiceError::Input(format!("{coordinator} is not a zkinfer coordinator: {e}"))),
        super::client::CallResult::Reverted(_) => Err(ServiceError::Input(format!("{coordinator} is not a zkinfer coordinator"))),
    }
}

/// Submits the proving job of a request: `Ok(None)` when this server has no such model
/// (logged), an error when the request cannot be proved here.
fn submit(engine: &Engine, model_id: &str, inputs: &[i128], key: String) -> Result<Option<String>, ServiceError> {
    let model = match engine.model(model_id) {
        Ok(m) => m,
        Err(_) => {
            tracing::info!(model = model_id, "on-chain request for a model this node does not have: skipped");
            return Ok(None);
        }
    };
    if model.state != ModelState::Ready {
        return Err(ServiceError::Input(format!("model {model_id} is {:?}, not ready", model.state)));
    }
    let settings =
        zkinfer_compiler::Settings::from_json(model.settings_json.as_deref().unwrap_or("").as_bytes()).map_err(ServiceError::Input)?;
    if settings.visibility().inputs != zkinfer_circuits::Visibility::Public {
        return Err(ServiceError::Input("the model's inputs are not public: the request's inputs cannot be proved by this node".into()));
    }
    let unit = 2f64.powi(settings.calibration.scale as i32);
    let mut flat = inputs.iter().map(|q| *q as f64 / unit);
    let sample: Vec<Vec<f64>> = model.input_shapes.iter().map(|s| flat.by_ref().take(s.iter().product()).collect()).collect();
    // On-chain requests are the node operator's jobs: the implicit tenant.
    let req = SubmitRequest {
        model_id: model_id.to_string(),
        tenant: crate::store::DEFAULT_TENANT.to_string(),
        input: SubmitInput::Flat(sample),
        idempotency_key: Some(key),
        priority: 0,
    };
    let (job, existing) = engine.submit(req).map_err(|e| ServiceError::Input(e.to_string()))?;
    if existing {
        tracing::info!(job = %job.job.id, "request seen before: its job continues");
    }
    Ok(Some(job.job.id))
}

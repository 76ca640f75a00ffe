//! `zkinfer deploy`: a model's verifier (every part of a split one, then the entry with
//! their addresses) and its attestor on a chain, recorded in `DIR/deployment.json`.
//!
//! Idempotent: before deploying a contract, its creation code is simulated on the chain
//! (`eth_call` without `to` returns the runtime code it would store); a recorded contract
//! is reused when the code at its address has that code's hash. Otherwise it is deployed
//! and the stored code is checked against the simulation. The file is rewritten after
//! every contract, so an interrupted deploy resumes where it stopped.

use std::path::{Path, PathBuf};

use alloy_primitives::{keccak256, Address, U256};
use alloy_sol_types::SolCall;
use ff::PrimeField;
use serde::{Deserialize, Serialize};
use zkinfer_circuits::InstanceLayout;
use zkinfer_circuits::VisibilityConfig;
use zkinfer_models::quant::QuantGraph;
use zkinfer_prover::Backend;
use zkinfer_verifier_contracts::segments::segment_chain_creation_code;
use zkinfer_verifier_contracts::{attestor_creation_code, attestor_source, build_attestor, AttestorSpec, VerifierCode};

use super::bindings::{Decoded, IZkinferAttestor, IZkinferSegmentChain};
use super::client::{revert_reason, CallResult, Chain};
use crate::artifacts::ModelDir;
use crate::error::ServiceError;
use crate::fsio::{read_json, write_atomic};

/// The attestor's layout for `quant` under `visibility` (the instance layout's counts,
/// the scale and, with hashed parameters, the model's parameter hash).
pub fn attestor_spec(quant: &QuantGraph, visibility: &VisibilityConfig) -> AttestorSpec {
    let layout = InstanceLayout::new(quant, visibility);
    AttestorSpec {
        n_in: layout.n_in,
        n_out: layout.n_out,
        bits: quant.bits,
        scale: quant.scale,
        input_hash: layout.input_hash,
        param_hash: layout.param_hash.then(|| {
            let mut b = zkinfer_circuits::instances::param_hash(quant).to_repr();
            b.as_mut().reverse();
            let mut out = [0u8; 32];
            out.copy_from_slice(b.as_ref());
            out
        }),
        output_hash: layout.output_hash,
    }
}

/// One deployed contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedContract {
    /// `verifier-part1`.., `verifier`, `attestor`.
    pub name: String,
    pub address: Address,
    pub tx_hash: String,
    /// keccak256 of the runtime code at `address`.
    pub code_hash: String,
    /// keccak256 of the creation code (constructor arguments included).
    pub creation_hash: String,
    pub gas_used: u64,
}

/// `deployment.json`: the model's contracts on one chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub chain_id: u64,
    pub settings_hash: String,
    /// In deployment order: verifier parts, the verifier (entry), the attestor.
    pub contracts: Vec<DeployedContract>,
}

impl Deployment {
    /// The contract named `name`.
    pub fn get(&self, name: &str) -> Option<&DeployedContract> {
        self.contracts.iter().find(|c| c.name == name)
    }

    /// The verifier callers call (the entry of a split one).
    pub fn verifier(&self) -> Result<Address, ServiceError> {
        self.get("verifier").map(|c| c.address).ok_or_else(|| ServiceError::Input("deployment.json has no verifier".into()))
    }

    /// The attestor.
    pub fn attestor(&self) -> Result<Address, ServiceError> {
        self.get("attestor").map(|c| c.address).ok_or_else(|| ServiceError::Input("deployment.json has no attestor".into()))
    }

    /// Gas of every deployment transaction recorded.
    pub fn total_gas(&self) -> u64 {
        self.contracts.iter().map(|c| c.gas_used).sum()
    }

    /// `DIR/deployment.json`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("deployment.json")
    }

    /// The deployment recorded in `dir` for `chain_id`; `None` when there is none.
    pub fn read(dir: &Path, chain_id: u64) -> Result<Option<Deployment>, ServiceError> {
        let p = Self::path(dir);
        if !p.exists() {
            return Ok(None);
        }
        let d: Deployment = read_json(&p)?;
        if d.chain_id != chain_id {
            return Err(ServiceError::Input(format!(
                "{} records chain {}, the RPC endpoint is chain {chain_id}: move it aside to deploy to another chain",
                p.display(),
                d.chain_id
            )));
        }
        Ok(Some(d))
    }

    fn write(&self, dir: &Path) -> Result<(), ServiceError> {
        write_atomic(&Self::path(dir), &serde_json::to_vec_pretty(self).expect("serializable"))
    }
}

fn hex32(b: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(b.as_ref()))
}

/// Makes sure the contract `name` of `creation` is on the chain: reused from `previous`
/// when its code matches, else deployed. Returns it and whether it was deployed now.
async fn ensure(
    chain: &Chain,
    name: &str,
    creation: Vec<u8>,
    previous: Option<&DeployedContract>,
) -> Result<(DeployedContract, bool), ServiceError> {
    let creation_hash = hex32(keccak256(&creation));
    let runtime = match chain.call(None, creation.clone()).await? {
        CallResult::Returned(code) if !code.is_empty() => code,
        CallResult::Returned(_) => return Err(ServiceError::Input(format!("{name}: the creation code stores no code"))),
        CallResult::Reverted(d) => return Err(ServiceError::Input(format!("{name}: the constructor reverts ({})", revert_reason(&d)))),
    };
    let expected = hex32(keccak256(&runtime));
    if let Some(p) = previous.filter(|p| p.creation_hash == creation_hash && p.code_hash == expected) {
        if hex32(keccak256(chain.code(p.address).await?)) == expected {
            return Ok((p.clone(), false));
        }
    }
    let receipt = chain.send(None, creation, U256::ZERO).await?;
    let address = receipt.contract_address.ok_or_else(|| ServiceError::Input(format!("{name}: the receipt names no contract")))?;
    let stored = hex32(keccak256(chain.code(address).await?));
    if stored != expected {
        return Err(ServiceError::Input(format!("{name}: the code stored at {address} ({stored}) is not the simulated code ({expected})")));
    }
    Ok((
        DeployedContract {
            name: name.to_string(),
            address,
            tx_hash: receipt.transaction_hash.to_string(),
            code_hash: expected,
            creation_hash,
            gas_used: receipt.gas_used,
        },
        true,
    ))
}

/// Deploys contracts one after the other, reusing those `dir/deployment.json` records
/// for the same settings, and rewrites the record after every contract.
struct Deployer<'a> {
    dir: &'a Path,
    chain: &'a Chain,
    previous: Option<Deployment>,
    deployment: Deployment,
    deployed: usize,
}

impl<'a> Deployer<'a> {
    fn new(dir: &'a Path, chain: &'a Chain, settings_hash: &str) -> Result<Self, ServiceError> {
        let previous = Deployment::read(dir, chain.chain_id)?.filter(|d| d.settings_hash == settings_hash);
        let deployment = Deployment { chain_id: chain.chain_id, settings_hash: settings_hash.to_string(), contracts: Vec::new() };
        Ok(Deployer { dir, chain, previous, deployment, deployed: 0 })
    }

    /// Makes sure the contract `name` is on the chain; returns its address.
    async fn ensure(&mut self, name: &str, creation: Vec<u8>) -> Result<Address, ServiceError> {
        let previous = self.previous.as_ref().and_then(|d| d.get(name).cloned());
        let (c, now) = ensure(self.chain, name, creation, previous.as_ref()).await?;
        self.deployed += now as usize;
        let address = c.address;
        self.deployment.contracts.push(c);
        self.deployment.write(self.dir)?;
        Ok(address)
    }

    /// A verifier: every part of a split one (`NAME-part1`..), then its entry (`NAME`),
    /// which callers call. Returns the entry's address.
    async fn verifier(&mut self, name: &str, code: &VerifierCode) -> Result<Address, ServiceError> {
        let mut parts = Vec::new();
        for (i, part) in code.parts.iter().enumerate() {
            parts.push(evm_address(self.ensure(&format!("{name}-part{}", i + 1), part.clone()).await?));
        }
        self.ensure(name, code.entry_creation_code(&parts)).await
    }
}

fn evm_address(a: Address) -> zkinfer_verifier_contracts::Address {
    zkinfer_verifier_contracts::Address::from(a.0 .0)
}

/// Deploys (or finds) `dir`'s verifier and attestor on `chain`; writes
/// `dir/deployment.json` and `dir/Attestor.sol`. Returns the deployment and how many
/// contracts were deployed now.
pub async fn deploy(dir: &Path, chain: &Chain, solc: &zkinfer_verifier_contracts::Solc) -> Result<(Deployment, usize), ServiceError> {
    let md = ModelDir::new(dir);
    let settings = md.settings()?;
    let code = md.verifier_code()?;
    let attestor = if settings.backend() == Backend::Halo2 {
        let spec = attestor_spec(&md.quant()?, &settings.visibility());
        write_atomic(&dir.join("Attestor.sol"), attestor_source(&spec).as_bytes())?;
        Some(build_attestor(solc, &spec)?)
    } else {
        None
    };
    let mut d = Deployer::new(dir, chain, &settings.settings_hash)?;
    let verifier = d.verifier("verifier", &code).await?;
    if let Some(a) = attestor {
        d.ensure("attestor", attestor_creation_code(&a.deployment_code, &evm_address(verifier))).await?;
    }
    Ok((d.deployment, d.deployed))
}

/// Deploys (or finds) a model proved as segments: each segment's verifier (`segment-I`,
/// its parts `segment-I-partJ`), then `chain`, the `ZkinferSegmentChain` that calls them
/// in order and links their boundary hashes (`chain_code`: its creation code without
/// constructor arguments; `instance_counts`: each segment's public instances).
/// `settings_hash` names the compiled folder (a changed folder deploys again).
pub async fn deploy_segments(
    dir: &Path,
    chain: &Chain,
    settings_hash: &str,
    verifiers: &[VerifierCode],
    chain_code: &[u8],
    instance_counts: &[usize],
) -> Result<(Deployment, usize), ServiceError> {
    let mut d = Deployer::new(dir, chain, settings_hash)?;
    let mut entries = Vec::with_capacity(verifiers.len());
    for (i, code) in verifiers.iter().enumerate() {
        entries.push(evm_address(d.verifier(&format!("segment-{i}"), code).await?));
    }
    d.ensure("chain", segment_chain_creation_code(chain_code, &entries, instance_counts)).await?;
    Ok((d.deployment, d.deployed))
}

/// The deployed `ZkinferSegmentChain` asked about a segmented proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainOnChain {
    /// `eth_estimateGas` of the `verify` call when it returned; the chain's named error when it reverted.
    pub outcome: Result<u64, String>,
    /// The first segment's and the last segment's public instances, as the chain returned them.
    pub first: Vec<U256>,
    pub last: Vec<U256>,
}

/// Calls `deployment`'s `chain` with every segment's verifier calldata (its instances as
/// words, then its proof).
pub async fn verify_segments_on_chain(chain: &Chain, deployment: &Deployment, calls: Vec<Vec<u8>>) -> Result<ChainOnChain, ServiceError> {
    let at =
        deployment.get("chain").map(|c| c.address).ok_or_else(|| ServiceError::Input("deployment.json has no segment chain".into()))?;
    let call = IZkinferSegmentChain::verifyCall { calls: calls.into_iter().map(Into::into).collect() };
    match chain.call(Some(at), call.abi_encode()).await? {
        CallResult::Returned(out) => {
            let r = IZkinferSegmentChain::verifyCall::abi_decode_returns(&out)
                .map_err(|e| ServiceError::Input(format!("the segment chain returned undecodable data: {e}")))?;
            let words = |v: Vec<alloy_primitives::FixedBytes<32>>| v.into_iter().map(|w| U256::from_be_bytes(w.0)).collect();
            let gas = chain.estimate_gas(at, call.abi_encode(), U256::ZERO).await?;
            Ok(ChainOnChain { outcome: Ok(gas), first: words(r.first), last: words(r.last) })
        }
        CallResult::Reverted(d) => Ok(ChainOnChain { outcome: Err(revert_reason(&d)), first: Vec::new(), last: Vec::new() }),
    }
}

/// A proof checked against deployed contracts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnChainVerification {
    /// The verifier returned normally with empty data.
    pub accepted: bool,
    /// `eth_estimateGas` of the verifier call (only when accepted).
    pub gas_estimate: Option<u64>,
    /// What the attestor decoded (when accepted and there is an attestor).
    pub decoded: Option<Decoded>,
    /// `eth_estimateGas` of the attestor's `verifyAndDecode` (when it decoded).
    pub attestor_gas_estimate: Option<u64>,
    /// The attestor's named error, or why the verifier refused.
    pub reason: Option<String>,
}

/// Calls `deployment`'s verifier with `calldata` (instances, then the proof) and estimates
/// its gas; then its attestor's `verifyAndDecode(proof, instances)`.
pub async fn verify_on_chain(
    chain: &Chain,
    deployment: &Deployment,
    calldata: Vec<u8>,
    instances: &[U256],
    proof: &[u8],
) -> Result<OnChainVerification, ServiceError> {
    let verifier = deployment.verifier()?;
    let accepted = matches!(chain.call(Some(verifier), calldata.clone()).await?, CallResult::Returned(ref out) if out.is_empty());
    if !accepted {
        return Ok(OnChainVerification {
            accepted,
            gas_estimate: None,
            decoded: None,
            attestor_gas_estimate: None,
            reason: Some("the verifier reverted".into()),
        });
    }
    let gas_estimate = Some(chain.estimate_gas(verifier, calldata, U256::ZERO).await?);
    let Ok(attestor) = deployment.attestor() else {
        return Ok(OnChainVerification { accepted, gas_estimate, decoded: None, attestor_gas_estimate: None, reason: None });
    };
    let call = IZkinferAttestor::verifyAndDecodeCall { proof: proof.to_vec().into(), instances: instances.to_vec() };
    match chain.call(Some(attestor), call.abi_encode()).await? {
        CallResult::Returned(out) => {
            let d = IZkinferAttestor::verifyAndDecodeCall::abi_decode_returns(&out)
                .map_err(|e| ServiceError::Input(format!("attestor returned undecodable data: {e}")))?;
            let attestor_gas_estimate = Some(chain.estimate_gas(attestor, call.abi_encode(), U256::ZERO).await?);
            Ok(OnChainVerification { accepted, gas_estimate, decoded: Some(d), attestor_gas_estimate, reason: None })
        }
        CallResult::Reverted(d) => Ok(OnChainVerification {
            accepted: false,
            gas_estimate,
            decoded: None,
            attestor_gas_estimate: None,
            reason: Some(format!("the attestor reverted: {}", revert_reason(&d))),
        }),
    }
}

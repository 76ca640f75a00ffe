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
use zkinfer_verifier_contracts::{attestor_creation_code, attestor_source, build_attestor, AttestorSpec};

use super::bindings::{Decoded, IZkinferAttestor};
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
    let previous = Deployment::read(dir, chain.chain_id)?.filter(|d| d.settings_hash == settings.settings_hash);
    let prev = |name: &str| previous.as_ref().and_then(|d| d.get(name).cloned());
    let mut deployment = Deployment { chain_id: chain.chain_id, settings_hash: settings.settings_hash.clone(), contracts: Vec::new() };
    let mut deployed = 0;
    let mut record = |deployment: &mut Deployment, c: DeployedContract, now: bool| -> Result<(), ServiceError> {
        deployed += now as usize;
        deployment.contracts.push(c);
        deployment.write(dir)
    };
    let mut part_addresses = Vec::new();
    for (i, part) in code.parts.iter().enumerate() {
        let name = format!("verifier-part{}", i + 1);
        let (c, now) = ensure(chain, &name, part.clone(), prev(&name).as_ref()).await?;
        part_addresses.push(c.address);
        record(&mut deployment, c, now)?;
    }
    let entry_creation =
        code.entry_creation_code(&part_addresses.iter().map(|a| zkinfer_verifier_contracts::Address::from(a.0 .0)).collect::<Vec<_>>());
    let (entry, now) = ensure(chain, "verifier", entry_creation, prev("verifier").as_ref()).await?;
    let entry_address = entry.address;
    record(&mut deployment, entry, now)?;
    if let Some(a) = attestor {
        let creation = attestor_creation_code(&a.deployment_code, &zkinfer_verifier_contracts::Address::from(entry_address.0 .0));
        let (c, now) = ensure(chain, "attestor", creation, prev("attestor").as_ref()).await?;
        record(&mut deployment, c, now)?;
    }
    Ok((deployment, deployed))
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

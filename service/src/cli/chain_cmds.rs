//! `zkinfer deploy` and `zkinfer verify-evm --rpc`: a compiled model's contracts on a
//! live chain.

use std::path::Path;

use alloy_primitives::U256;
use anyhow::{bail, Context, Result};
use zkinfer_prover::Expected;

use super::commands::{load_proof, rejected};
use crate::artifacts::ModelDir;
use crate::chain::{self, connect, load_key, Deployment};

/// A runtime for one command's RPC calls.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// Gas of `data` as transaction calldata (EIP-2028: 4 per zero byte, 16 per other byte).
pub fn calldata_gas(data: &[u8]) -> u64 {
    data.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum()
}

/// `zkinfer deploy` (a compile-segments folder: its segments' verifiers and chain).
pub fn deploy(dir: &Path, rpc: &str, key_file: Option<&Path>, tools: &crate::environment::Tools) -> Result<()> {
    if dir.join("segments.json").exists() {
        return super::segment_cmds::deploy(dir, rpc, key_file);
    }
    let signer = load_key(key_file)?;
    runtime()?.block_on(async {
        let chain = connect(rpc, Some(signer)).await?;
        let (d, now) = chain::deploy(dir, &chain, &tools.solc).await?;
        print_deployment(&d, now, dir);
        Ok(())
    })
}

/// Prints each contract of `d` and a summary line (`now` of them deployed now).
pub(crate) fn print_deployment(d: &Deployment, now: usize, dir: &Path) {
    for c in &d.contracts {
        println!("{:<16} {}  code {}  gas {}", c.name, c.address, c.code_hash, c.gas_used);
    }
    println!(
        "chain {}: {now} contracts deployed now, {} already deployed; deployment gas {} in all; {} written",
        d.chain_id,
        d.contracts.len() - now,
        d.total_gas(),
        Deployment::path(dir).display()
    );
}

/// `zkinfer deploy-coordinator`.
pub fn deploy_coordinator(rpc: &str, key_file: Option<&Path>, timeout: u64, tools: &crate::environment::Tools) -> Result<()> {
    let signer = load_key(key_file)?;
    runtime()?.block_on(async {
        let chain = connect(rpc, Some(signer)).await?;
        let address = chain::coordinator::deploy_coordinator(&chain, &tools.solc, timeout).await?;
        println!("{address}");
        Ok(())
    })
}

/// `zkinfer register-onchain`.
pub fn register_onchain(dir: &Path, coordinator: &str, model_id: Option<&str>, rpc: &str, key_file: Option<&Path>) -> Result<()> {
    let signer = load_key(key_file)?;
    let coordinator: alloy_primitives::Address = coordinator.parse().with_context(|| format!("--coordinator {coordinator}"))?;
    let settings = ModelDir::new(dir).settings()?;
    let id = chain::coordinator::model_id_bytes(model_id.unwrap_or(&settings.settings_hash))?;
    runtime()?.block_on(async {
        let chain = connect(rpc, Some(signer)).await?;
        let d = Deployment::read(dir, chain.chain_id)?
            .with_context(|| format!("no deployment.json in {} for chain {}: run `zkinfer deploy` first", dir.display(), chain.chain_id))?;
        let r = chain::coordinator::register_model(&chain, coordinator, id, d.attestor()?).await?;
        println!("registered model {id} with attestor {} on coordinator {coordinator} (tx {})", d.attestor()?, r.transaction_hash);
        Ok(())
    })
}

/// `zkinfer verify-evm DIR PROOF --rpc URL`: the statement checked natively, the proof
/// by the deployed verifier (eth_call, gas estimate), the values by the deployed attestor.
pub fn verify_evm_rpc(dir: &Path, proof: &Path, rpc: &str) -> Result<()> {
    let md = ModelDir::new(dir);
    let model = md.model()?;
    let (pf, mp) = load_proof(&model, proof)?;
    let quant = model.quant();
    zkinfer_prover::statement::check(
        quant,
        &model.settings.visibility(),
        &mp.instances,
        &Expected { outputs: Some(&pf.outputs), param_hash: None },
    )
    .map_err(|e| rejected(e, proof))?;
    let calldata = model.prover.calldata(&mp)?;
    let instances: Vec<U256> =
        pf.instances.iter().map(|s| U256::from_str_radix(s.trim_start_matches("0x"), 16)).collect::<Result<_, _>>().context("instances")?;
    let r = runtime()?.block_on(async {
        let chain = connect(rpc, None).await?;
        let d = Deployment::read(dir, chain.chain_id)?
            .with_context(|| format!("no deployment.json in {} for chain {}: run `zkinfer deploy` first", dir.display(), chain.chain_id))?;
        if d.settings_hash != model.settings.settings_hash {
            bail!("deployment.json is for settings {}, this folder is {}", d.settings_hash, model.settings.settings_hash);
        }
        Ok::<_, anyhow::Error>((chain::verify_on_chain(&chain, &d, calldata.clone(), &instances, &mp.proof).await?, chain.chain_id, d))
    })?;
    let (r, chain_id, d) = r;
    if !r.accepted {
        bail!("the on-chain verifier rejected the proof ({})", r.reason.unwrap_or_default());
    }
    let gas = r.gas_estimate.unwrap_or_default();
    if let Some(dec) = &r.decoded {
        let attested = model.prover.public_outputs(&mp).map_err(|e| rejected(e, proof))?;
        let decoded: Vec<i128> =
            dec.outputs.iter().map(|v| v.to_string().parse::<i128>()).collect::<Result<_, _>>().context("attestor outputs")?;
        if let Some(attested) = attested {
            let want: Vec<i128> = attested.iter().flatten().map(|x| quant.quantize_value(*x) as i128).collect();
            if want != decoded {
                bail!("the attestor decoded outputs {decoded:?}, the proof states {want:?}");
            }
        }
        println!(
            "attestor {}: verifyAndDecode gas estimate {}; outputs {:?} at scale 2^-{}{}",
            d.attestor()?,
            r.attestor_gas_estimate.unwrap_or_default(),
            decoded,
            dec.scale,
            if dec.outputs.is_empty() { format!(" (output hash 0x{:064x})", dec.outputHash) } else { String::new() }
        );
    }
    let local = model.prover.verify_on_evm(&md.verifier_code()?, &mp)?;
    let cd = calldata_gas(&calldata);
    println!(
        "accepted on chain {chain_id} by {}: gas estimate {gas} (in-process EVM: gas used {}; both include the 21000 intrinsic and {cd} calldata gas)",
        d.verifier()?,
        local.gas_used
    );
    Ok(())
}

//! `evm_call SOL_FILE CALLDATA_FILE [CONTRACT]`: compiles a Solidity file with zkinfer's
//! npm solc (optimizer off), deploys it in revm, calls it with the calldata (raw bytes or
//! hex) and prints `{"runtime_bytes", "deploy_gas", "success", "gas_used"}` as JSON.
//! The comparison harness uses it to measure EZKL's verifiers in the same EVM as ours.

use anyhow::{Context, Result};
use zkinfer_verifier_contracts::{compile_solidity_with, Evm, SolcOptions};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        anyhow::bail!("usage: evm_call SOL_FILE CALLDATA_FILE [CONTRACT]");
    }
    let src = std::fs::read_to_string(&args[1]).with_context(|| args[1].clone())?;
    let raw = std::fs::read(&args[2]).with_context(|| args[2].clone())?;
    let text = String::from_utf8_lossy(&raw);
    let calldata = match hex::decode(text.trim().trim_start_matches("0x")) {
        Ok(b) if !raw.is_empty() => b,
        _ => raw.clone(),
    };
    let name = args.get(3).map(|s| s.as_str());
    // zkinfer's verifiers compile without the optimizer; third-party ones may need it.
    let attempts = [
        ("no optimizer", SolcOptions::default()),
        ("optimizer (200 runs)", SolcOptions { optimizer_runs: Some(200), ..Default::default() }),
        ("optimizer (1 run) + viaIR", SolcOptions { optimizer_runs: Some(1), via_ir: true, ..Default::default() }),
    ];
    let mut last = None;
    let mut found = None;
    for (label, opts) in attempts {
        match compile_solidity_with(&zkinfer_benches::solc(), &src, name, opts) {
            Ok(c) => {
                found = Some((c, label));
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let (compiled, settings) = match found {
        Some(f) => f,
        None => return Err(last.expect("at least one attempt").into()),
    };
    let mut evm = Evm::new();
    let runtime_bytes = compiled.runtime_code.len();
    let out = match evm.deploy(&compiled.deployment_code) {
        Ok(d) => {
            let call = evm.call(d.address, &calldata)?;
            serde_json::json!({
                "runtime_bytes": runtime_bytes,
                "solc": settings,
                "deploy_gas": d.gas_used,
                "deployable": true,
                "success": call.success,
                "gas_used": call.gas_used,
            })
        }
        Err(e) => serde_json::json!({ "runtime_bytes": runtime_bytes, "deployable": false, "error": e.to_string() }),
    };
    println!("{out}");
    Ok(())
}

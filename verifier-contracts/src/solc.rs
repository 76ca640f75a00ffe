//! Compiling Solidity with the real compiler: the npm `solc` package
//! (soljson, runs offline) driven through its standard-JSON API by Node.js.
//!
//! The optimizer is **disabled** and `viaIR` is **not** used: the generated
//! halo2 verifiers hit "stack too deep" with the optimizer and are
//! miscompiled through the IR pipeline.
//!
//! The caller says where the compiler is, with a [`Solc`] value: this crate reads no
//! environment variable to find it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::error::ContractError;

/// EIP-170: the maximum size in bytes of a contract's runtime code.
pub const EIP170_LIMIT: usize = 24_576;

/// EIP-3860: the maximum size in bytes of contract deployment (init) code.
pub const EIP3860_LIMIT: usize = 2 * EIP170_LIMIT;

/// Name under which the source is handed to the compiler.
const SOURCE_NAME: &str = "Contract.sol";

/// Node.js program: reads standard-JSON from stdin, compiles it with the solc
/// module named by `ZKINFER_SOLC_MODULE` (set for the child process only), writes
/// `{"version": "...", "output": <standard-JSON output>}` to stdout.
const DRIVER_JS: &str = r#"
const solc = require(process.env.ZKINFER_SOLC_MODULE);
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const input = Buffer.concat(chunks).toString('utf8');
  const output = solc.compile(input);
  process.stdout.write('{"version":' + JSON.stringify(solc.version()) + ',"output":' + output + '}');
});
"#;

/// Where the Solidity compiler is: the npm `solc` package (0.8.19) and the Node.js
/// binary that runs it. The package is checked when a compilation needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Solc {
    /// The Node.js executable: a path, or a name looked up on `PATH`.
    pub node: PathBuf,
    /// The npm `solc` package directory (`package.json`, `soljson.js`, `index.js`).
    pub package: PathBuf,
}

impl Solc {
    /// The solc package in `dir`: `dir/node_modules/solc` (`npm install solc` ran in
    /// `dir`) or `dir` itself, the first that holds the package; when neither does,
    /// `dir/node_modules/solc`, which compilations then report missing.
    pub fn in_dir(node: impl Into<PathBuf>, dir: &Path) -> Solc {
        let installed = dir.join("node_modules").join("solc");
        let package = if !is_solc_package(&installed) && is_solc_package(dir) { dir.to_path_buf() } else { installed };
        Solc { node: node.into(), package }
    }

    /// Fails unless [`Solc::package`] holds the npm solc package, saying how to install it.
    pub fn check(&self) -> Result<(), ContractError> {
        if is_solc_package(&self.package) {
            return Ok(());
        }
        let p = &self.package;
        let under_node_modules = p.parent().filter(|d| d.file_name().is_some_and(|n| n == "node_modules"));
        let install_dir = under_node_modules.and_then(Path::parent).unwrap_or(p).to_path_buf();
        Err(ContractError::SolcNotFound { package: p.clone(), install_dir })
    }
}

/// A compiled contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledContract {
    /// Contract name as declared in the source.
    pub name: String,
    /// Creation (init) code: send this in a contract-creation transaction.
    pub deployment_code: Vec<u8>,
    /// Runtime (deployed) code, the bytes that EIP-170 limits.
    pub runtime_code: Vec<u8>,
}

/// Compiles `source` with npm solc (optimizer off) and returns the bytecode of
/// `contract_name`, or, when `None`, of the only contract with non-empty
/// bytecode (if several, the one declared last in the source).
///
/// Error-severity diagnostics become [`ContractError::Compile`]; a missing
/// Node.js or solc package gives an error that says how to install it.
pub fn compile_solidity(solc: &Solc, source: &str, contract_name: Option<&str>) -> Result<CompiledContract, ContractError> {
    compile_solidity_with(solc, source, contract_name, SolcOptions::default())
}

/// Compiler settings other than the defaults zkinfer's own verifiers need.
#[derive(Clone, Copy, Debug, Default)]
pub struct SolcOptions {
    /// Optimizer runs; `None` keeps the optimizer off.
    pub optimizer_runs: Option<u32>,
    /// Compile through the IR pipeline (needs the optimizer for large assembly blocks).
    pub via_ir: bool,
    /// `metadata.bytecodeHash = none`: a contract's code does not depend on the rest
    /// of the source file (split verifiers pin their parts' code hashes).
    pub no_metadata_hash: bool,
}

/// [`compile_solidity`] with explicit settings: used to compile third-party verifiers
/// (EZKL's needs the optimizer and `viaIR`) for side-by-side measurements.
pub fn compile_solidity_with(
    solc: &Solc,
    source: &str,
    contract_name: Option<&str>,
    options: SolcOptions,
) -> Result<CompiledContract, ContractError> {
    let candidates = compile_solidity_all_with(solc, source, options)?;
    let chosen = match contract_name {
        Some(wanted) => {
            candidates.into_iter().find(|c| c.name == wanted).ok_or_else(|| ContractError::ContractNotFound(wanted.to_string()))?
        }
        None => {
            let mut with_code: Vec<_> = candidates.into_iter().filter(|c| !c.deployment_code.is_empty()).collect();
            // The last declared in the source wins; ties (not found) keep name order.
            with_code.sort_by_key(|c| declaration_position(source, &c.name));
            with_code.pop().ok_or_else(|| ContractError::ContractNotFound("no contract with bytecode in the source".into()))?
        }
    };
    if chosen.deployment_code.is_empty() {
        return Err(ContractError::ContractNotFound(format!("`{}` has no bytecode (abstract contract or interface)", chosen.name)));
    }
    Ok(chosen)
}

/// Every contract of `source` (interfaces and abstract contracts with empty code),
/// compiled in one solc run with `options`.
pub fn compile_solidity_all_with(solc: &Solc, source: &str, options: SolcOptions) -> Result<Vec<CompiledContract>, ContractError> {
    let optimizer = match options.optimizer_runs {
        Some(runs) => json!({ "enabled": true, "runs": runs }),
        None => json!({ "enabled": false }),
    };
    let mut input = json!({
        "language": "Solidity",
        "sources": { SOURCE_NAME: { "content": source } },
        "settings": {
            "optimizer": optimizer,
            "viaIR": options.via_ir,
            "outputSelection": {
                "*": { "*": ["evm.bytecode.object", "evm.deployedBytecode.object"] }
            }
        }
    });
    if options.no_metadata_hash {
        input["settings"]["metadata"] = json!({ "bytecodeHash": "none" });
    }
    let (_version, output) = run_solc(solc, &input.to_string())?;
    check_errors(&output)?;

    let contracts = output
        .get("contracts")
        .and_then(|c| c.get(SOURCE_NAME))
        .and_then(Value::as_object)
        .ok_or_else(|| ContractError::ContractNotFound("compiler produced no contracts".into()))?;
    contracts
        .iter()
        .map(|(name, contract)| {
            Ok(CompiledContract {
                deployment_code: decode_hex(name, &bytecode_hex(contract, "bytecode")?)?,
                runtime_code: decode_hex(name, &bytecode_hex(contract, "deployedBytecode")?)?,
                name: name.clone(),
            })
        })
        .collect()
}

/// The version string of the npm solc that [`compile_solidity`] uses,
/// e.g. `0.8.19+commit.7dd6d404.Emscripten.clang`.
pub fn solc_version(solc: &Solc) -> Result<String, ContractError> {
    let input = json!({ "language": "Solidity", "sources": {} });
    let (version, _) = run_solc(solc, &input.to_string())?;
    Ok(version)
}

fn is_solc_package(dir: &Path) -> bool {
    dir.join("package.json").is_file() && dir.join("soljson.js").is_file() && dir.join("index.js").is_file()
}

/// Runs the Node.js driver on a standard-JSON input; returns (version, output).
fn run_solc(solc: &Solc, input: &str) -> Result<(String, Value), ContractError> {
    solc.check()?;
    let mut child = Command::new(&solc.node)
        .arg("-e")
        .arg(DRIVER_JS)
        .env("ZKINFER_SOLC_MODULE", &solc.package)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ContractError::NodeNotFound { node: solc.node.display().to_string(), source })?;

    // Feed stdin from a thread so a large source cannot deadlock against a
    // full stdout/stderr pipe.
    let writer = child.stdin.take().map(|mut stdin| {
        let bytes = input.as_bytes().to_vec();
        std::thread::spawn(move || stdin.write_all(&bytes))
    });
    let out = child.wait_with_output()?;
    let write_result = match writer {
        Some(handle) => handle.join().map_err(|_| ContractError::SolcProcess("stdin writer thread panicked".into()))?,
        None => Ok(()),
    };

    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(ContractError::SolcProcess(format!("node exited with {}: {}", out.status, stderr.trim())));
    }
    // The process succeeded, so it read all of stdin; a write error now is real.
    write_result?;

    let wrapper: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| ContractError::InvalidOutput(format!("solc output is not JSON: {e}")))?;
    let version = wrapper.get("version").and_then(Value::as_str).unwrap_or_default().to_string();
    let output = wrapper.get("output").cloned().ok_or_else(|| ContractError::InvalidOutput("missing `output` field".into()))?;
    Ok((version, output))
}

/// Turns error-severity diagnostics into [`ContractError::Compile`].
fn check_errors(output: &Value) -> Result<(), ContractError> {
    let Some(diagnostics) = output.get("errors").and_then(Value::as_array) else {
        return Ok(());
    };
    let messages: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.get("severity").and_then(Value::as_str) == Some("error"))
        .map(|d| {
            d.get("formattedMessage").or_else(|| d.get("message")).and_then(Value::as_str).unwrap_or("unknown error").trim().to_string()
        })
        .collect();
    if messages.is_empty() {
        Ok(())
    } else {
        Err(ContractError::Compile(messages.join("\n")))
    }
}

/// Reads `evm.<field>.object` of one contract entry.
fn bytecode_hex(contract: &Value, field: &str) -> Result<String, ContractError> {
    contract
        .get("evm")
        .and_then(|evm| evm.get(field))
        .and_then(|b| b.get("object"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ContractError::InvalidOutput(format!("missing evm.{field}.object")))
}

fn decode_hex(name: &str, hex_code: &str) -> Result<Vec<u8>, ContractError> {
    if hex_code.contains("__$") {
        return Err(ContractError::InvalidOutput(format!("bytecode of `{name}` has unlinked library placeholders")));
    }
    hex::decode(hex_code.trim_start_matches("0x"))
        .map_err(|e| ContractError::InvalidOutput(format!("bytecode of `{name}` is not hex: {e}")))
}

/// Byte offset of the last `contract <name>` declaration in `source`
/// (0 when not found).
fn declaration_position(source: &str, name: &str) -> usize {
    let needle = format!("contract {name}");
    source
        .match_indices(&needle)
        .filter(|(at, _)| {
            let next = source[at + needle.len()..].chars().next();
            !matches!(next, Some(c) if c.is_alphanumeric() || c == '_' || c == '$')
        })
        .map(|(at, _)| at)
        .last()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declaration_position_ignores_prefixes() {
        let src = "contract AB {} contract A {}";
        assert_eq!(declaration_position(src, "A"), 15);
        assert_eq!(declaration_position(src, "AB"), 0);
    }

    #[test]
    fn errors_are_collected() {
        let out = json!({"errors": [
            {"severity": "warning", "formattedMessage": "w"},
            {"severity": "error", "formattedMessage": "e1"},
            {"severity": "error", "message": "e2"}
        ]});
        match check_errors(&out) {
            Err(ContractError::Compile(msg)) => assert_eq!(msg, "e1\ne2"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

//! Verifiers over EIP-170, split into parts that each fit.
//!
//! snark-verifier's halo2 verifier is one straight-line assembly block. Every value
//! it computes lives in memory; across top-level statements only `success` (and the
//! constants `f_p`, `f_q`) are variables. Past about 40 columns its runtime code
//! exceeds EIP-170's 24,576 bytes, so the widest (fastest to prove) layouts could not
//! be deployed.
//!
//! Here the block is cut at top-level statements into parts, each its own contract
//! under the limit:
//! * part 1 reads the calldata (instances, then the proof) as the whole verifier
//!   would, and returns its memory;
//! * part `i > 1` receives the same calldata followed by the memory of part `i - 1`,
//!   restores that memory and goes on where the previous part stopped;
//! * every part reverts when one of its checks failed; the last returns empty data.
//!
//! An entry contract, `Halo2Verifier`, takes the parts' addresses at construction,
//! refuses any address whose code is not the expected part (by code hash: the entry's
//! own code then names the whole verifier), and calls the parts in turn. A caller sees
//! one contract with the unsplit verifier's calldata and outcome: empty return data
//! on success, a revert otherwise. Splitting costs a few calls and memory copies, a
//! few percent of the verification gas.
//!
//! The code hashes are of the parts compiled by zkinfer's solc settings (npm solc
//! 0.8.19, optimizer off) with `metadata.bytecodeHash = none`, so that a part's code
//! does not depend on the rest of the source file.

use revm::primitives::keccak256;

use crate::error::ContractError;
use crate::evm::{Deployed, Evm};
use crate::solc::{compile_solidity_all_with, CompiledContract, SolcOptions};

/// A halo2 verifier: one contract, or parts under EIP-170 each and an entry contract
/// that calls them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierContracts {
    /// Solidity source of every contract.
    pub source: String,
    /// The contract callers call (the whole verifier when `parts` is empty). With parts,
    /// its creation code expects their addresses as constructor arguments.
    pub entry: CompiledContract,
    /// The parts, in call order; empty for an unsplit verifier.
    pub parts: Vec<CompiledContract>,
}

impl VerifierContracts {
    /// An unsplit verifier.
    pub fn single(source: String, entry: CompiledContract) -> Self {
        VerifierContracts { source, entry, parts: Vec::new() }
    }

    /// Number of contracts to deploy.
    pub fn contracts(&self) -> usize {
        self.parts.len() + 1
    }

    /// The largest runtime code of its contracts: what EIP-170 limits.
    pub fn largest_runtime(&self) -> usize {
        self.parts.iter().chain(std::iter::once(&self.entry)).map(|c| c.runtime_code.len()).max().unwrap_or(0)
    }

    /// The creation codes, all that deploying needs.
    pub fn code(&self) -> VerifierCode {
        VerifierCode {
            entry: self.entry.deployment_code.clone(),
            parts: self.parts.iter().map(|p| p.deployment_code.clone()).collect(),
        }
    }
}

/// The creation code of a verifier's contracts (`verifier.bin` and
/// `verifier.partN.bin` on disk).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifierCode {
    /// The entry; with parts, it takes their addresses as constructor arguments.
    pub entry: Vec<u8>,
    /// The parts in call order; empty for an unsplit verifier.
    pub parts: Vec<Vec<u8>>,
}

impl VerifierCode {
    /// An unsplit verifier.
    pub fn single(entry: Vec<u8>) -> Self {
        VerifierCode { entry, parts: Vec::new() }
    }

    /// The deployment manifest (`verifier.json`): `{"entry": "0x..", "parts": ["0x..", ..],
    /// "deploy": how}`.
    pub fn to_json(&self) -> String {
        let hex0x = |b: &[u8]| format!("0x{}", hex::encode(b));
        serde_json::to_string_pretty(&serde_json::json!({
            "deploy": if self.parts.is_empty() {
                "deploy `entry`; call it with the calldata (instances, then the proof)"
            } else {
                "deploy each of `parts` in order, then `entry` with their addresses appended as 32-byte words (constructor arguments); call the entry with the calldata (instances, then the proof)"
            },
            "entry": hex0x(&self.entry),
            "parts": self.parts.iter().map(|p| hex0x(p)).collect::<Vec<_>>(),
        }))
        .expect("JSON values serialize")
    }

    /// Reads a manifest written by [`VerifierCode::to_json`].
    pub fn from_json(text: &str) -> Result<Self, ContractError> {
        let bad = |m: &str| ContractError::InvalidOutput(format!("verifier.json: {m}"));
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let code = |x: &serde_json::Value| -> Result<Vec<u8>, ContractError> {
            let s = x.as_str().ok_or_else(|| bad("code must be a hex string"))?;
            hex::decode(s.trim_start_matches("0x")).map_err(|e| bad(&e.to_string()))
        };
        let entry = code(v.get("entry").ok_or_else(|| bad("no `entry`"))?)?;
        let parts = match v.get("parts") {
            None => Vec::new(),
            Some(p) => p.as_array().ok_or_else(|| bad("`parts` must be a list"))?.iter().map(code).collect::<Result<_, _>>()?,
        };
        Ok(VerifierCode { entry, parts })
    }

    /// Deploys the parts, then the entry (EIP-170 is enforced on each). Returns the
    /// entry and the largest runtime code deployed.
    pub fn deploy(&self, evm: &mut Evm) -> Result<(Deployed, usize), ContractError> {
        let mut creation = self.entry.clone();
        let mut largest = 0;
        for part in &self.parts {
            let d = evm.deploy(part)?;
            largest = largest.max(d.runtime_size);
            creation.extend_from_slice(&[0u8; 12]);
            creation.extend_from_slice(d.address.as_slice());
        }
        let entry = evm.deploy(&creation)?;
        largest = largest.max(entry.runtime_size);
        Ok((entry, largest))
    }
}

/// Solc settings of split verifiers: no metadata hash, so a part's code does not
/// depend on the other contracts in the file.
fn split_solc_options() -> SolcOptions {
    SolcOptions { no_metadata_hash: true, ..SolcOptions::default() }
}

/// The pieces of a snark-verifier verifier source.
struct Generated<'a> {
    /// `let success`, `let f_p`, `let f_q` and `function validate_ec_point`.
    header: &'a str,
    /// Top-level statements (or `{ ... }` blocks), in order.
    items: Vec<&'a str>,
    /// Bytes of calldata the verifier reads: instances and proof.
    calldata_len: usize,
}

fn malformed(what: &str) -> ContractError {
    ContractError::InvalidOutput(format!("unexpected snark-verifier output: {what}"))
}

fn parse(source: &str) -> Result<Generated<'_>, ContractError> {
    let start = source.find("let success := true").ok_or_else(|| malformed("no `let success`"))?;
    let func = source.find("function validate_ec_point").ok_or_else(|| malformed("no validate_ec_point"))?;
    // The end of the function: its braces balance.
    let mut depth = 0usize;
    let mut end = None;
    for (i, ch) in source[func..].char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1).ok_or_else(|| malformed("unbalanced braces"))?;
                if depth == 0 {
                    end = Some(func + i + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    let end = end.ok_or_else(|| malformed("validate_ec_point does not end"))?;
    let stop = source.find("// Revert if anything fails").ok_or_else(|| malformed("no final check"))?;
    let body = &source[end..stop];
    let mut items = Vec::new();
    let (mut depth, mut item_start) = (0i64, None::<usize>);
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim();
        if !trimmed.is_empty() {
            item_start.get_or_insert(offset);
            depth += trimmed.matches('{').count() as i64 - trimmed.matches('}').count() as i64;
            if depth < 0 {
                return Err(malformed("unbalanced braces"));
            }
            if depth == 0 {
                let s = item_start.take().expect("set above");
                let item = body[s..offset + line.len()].trim();
                if item.starts_with("let ") {
                    // A top-level variable would not survive a cut.
                    return Err(malformed("top-level variable"));
                }
                items.push(item);
            }
        }
        offset += line.len();
    }
    if depth != 0 || items.is_empty() {
        return Err(malformed("unbalanced braces or no statements"));
    }
    let mut calldata_len = 0usize;
    for (i, _) in body.match_indices("calldataload(") {
        let arg = &body[i + "calldataload(".len()..];
        let arg = &arg[..arg.find(')').ok_or_else(|| malformed("calldataload"))?];
        let at = match arg.strip_prefix("0x") {
            Some(h) => usize::from_str_radix(h, 16),
            None => arg.parse(),
        }
        .map_err(|_| malformed("calldataload offset"))?;
        calldata_len = calldata_len.max(at + 32);
    }
    Ok(Generated { header: source[start..end].trim(), items, calldata_len })
}

/// The first item of each of `n` parts, balancing the parts' source lengths.
fn cut_points(items: &[&str], n: usize) -> Vec<usize> {
    let total: usize = items.iter().map(|i| i.len()).sum();
    let mut cuts = vec![0];
    let mut acc = 0;
    for (i, item) in items.iter().enumerate() {
        if cuts.len() < n && acc >= total * cuts.len() / n && i > *cuts.last().expect("non-empty") {
            cuts.push(i);
        }
        acc += item.len();
    }
    cuts
}

fn part_source(g: &Generated<'_>, index: usize, items: &[&str], last: bool) -> String {
    let restore = if index == 0 {
        String::new()
    } else {
        format!(
            "            // The memory of the previous part follows the verifier's calldata.\n            calldatacopy(0, {len}, sub(calldatasize(), {len}))\n",
            len = g.calldata_len
        )
    };
    let finish = if last { "return(0, 0)" } else { "return(0, msize())" };
    format!(
        "contract Halo2VerifierPart{n} {{\n    fallback(bytes calldata) external returns (bytes memory) {{\n        assembly {{\n            {header}\n{restore}{body}\n            if iszero(success) {{ revert(0, 0) }}\n            {finish}\n        }}\n    }}\n}}\n",
        n = index + 1,
        header = g.header,
        body = items.join("\n"),
    )
}

fn entry_source(g: &Generated<'_>, part_hashes: &[[u8; 32]]) -> String {
    let n = part_hashes.len();
    let fields: String = (1..=n).map(|i| format!("    address private immutable part{i};\n")).collect();
    let args = (1..=n).map(|i| format!("address p{i}")).collect::<Vec<_>>().join(", ");
    let checks: String = part_hashes
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let i = i + 1;
            format!(
                "        require(p{i}.codehash == bytes32(0x{}), \"part {i}: not the expected code\");\n        part{i} = p{i};\n",
                hex::encode(h)
            )
        })
        .collect();
    let locals: String = (1..=n).map(|i| format!("        address p{i} = part{i};\n")).collect();
    let mut calls = format!(
        "            let len := {len}\n            calldatacopy(0, 0, len)\n            if iszero(staticcall(gas(), p1, 0, len, 0, 0)) {{ revert(0, 0) }}\n",
        len = g.calldata_len
    );
    for i in 2..=n {
        calls.push_str(&format!(
            "            returndatacopy(len, 0, returndatasize())\n            if iszero(staticcall(gas(), p{i}, 0, add(len, returndatasize()), 0, 0)) {{ revert(0, 0) }}\n"
        ));
    }
    format!(
        "/// The verifier: calls its {n} parts in turn with the calldata (instances, then the\n/// proof) and the memory each part returns. Empty return data: the proof verifies.\ncontract Halo2Verifier {{\n{fields}\n    constructor({args}) {{\n{checks}    }}\n\n    fallback(bytes calldata) external returns (bytes memory) {{\n{locals}        assembly {{\n{calls}            return(0, 0)\n        }}\n    }}\n}}\n"
    )
}

const PREAMBLE: &str = "// SPDX-License-Identifier: MIT\n// A halo2 verifier (snark-verifier's SHPLONK verifier, generated by zkinfer) split into\n// parts under EIP-170. Deploy Halo2VerifierPart1..N, then Halo2Verifier with their\n// addresses. Compile with solc 0.8.19, optimizer off, metadata.bytecodeHash = none:\n// the entry checks the parts' code hashes.\n\npragma solidity 0.8.19;\n\n";

/// `name` from `source`, compiled with the split verifiers' settings.
fn compile_one(source: &str, name: &str) -> Result<CompiledContract, ContractError> {
    compile_solidity_all_with(source, split_solc_options())?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| ContractError::ContractNotFound(name.to_string()))
}

/// Splits the snark-verifier verifier `source` into as few parts as keep each under
/// `limit` bytes of runtime code (EIP-170 in production; smaller in tests), starting
/// from `min_parts`.
pub fn split_verifier(source: &str, min_parts: usize, limit: usize) -> Result<VerifierContracts, ContractError> {
    let g = parse(source)?;
    let mut n = min_parts.max(2);
    loop {
        if n > g.items.len() {
            return Err(ContractError::InvalidOutput(format!(
                "the verifier cannot be split into parts under {limit} bytes"
            )));
        }
        let cuts = cut_points(&g.items, n);
        let n_parts = cuts.len();
        let groups: Vec<&[&str]> = (0..n_parts)
            .map(|i| &g.items[cuts[i]..cuts.get(i + 1).copied().unwrap_or(g.items.len())])
            .collect();
        // One solc run per part: solc (WebAssembly) runs out of memory on the largest
        // verifiers compiled whole.
        let sources: Vec<String> = groups.iter().enumerate().map(|(i, items)| part_source(&g, i, items, i + 1 == n_parts)).collect();
        let parts = sources
            .iter()
            .enumerate()
            .map(|(i, src)| compile_one(&format!("{PREAMBLE}{src}"), &format!("Halo2VerifierPart{}", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        let largest = parts.iter().map(|p| p.runtime_code.len()).max().unwrap_or(0);
        if largest > limit {
            // Scale the count by the overshoot (a tenth of headroom), so that a
            // misjudged first cut costs one more compilation, not one per part.
            n = (n_parts + 1).max((n_parts * largest * 10).div_ceil(limit * 9));
            continue;
        }
        let hashes: Vec<[u8; 32]> = parts.iter().map(|p| keccak256(&p.runtime_code).0).collect();
        let entry_src = entry_source(&g, &hashes);
        let entry = compile_one(&format!("{PREAMBLE}{entry_src}"), "Halo2Verifier")?;
        let full = format!("{PREAMBLE}{}\n{entry_src}", sources.concat());
        return Ok(VerifierContracts { source: full, entry, parts });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "contract Halo2Verifier {\n    fallback(bytes calldata) external returns (bytes memory) {\n        assembly (\"memory-safe\") {\n            let success := true\n            let f_q := 7\n            function validate_ec_point(x, y) -> valid {\n                { valid := 1 }\n            }\n            mstore(0xa0, mod(calldataload(0x0), f_q))\nmstore(0xc0, 1)\n        {\n            let x := calldataload(0x40)\n            mstore(0xe0, x)\n        }\n            // Revert if anything fails\n            if iszero(success) { revert(0, 0) }\n        }\n    }\n}\n";

    #[test]
    fn parses_statements_blocks_and_calldata_length() {
        let g = parse(SAMPLE).unwrap();
        assert!(g.header.starts_with("let success := true") && g.header.ends_with('}'));
        assert_eq!(g.items.len(), 3);
        assert!(g.items[2].starts_with('{') && g.items[2].ends_with('}'));
        assert_eq!(g.calldata_len, 0x60);
    }

    #[test]
    fn cuts_are_increasing_and_start_at_zero() {
        let items = ["a"; 10];
        assert_eq!(cut_points(&items, 1), vec![0]);
        let c = cut_points(&items, 3);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0], 0);
        assert!(c.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn refuses_a_top_level_variable() {
        let bad = SAMPLE.replace("mstore(0xc0, 1)", "let z := 1");
        assert!(parse(&bad).is_err());
    }
}

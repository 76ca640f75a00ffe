//! Verifiers over EIP-170, split into parts that each fit.
//!
//! snark-verifier's halo2 verifier is one straight-line assembly block. Every value
//! it computes lives in memory; across top-level statements only `success` (and the
//! constants `f_p`, `f_q`) are variables. Past about 40 columns, or about 150 public
//! instances, its runtime code exceeds EIP-170's 24,576 bytes and could not be
//! deployed.
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
//! on success, a revert otherwise. Splitting costs a few thousand gas per part (a cold
//! call) plus the memory each part copies in, which grows with the verifier's memory
//! (self_attention's 13 parts copy about 200 KB each).
//!
//! The code hashes are of the parts compiled by zkinfer's solc settings (npm solc
//! 0.8.19, optimizer off) with `metadata.bytecodeHash = none`, so that a part's code
//! does not depend on the rest of the source file.

use revm::primitives::keccak256;

use crate::error::ContractError;
use crate::evm::{Address, Deployed, Evm};
use crate::solc::{compile_solidity_with, CompiledContract, Solc, SolcOptions};

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
        VerifierCode { entry: self.entry.deployment_code.clone(), parts: self.parts.iter().map(|p| p.deployment_code.clone()).collect() }
    }
}

/// The creation code of a verifier's contracts (`verifier.json` on disk).
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

    /// The entry's creation code with `part_addresses` as its constructor argument
    /// (an `address[N]`: one 32-byte word each).
    pub fn entry_creation_code(&self, part_addresses: &[Address]) -> Vec<u8> {
        let mut creation = self.entry.clone();
        for a in part_addresses {
            creation.extend_from_slice(&[0u8; 12]);
            creation.extend_from_slice(a.as_slice());
        }
        creation
    }

    /// Deploys the parts, then the entry (EIP-170 is enforced on each). Returns the
    /// entry and the largest runtime code deployed.
    pub fn deploy(&self, evm: &mut Evm) -> Result<(Deployed, usize), ContractError> {
        let (mut addresses, mut largest) = (Vec::with_capacity(self.parts.len()), 0);
        for part in &self.parts {
            let d = evm.deploy(part)?;
            largest = largest.max(d.runtime_size);
            addresses.push(d.address);
        }
        let entry = evm.deploy(&self.entry_creation_code(&addresses))?;
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
    /// Top-level statements (or `{ ... }` blocks, large ones cut), in order.
    items: Vec<String>,
    /// Bytes of calldata the verifier reads: instances and proof.
    calldata_len: usize,
}

fn malformed(what: &str) -> ContractError {
    ContractError::InvalidOutput(format!("unexpected snark-verifier output: {what}"))
}

fn parse(source: &str, max_item: usize) -> Result<Generated<'_>, ContractError> {
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
                items.extend(cut_block(item, max_item));
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

/// Source characters of the largest item: about a fifth of what fits in one part.
const MAX_ITEM: usize = 20_000;

/// Memory that snark-verifier's code never touches (it allocates from `0x80`): the
/// local variables of a cut block pass through it, slot `i` at `0x20 * i`.
const SCRATCH_SLOTS: usize = 4;

/// A flat `{ ... }` block over `max` characters as consecutive blocks under it. Each
/// piece stores the block's local variables (`let` names: `result`, `prod`, `inv`, `v`)
/// in scratch memory at its end and loads them at its start, so the pieces compute what
/// the block did, in one part or across parts (memory goes along). Anything else, or a
/// block with nested braces or too many variables, is kept whole.
fn cut_block(item: &str, max: usize) -> Vec<String> {
    let lines: Vec<&str> = item.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let flat = lines.len() > 2
        && lines[0] == "{"
        && lines[lines.len() - 1] == "}"
        && lines[1..lines.len() - 1].iter().all(|l| !l.contains('{') && !l.contains('}'));
    if item.len() <= max || !flat {
        return vec![item.to_string()];
    }
    let inner = &lines[1..lines.len() - 1];
    let mut vars: Vec<&str> = Vec::new();
    let mut pieces = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let (mut size, mut declared_before) = (0usize, 0usize);
    let flush = |current: &mut Vec<&str>, vars: &[&str], declared_before: usize, last: bool| {
        let load: String =
            vars[..declared_before].iter().enumerate().map(|(i, v)| format!("let {v} := mload({:#x})\n", 0x20 * i)).collect();
        let store: String =
            if last { String::new() } else { vars.iter().enumerate().map(|(i, v)| format!("mstore({:#x}, {v})\n", 0x20 * i)).collect() };
        let piece = format!("{{\n{load}{}\n{store}}}", current.join("\n"));
        current.clear();
        piece
    };
    for line in inner {
        if size + line.len() > max && !current.is_empty() {
            pieces.push(flush(&mut current, &vars, declared_before, false));
            declared_before = vars.len();
            size = 0;
        }
        if let Some(rest) = line.strip_prefix("let ") {
            let name = rest.split([' ', ':']).next().unwrap_or(rest);
            vars.push(name);
            if vars.len() > SCRATCH_SLOTS {
                return vec![item.to_string()];
            }
        }
        size += line.len() + 1;
        current.push(line);
    }
    pieces.push(flush(&mut current, &vars, declared_before, true));
    pieces
}

/// The first item of each of `n` parts, balancing the parts' source lengths.
fn cut_points<S: AsRef<str>>(items: &[S], n: usize) -> Vec<usize> {
    let total: usize = items.iter().map(|i| i.as_ref().len()).sum();
    let mut cuts = vec![0];
    let mut acc = 0;
    for (i, item) in items.iter().enumerate() {
        if cuts.len() < n && acc >= total * cuts.len() / n && i > *cuts.last().expect("non-empty") {
            cuts.push(i);
        }
        acc += item.as_ref().len();
    }
    cuts
}

fn part_source(g: &Generated<'_>, index: usize, items: &[String], last: bool) -> String {
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
    // A static array: ABI-encoded as the addresses one word each, with one stack slot.
    let args = format!("address[{n}] memory p");
    let checks: String = part_hashes
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let (i, j) = (i + 1, i);
            format!(
                "        require(p[{j}].codehash == bytes32(0x{}), \"part {i}: not the expected code\");\n        part{i} = p[{j}];\n",
                hex::encode(h)
            )
        })
        .collect();
    // One scope per call, each with its one local (immutables cannot be read in
    // assembly, and a local per part would overflow the stack). Memory and the return
    // data carry over from block to block: nothing between them calls or allocates.
    let mut calls = format!(
        "        {{\n            address p = part1;\n            assembly {{\n                calldatacopy(0, 0, {len})\n                if iszero(staticcall(gas(), p, 0, {len}, 0, 0)) {{ revert(0, 0) }}\n            }}\n        }}\n",
        len = g.calldata_len
    );
    for i in 2..=n {
        calls.push_str(&format!(
            "        {{\n            address p = part{i};\n            assembly {{\n                returndatacopy({len}, 0, returndatasize())\n                if iszero(staticcall(gas(), p, 0, add({len}, returndatasize()), 0, 0)) {{ revert(0, 0) }}\n            }}\n        }}\n",
            len = g.calldata_len
        ));
    }
    format!(
        "/// The verifier: calls its {n} parts in turn with the calldata (instances, then the\n/// proof) and the memory each part returns. Empty return data: the proof verifies.\ncontract Halo2Verifier {{\n{fields}\n    constructor({args}) {{\n{checks}    }}\n\n    fallback(bytes calldata) external returns (bytes memory) {{\n{calls}        assembly {{\n            return(0, 0)\n        }}\n    }}\n}}\n"
    )
}

const PREAMBLE: &str = "// SPDX-License-Identifier: MIT\n// A halo2 verifier (snark-verifier's SHPLONK verifier, generated by zkinfer) split into\n// parts under EIP-170. Deploy Halo2VerifierPart1..N, then Halo2Verifier with their\n// addresses. Compile with solc 0.8.19, optimizer off, metadata.bytecodeHash = none:\n// the entry checks the parts' code hashes.\n\npragma solidity 0.8.19;\n\n";

/// Splits the snark-verifier verifier `source` into as few parts as keep each under
/// `limit` bytes of runtime code (EIP-170 in production; smaller in tests), starting
/// from `min_parts`.
pub fn split_verifier(solc: &Solc, source: &str, min_parts: usize, limit: usize) -> Result<VerifierContracts, ContractError> {
    // Items of at most a fifth of a part (about 4.3 source characters per code byte).
    let g = parse(source, MAX_ITEM.min(limit))?;
    let mut n = min_parts.max(2);
    loop {
        if n > g.items.len() {
            return Err(ContractError::InvalidOutput(format!("the verifier cannot be split into parts under {limit} bytes")));
        }
        let cuts = cut_points(&g.items, n);
        let n_parts = cuts.len();
        let groups: Vec<&[String]> = (0..n_parts).map(|i| &g.items[cuts[i]..cuts.get(i + 1).copied().unwrap_or(g.items.len())]).collect();
        // One solc run per part: solc (WebAssembly) runs out of memory on the largest
        // verifiers compiled whole.
        let sources: Vec<String> = groups.iter().enumerate().map(|(i, items)| part_source(&g, i, items, i + 1 == n_parts)).collect();
        let parts = sources
            .iter()
            .enumerate()
            .map(|(i, src)| {
                compile_solidity_with(solc, &format!("{PREAMBLE}{src}"), Some(&format!("Halo2VerifierPart{}", i + 1)), split_solc_options())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let largest = parts.iter().map(|p| p.runtime_code.len()).max().unwrap_or(0);
        if let Some((i, p)) =
            groups.iter().zip(&parts).enumerate().find(|(_, (g, p))| g.len() == 1 && p.runtime_code.len() > limit).map(|(i, (_, p))| (i, p))
        {
            return Err(ContractError::InvalidOutput(format!(
                "part {} is one statement block of {} bytes, over the {limit}-byte limit",
                i + 1,
                p.runtime_code.len()
            )));
        }
        if largest > limit {
            // Scale the count by the overshoot (a tenth of headroom), so that a
            // misjudged first cut costs one more compilation, not one per part.
            n = (n_parts + 1).max((n_parts * largest * 10).div_ceil(limit * 9));
            continue;
        }
        let hashes: Vec<[u8; 32]> = parts.iter().map(|p| keccak256(&p.runtime_code).0).collect();
        let entry_src = entry_source(&g, &hashes);
        let entry = compile_solidity_with(solc, &format!("{PREAMBLE}{entry_src}"), Some("Halo2Verifier"), split_solc_options())?;
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
        let g = parse(SAMPLE, MAX_ITEM).unwrap();
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
    fn cuts_a_large_block_passing_its_variables_through_scratch_memory() {
        let mut block = String::from("{\nlet result := mload(0x100)\n");
        for i in 0..40 {
            block.push_str(&format!("result := addmod(mload({:#x}), result, f_q)\n", 0x120 + 0x20 * i));
        }
        block.push_str("mstore(0x200, result)\n}");
        let pieces = cut_block(&block, 200);
        assert!(pieces.len() > 3, "{pieces:?}");
        assert!(!pieces[0].contains("mload(0x0)") && pieces[0].contains("mstore(0x0, result)"));
        for p in &pieces[1..pieces.len() - 1] {
            assert!(p.starts_with("{\nlet result := mload(0x0)") && p.contains("mstore(0x0, result)"), "{p}");
        }
        let last = pieces.last().unwrap();
        assert!(
            last.contains("let result := mload(0x0)") && !last.contains("mstore(0x0, result)") && last.contains("mstore(0x200, result)")
        );
        // Every original line is in exactly one piece, in order.
        let lines: Vec<&str> = block.lines().filter(|l| !l.contains("0x0,") && !l.contains("(0x0)") && *l != "{" && *l != "}").collect();
        let kept: Vec<&str> = pieces
            .iter()
            .flat_map(|p| p.lines())
            .filter(|l| !l.contains("0x0,") && !l.contains("(0x0)") && *l != "{" && *l != "}")
            .collect();
        assert_eq!(lines, kept);
        // Small blocks and nested ones stay whole.
        assert_eq!(cut_block(&block, 100_000), vec![block.clone()]);
        let nested = block.replace("mstore(0x200, result)", "{ mstore(0x200, result) }");
        assert_eq!(cut_block(&nested, 200), vec![nested.clone()]);
    }

    #[test]
    fn manifest_round_trips_and_bad_manifests_are_clear_errors() {
        let code = VerifierCode { entry: vec![1, 2], parts: vec![vec![3], vec![4, 5]] };
        assert_eq!(VerifierCode::from_json(&code.to_json()).unwrap(), code);
        for (text, needle) in [
            ("not json", "verifier.json"),
            (r#"{"parts": []}"#, "no `entry`"),
            (r#"{"entry": "0xzz"}"#, "verifier.json"),
            (r#"{"entry": "0x01", "parts": "0x02"}"#, "`parts` must be a list"),
        ] {
            let err = VerifierCode::from_json(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn refuses_a_top_level_variable() {
        let bad = SAMPLE.replace("mstore(0xc0, 1)", "let z := 1");
        assert!(parse(&bad, MAX_ITEM).is_err());
    }
}

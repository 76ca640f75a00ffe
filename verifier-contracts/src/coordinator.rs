//! The on-chain inference contracts (Solidity in `verifier-contracts/contracts/`):
//! `ZkinferCoordinator` (model registry, escrowed requests, proof-checked delivery,
//! callbacks, deadlines), the `ZkinferConsumer` base and the example consumer
//! `CreditLendingPool`. Compiled with the project's solc (optimizer off, as the verifiers).

use crate::error::ContractError;
use crate::solc::{compile_solidity_all_with, CompiledContract, SolcOptions};

/// `contracts/ZkinferCoordinator.sol`: the coordinator, the attestor and consumer
/// interfaces, the consumer base.
pub const COORDINATOR_SOL: &str = include_str!("../contracts/ZkinferCoordinator.sol");

/// `contracts/CreditLendingPool.sol`: the example consumer (imports the coordinator).
pub const LENDING_POOL_SOL: &str = include_str!("../contracts/CreditLendingPool.sol");

/// Both files as one compilation unit (the pool's import resolved by inlining), followed
/// by `extra` (more contracts using them, e.g. test consumers).
pub fn coordinator_source(extra: &str) -> String {
    // One license line and one pragma per unit: the pool's own are dropped with its import.
    let pool: String = LENDING_POOL_SOL
        .lines()
        .filter(|l| !l.starts_with("import ") && !l.starts_with("// SPDX") && !l.starts_with("pragma "))
        .map(|l| format!("{l}\n"))
        .collect();
    format!("{COORDINATOR_SOL}\n{pool}\n{extra}")
}

/// The compiled contracts of [`coordinator_source`]`(extra)` with bytecode, by name.
pub fn build_coordinator_contracts(solc: &crate::Solc, extra: &str) -> Result<Vec<CompiledContract>, ContractError> {
    Ok(compile_solidity_all_with(solc, &coordinator_source(extra), SolcOptions::default())?
        .into_iter()
        .filter(|c| !c.deployment_code.is_empty())
        .collect())
}

/// The contract `name` of `contracts`.
pub fn contract<'a>(contracts: &'a [CompiledContract], name: &str) -> Result<&'a CompiledContract, ContractError> {
    contracts.iter().find(|c| c.name == name).ok_or_else(|| ContractError::ContractNotFound(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_import_is_inlined_once() {
        let src = coordinator_source("");
        assert_eq!(src.matches("contract ZkinferCoordinator").count(), 1);
        assert!(src.contains("contract CreditLendingPool") && !src.contains("import "));
    }
}

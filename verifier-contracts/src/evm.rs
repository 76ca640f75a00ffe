//! An in-process EVM (revm, Prague rules, in-memory state) to deploy and call
//! contracts.
//!
//! All transactions come from one caller with gas price 0, so no balances are
//! needed; the caller's nonce is read from the state before every
//! transaction, so any number of deploys and calls can be made on one [`Evm`].

use revm::context::result::{ExecutionResult, HaltReason, Output};
use revm::context::TxEnv;
use revm::database::InMemoryDB;
use revm::handler::{MainnetContext, MainnetEvm};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{TxKind, KECCAK_EMPTY};
use revm::{Context, DatabaseRef, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};

use crate::error::ContractError;
use crate::solc::{CompiledContract, EIP170_LIMIT, EIP3860_LIMIT};

pub use revm::primitives::Address;

/// Default gas limit of every transaction (a typical block gas limit).
pub const DEFAULT_GAS_LIMIT: u64 = 30_000_000;

/// The account that sends every transaction.
const CALLER: Address = Address::new([0x10; 20]);

type MainnetEvmInMemory = MainnetEvm<MainnetContext<InMemoryDB>>;

/// A deployed contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployed {
    /// Address of the new contract.
    pub address: Address,
    /// Size in bytes of the runtime code that was stored.
    pub runtime_size: usize,
    /// Gas used by the creation transaction (intrinsic + init code + code deposit).
    pub gas_used: u64,
}

/// The result of a call. A revert or halt is `success: false`, not an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallOutcome {
    /// `true` when the call returned normally (no revert, no halt).
    pub success: bool,
    /// Gas used by the whole transaction (including the 21,000 intrinsic gas
    /// and calldata cost).
    pub gas_used: u64,
    /// Returned data on success, revert data on revert, empty on halt.
    pub output: Vec<u8>,
}

/// An in-memory EVM.
pub struct Evm {
    inner: MainnetEvmInMemory,
    gas_limit: u64,
}

impl Default for Evm {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Evm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evm").field("gas_limit", &self.gas_limit).finish_non_exhaustive()
    }
}

impl Evm {
    /// A fresh EVM with empty state, Prague rules, EIP-170 / EIP-3860 limits
    /// enforced and a per-transaction gas limit of [`DEFAULT_GAS_LIMIT`].
    pub fn new() -> Self {
        Self { inner: build(InMemoryDB::default(), None), gas_limit: DEFAULT_GAS_LIMIT }
    }

    /// Sets the gas limit used by later transactions.
    pub fn with_gas_limit(mut self, gas_limit: u64) -> Self {
        self.gas_limit = gas_limit;
        self
    }

    /// Deploys `deployment_code` (init code).
    ///
    /// Fails with [`ContractError::CodeTooLarge`] when the runtime code the
    /// init code returns exceeds [`EIP170_LIMIT`] (revm enforces the limit;
    /// the actual size is then measured on a throw-away copy of the state),
    /// with [`ContractError::InitCodeTooLarge`] when the init code itself
    /// exceeds EIP-3860, and with [`ContractError::DeploymentFailed`] when the
    /// constructor reverts or halts.
    pub fn deploy(&mut self, deployment_code: &[u8]) -> Result<Deployed, ContractError> {
        if deployment_code.len() > EIP3860_LIMIT {
            return Err(ContractError::InitCodeTooLarge { size: deployment_code.len(), limit: EIP3860_LIMIT });
        }
        let tx = self.tx(TxKind::Create, deployment_code);
        let result = self.inner.transact_commit(tx.clone()).map_err(evm_error)?;
        match result {
            ExecutionResult::Success { output: Output::Create(code, Some(address)), gas_used, .. } => {
                if code.len() > EIP170_LIMIT {
                    // Unreachable with revm's own check; kept as a second guard.
                    return Err(ContractError::CodeTooLarge { size: code.len(), limit: EIP170_LIMIT });
                }
                Ok(Deployed { address, runtime_size: code.len(), gas_used })
            }
            ExecutionResult::Success { output, .. } => {
                Err(ContractError::DeploymentFailed(format!("creation returned no address (output {output:?})")))
            }
            ExecutionResult::Revert { gas_used, output } => {
                Err(ContractError::DeploymentFailed(format!("constructor reverted (gas used {gas_used}, data 0x{})", hex::encode(&output))))
            }
            ExecutionResult::Halt { reason: HaltReason::CreateContractSizeLimit, .. } => {
                let size = self.measure_runtime_size(tx)?;
                Err(ContractError::CodeTooLarge { size, limit: EIP170_LIMIT })
            }
            ExecutionResult::Halt { reason, gas_used } => {
                Err(ContractError::DeploymentFailed(format!("creation halted: {reason:?} (gas used {gas_used})")))
            }
        }
    }

    /// Deploys a compiled contract, refusing it with
    /// [`ContractError::CodeTooLarge`] before execution when its runtime code
    /// is over [`EIP170_LIMIT`].
    pub fn deploy_contract(&mut self, contract: &CompiledContract) -> Result<Deployed, ContractError> {
        if contract.runtime_code.len() > EIP170_LIMIT {
            return Err(ContractError::CodeTooLarge { size: contract.runtime_code.len(), limit: EIP170_LIMIT });
        }
        self.deploy(&contract.deployment_code)
    }

    /// Calls the contract at `address` with `calldata` and commits the result.
    ///
    /// A revert or halt is reported as `success: false`. Calling an address
    /// without code is an error ([`ContractError::NoCode`]), since such a call
    /// would trivially succeed.
    pub fn call(&mut self, address: Address, calldata: &[u8]) -> Result<CallOutcome, ContractError> {
        let has_code = self.db().basic_ref(address).ok().flatten().is_some_and(|info| info.code_hash != KECCAK_EMPTY);
        if !has_code {
            return Err(ContractError::NoCode(address.to_string()));
        }
        let tx = self.tx(TxKind::Call(address), calldata);
        let result = self.inner.transact_commit(tx).map_err(evm_error)?;
        Ok(match result {
            ExecutionResult::Success { gas_used, output, .. } => CallOutcome { success: true, gas_used, output: output.data().to_vec() },
            ExecutionResult::Revert { gas_used, output } => CallOutcome { success: false, gas_used, output: output.to_vec() },
            ExecutionResult::Halt { gas_used, .. } => CallOutcome { success: false, gas_used, output: Vec::new() },
        })
    }

    /// The runtime code stored at `address` (empty if none).
    pub fn code(&self, address: Address) -> Vec<u8> {
        self.db()
            .basic_ref(address)
            .ok()
            .flatten()
            .and_then(|info| info.code)
            .map(|code| code.original_bytes().to_vec())
            .unwrap_or_default()
    }

    fn db(&self) -> &InMemoryDB {
        &self.inner.ctx.journaled_state.database
    }

    /// Next nonce of the caller, read from the committed state.
    fn nonce(&self) -> u64 {
        self.db().basic_ref(CALLER).ok().flatten().map(|info| info.nonce).unwrap_or(0)
    }

    fn tx(&self, kind: TxKind, data: &[u8]) -> TxEnv {
        TxEnv {
            caller: CALLER,
            gas_limit: self.gas_limit,
            gas_price: 0,
            kind,
            data: data.to_vec().into(),
            nonce: self.nonce(),
            ..Default::default()
        }
    }

    /// Runs a creation on a copy of the state with the code size limit lifted
    /// and returns the size of the runtime code it would deploy.
    fn measure_runtime_size(&self, mut tx: TxEnv) -> Result<usize, ContractError> {
        // The halted attempt already bumped the nonce in the committed state.
        tx.nonce = self.nonce();
        let mut probe = build(self.db().clone(), Some(usize::MAX / 4));
        tx.gas_limit = u64::MAX / 2;
        let result = probe.transact(tx).map_err(evm_error)?;
        match result.result {
            ExecutionResult::Success { output: Output::Create(code, _), .. } => Ok(code.len()),
            other => {
                Err(ContractError::DeploymentFailed(format!("runtime code over the EIP-170 limit; measuring its size failed: {other:?}")))
            }
        }
    }
}

/// Builds a mainnet (Prague) EVM over `db`; `code_limit` overrides EIP-170
/// (the EIP-3860 init-code limit is kept).
fn build(db: InMemoryDB, code_limit: Option<usize>) -> MainnetEvmInMemory {
    Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|cfg| {
            cfg.spec = SpecId::PRAGUE;
            cfg.limit_contract_code_size = code_limit;
            cfg.limit_contract_initcode_size = Some(EIP3860_LIMIT);
        })
        .build_mainnet()
}

fn evm_error(e: impl std::fmt::Display) -> ContractError {
    ContractError::Evm(e.to_string())
}

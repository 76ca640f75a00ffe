//! The single error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while generating, compiling, deploying or
/// calling a verifier contract.
///
/// A proof that the verifier *rejects* is not an error: it is reported as
/// `accepted: false` / `success: false` by [`crate::verify_on_evm`] and
/// [`crate::Evm::call`].
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The `node` executable could not be started.
    #[error(
        "could not run Node.js (`{node}`): {source}; install Node.js (>= 16) and make sure \
         `node` is on PATH, or point the solc location's `node` at the binary"
    )]
    NodeNotFound {
        /// The program that was tried.
        node: String,
        /// The underlying spawn error.
        #[source]
        source: std::io::Error,
    },

    /// The npm `solc` package is not where the solc location says.
    #[error(
        "npm package `solc` not found at {}; install it with \
         `mkdir -p {} && cd {} && npm install solc@0.8.19` (or run scripts/setup.sh)",
        package.display(), install_dir.display(), install_dir.display()
    )]
    SolcNotFound {
        /// The package directory that was checked.
        package: PathBuf,
        /// Where the install command should be run.
        install_dir: PathBuf,
    },

    /// The Node.js helper that drives solc failed (crashed, bad exit status).
    #[error("solc (via node) failed: {0}")]
    SolcProcess(String),

    /// solc reported at least one error-severity diagnostic.
    #[error("Solidity compilation failed:\n{0}")]
    Compile(String),

    /// The requested contract is not in the compiler output, or no contract
    /// with bytecode was produced.
    #[error("contract not found in compiler output: {0}")]
    ContractNotFound(String),

    /// The compiler produced output that could not be interpreted
    /// (malformed JSON, non-hex or unlinked bytecode).
    #[error("unexpected compiler output: {0}")]
    InvalidOutput(String),

    /// The runtime code exceeds the EIP-170 contract size limit.
    #[error("runtime code is {size} bytes, above the EIP-170 limit of {limit} bytes")]
    CodeTooLarge {
        /// Runtime (deployed) code size in bytes.
        size: usize,
        /// The limit in bytes (24,576).
        limit: usize,
    },

    /// The deployment (init) code exceeds the EIP-3860 limit.
    #[error("deployment code is {size} bytes, above the EIP-3860 init-code limit of {limit} bytes")]
    InitCodeTooLarge {
        /// Deployment code size in bytes.
        size: usize,
        /// The limit in bytes (49,152).
        limit: usize,
    },

    /// The contract-creation transaction reverted or halted.
    #[error("contract deployment failed: {0}")]
    DeploymentFailed(String),

    /// A call targeted an address with no code (it would trivially "succeed").
    #[error("no contract code at address {0}")]
    NoCode(String),

    /// revm refused the transaction (invalid transaction, header or database error).
    #[error("EVM error: {0}")]
    Evm(String),

    /// An I/O error while talking to the compiler process.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

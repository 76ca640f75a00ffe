//! On-chain: deploying a model's verifier and attestor to an Ethereum JSON-RPC node,
//! verifying proofs against the deployed contracts, and the coordinator's contracts
//! (requests, proof-checked delivery, callbacks). Talks to chains through alloy
//! (JSON-RPC over HTTP, a local signer, `sol!` ABI bindings).
//!
//! Private keys come from a file or an environment variable ([`keys`]), never from the
//! command line.

pub mod anvil;
pub mod bindings;
pub mod client;
pub mod coordinator;
pub mod deploy;
pub mod keys;
pub mod node;

pub use client::{connect, revert_data, Chain};
pub use deploy::{
    attestor_spec, deploy, deploy_segments, verify_on_chain, verify_segments_on_chain, ChainOnChain, DeployedContract, Deployment,
    OnChainVerification,
};
pub use keys::{load_key, KEY_ENV};

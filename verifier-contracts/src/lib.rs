//! Solidity verifier contracts for zkinfer proofs.
//!
//! * [`halo2`]: generate the halo2 verifier (SHPLONK, Keccak transcript, KZG
//!   over BN254) with snark-verifier, encode calldata and verify a proof on an
//!   in-process EVM ([`verify_on_evm`]).
//! * [`split`]: a verifier over EIP-170 cut into contracts under it, called in
//!   turn by an entry contract ([`build_halo2_verifier`] splits when needed).
//! * [`solc`]: compile Solidity with the real compiler (npm `solc`,
//!   standard-JSON, optimizer off) — [`compile_solidity`], at the location a
//!   [`Solc`] value gives (the caller finds it: this crate reads no environment).
//! * [`segments`]: `ZkinferSegmentChain`, which verifies a model proved as segments
//!   (each segment's verifier, and the boundary hashes linking them).
//! * [`evm`]: an in-memory revm instance to deploy and call contracts, with
//!   EIP-170 enforced — [`Evm`].
//!
//! Typical flow:
//! ```no_run
//! # use zkinfer_verifier_contracts::*;
//! # fn demo(params: &halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG<halo2_base::halo2_proofs::halo2curves::bn256::Bn256>,
//! #         vk: &halo2_base::halo2_proofs::plonk::VerifyingKey<halo2_base::halo2_proofs::halo2curves::bn256::G1Affine>,
//! #         instances: &[halo2_base::halo2_proofs::halo2curves::bn256::Fr], proof: &[u8]) -> Result<(), ContractError> {
//! let solc = Solc::in_dir("node", std::path::Path::new("/opt/zkinfer/solc"));
//! let verifier = build_halo2_verifier(&solc, params, vk, instances.len())?;
//! let result = verify_on_evm(&verifier.code(), instances, proof)?;
//! assert!(result.accepted);
//! # Ok(()) }
//! ```

pub mod attestor;
pub mod coordinator;
pub mod error;
pub mod evm;
pub mod groth16;
pub mod halo2;
pub mod segments;
pub mod solc;
pub mod split;

pub use attestor::{attestor_creation_code, attestor_source, build_attestor, AttestorSpec};
pub use error::ContractError;
pub use evm::{Address, CallOutcome, Deployed, Evm, DEFAULT_GAS_LIMIT};
pub use groth16::{groth16_calldata, groth16_verifier_source, verify_groth16_on_evm, GROTH16_CONTRACT};
pub use halo2::{
    build_halo2_verifier, compile_halo2_verifier, encode_calldata, estimated_runtime_bytes, halo2_verifier_source, verify_on_evm,
    EvmVerification,
};
pub use solc::{
    compile_solidity, compile_solidity_all_with, compile_solidity_with, solc_version, CompiledContract, Solc, SolcOptions, EIP170_LIMIT,
    EIP3860_LIMIT,
};
pub use split::{split_verifier, VerifierCode, VerifierContracts};

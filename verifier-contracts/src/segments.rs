//! On-chain verification of a model proved as segments: `contracts/ZkinferSegmentChain.sol`
//! calls each segment's verifier with its calldata and checks that each segment's output
//! hash (last instance) is the next segment's input hash (first instance).

use revm::primitives::keccak256;

use crate::error::ContractError;
use crate::evm::{Address, Evm};
use crate::solc::{compile_solidity, CompiledContract};
use crate::split::VerifierCode;

/// `contracts/ZkinferSegmentChain.sol`.
pub const SEGMENT_CHAIN_SOL: &str = include_str!("../contracts/ZkinferSegmentChain.sol");

/// The chain contract, compiled (optimizer off, as the verifiers).
pub fn build_segment_chain(solc: &crate::Solc) -> Result<CompiledContract, ContractError> {
    compile_solidity(solc, SEGMENT_CHAIN_SOL, Some("ZkinferSegmentChain"))
}

fn word(v: usize) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&(v as u64).to_be_bytes());
    w
}

/// The chain's creation code with its constructor arguments: the segments' verifier
/// addresses and their instance counts, in segment order (ABI `(address[], uint256[])`).
pub fn segment_chain_creation_code(chain: &[u8], verifiers: &[Address], instance_counts: &[usize]) -> Vec<u8> {
    let n = verifiers.len();
    let mut code = chain.to_vec();
    code.extend_from_slice(&word(0x40));
    code.extend_from_slice(&word(0x40 + 32 * (1 + n)));
    code.extend_from_slice(&word(n));
    for a in verifiers {
        code.extend_from_slice(&[0u8; 12]);
        code.extend_from_slice(a.as_slice());
    }
    code.extend_from_slice(&word(instance_counts.len()));
    for &c in instance_counts {
        code.extend_from_slice(&word(c));
    }
    code
}

/// Calldata of `verify(bytes[] calls)`: `calls[i]` is segment i's verifier calldata
/// ([`crate::encode_calldata`] of its instances and proof).
pub fn segment_chain_calldata(calls: &[Vec<u8>]) -> Vec<u8> {
    let mut out = keccak256(b"verify(bytes[])")[..4].to_vec();
    out.extend_from_slice(&word(0x20));
    out.extend_from_slice(&word(calls.len()));
    // Element offsets count from the end of the length word.
    let mut offset = 32 * calls.len();
    for c in calls {
        out.extend_from_slice(&word(offset));
        offset += 32 + c.len().div_ceil(32) * 32;
    }
    for c in calls {
        out.extend_from_slice(&word(c.len()));
        out.extend_from_slice(c);
        out.resize(out.len() + (32 - c.len() % 32) % 32, 0);
    }
    out
}

/// The outcome of one chain verification on an in-process EVM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainVerification {
    pub accepted: bool,
    /// Gas of the whole `verify` transaction (every segment's verifier call included).
    pub gas_used: u64,
    /// Revert data when rejected (the chain's custom error: `BrokenChain(i)`, `SegmentRejected(i)`, ...).
    pub revert: Vec<u8>,
}

/// The selector of the chain's custom error `signature`, e.g. `"BrokenChain(uint256)"`.
pub fn chain_error(signature: &str, segment: usize) -> Vec<u8> {
    let mut out = keccak256(signature.as_bytes())[..4].to_vec();
    out.extend_from_slice(&word(segment));
    out
}

/// Deploys every segment's verifier and the chain on `evm`; returns the chain's address.
pub fn deploy_segment_chain(
    evm: &mut Evm,
    chain: &CompiledContract,
    verifiers: &[VerifierCode],
    instance_counts: &[usize],
) -> Result<Address, ContractError> {
    let mut addresses = Vec::with_capacity(verifiers.len());
    for v in verifiers {
        addresses.push(v.deploy(evm)?.0.address);
    }
    Ok(evm.deploy(&segment_chain_creation_code(&chain.deployment_code, &addresses, instance_counts))?.address)
}

/// Calls the deployed chain at `address` with the segments' calldata.
pub fn verify_chain_on_evm(evm: &mut Evm, address: Address, calls: &[Vec<u8>]) -> Result<ChainVerification, ContractError> {
    let outcome = evm.call(address, &segment_chain_calldata(calls))?;
    Ok(ChainVerification {
        accepted: outcome.success,
        gas_used: outcome.gas_used,
        revert: if outcome.success { Vec::new() } else { outcome.output },
    })
}

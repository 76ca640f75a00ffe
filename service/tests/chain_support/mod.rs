//! On-chain tests: a compiled and proved zoo model, anvil, keys.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use zkinfer_service::chain::anvil::{Anvil, DEV_KEY};

pub const ZOO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/zoo");

/// Starts anvil; panics with the fix when the binary is missing.
/// The Solidity compiler found as `zkinfer` finds it (flags unset: variables, then
/// scripts/setup.sh's install).
pub fn solc() -> zkinfer_verifier_contracts::Solc {
    zkinfer_service::environment::Tools::resolve(&Default::default()).solc
}

pub fn anvil() -> Anvil {
    Anvil::spawn().unwrap_or_else(|e| panic!("{e} (scripts/setup.sh installs anvil)"))
}

/// A scratch folder removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("zkinfer-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A key file holding anvil's dev key (mode 0600).
    pub fn key_file(&self) -> PathBuf {
        self.key_file_for(DEV_KEY, "key")
    }

    pub fn key_file_for(&self, key: &str, name: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, format!("0x{key}\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `s` as a str.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The number after `key` in `text` (e.g. `gas estimate 123`).
pub fn number_after(text: &str, key: &str) -> u64 {
    let at = text.find(key).unwrap_or_else(|| panic!("no `{key}` in {text}")) + key.len();
    text[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after `{key}` in {text}"))
}

use alloy_sol_types::{SolCall, SolInterface};
use zkinfer_service::chain::bindings::{Decoded, IZkinferAttestor};
use zkinfer_verifier_contracts::{attestor_creation_code, Address, Evm};

/// Deploys `attestor` (creation code without arguments) for the verifier at `verifier`.
pub fn deploy_attestor(evm: &mut Evm, attestor: &[u8], verifier: Address) -> Address {
    evm.deploy(&attestor_creation_code(attestor, &verifier)).expect("attestor deploys").address
}

/// `verifyAndDecode` in the in-process EVM: the decoded statement and the gas of the
/// transaction, or the attestor's named error.
pub fn verify_and_decode(
    evm: &mut Evm,
    attestor: Address,
    proof: &[u8],
    instances: &[alloy_primitives::U256],
) -> Result<(Decoded, u64), String> {
    let call = IZkinferAttestor::verifyAndDecodeCall { proof: proof.to_vec().into(), instances: instances.to_vec() };
    let out = evm.call(attestor, &call.abi_encode()).unwrap();
    if !out.success {
        return Err(match IZkinferAttestor::IZkinferAttestorErrors::abi_decode(&out.output) {
            Ok(e) => format!("{e:?}"),
            Err(_) => format!("undecodable revert 0x{}", hex::encode(&out.output)),
        });
    }
    Ok((IZkinferAttestor::verifyAndDecodeCall::abi_decode_returns(&out.output).unwrap(), out.gas_used))
}

/// Instances (0x-hex words) as U256.
pub fn words(hex_words: &[String]) -> Vec<alloy_primitives::U256> {
    hex_words.iter().map(|w| alloy_primitives::U256::from_str_radix(w.trim_start_matches("0x"), 16).unwrap()).collect()
}

/// A decoded int256 as i128.
pub fn int(v: &alloy_primitives::I256) -> i128 {
    v.to_string().parse().unwrap()
}

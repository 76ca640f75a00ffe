//! Private keys: from a file (`--key-file`) or the [`KEY_ENV`] environment variable;
//! never from the command line, where other users could read them.

use std::path::Path;

use alloy_signer_local::PrivateKeySigner;

use crate::error::ServiceError;

/// The environment variable holding a hex private key when no key file is given.
pub const KEY_ENV: &str = "ZKINFER_PRIVATE_KEY";

/// The signer of `key_file` (hex, optional `0x`, surrounding whitespace ignored), else of
/// [`KEY_ENV`].
pub fn load_key(key_file: Option<&Path>) -> Result<PrivateKeySigner, ServiceError> {
    let (text, origin) = match key_file {
        Some(p) => (std::fs::read_to_string(p).map_err(|e| ServiceError::io(p, e))?, p.display().to_string()),
        None => match std::env::var(KEY_ENV) {
            Ok(k) if !k.trim().is_empty() => (k, KEY_ENV.to_string()),
            _ => return Err(ServiceError::Input(format!("no private key: pass --key-file FILE or set {KEY_ENV}"))),
        },
    };
    text.trim()
        .trim_start_matches("0x")
        .parse::<PrivateKeySigner>()
        .map_err(|_| ServiceError::Input(format!("{origin}: not a hex secp256k1 private key")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_key_file_and_refuses_garbage() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k");
        std::fs::write(&p, format!("0x{}\n", crate::chain::anvil::DEV_KEY)).unwrap();
        let signer = load_key(Some(&p)).unwrap();
        assert_eq!(signer.address().to_string(), crate::chain::anvil::DEV_ADDRESS);
        std::fs::write(&p, "not a key").unwrap();
        let err = load_key(Some(&p)).unwrap_err().to_string();
        assert!(err.contains("not a hex") && !err.contains("not a key"), "{err}");
    }
}

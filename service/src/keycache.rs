//! Proving keys cached on disk by key id (a halo2 model's settings hash: model,
//! quantization, circuit shape, SRS; a Groth16 model's quantized graph), so compiling
//! the same model again skips key generation.

use std::path::PathBuf;

use zkinfer_compiler::KeyCache;

use crate::fsio::{read, write_atomic};

/// A content-addressed key folder: `ROOT/<key id>/<file>` (`pk.bin` and `shape.json`
/// for halo2, `groth16-pk.bin` for Groth16), and insecure test SRS files in `ROOT`.
pub struct DiskKeyCache {
    pub root: PathBuf,
}

impl DiskKeyCache {
    /// The default location: `$ZKINFER_CACHE/keys` or `$HOME/.cache/zkinfer/keys`.
    pub fn default_location() -> DiskKeyCache {
        let base = std::env::var_os("ZKINFER_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".cache/zkinfer"));
        DiskKeyCache { root: base.join("keys") }
    }
}

impl KeyCache for DiskKeyCache {
    fn get(&self, id: &str, file: &str) -> Option<Vec<u8>> {
        read(&self.root.join(id).join(file)).ok()
    }

    fn put(&self, id: &str, file: &str, bytes: &[u8]) -> bool {
        write_atomic(&self.root.join(id).join(file), bytes).is_ok()
    }

    fn test_srs(&self, k: u32) -> Option<Vec<u8>> {
        (k..=28).find_map(|kk| read(&self.root.join(format!("insecure-test-srs-k{kk}.bin"))).ok())
    }

    fn put_test_srs(&self, k: u32, bytes: &[u8]) {
        let _ = write_atomic(&self.root.join(format!("insecure-test-srs-k{k}.bin")), bytes);
    }
}

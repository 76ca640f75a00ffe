//! Proving keys cached on disk by settings hash (model, quantization, circuit shape,
//! SRS), so compiling the same model again skips key generation.

use std::path::PathBuf;

use zkinfer_circuits::CircuitShape;

use crate::fsio::{read, read_json, write_atomic};
use crate::pipeline::KeyCache;

/// A content-addressed key folder: `ROOT/<settings hash>/{pk.bin, shape.json}`.
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

impl DiskKeyCache {
    /// A Groth16 proving key stored under `id` (see `pipeline_groth16::key_id`).
    pub fn get_groth16(&self, id: &str) -> Option<Vec<u8>> {
        read(&self.root.join(id).join("groth16-pk.bin")).ok()
    }

    /// Stores a Groth16 proving key; failures only cost a later setup.
    pub fn put_groth16(&self, id: &str, pk: &[u8]) -> bool {
        write_atomic(&self.root.join(id).join("groth16-pk.bin"), pk).is_ok()
    }
}

impl KeyCache for DiskKeyCache {
    fn get(&self, settings_hash: &str) -> Option<(Vec<u8>, CircuitShape)> {
        let dir = self.root.join(settings_hash);
        // A shape that would configure a vacuous circuit is a cache miss, not a key.
        let shape: CircuitShape = read_json(&dir.join("shape.json")).ok().filter(|s: &CircuitShape| s.validate().is_ok())?;
        let pk = read(&dir.join("pk.bin")).ok()?;
        Some((pk, shape))
    }

    fn test_srs(&self, k: u32) -> Option<Vec<u8>> {
        (k..=28).find_map(|kk| read(&self.root.join(format!("insecure-test-srs-k{kk}.bin"))).ok())
    }

    fn put_test_srs(&self, k: u32, bytes: &[u8]) {
        let _ = write_atomic(&self.root.join(format!("insecure-test-srs-k{k}.bin")), bytes);
    }

    fn put(&self, settings_hash: &str, pk: &[u8], shape: &CircuitShape) {
        let dir = self.root.join(settings_hash);
        // pk first: a shape.json without its pk.bin is never visible.
        if write_atomic(&dir.join("pk.bin"), pk).is_ok() {
            let _ = write_atomic(&dir.join("shape.json"), &serde_json::to_vec(shape).expect("serializable"));
        }
    }
}

//! Proving keys cached on disk by key id (a halo2 model's settings hash: model,
//! quantization, circuit shape, SRS; a Groth16 model's quantized graph), so compiling
//! the same model again skips key generation.

use std::path::PathBuf;

use zkinfer_compiler::KeyCache;

use crate::fsio::{read, write_atomic};

/// A content-addressed key folder: `ROOT/<key id>/<file>` (`pk.bin` and `shape.json`
/// for halo2, `groth16-pk.bin` for Groth16), and SRS files in `ROOT`: insecure test SRS
/// (`insecure-test-srs-k<k>.bin`) and ceremony files cut down to a circuit's k
/// (`srs-<file digest>-k<k>.bin`).
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
    /// Evicts whole keys, least recently used first, until the keys take at most `limit`
    /// bytes; never `keep` (the key in use). Returns the key ids evicted.
    pub fn evict_to(&self, limit: u64, keep: &str) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(&self.root) else { return Vec::new() };
        let mut keys: Vec<(std::time::SystemTime, u64, String)> = Vec::new();
        for entry in dir.flatten() {
            let Ok(name) = entry.file_name().into_string() else { continue };
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let (mut used, mut bytes) = (std::time::UNIX_EPOCH, 0);
            for f in std::fs::read_dir(entry.path()).into_iter().flatten().flatten() {
                if let Ok(m) = f.metadata() {
                    bytes += m.len();
                    used = used.max(m.modified().unwrap_or(std::time::UNIX_EPOCH));
                }
            }
            keys.push((used, bytes, name));
        }
        let mut total: u64 = keys.iter().map(|k| k.1).sum();
        keys.sort();
        let mut evicted = Vec::new();
        for (_, bytes, name) in keys {
            if total <= limit {
                break;
            }
            if name == keep {
                continue;
            }
            if std::fs::remove_dir_all(self.root.join(&name)).is_ok() {
                total -= bytes;
                evicted.push(name);
            }
        }
        evicted
    }
}

impl KeyCache for DiskKeyCache {
    /// A hit marks the key as recently used (its modification time), for [`DiskKeyCache::evict_to`].
    fn get(&self, id: &str, file: &str) -> Option<Vec<u8>> {
        let path = self.root.join(id).join(file);
        let bytes = read(&path).ok()?;
        if let Ok(f) = std::fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
        Some(bytes)
    }

    fn put(&self, id: &str, file: &str, bytes: &[u8]) -> bool {
        write_atomic(&self.root.join(id).join(file), bytes).is_ok()
    }

    fn srs(&self, name: &str) -> Option<Vec<u8>> {
        read(&self.root.join(format!("{name}.bin"))).ok()
    }

    fn put_srs(&self, name: &str, bytes: &[u8]) {
        let _ = write_atomic(&self.root.join(format!("{name}.bin")), bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_keys_are_evicted_first() {
        let dir = tempfile::tempdir().unwrap();
        let c = DiskKeyCache { root: dir.path().to_path_buf() };
        for id in ["a", "b", "c"] {
            assert!(c.put(id, "pk.bin", &[0u8; 100]));
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        c.put_srs("insecure-test-srs-k5", &[1u8; 1000]);
        assert!(c.get("a", "pk.bin").is_some(), "a is now the most recently used");
        assert_eq!(c.evict_to(250, "c"), vec!["b".to_string()]);
        assert_eq!(c.evict_to(100, "c"), vec!["a".to_string()], "the key in use stays");
        assert!(c.get("c", "pk.bin").is_some() && c.srs("insecure-test-srs-k5").is_some());
    }
}

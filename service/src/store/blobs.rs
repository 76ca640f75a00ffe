//! Content-addressed artifacts on disk: `ROOT/<first 2 hex>/<sha256 hex>`.
//!
//! Invariants: a blob file's name is the SHA-256 of its content. A blob appears
//! atomically (unique temporary file, fsync, rename, fsync of the folder), so after
//! [`BlobStore::put`] returns the blob survives a crash, and a reader never sees part of
//! one. Reads check the hash, so a damaged file is reported, never served.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::hash::sha256_hex;
use crate::store::StoreError;

/// Distinguishes temporary files of concurrent writers within one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Content-addressed files under one folder.
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
}

fn io_err(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io { path: path.display().to_string(), message: e.to_string() }
}

impl BlobStore {
    /// A blob store rooted at `root` (created if needed).
    pub fn open(root: impl Into<PathBuf>) -> Result<BlobStore, StoreError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| io_err(&root, e))?;
        Ok(BlobStore { root })
    }

    /// Where the blob with this hash lives.
    pub fn path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("xx");
        self.root.join(prefix).join(sha256)
    }

    /// Stores `bytes` durably and returns their SHA-256 (hex). Storing the same content
    /// twice writes it once.
    pub fn put(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let sha = sha256_hex(bytes);
        let path = self.path(&sha);
        if path.exists() {
            return Ok(sha);
        }
        let dir = path.parent().expect("blob paths have a folder");
        fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{sha}.tmp-{}-{n}", std::process::id()));
        let written = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(dir)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(&path, e));
        }
        Ok(sha)
    }

    /// The blob's content, checked against its hash.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path(sha256);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::MissingBlob { sha256: sha256.to_string() })
            }
            Err(e) => return Err(io_err(&path, e)),
        };
        if sha256_hex(&bytes) != sha256 {
            return Err(StoreError::Corrupt { sha256: sha256.to_string() });
        }
        Ok(bytes)
    }

    /// Size in bytes of a stored blob.
    pub fn size(&self, sha256: &str) -> Result<u64, StoreError> {
        let path = self.path(sha256);
        fs::metadata(&path).map(|m| m.len()).map_err(|e| io_err(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_and_detect_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let sha = blobs.put(b"proof bytes").unwrap();
        assert_eq!(sha, sha256_hex(b"proof bytes"));
        assert_eq!(blobs.put(b"proof bytes").unwrap(), sha);
        assert_eq!(blobs.get(&sha).unwrap(), b"proof bytes");
        fs::write(blobs.path(&sha), b"proof bytez").unwrap();
        assert!(matches!(blobs.get(&sha), Err(StoreError::Corrupt { .. })));
        assert!(matches!(blobs.get(&"0".repeat(64)), Err(StoreError::MissingBlob { .. })));
    }
}

//! Content hashes (SHA-256, hex) that name models, settings and artifacts.

use sha2::{Digest, Sha256};

/// SHA-256 of some bytes, hex-encoded.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 over several parts, each length-prefixed so that boundaries matter.
pub fn sha256_parts(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

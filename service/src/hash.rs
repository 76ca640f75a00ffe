//! Content hashes (SHA-256, hex) that name models, settings and artifacts: the
//! compiler's, so that model ids and settings hashes are computed one way.

pub use zkinfer_compiler::hash::{sha256_hex, sha256_parts};

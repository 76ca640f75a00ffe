//! API keys: with a key file configured, every `zkinfer.v1.Prover` call must carry one
//! of its keys as `authorization: Bearer <key>` or `x-api-key: <key>` metadata, or it
//! is refused with UNAUTHENTICATED. Health and reflection stay open.
//!
//! The key file holds one key per line; blank lines and lines starting with `#` are
//! ignored. Keys are kept as SHA-256 digests and compared in constant time.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// The accepted keys; `None` inside means no authentication.
#[derive(Clone, Default)]
pub struct ApiKeys {
    digests: Option<Arc<Vec<[u8; 32]>>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.digests.as_ref().map_or(0, |d| d.len()))
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    /// No authentication: every request passes.
    pub fn open() -> ApiKeys {
        ApiKeys { digests: None }
    }

    /// These keys only.
    pub fn from_keys<S: AsRef<str>>(keys: &[S]) -> ApiKeys {
        ApiKeys { digests: Some(Arc::new(keys.iter().map(|k| digest(k.as_ref())).collect())) }
    }

    /// Reads a key file; a file without any key is an error (it would lock everyone out).
    pub fn from_file(path: &Path) -> Result<ApiKeys, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let keys: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
        if keys.is_empty() {
            return Err(format!("{}: no API key in the file", path.display()));
        }
        Ok(ApiKeys::from_keys(&keys))
    }

    /// Whether requests must carry a key.
    pub fn enabled(&self) -> bool {
        self.digests.is_some()
    }

    /// Checks a request's metadata.
    pub fn check<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let Some(digests) = &self.digests else { return Ok(()) };
        let md = req.metadata();
        let presented = md
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_string())
            .or_else(|| md.get("x-api-key").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string()));
        let Some(key) = presented else {
            return Err(Status::unauthenticated("missing API key: send `authorization: Bearer <key>` metadata"));
        };
        let d = digest(&key);
        let differs = |k: &[u8; 32]| k.iter().zip(&d).fold(0u8, |x, (a, b)| x | (a ^ b));
        let matched = digests.iter().fold(false, |acc, k| acc | (differs(k) == 0));
        if matched {
            Ok(())
        } else {
            Err(Status::unauthenticated("invalid API key"))
        }
    }
}

impl Interceptor for ApiKeys {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        self.check(&req)?;
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        let keys = ApiKeys::from_keys(&["s3cret", "other"]);
        let mut ok = Request::new(());
        ok.metadata_mut().insert("authorization", "Bearer s3cret".parse().unwrap());
        assert!(keys.check(&ok).is_ok());
        let mut alt = Request::new(());
        alt.metadata_mut().insert("x-api-key", "other".parse().unwrap());
        assert!(keys.check(&alt).is_ok());
        let mut bad = Request::new(());
        bad.metadata_mut().insert("authorization", "Bearer nope".parse().unwrap());
        assert_eq!(keys.check(&bad).unwrap_err().code(), tonic::Code::Unauthenticated);
        assert_eq!(keys.check(&Request::new(())).unwrap_err().code(), tonic::Code::Unauthenticated);
        assert!(ApiKeys::open().check(&Request::new(())).is_ok());
    }
}

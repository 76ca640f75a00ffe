//! API keys: with a key file configured, every `zkinfer.v1.Prover` call must carry one
//! of its keys as `authorization: Bearer <key>` or `x-api-key: <key>` metadata, or it
//! is refused with UNAUTHENTICATED. Health and reflection stay open.
//!
//! Each key belongs to a tenant with a role. A line of the key file is `KEY`, `KEY TENANT`
//! or `KEY TENANT ROLE` (whitespace-separated; ROLE is `user`, the default, or `admin`);
//! blank lines and lines starting with `#` are ignored. A bare key is a tenant of its own,
//! named `key-` and the first 12 hex digits of the key's SHA-256 (never the key itself).
//! Keys are kept as SHA-256 digests and compared in constant time. An accepted call
//! carries its [`Caller`] in the request's extensions.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// What a caller may see: a user its own tenant's models and jobs, an admin everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Admin,
}

/// Who made a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub tenant: String,
    pub role: Role,
}

#[derive(Clone)]
struct Entry {
    digest: [u8; 32],
    caller: Caller,
}

/// The accepted keys; `None` inside means no authentication.
#[derive(Clone, Default)]
pub struct ApiKeys {
    entries: Option<Arc<Vec<Entry>>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.entries.as_ref().map_or(0, |d| d.len()))
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The tenant of a key listed without one.
fn own_tenant(d: &[u8; 32]) -> String {
    format!("key-{}", &hex::encode(d)[..12])
}

impl ApiKeys {
    /// No authentication: every request passes.
    pub fn open() -> ApiKeys {
        ApiKeys { entries: None }
    }

    /// These keys only, each its own tenant with the `user` role.
    pub fn from_keys<S: AsRef<str>>(keys: &[S]) -> ApiKeys {
        let entries = keys
            .iter()
            .map(|k| {
                let digest = digest(k.as_ref());
                Entry { digest, caller: Caller { tenant: own_tenant(&digest), role: Role::User } }
            })
            .collect();
        ApiKeys { entries: Some(Arc::new(entries)) }
    }

    /// These keys with their tenants and roles.
    pub fn from_tenants<S: AsRef<str>>(keys: &[(S, Caller)]) -> ApiKeys {
        ApiKeys { entries: Some(Arc::new(keys.iter().map(|(k, c)| Entry { digest: digest(k.as_ref()), caller: c.clone() }).collect())) }
    }

    /// Parses the key file's text (see the module documentation); `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<ApiKeys, String> {
        let mut entries: Vec<Entry> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let digest = digest(fields[0]);
            let role = match fields.get(2) {
                None | Some(&"user") => Role::User,
                Some(&"admin") => Role::Admin,
                Some(other) => return Err(format!("{origin}:{}: role `{other}` is not `user` or `admin`", n + 1)),
            };
            if fields.len() > 3 {
                return Err(format!("{origin}:{}: expected `KEY [TENANT [ROLE]]`", n + 1));
            }
            if entries.iter().any(|e| e.digest == digest) {
                return Err(format!("{origin}:{}: this key is already listed", n + 1));
            }
            let tenant = fields.get(1).map_or_else(|| own_tenant(&digest), |t| t.to_string());
            entries.push(Entry { digest, caller: Caller { tenant, role } });
        }
        if entries.is_empty() {
            return Err(format!("{origin}: no API key in the file"));
        }
        Ok(ApiKeys { entries: Some(Arc::new(entries)) })
    }

    /// Reads a key file; a file without any key is an error (it would lock everyone out).
    pub fn from_file(path: &Path) -> Result<ApiKeys, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        ApiKeys::parse(&text, &path.display().to_string())
    }

    /// Whether requests must carry a key.
    pub fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// Checks a request's metadata: the caller its key belongs to (None when the service is open).
    pub fn check<T>(&self, req: &Request<T>) -> Result<Option<Caller>, Status> {
        let Some(entries) = &self.entries else { return Ok(None) };
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
        // Every entry is compared, whichever matches.
        let matched = entries.iter().fold(None, |found, e| if differs(&e.digest) == 0 { Some(e) } else { found });
        match matched {
            Some(e) => Ok(Some(e.caller.clone())),
            None => Err(Status::unauthenticated("invalid API key")),
        }
    }
}

impl Interceptor for ApiKeys {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(caller) = self.check(&req)? {
            req.extensions_mut().insert(caller);
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &'static str, value: &str) -> Request<()> {
        let mut r = Request::new(());
        r.metadata_mut().insert(name, value.parse().unwrap());
        r
    }

    #[test]
    fn keys_are_checked() {
        let keys = ApiKeys::from_keys(&["s3cret", "other"]);
        assert!(keys.check(&with("authorization", "Bearer s3cret")).unwrap().is_some());
        assert!(keys.check(&with("x-api-key", "other")).unwrap().is_some());
        assert_eq!(keys.check(&with("authorization", "Bearer nope")).unwrap_err().code(), tonic::Code::Unauthenticated);
        assert_eq!(keys.check(&Request::new(())).unwrap_err().code(), tonic::Code::Unauthenticated);
        assert_eq!(ApiKeys::open().check(&Request::new(())).unwrap(), None);
    }

    #[test]
    fn key_file_maps_keys_to_tenants_and_roles() {
        let keys = ApiKeys::parse("# keys\nbare\n\nk-alice alice\nk-bob bob user\nk-root ops admin\n", "keys").unwrap();
        let caller = |k: &str| keys.check(&with("authorization", &format!("Bearer {k}"))).unwrap().unwrap();
        assert_eq!(caller("k-alice"), Caller { tenant: "alice".into(), role: Role::User });
        assert_eq!(caller("k-bob"), Caller { tenant: "bob".into(), role: Role::User });
        assert_eq!(caller("k-root"), Caller { tenant: "ops".into(), role: Role::Admin });
        let bare = caller("bare");
        assert_eq!(bare.role, Role::User);
        assert!(bare.tenant.starts_with("key-") && bare.tenant.len() == 16 && !bare.tenant.contains("bare"), "{}", bare.tenant);
        // Today's one-key-per-line files: every key a tenant of its own.
        let old = ApiKeys::parse("one\ntwo\n", "keys").unwrap();
        let t = |k: &str| old.check(&with("x-api-key", k)).unwrap().unwrap().tenant;
        assert_ne!(t("one"), t("two"));

        assert!(ApiKeys::parse("k t root\n", "keys").unwrap_err().contains("keys:1: role `root`"));
        assert!(ApiKeys::parse("a\nk t user extra\n", "keys").unwrap_err().contains("keys:2:"));
        assert!(ApiKeys::parse("a x\na y\n", "keys").unwrap_err().contains("already listed"));
        assert!(ApiKeys::parse("# none\n\n", "keys").unwrap_err().contains("no API key"));
    }

    #[test]
    fn the_interceptor_attaches_the_caller() {
        let mut keys = ApiKeys::from_tenants(&[("k-alice", Caller { tenant: "alice".into(), role: Role::User })]);
        let req = keys.call(with("authorization", "Bearer k-alice")).unwrap();
        assert_eq!(req.extensions().get::<Caller>().map(|c| c.tenant.as_str()), Some("alice"));
        assert!(ApiKeys::open().call(Request::new(())).unwrap().extensions().get::<Caller>().is_none());
    }
}

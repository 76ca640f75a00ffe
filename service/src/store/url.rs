//! Job stores named by URL: `sqlite:///DIR` (the embedded database in DIR, one process)
//! or `postgres://USER:PASSWORD@HOST:PORT/DB` (shared by any number of API nodes and
//! workers).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{JobStore, PgStore, SqliteStore, StoreError};

/// File name of the embedded database inside its directory.
pub const SQLITE_FILE: &str = "zkinfer.sqlite3";

/// A parsed `--store` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded database in this directory.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (as given, with its password).
    Postgres(String),
}

impl StoreUrl {
    /// Parses `sqlite:///DIR`, `postgres://...` or `postgresql://...`.
    pub fn parse(url: &str) -> Result<StoreUrl, StoreError> {
        let bad = |message: &str| StoreError::BadUrl { url: redact(url), message: message.into() };
        if let Some(path) = url.strip_prefix("sqlite://") {
            if !path.starts_with('/') {
                return Err(bad("expected sqlite:///ABSOLUTE/DIR"));
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(url.to_string()));
        }
        Err(bad("expected sqlite:///DIR or postgres://USER:PASSWORD@HOST:PORT/DATABASE"))
    }

    /// The default store of a data directory: its embedded database.
    pub fn default_for(data_dir: &Path) -> StoreUrl {
        StoreUrl::Sqlite(data_dir.to_path_buf())
    }

    /// Whether several processes may share the store (API nodes and workers).
    pub fn is_shared(&self) -> bool {
        matches!(self, StoreUrl::Postgres(_))
    }

    /// The URL without its password, for messages and logs.
    pub fn display(&self) -> String {
        match self {
            StoreUrl::Sqlite(dir) => format!("sqlite://{}", dir.display()),
            StoreUrl::Postgres(url) => redact(url),
        }
    }
}

/// A URL with the password of its user info replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(parts) => parts,
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// Opens the store a URL names (migrating its schema); a clear error, never a hang,
/// when a database cannot be reached or refuses the credentials.
pub fn open_store(url: &StoreUrl) -> Result<Arc<dyn JobStore>, StoreError> {
    Ok(match url {
        StoreUrl::Sqlite(dir) => Arc::new(SqliteStore::open(&dir.join(SQLITE_FILE))?),
        StoreUrl::Postgres(u) => Arc::new(PgStore::connect(u)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_passwords_stay_out_of_messages() {
        assert_eq!(StoreUrl::parse("sqlite:///var/lib/z").unwrap(), StoreUrl::Sqlite("/var/lib/z".into()));
        assert!(StoreUrl::parse("postgres://u:pw@127.0.0.1:5432/db").unwrap().is_shared());
        assert!(matches!(StoreUrl::parse("sqlite://relative"), Err(StoreError::BadUrl { .. })));
        let e = StoreUrl::parse("mysql://u:hunter2@h/db").unwrap_err().to_string();
        assert!(e.contains("u:***@h/db") && !e.contains("hunter2"), "{e}");
        assert_eq!(StoreUrl::parse("postgresql://u:pw@h/db").unwrap().display(), "postgresql://u:***@h/db");
    }
}

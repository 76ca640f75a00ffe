//! Configuration of `zkinfer serve`: command-line flags, optionally a TOML file with the
//! same keys, and defaults, in that order of precedence. Resolved once at start and
//! passed down explicitly (nothing global).
//!
//! ```toml
//! data = "/var/lib/zkinfer"
//! listen = "0.0.0.0:50051"
//! api-key-file = "/etc/zkinfer/api-keys"   # `KEY [TENANT [user|admin]]` a line
//! tls-cert = "/etc/zkinfer/server.pem"     # certificate chain (PEM); with tls-key: TLS
//! tls-key = "/etc/zkinfer/server.key"
//! tls-client-ca = "/etc/zkinfer/clients.pem"  # optional: clients need a certificate it signed
//! max-queue = 1000
//! tenant-max-queued = 100                  # per tenant; omitted: no per-tenant limit
//! tenant-submits-per-minute = 600          # per tenant, counted in the job store
//! memory-budget = "48GiB"                  # or a number of bytes
//! workers = 2
//! srs = "/srv/kzg_bn254_23.srs"            # omitted: INSECURE test SRS
//! log = "info"                             # tracing filter
//! ort-library = "/opt/ort/libonnxruntime.so.1.22.0"  # omitted: see crate::environment
//! solc-dir = "/opt/zkinfer/solc"           # holds node_modules/solc
//! node = "/usr/bin/node"
//! ```
//! Keys may also be written with underscores (`max_queue`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::environment::{ToolArgs, Tools};
use crate::jobs::memory::{default_budget, parse_bytes};
use crate::jobs::EngineConfig;
use crate::server::{ApiKeys, ServerOptions, ServerTls};
use crate::store::{ArtifactsUrl, StoreUrl};
use zkinfer_compiler::SrsSource;

/// TEST ONLY: milliseconds each prove job sleeps at the start of its proving phase, so
/// crash-recovery tests can kill the server while a proof is in progress.
pub const TEST_PAUSE_ENV: &str = "ZKINFER_TEST_PAUSE_BEFORE_PROVE_MS";

/// The default log filter: `info`, except halo2-base's layout warnings during key
/// generation, which are not actionable for an operator.
pub const DEFAULT_LOG: &str = "info,halo2_base=error";

/// Errors in the configuration, naming the key.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{key}: {message}")]
    Value { key: &'static str, message: String },
}

/// Flags of `zkinfer serve`; each overrides the same key of `--config`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// TOML file with the same keys as these flags.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory: job database, artifacts, keys.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:50051; port 0 picks a free one).
    #[arg(long)]
    pub listen: Option<String>,
    /// File of API keys, `KEY [TENANT [user|admin]]` a line; without it the service is open.
    #[arg(long)]
    pub api_key_file: Option<PathBuf>,
    /// TLS certificate chain (PEM, leaf first); with --tls-key the server speaks TLS only.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA bundle (PEM): clients must present a certificate it signed (needs --tls-cert).
    #[arg(long, requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Most queued jobs; submissions beyond it get RESOURCE_EXHAUSTED (default 1000).
    #[arg(long)]
    pub max_queue: Option<usize>,
    /// Most queued jobs of one tenant; its submissions beyond it get RESOURCE_EXHAUSTED (default: no limit).
    #[arg(long)]
    pub tenant_max_queued: Option<usize>,
    /// Most jobs one tenant may submit in any minute, across every API node of the store (default: no limit).
    #[arg(long)]
    pub tenant_submits_per_minute: Option<usize>,
    /// Memory that concurrent jobs' estimates may add up to, e.g. 8GiB (default 3/4 of RAM).
    #[arg(long)]
    pub memory_budget: Option<String>,
    /// Worker threads, i.e. jobs running at once (default 1; each proof is parallel itself).
    #[arg(long)]
    pub workers: Option<usize>,
    /// KZG SRS file (halo2 format) for new models; without it an INSECURE test SRS.
    #[arg(long)]
    pub srs: Option<PathBuf>,
    /// Log filter (tracing `EnvFilter` syntax; default RUST_LOG, else `info,halo2_base=error`).
    #[arg(long)]
    pub log: Option<String>,
    #[command(flatten)]
    pub tools: ToolArgs,
    /// Job store: sqlite:///DIR (default: the data directory's) or postgres://USER:PASSWORD@HOST:PORT/DB,
    /// shared by API nodes and `zkinfer worker` processes.
    #[arg(long)]
    pub store: Option<String>,
    /// Serve Prometheus /metrics and /healthz over HTTP here (port 0: any free port; the bound
    /// address is written to DATA/metrics.addr).
    #[arg(long)]
    pub metrics_listen: Option<String>,
    /// Artifact store: file:///DIR (default: DATA/blobs) or s3://BUCKET/PREFIX (AWS_* variables); with a
    /// shared --store, one that every node reaches.
    #[arg(long)]
    pub artifacts: Option<String>,
    /// Also serve inference requests made on-chain: the JSON-RPC URL of the chain.
    #[arg(long, requires = "coordinator")]
    pub chain_rpc: Option<String>,
    /// The coordinator contract whose requests this node serves (with --chain-rpc).
    #[arg(long, requires = "chain_rpc")]
    pub coordinator: Option<String>,
    /// File with the hex private key that signs deliveries (else ZKINFER_PRIVATE_KEY).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Blocks a request must be below the head before it is served (default 0).
    #[arg(long)]
    pub confirmations: Option<u64>,
}

/// The TOML file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    data: Option<PathBuf>,
    listen: Option<String>,
    #[serde(alias = "api_key_file")]
    api_key_file: Option<PathBuf>,
    #[serde(alias = "tls_cert")]
    tls_cert: Option<PathBuf>,
    #[serde(alias = "tls_key")]
    tls_key: Option<PathBuf>,
    #[serde(alias = "tls_client_ca")]
    tls_client_ca: Option<PathBuf>,
    #[serde(alias = "max_queue")]
    max_queue: Option<usize>,
    #[serde(alias = "tenant_max_queued")]
    tenant_max_queued: Option<usize>,
    #[serde(alias = "tenant_submits_per_minute")]
    tenant_submits_per_minute: Option<usize>,
    #[serde(alias = "memory_budget")]
    memory_budget: Option<toml::Value>,
    workers: Option<usize>,
    srs: Option<PathBuf>,
    log: Option<String>,
    #[serde(alias = "ort_library")]
    ort_library: Option<PathBuf>,
    #[serde(alias = "solc_dir")]
    solc_dir: Option<PathBuf>,
    node: Option<PathBuf>,
    store: Option<String>,
    artifacts: Option<String>,
}

/// The resolved configuration.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub server: ServerOptions,
    pub log: String,
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let err = |message: String| ConfigError::File { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    toml::from_str(&text).map_err(|e| err(e.to_string()))
}

fn budget(v: &toml::Value) -> Result<u64, String> {
    match v {
        toml::Value::Integer(n) if *n > 0 => Ok(*n as u64),
        toml::Value::String(s) => parse_bytes(s),
        other => Err(format!("expected a byte count, found {other}")),
    }
}

impl ServeArgs {
    /// Merges flags, the file and defaults. `test_pause_ms` is the value of
    /// [`TEST_PAUSE_ENV`] (TEST ONLY), read by the caller.
    pub fn resolve(&self, test_pause_ms: Option<&str>) -> Result<ServeConfig, ConfigError> {
        let file = match &self.config {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let data = self.data.clone().or(file.data).ok_or(ConfigError::Value {
            key: "data",
            message: "a data directory is required (--data DIR or `data` in the config file)".into(),
        })?;
        let listen_text = self.listen.clone().or(file.listen).unwrap_or_else(|| "127.0.0.1:50051".into());
        let listen: SocketAddr =
            listen_text.parse().map_err(|e| ConfigError::Value { key: "listen", message: format!("`{listen_text}`: {e}") })?;
        let memory_budget = match (&self.memory_budget, &file.memory_budget) {
            (Some(s), _) => parse_bytes(s),
            (None, Some(v)) => budget(v),
            (None, None) => Ok(default_budget()),
        }
        .map_err(|message| ConfigError::Value { key: "memory-budget", message })?;
        let store = match self.store.clone().or(file.store) {
            Some(u) => Some(StoreUrl::parse(&u).map_err(|e| ConfigError::Value { key: "store", message: e.to_string() })?),
            None => None,
        };
        let artifacts = match self.artifacts.clone().or(file.artifacts) {
            Some(u) => Some(ArtifactsUrl::parse(&u).map_err(|e| ConfigError::Value { key: "artifacts", message: e.to_string() })?),
            None => None,
        };
        let workers = self.workers.or(file.workers).unwrap_or(1);
        if workers == 0 && !store.as_ref().is_some_and(|s| s.is_shared()) {
            return Err(ConfigError::Value {
                key: "workers",
                message: "at least 1 (0, an API-only node, needs a shared --store postgres://...)".into(),
            });
        }
        let max_queue = self.max_queue.or(file.max_queue).unwrap_or(1000);
        let tenant_limits = crate::store::TenantLimits {
            max_queued: self.tenant_max_queued.or(file.tenant_max_queued),
            submits_per_minute: self.tenant_submits_per_minute.or(file.tenant_submits_per_minute),
        };
        if tenant_limits.max_queued == Some(0) || tenant_limits.submits_per_minute == Some(0) {
            let key = if tenant_limits.max_queued == Some(0) { "tenant-max-queued" } else { "tenant-submits-per-minute" };
            return Err(ConfigError::Value { key, message: "at least 1 (omit it for no limit)".into() });
        }
        let api_keys = match self.api_key_file.clone().or(file.api_key_file) {
            Some(p) => ApiKeys::from_file(&p).map_err(|message| ConfigError::Value { key: "api-key-file", message })?,
            None => ApiKeys::open(),
        };
        let tls = match (
            self.tls_cert.clone().or(file.tls_cert),
            self.tls_key.clone().or(file.tls_key),
            self.tls_client_ca.clone().or(file.tls_client_ca),
        ) {
            (Some(cert), Some(key), ca) => {
                Some(ServerTls::from_files(&cert, &key, ca.as_deref()).map_err(|message| ConfigError::Value { key: "tls-cert", message })?)
            }
            (None, None, None) => None,
            _ => {
                return Err(ConfigError::Value {
                    key: "tls-cert",
                    message: "tls-cert and tls-key go together (and tls-client-ca needs both)".into(),
                })
            }
        };
        let srs = match self.srs.clone().or(file.srs) {
            Some(p) => {
                let bytes = std::fs::read(&p).map_err(|e| ConfigError::Value { key: "srs", message: format!("{}: {e}", p.display()) })?;
                Some(SrsSource::File { path: p.display().to_string(), bytes: Arc::new(bytes) })
            }
            None => None,
        };
        let test_pause_before_prove = match test_pause_ms {
            Some(ms) => Some(Duration::from_millis(
                ms.parse().map_err(|_| ConfigError::Value { key: TEST_PAUSE_ENV, message: format!("`{ms}` is not milliseconds") })?,
            )),
            None => None,
        };
        let tools = Tools::resolve(&self.tools.or(ToolArgs { ort_library: file.ort_library, solc_dir: file.solc_dir, node: file.node }));
        let mut engine = EngineConfig::new(data, tools);
        engine.workers = workers;
        engine.max_queue = max_queue;
        engine.tenant_limits = tenant_limits;
        engine.memory_budget = memory_budget;
        engine.srs = srs;
        engine.test_pause_before_prove = test_pause_before_prove;
        engine.store = store;
        engine.artifacts = artifacts;
        let mut server = ServerOptions::new(engine);
        server.listen = listen;
        server.api_keys = api_keys;
        server.tls = tls;
        let log = self.log.clone().or(file.log).or_else(|| std::env::var("RUST_LOG").ok()).unwrap_or_else(|| DEFAULT_LOG.into());
        Ok(ServeConfig { server, log })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("zkinfer.toml");
        std::fs::write(
            &f,
            "data = \"/d\"\nlisten = \"127.0.0.1:7000\"\nmax-queue = 5\nmemory_budget = \"2GiB\"\nworkers = 3\n\
             tenant-max-queued = 4\ntenant_submits_per_minute = 30\n",
        )
        .unwrap();
        let args = ServeArgs { config: Some(f.clone()), max_queue: Some(9), tenant_max_queued: Some(2), ..Default::default() };
        let c = args.resolve(None).unwrap();
        assert_eq!(c.server.engine.tenant_limits, crate::store::TenantLimits { max_queued: Some(2), submits_per_minute: Some(30) });
        let zero = ServeArgs { config: Some(f.clone()), tenant_submits_per_minute: Some(0), ..Default::default() };
        assert!(matches!(zero.resolve(None), Err(ConfigError::Value { key: "tenant-submits-per-minute", .. })));
        assert_eq!(c.server.engine.data_dir, PathBuf::from("/d"));
        assert_eq!(c.server.listen.port(), 7000);
        assert_eq!(c.server.engine.max_queue, 9);
        assert_eq!(c.server.engine.memory_budget, 2 << 30);
        assert_eq!(c.server.engine.workers, 3);
        assert!(c.server.engine.test_pause_before_prove.is_none());
        std::fs::write(&f, "data = \"/d\"\nbogus = 1\n").unwrap();
        assert!(matches!(args.resolve(None), Err(ConfigError::File { .. })));
        let bad = ServeArgs { data: Some("/d".into()), listen: Some("nowhere".into()), ..Default::default() };
        assert!(matches!(bad.resolve(None), Err(ConfigError::Value { key: "listen", .. })));
        assert!(ServeArgs::default().resolve(None).is_err());
    }

    #[test]
    fn tool_locations_come_from_flags_then_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("zkinfer.toml");
        std::fs::write(
            &f,
            "data = \"/d\"\nsolc-dir = \"/opt/solc\"\nnode = \"/opt/node\"\nort-library = \"/nonexistent/libonnxruntime.so\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(f),
            tools: ToolArgs { node: Some("/usr/bin/node".into()), ..Default::default() },
            ..Default::default()
        };
        let tools = args.resolve(None).unwrap().server.engine.tools;
        assert_eq!(
            tools.solc,
            zkinfer_verifier_contracts::Solc { node: "/usr/bin/node".into(), package: "/opt/solc/node_modules/solc".into() }
        );
        assert!(tools.ort.unwrap_err().to_string().contains("/nonexistent/libonnxruntime.so"));
    }

    #[test]
    fn tls_files_come_from_flags_or_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let pem = |name: &str, body: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            p
        };
        let (cert, key) = (pem("c.pem", "-----BEGIN CERTIFICATE-----\n"), pem("k.pem", "-----BEGIN PRIVATE KEY-----\n"));
        let f = pem("zkinfer.toml", &format!("data = \"/d\"\ntls-cert = {:?}\ntls_key = {:?}\n", cert, key));
        let tls = ServeArgs { config: Some(f.clone()), ..Default::default() }.resolve(None).unwrap().server.tls.unwrap();
        assert!(tls.cert_pem.starts_with(b"-----BEGIN CERTIFICATE") && tls.client_ca_pem.is_none());
        let with_ca = ServeArgs { config: Some(f), tls_client_ca: Some(cert.clone()), ..Default::default() };
        assert!(with_ca.resolve(None).unwrap().server.tls.unwrap().client_ca_pem.is_some());
        assert!(ServeArgs { data: Some("/d".into()), ..Default::default() }.resolve(None).unwrap().server.tls.is_none());

        let half = ServeArgs { data: Some("/d".into()), tls_cert: Some(cert.clone()), ..Default::default() };
        assert!(matches!(half.resolve(None), Err(ConfigError::Value { key: "tls-cert", .. })));
        let not_pem =
            ServeArgs { data: Some("/d".into()), tls_cert: Some(cert), tls_key: Some(pem("k.der", "\u{1}\u{2}")), ..Default::default() };
        let err = not_pem.resolve(None).unwrap_err().to_string();
        assert!(err.contains("k.der: not a PEM file"), "{err}");
    }
}

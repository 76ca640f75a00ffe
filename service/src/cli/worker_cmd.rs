//! `zkinfer worker`: a process that claims jobs from a shared job store and runs them,
//! with no gRPC port. Any number of workers, on any machines, share one store and one
//! artifact store; each keeps its proving keys cached in its own data directory.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::config::{DEFAULT_LOG, TEST_PAUSE_ENV};
use crate::jobs::memory::{default_budget, parse_bytes};
use crate::jobs::{Engine, EngineConfig};
use crate::store::{ArtifactsUrl, StoreUrl};
use zkinfer_compiler::SrsSource;

/// Flags of `zkinfer worker`.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    /// The shared job store: postgres://USER:PASSWORD@HOST:PORT/DATABASE.
    #[arg(long)]
    pub store: String,
    /// Where ONNX Runtime, solc and Node.js are (compile jobs need solc).
    #[command(flatten)]
    pub tools: crate::environment::ToolArgs,
    /// The artifact store every node reaches: file:///DIR or s3://BUCKET/PREFIX (credentials and
    /// endpoint from the AWS_* variables); default DATA/blobs, for one machine.
    #[arg(long)]
    pub artifacts: Option<String>,
    /// Most bytes of proving keys cached in DATA/keys; the least recently used are evicted.
    #[arg(long, default_value = "32GiB")]
    pub key_cache: String,
    /// Local folder: the proving-key cache.
    #[arg(long)]
    pub data: PathBuf,
    /// Jobs run at once (each proof is parallel itself).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Memory that this worker's jobs' estimates may add up to, e.g. 8GiB (default 3/4 of RAM);
    /// jobs that need more are left to larger workers.
    #[arg(long)]
    pub memory_budget: Option<String>,
    /// KZG SRS file (halo2 format) for models this worker compiles; without it an INSECURE test SRS.
    #[arg(long)]
    pub srs: Option<PathBuf>,
    /// A claimed job is given to another worker when its lease is not renewed for this long.
    #[arg(long, default_value_t = 30)]
    pub lease_seconds: u64,
    /// A job whose workers died this many times fails.
    #[arg(long, default_value_t = 5)]
    pub max_attempts: u32,
    /// This worker's name in leases and logs (default: host, process id and a random suffix).
    #[arg(long)]
    pub name: Option<String>,
    /// Log filter (tracing `EnvFilter` syntax).
    #[arg(long)]
    pub log: Option<String>,
    /// Serve Prometheus /metrics and /healthz over HTTP here (port 0: any free port; the
    /// bound address is written to DATA/metrics.addr).
    #[arg(long)]
    pub metrics_listen: Option<String>,
}

impl WorkerArgs {
    /// The engine configuration of these flags.
    pub fn engine_config(&self) -> Result<EngineConfig> {
        let store = StoreUrl::parse(&self.store)?;
        if !store.is_shared() {
            bail!("--store: a worker needs a shared store (postgres://...); `zkinfer serve` runs jobs on {}", store.display());
        }
        if self.workers == 0 {
            bail!("--workers: at least 1");
        }
        if self.lease_seconds < 1 {
            bail!("--lease-seconds: at least 1");
        }
        let mut cfg = EngineConfig::new(&self.data, crate::environment::Tools::resolve(&self.tools));
        cfg.store = Some(store);
        cfg.artifacts = self.artifacts.as_deref().map(ArtifactsUrl::parse).transpose()?;
        cfg.key_cache_bytes = Some(parse_bytes(&self.key_cache).map_err(|e| anyhow::anyhow!("--key-cache: {e}"))?);
        cfg.workers = self.workers;
        cfg.max_attempts = self.max_attempts.max(1);
        cfg.memory_budget = match &self.memory_budget {
            Some(b) => parse_bytes(b).map_err(|e| anyhow::anyhow!("--memory-budget: {e}"))?,
            None => default_budget(),
        };
        cfg.srs = match &self.srs {
            Some(p) => {
                let bytes = std::fs::read(p).with_context(|| format!("--srs {}", p.display()))?;
                Some(SrsSource::File { path: p.display().to_string(), bytes: std::sync::Arc::new(bytes) })
            }
            None => None,
        };
        cfg.lease.duration = Duration::from_secs(self.lease_seconds);
        if let Some(n) = &self.name {
            cfg.lease.worker = n.clone();
        }
        if let Ok(ms) = std::env::var(TEST_PAUSE_ENV) {
            cfg.test_pause_before_prove = Some(Duration::from_millis(ms.parse().with_context(|| format!("{TEST_PAUSE_ENV}={ms}"))?));
        }
        Ok(cfg)
    }
}

/// `zkinfer worker`: runs until SIGINT or SIGTERM, then finishes its current jobs.
pub fn worker(args: &WorkerArgs) -> Result<()> {
    let log = args.log.clone().or_else(|| std::env::var("RUST_LOG").ok()).unwrap_or_else(|| DEFAULT_LOG.into());
    let filter = tracing_subscriber::EnvFilter::try_new(&log).with_context(|| format!("log filter `{log}`"))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
    let cfg = args.engine_config()?;
    if let Some(d) = cfg.test_pause_before_prove {
        tracing::warn!("{TEST_PAUSE_ENV} is set: every proof pauses {d:?} (TEST ONLY)");
    }
    let (name, budget, workers) = (cfg.lease.worker.clone(), cfg.memory_budget, cfg.workers);
    let engine = Engine::open(cfg)?;
    let threads = engine.start_workers();
    tracing::info!(worker = %name, workers, memory_budget = budget, "zkinfer worker claiming jobs");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    if let Some(listen) = &args.metrics_listen {
        let addr: std::net::SocketAddr = listen.parse().with_context(|| format!("--metrics-listen `{listen}`"))?;
        let bound = rt.block_on(crate::metrics::serve(addr, engine.store())).with_context(|| format!("--metrics-listen {addr}"))?;
        crate::fsio::write_atomic(&args.data.join("metrics.addr"), bound.to_string().as_bytes())?;
        tracing::info!(%bound, "metrics on http://{bound}/metrics");
    }
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    })?;
    tracing::info!(worker = %name, "stopping after the current jobs");
    engine.shutdown();
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

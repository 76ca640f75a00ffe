//! The gRPC server: `zkinfer.v1.Prover` (behind API keys when configured), standard
//! health checking (`grpc.health.v1.Health`) and server reflection
//! (`grpc.reflection.v1.ServerReflection` and `grpc.reflection.v1alpha.ServerReflection`), over one TCP listener,
//! in plaintext or TLS (rustls; with a client CA, only clients presenting a certificate it signed connect).

pub mod api;
pub mod auth;
pub mod convert;
pub mod pb;
pub mod status;
pub mod watch;

use std::net::SocketAddr;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::jobs::{Engine, EngineConfig, EngineError};

pub use api::ProverApi;
pub use auth::{ApiKeys, Caller, Role};
pub use pb::prover_client::ProverClient;
pub use pb::prover_server::ProverServer;

/// Failures to start or run the server.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot listen on {addr}: {message}")]
    Bind { addr: SocketAddr, message: String },
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection service: {0}")]
    Reflection(String),
    #[error("server task: {0}")]
    Task(String),
    #[error("TLS: {0}")]
    Tls(String),
}

/// The server's TLS material, PEM-encoded.
#[derive(Clone)]
pub struct ServerTls {
    /// Certificate chain, leaf first.
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// With it, a client must present a certificate signed by one of these CAs.
    pub client_ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerTls(client certificates {})", if self.client_ca_pem.is_some() { "required" } else { "not asked" })
    }
}

impl ServerTls {
    /// Reads the certificate chain, the key and the optional client CA bundle; each must hold a PEM block.
    pub fn from_files(cert: &std::path::Path, key: &std::path::Path, client_ca: Option<&std::path::Path>) -> Result<ServerTls, String> {
        let read = |p: &std::path::Path| -> Result<Vec<u8>, String> {
            let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
                return Err(format!("{}: not a PEM file", p.display()));
            }
            Ok(bytes)
        };
        Ok(ServerTls { cert_pem: read(cert)?, key_pem: read(key)?, client_ca_pem: client_ca.map(read).transpose()? })
    }

    fn config(&self) -> ServerTlsConfig {
        let config = ServerTlsConfig::new().identity(Identity::from_pem(&self.cert_pem, &self.key_pem));
        match &self.client_ca_pem {
            Some(ca) => config.client_ca_root(Certificate::from_pem(ca)),
            None => config,
        }
    }
}

/// What the server runs with.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub engine: EngineConfig,
    /// Where to listen (port 0: any free port; see [`RunningServer::addr`]).
    pub listen: SocketAddr,
    pub api_keys: ApiKeys,
    /// Largest request or response message (ONNX models travel in one message).
    pub max_message_bytes: usize,
    /// None: plaintext (warned about on a non-loopback address).
    pub tls: Option<ServerTls>,
}

impl ServerOptions {
    /// Defaults around an engine configuration: 127.0.0.1:50051, no API keys, 256 MiB
    /// messages.
    pub fn new(engine: EngineConfig) -> ServerOptions {
        ServerOptions {
            engine,
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            api_keys: ApiKeys::open(),
            max_message_bytes: 256 << 20,
            tls: None,
        }
    }
}

/// A server running on the current tokio runtime.
pub struct RunningServer {
    /// The address actually bound.
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningServer {
    /// Stops accepting calls, waits for open calls to end and stops the workers after
    /// their current job (jobs still running are requeued at the next start).
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let _ = self.stop.send(());
        let served = self.task.await.map_err(|e| ServerError::Task(e.to_string()))?;
        self.engine.shutdown();
        Ok(served?)
    }
}

/// Opens the data directory (recovering interrupted jobs), starts the workers and
/// serves on `opts.listen`.
pub async fn start(opts: ServerOptions) -> Result<RunningServer, ServerError> {
    let cfg = opts.engine.clone();
    let engine = tokio::task::spawn_blocking(move || Engine::open(cfg)).await.map_err(|e| ServerError::Task(e.to_string()))??;
    engine.start_workers();
    let listener = TcpListener::bind(opts.listen).await.map_err(|e| ServerError::Bind { addr: opts.listen, message: e.to_string() })?;
    let addr = listener.local_addr().map_err(|e| ServerError::Bind { addr: opts.listen, message: e.to_string() })?;

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<ProverServer<ProverApi>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServerError::Reflection(e.to_string()))?;
    // The same, for clients that still speak v1alpha (Python's stock reflection client, older grpcurl).
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ServerError::Reflection(e.to_string()))?;
    let prover = ProverServer::new(ProverApi::new(engine.clone()))
        .max_decoding_message_size(opts.max_message_bytes)
        .max_encoding_message_size(opts.max_message_bytes);
    let prover = InterceptedService::new(prover, opts.api_keys.clone());

    let (stop, stopped) = oneshot::channel::<()>();
    let mut builder = Server::builder();
    if let Some(tls) = &opts.tls {
        builder = builder.tls_config(tls.config()).map_err(|e| ServerError::Tls(e.to_string()))?;
    } else if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "serving PLAINTEXT gRPC on a non-loopback address: API keys, models and inputs cross the network unencrypted; use --tls-cert and --tls-key");
    }
    let router = builder.add_service(health_service).add_service(reflection).add_service(reflection_alpha).add_service(prover);
    let task = tokio::spawn(router.serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
        let _ = stopped.await;
    }));
    tracing::info!(%addr, workers = opts.engine.workers, memory_budget = opts.engine.memory_budget,
        max_queue = opts.engine.max_queue, api_keys = opts.api_keys.enabled(), tls = ?opts.tls, "zkinfer server listening");
    Ok(RunningServer { addr, engine, stop, task })
}

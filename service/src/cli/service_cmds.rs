//! `zkinfer serve` and the client commands that talk to a running server: `register`,
//! `submit`, `job`, `fetch`.
//!
//! Clients find the server with `--server URL` (or `$ZKINFER_SERVER`, default
//! `http://127.0.0.1:50051`) and send `--api-key` (or `$ZKINFER_API_KEY`) when given.
//! An `https://` URL speaks TLS: the server's certificate must chain to `--ca` (or, without
//! it, to the system's roots) and name the URL's host.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tokio_stream::StreamExt;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::config::{ServeArgs, TEST_PAUSE_ENV};
use crate::fsio::{read, write_atomic};
use crate::server::pb::{self, get_artifact_request, submit_job_request};
use crate::server::{self as srv, ProverClient};

/// How to reach a server.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClientArgs {
    /// Server URL (default $ZKINFER_SERVER or http://127.0.0.1:50051).
    #[arg(long)]
    pub server: Option<String>,
    /// API key (default $ZKINFER_API_KEY).
    #[arg(long)]
    pub api_key: Option<String>,
    /// CA certificates (PEM) that the server's certificate must chain to (https:// only; default: the system's roots).
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM), for a server started with --tls-client-ca.
    #[arg(long, requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// Private key (PEM) of --client-cert.
    #[arg(long, requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

/// The TLS settings of an `https://` connection.
fn tls_config(args: &ClientArgs) -> Result<ClientTlsConfig> {
    let tls = match &args.ca {
        Some(ca) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca).context("--ca")?)),
        None => ClientTlsConfig::new().with_native_roots(),
    };
    Ok(match (&args.client_cert, &args.client_key) {
        (Some(cert), Some(key)) => {
            tls.identity(Identity::from_pem(read(cert).context("--client-cert")?, read(key).context("--client-key")?))
        }
        (None, None) => tls,
        _ => bail!("--client-cert and --client-key go together"),
    })
}

/// An error and its causes on one line, with a hint for the usual TLS mistakes.
fn explain(e: &dyn std::error::Error) -> String {
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        chain = format!("{chain}: {s}");
        source = s.source();
    }
    let hint = if chain.contains("Expired") {
        " (the server's certificate has expired)"
    } else if chain.contains("UnknownIssuer") || chain.contains("invalid peer certificate") {
        " (the server's certificate is not signed by a trusted CA: pass the CA that signed it with --ca)"
    } else if chain.contains("InvalidContentType") || chain.contains("corrupt message") {
        " (the server does not speak TLS: use an http:// URL)"
    } else if chain.contains("CertificateRequired") || chain.contains("BadCertificate") || chain.contains("UnknownCA") {
        " (the server did not accept a client certificate: pass one its client CA signed with --client-cert and --client-key)"
    } else if [
        "frame with invalid size",
        "FRAME_SIZE_ERROR",
        "broken pipe",
        "connection reset",
        "Connection reset",
        "connection closed",
        "end of file",
    ]
    .iter()
    .any(|m| chain.contains(m))
    {
        " (the server closed the connection: if it serves TLS, use an https:// URL and --ca)"
    } else {
        ""
    };
    format!("{chain}{hint}")
}

fn connect_error(url: &str, e: tonic::transport::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot connect to {url}: {}", explain(&e))
}

/// A failed call as one line: its code, message and causes (a transport failure names its TLS cause).
pub fn describe_status(e: &tonic::Status) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("{:?}: {}: {}", e.code(), e.message(), explain(source)),
        None => format!("{:?}: {}", e.code(), e.message()),
    }
}

/// Adds the API key to every call.
#[derive(Clone)]
pub struct KeyInterceptor(Option<MetadataValue<Ascii>>);

impl Interceptor for KeyInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A connected client.
pub type Client = ProverClient<InterceptedService<Channel, KeyInterceptor>>;

/// Connects to the server named by `args`.
pub async fn connect(args: &ClientArgs) -> Result<Client> {
    let url = args.server.clone().or_else(|| std::env::var("ZKINFER_SERVER").ok()).unwrap_or_else(|| "http://127.0.0.1:50051".into());
    let key = args.api_key.clone().or_else(|| std::env::var("ZKINFER_API_KEY").ok());
    let key = key.map(|k| format!("Bearer {k}").parse()).transpose().context("the API key is not valid metadata")?;
    let mut endpoint = Channel::from_shared(url.clone()).with_context(|| format!("server URL `{url}`"))?;
    if url.starts_with("https://") {
        endpoint = endpoint.tls_config(tls_config(args)?).with_context(|| format!("TLS settings for {url}"))?;
    } else if args.ca.is_some() || args.client_cert.is_some() {
        bail!("--ca and --client-cert need an https:// server URL, not `{url}`");
    }
    let channel = endpoint.connect().await.map_err(|e| connect_error(&url, e))?;
    Ok(ProverClient::with_interceptor(channel, KeyInterceptor(key))
        .max_decoding_message_size(256 << 20)
        .max_encoding_message_size(256 << 20))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn status(e: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{}", describe_status(&e))
}

/// `zkinfer serve`: runs the service until SIGINT or SIGTERM.
pub fn serve(args: &ServeArgs) -> Result<()> {
    let pause = std::env::var(TEST_PAUSE_ENV).ok();
    let cfg = args.resolve(pause.as_deref())?;
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log).with_context(|| format!("log filter `{}`", cfg.log))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
    if let Some(d) = cfg.server.engine.test_pause_before_prove {
        tracing::warn!("{TEST_PAUSE_ENV} is set: every proof pauses {d:?} (TEST ONLY)");
    }
    if cfg.server.engine.srs.is_none() {
        tracing::warn!("no --srs: models are compiled with an INSECURE locally generated test SRS");
    }
    let tools = &cfg.server.engine.tools;
    match &tools.ort {
        Ok(ort) => tracing::info!("ONNX Runtime: {}", ort.path.display()),
        Err(e) => tracing::warn!("float answers come from zkinfer's f64 evaluator: {e}"),
    }
    if let Err(e) = tools.solc.check() {
        tracing::warn!("compile jobs will fail: {e}; {}", crate::environment::flag_hint(&e).unwrap_or_default());
    }
    let follower = crate::chain::node::config_from_args(args)?;
    runtime()?.block_on(async move {
        let data = cfg.server.engine.data_dir.clone();
        let server = srv::start(cfg.server).await?;
        if let Some(listen) = &args.metrics_listen {
            let addr: std::net::SocketAddr = listen.parse().with_context(|| format!("--metrics-listen `{listen}`"))?;
            let bound = crate::metrics::serve(addr, server.engine.store()).await.with_context(|| format!("--metrics-listen {addr}"))?;
            write_atomic(&data.join("metrics.addr"), bound.to_string().as_bytes())?;
        }
        let (stop_follower, stopped) = tokio::sync::watch::channel(false);
        let follower = follower.map(|f| tokio::spawn(crate::chain::node::follow(server.engine.clone(), f, stopped)));
        // Tools and tests read the bound address from here (useful with port 0).
        write_atomic(&data.join("server.addr"), server.addr.to_string().as_bytes())?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        let _ = stop_follower.send(true);
        if let Some(f) = follower {
            let _ = f.await;
        }
        server.shutdown().await?;
        Ok(())
    })
}

fn tensors_json(ts: &[pb::Tensor]) -> serde_json::Value {
    serde_json::json!(ts.iter().map(|t| serde_json::json!({ "shape": t.shape, "data": t.data })).collect::<Vec<_>>())
}

/// A job as JSON for the terminal.
pub fn job_json(j: &pb::Job) -> serde_json::Value {
    serde_json::json!({
        "id": j.id,
        "kind": j.kind().as_str_name(),
        "model_id": j.model_id,
        "state": j.state().as_str_name(),
        "phase": j.phase,
        "progress_percent": j.progress_percent,
        "priority": j.priority,
        "float_outputs": tensors_json(&j.float_outputs),
        "float_source": j.float_source().as_str_name(),
        "proven_outputs": tensors_json(&j.proven_outputs),
        "artifacts": j.artifacts().map(|k| k.as_str_name()).collect::<Vec<_>>(),
        "error": j.error,
        "attempts": j.attempts,
        "prove_seconds": j.prove_seconds,
    })
}

/// Prints a job's events until it ends; an error unless it ends DONE.
pub async fn watch(client: &mut Client, job_id: &str) -> Result<()> {
    let mut stream = client.watch_job(pb::WatchJobRequest { job_id: job_id.into() }).await.map_err(status)?.into_inner();
    let mut last = pb::JobState::Unspecified;
    while let Some(ev) = stream.next().await {
        let ev = ev.map_err(status)?;
        last = ev.state();
        println!(
            "{} {} {}%{}",
            last.as_str_name(),
            ev.phase,
            ev.progress_percent,
            if ev.message.is_empty() { String::new() } else { format!(" {}", ev.message) }
        );
    }
    if last != pb::JobState::Done {
        bail!("job {job_id} ended {}", last.as_str_name());
    }
    Ok(())
}

/// `zkinfer register`: the options are checked here as the server checks them, so a
/// bad flag is refused before anything is sent.
/// `sharing`: (`--shared`, `--share-weights`).
pub fn register(
    c: &ClientArgs,
    model: &Path,
    calibration: &Path,
    options: &zkinfer_compiler::CompileOptions,
    wait: bool,
    sharing: (bool, bool),
) -> Result<()> {
    options.validate().map_err(|e| anyhow::anyhow!("--{}: {}", e.field.replace('_', "-"), e.message))?;
    if sharing.1 {
        if let Some(why) = crate::jobs::access::weights_unshareable(options) {
            bail!("--share-weights: {why}");
        }
    }
    let req = pb::RegisterModelRequest {
        onnx: read(model)?,
        calibration_json: read(calibration)?,
        options: Some(crate::server::convert::wire_options(options)),
        shared: sharing.0,
        share_weights: sharing.1,
    };
    runtime()?.block_on(async {
        let mut client = connect(c).await?;
        let r = client.register_model(req).await.map_err(status)?.into_inner();
        println!("{}", serde_json::json!({ "model_id": r.model_id, "compile_job_id": r.compile_job_id, "existing": r.existing }));
        if wait {
            watch(&mut client, &r.compile_job_id).await?;
        }
        Ok(())
    })
}

/// `zkinfer share`.
pub fn share(c: &ClientArgs, model_id: &str, shared: bool, share_weights: bool) -> Result<()> {
    runtime()?.block_on(async {
        let mut client = connect(c).await?;
        let req = pb::SetModelSharingRequest { model_id: model_id.into(), shared, share_weights };
        let m = client.set_model_sharing(req).await.map_err(status)?.into_inner();
        println!("{}", serde_json::json!({ "model_id": m.id, "shared": m.shared, "share_weights": m.share_weights }));
        Ok(())
    })
}

/// `zkinfer audit`: one JSON object per line, newest first.
pub fn audit(c: &ClientArgs, tenant: Option<&str>, limit: u32) -> Result<()> {
    runtime()?.block_on(async {
        let mut client = connect(c).await?;
        let req = pb::ListAuditRequest { tenant: tenant.unwrap_or_default().into(), page_size: limit, page_token: String::new() };
        for e in client.list_audit(req).await.map_err(status)?.into_inner().entries {
            let line = serde_json::json!({ "at_ms": e.at_ms, "tenant": e.tenant, "action": e.action, "object_id": e.object_id, "outcome": e.outcome });
            println!("{line}");
        }
        Ok(())
    })
}

/// `zkinfer submit`.
pub fn submit(c: &ClientArgs, model_id: &str, input: &Path, priority: i32, key: Option<String>, wait: bool) -> Result<()> {
    let req = pb::SubmitJobRequest {
        model_id: model_id.into(),
        input: Some(submit_job_request::Input::InputJson(read(input)?)),
        idempotency_key: key.unwrap_or_default(),
        priority,
    };
    runtime()?.block_on(async {
        let mut client = connect(c).await?;
        let r = client.submit_job(req).await.map_err(status)?.into_inner();
        let source = r.float_source().as_str_name();
        println!("{}", serde_json::json!({ "job_id": r.job_id, "float_outputs": tensors_json(&r.float_outputs), "float_source": source, "existing": r.existing }));
        if wait {
            watch(&mut client, &r.job_id).await?;
        }
        Ok(())
    })
}

/// `zkinfer job`.
pub fn job(c: &ClientArgs, id: &str, follow: bool) -> Result<()> {
    runtime()?.block_on(async {
        let mut client = connect(c).await?;
        if follow {
            watch(&mut client, id).await?;
        }
        let j = client.get_job(pb::GetJobRequest { job_id: id.into() }).await.map_err(status)?.into_inner();
        println!("{}", serde_json::to_string_pretty(&job_json(&j))?);
        Ok(())
    })
}

/// Artifact kinds by their command-line names.
pub const KIND_NAMES: [(&str, pb::ArtifactKind); 12] = [
    ("proof", pb::ArtifactKind::Proof),
    ("instances", pb::ArtifactKind::PublicInstances),
    ("calldata", pb::ArtifactKind::EvmCalldata),
    ("proof-json", pb::ArtifactKind::ProofJson),
    ("vk", pb::ArtifactKind::VerifyingKey),
    ("verifier-sol", pb::ArtifactKind::SolidityVerifier),
    ("verifier-bin", pb::ArtifactKind::VerifierBytecode),
    ("verifier-json", pb::ArtifactKind::VerifierDeployment),
    ("settings", pb::ArtifactKind::Settings),
    ("srs", pb::ArtifactKind::Srs),
    ("quant", pb::ArtifactKind::QuantizedModel),
    ("onnx", pb::ArtifactKind::Onnx),
];

/// `zkinfer fetch`: ID is a job id (32 hex digits) or a model id (64).
/// An artifact through the streaming download: its content, checked against its hash.
pub async fn download(client: &mut Client, req: pb::GetArtifactRequest) -> Result<(Vec<u8>, String)> {
    let mut stream = client.download_artifact(req).await.map_err(status)?.into_inner();
    let (mut content, mut sha256, mut total) = (Vec::new(), String::new(), 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(status)?;
        if chunk.offset == 0 {
            (sha256, total) = (chunk.sha256, chunk.total_size);
            content.reserve(total as usize);
        }
        if chunk.offset != content.len() as u64 {
            bail!("the download skipped from byte {} to {}", content.len(), chunk.offset);
        }
        content.extend_from_slice(&chunk.data);
    }
    if content.len() as u64 != total || crate::hash::sha256_hex(&content) != sha256 {
        bail!("the download is incomplete or damaged ({} of {total} bytes)", content.len());
    }
    Ok((content, sha256))
}

pub fn fetch(c: &ClientArgs, id: &str, kind: &str, out: &Path) -> Result<()> {
    let Some((_, k)) = KIND_NAMES.iter().find(|(n, _)| *n == kind) else {
        let names: Vec<&str> = KIND_NAMES.iter().map(|(n, _)| *n).collect();
        bail!("--kind: `{kind}` is not one of {}", names.join(", "));
    };
    let owner =
        if id.len() == 64 { get_artifact_request::Owner::ModelId(id.into()) } else { get_artifact_request::Owner::JobId(id.into()) };
    runtime()?.block_on(async {
        let mut client = connect(c).await?;
        let (content, sha256) = download(&mut client, pb::GetArtifactRequest { owner: Some(owner), kind: *k as i32 }).await?;
        write_atomic(out, &content)?;
        eprintln!("{} bytes written to {} (sha256 {sha256})", content.len(), out.display());
        Ok(())
    })
}

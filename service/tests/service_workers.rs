//! API nodes and worker processes on one PostgreSQL job store and one artifact folder,
//! with the real binary: a worker killed with SIGKILL mid-proof loses its job to
//! another; a worker paused past its lease (SIGSTOP) cannot publish when it resumes; a
//! job that fits no worker's memory budget waits, saying why, until a larger worker
//! joins; bad store configuration is a clear startup error. PostgreSQL is a throwaway
//! cluster of this test process (`zkinfer_service::testing`).

mod service_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use service_support::*;
use tokio_stream::StreamExt;
use zkinfer_service::cli::service_cmds::{connect, Client, ClientArgs};
use zkinfer_service::config::TEST_PAUSE_ENV;
use zkinfer_service::server::pb;
use zkinfer_service::testing::{cluster, s3, PgCluster};

const BIN: &str = env!("CARGO_BIN_EXE_zkinfer");

/// A child process, killed when dropped; its stderr goes to a file.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.child.id().to_string()]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn signal(&self, sig: &str) {
        assert!(Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success());
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET of a path on the process's metrics port (`DATA/metrics.addr`).
    fn http_get(&self, path: &str) -> String {
        use std::io::{Read, Write};
        let dir = self.log.parent().unwrap();
        let t0 = Instant::now();
        let addr = loop {
            if let Ok(a) = std::fs::read_to_string(dir.join("metrics.addr")) {
                break a;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "the metrics port opens: {}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut s = std::net::TcpStream::connect(addr.trim()).unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    }
}

/// One deployment: a database, a shared artifact folder, nodes and workers.
struct Cluster {
    store: String,
    root: tempfile::TempDir,
    next: std::sync::atomic::AtomicU32,
    /// `--artifacts`; `None`: a folder of `root`.
    artifacts: Option<String>,
    env: Vec<(&'static str, String)>,
    max_attempts: &'static str,
}

impl Cluster {
    fn new() -> Cluster {
        Cluster::on(cluster().database())
    }

    fn on(store: String) -> Cluster {
        Cluster { store, root: tempfile::tempdir().unwrap(), next: Default::default(), artifacts: None, env: vec![], max_attempts: "3" }
    }

    /// With artifacts in a bucket of the local S3 server.
    fn with_s3(bucket: &str) -> Cluster {
        let server = s3();
        server.create_bucket(bucket);
        Cluster { artifacts: Some(format!("s3://{bucket}/zkinfer")), env: server.env(), ..Cluster::new() }
    }

    fn artifacts(&self) -> String {
        self.artifacts.clone().unwrap_or_else(|| format!("file://{}", self.root.path().join("artifacts").display()))
    }

    fn dir(&self, what: &str) -> PathBuf {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let d = self.root.path().join(format!("{what}-{n}"));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn spawn(&self, dir: &Path, args: &[&str], pause_ms: Option<u64>) -> Proc {
        let log = dir.join("stderr.log");
        let mut cmd = Command::new(BIN);
        cmd.args(args).args(["--store", &self.store, "--artifacts", &self.artifacts(), "--data"]).arg(dir);
        cmd.stdout(Stdio::null()).stderr(std::fs::File::create(&log).unwrap()).env("RUST_LOG", "info,halo2_base=error");
        cmd.envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        match pause_ms {
            Some(ms) => cmd.env(TEST_PAUSE_ENV, ms.to_string()),
            None => cmd.env_remove(TEST_PAUSE_ENV),
        };
        Proc { child: cmd.spawn().expect("zkinfer starts"), log }
    }

    /// An API-only node; its client.
    async fn api(&self) -> (Proc, Client) {
        let dir = self.dir("api");
        let p = self.spawn(&dir, &["serve", "--workers", "0", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"], None);
        let t0 = Instant::now();
        let addr = loop {
            if let Ok(a) = std::fs::read_to_string(dir.join("server.addr")) {
                break a;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "the API node starts: {}", p.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let c = connect(&ClientArgs { server: Some(format!("http://{addr}")), ..Default::default() }).await.unwrap();
        (p, c)
    }

    /// A worker process with a short lease.
    fn worker(&self, name: &str, budget: &str, pause_ms: Option<u64>) -> Proc {
        self.worker_in(&self.dir(name), name, budget, pause_ms)
    }

    fn worker_in(&self, dir: &Path, name: &str, budget: &str, pause_ms: Option<u64>) -> Proc {
        self.spawn(
            dir,
            &[
                "worker",
                "--name",
                name,
                "--memory-budget",
                budget,
                "--lease-seconds",
                "2",
                "--max-attempts",
                self.max_attempts,
                "--metrics-listen",
                "127.0.0.1:0",
            ],
            pause_ms,
        )
    }
}

async fn job(c: &mut Client, id: &str) -> pb::Job {
    c.get_job(pb::GetJobRequest { job_id: id.into() }).await.unwrap().into_inner()
}

/// Waits (through the API node's WatchJob) until the job is in `phase`.
async fn wait_phase(c: &mut Client, id: &str, phase: &str) {
    let mut events = c.watch_job(pb::WatchJobRequest { job_id: id.into() }).await.unwrap().into_inner();
    tokio::time::timeout(PATIENCE, async {
        while let Some(ev) = events.next().await {
            let ev = ev.unwrap();
            if ev.phase == phase {
                return;
            }
            assert_ne!(ev.state(), pb::JobState::Done, "the job ended before `{phase}`");
        }
        panic!("the stream ended before `{phase}`");
    })
    .await
    .unwrap_or_else(|_| panic!("the job reaches `{phase}`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_proof_loses_its_job_to_another() {
    let cl = Cluster::new();
    let (_api, mut c) = cl.api().await;
    let (_api2, mut c2) = cl.api().await;
    let w1 = cl.worker("w1", "64GiB", Some(60_000));
    let model_id = register_mlp(&mut c).await;
    let j = submit(&mut c, &model_id, mlp_sample(0.0), "k1").await.unwrap();
    // The second API node watches the job that a worker of the first one's store runs.
    wait_phase(&mut c2, &j.job_id, "proving").await;
    w1.kill9();
    let w2 = cl.worker("w2", "64GiB", None);
    let (_, done) = wait_job(&mut c2, &j.job_id).await;
    assert_eq!(done.state(), pb::JobState::Done, "{}", done.error);
    assert_eq!(done.attempts, 2, "the killed attempt and the one that finished");
    // Operators see it in the metrics: the queue by state on an API node, the worker's own work.
    let api_metrics = _api.http_get("/metrics");
    assert!(api_metrics.starts_with("HTTP/1.1 200") && api_metrics.contains("zkinfer_jobs{state=\"done\"} 2"), "{api_metrics}");
    let w2_metrics = w2.http_get("/metrics");
    for line in
        [format!("zkinfer_proofs_total{{model=\"{model_id}\"}} 1"), "zkinfer_leases_claimed_total 1".into(), "zkinfer_leases_held 0".into()]
    {
        assert!(w2_metrics.contains(&line), "{line} in {w2_metrics}");
    }
    assert!(w2_metrics.contains("zkinfer_job_phase_seconds_count{kind=\"prove\",phase=\"proving\"} 1"), "{w2_metrics}");
    assert!(w2.http_get("/healthz").ends_with("ok\n"));
    // Both API nodes answer for the same jobs; the proof verifies.
    let list = |c: &mut Client| {
        let mut c = c.clone();
        async move {
            let r = c.list_jobs(pb::ListJobsRequest { page_size: 100, ..Default::default() }).await.unwrap().into_inner();
            r.jobs.iter().map(|j| (j.id.clone(), j.state)).collect::<Vec<_>>()
        }
    };
    assert_eq!(list(&mut c).await, list(&mut c2).await);
    let v = Verifier::fetch(&mut c, &model_id).await;
    v.check_native(&mut c2, &j.job_id).await;
    assert!(v.call_evm(&mut c, &j.job_id, false).await.0, "the proof verifies on the EVM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_paused_past_its_lease_cannot_publish() {
    let cl = Cluster::new();
    let (_api, mut c) = cl.api().await;
    let zombie = cl.worker("zombie", "64GiB", Some(8_000));
    let model_id = register_mlp(&mut c).await;
    let j = submit(&mut c, &model_id, mlp_sample(0.02), "z").await.unwrap();
    wait_phase(&mut c, &j.job_id, "proving").await;
    zombie.signal("-STOP");
    let healthy = cl.worker("healthy", "64GiB", None);
    let (_, done) = wait_job(&mut c, &j.job_id).await;
    assert_eq!((done.state(), done.attempts), (pb::JobState::Done, 2), "{}", done.error);
    let before = job(&mut c, &j.job_id).await;
    let proof = artifact(&mut c, pb::get_artifact_request::Owner::JobId(j.job_id.clone()), pb::ArtifactKind::Proof).await;
    drop(healthy);
    // The zombie resumes, finishes its pause and its proof, and tries to publish.
    zombie.signal("-CONT");
    let t0 = Instant::now();
    while !zombie.log_text().contains("lost the job's lease") && !zombie.log_text().contains("lease lost") {
        assert!(t0.elapsed() < PATIENCE, "the zombie notices: {}", zombie.log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = job(&mut c, &j.job_id).await;
    assert_eq!(after, before, "nothing the zombie did reached the store");
    assert_eq!(artifact(&mut c, pb::get_artifact_request::Owner::JobId(j.job_id.clone()), pb::ArtifactKind::Proof).await, proof);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_no_worker_fits_waits_with_a_reason_until_a_larger_worker_joins() {
    let cl = Cluster::new();
    let (_api, mut c) = cl.api().await;
    let compiler = cl.worker("compiler", "64GiB", None);
    let model_id = register_mlp(&mut c).await;
    drop(compiler);
    let _small = cl.worker("small", "1MiB", None);
    let j = submit(&mut c, &model_id, mlp_sample(0.03), "big").await.unwrap();
    let t0 = Instant::now();
    let waiting = loop {
        let now = job(&mut c, &j.job_id).await;
        if now.phase.contains("waiting for a worker with more memory") {
            break now;
        }
        assert!(t0.elapsed() < PATIENCE, "the reason shows in GetJob: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(waiting.state(), pb::JobState::Queued);
    assert!(waiting.phase.contains("1.0 MiB"), "{}", waiting.phase);
    let _large = cl.worker("large", "64GiB", None);
    let (_, done) = wait_job(&mut c, &j.job_id).await;
    assert_eq!((done.state(), done.attempts), (pb::JobState::Done, 1), "{}", done.error);
}

#[test]
fn bad_store_configuration_is_a_clear_startup_error() {
    let pg = cluster();
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let wrong_password = pg.url("postgres").replace(zkinfer_service::testing::PASSWORD, "not-the-password");
    let cases: [(&[&str], String, &str); 4] = [
        (&["serve", "--listen", "127.0.0.1:0"], format!("postgres://u:secret@127.0.0.1:{port}/db"), "cannot connect to the job store"),
        (&["worker"], wrong_password, "password authentication failed"),
        (&["worker"], pg.url("missing_db"), "does not exist"),
        (&["worker"], format!("sqlite://{}", data.path().display()), "a worker needs a shared store"),
    ];
    for (args, store, expect) in cases {
        let t0 = Instant::now();
        let out = Command::new(BIN).args(args).args(["--store", &store, "--data"]).arg(data.path()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?} {store}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains("secret") && !err.contains("not-the-password") && !err.contains("panicked"), "{err}");
        assert!(t0.elapsed() < Duration::from_secs(30), "an error, not a hang");
    }
    let out = Command::new(BIN).args(["serve", "--workers", "0", "--data"]).arg(data.path()).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a shared --store"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_and_keys_travel_through_an_s3_bucket() {
    let cl = Cluster::with_s3("zkinfer-e2e");
    let (_api, mut c) = cl.api().await;
    let compiler = cl.worker("compiler", "64GiB", None);
    let model_id = register_mlp(&mut c).await;
    let first = submit(&mut c, &model_id, mlp_sample(0.0), "s3-1").await.unwrap();
    let (_, done) = wait_job(&mut c, &first.job_id).await;
    assert_eq!(done.state(), pb::JobState::Done, "{}", done.error);
    drop(compiler);
    // A fresh worker has no key: it fetches the proving key from the bucket and caches it.
    let fresh = cl.dir("fresh");
    let _w = cl.worker_in(&fresh, "fresh", "64GiB", None);
    let second = submit(&mut c, &model_id, mlp_sample(0.04), "s3-2").await.unwrap();
    let (_, done) = wait_job(&mut c, &second.job_id).await;
    assert_eq!(done.state(), pb::JobState::Done, "{}", done.error);
    let cached: Vec<_> = std::fs::read_dir(fresh.join("keys")).unwrap().flatten().filter(|e| e.path().is_dir()).collect();
    assert_eq!(cached.len(), 1, "the key is cached by its settings hash");
    let v = Verifier::fetch(&mut c, &model_id).await;
    v.check_native(&mut c, &first.job_id).await;
    v.check_native(&mut c, &second.job_id).await;
    // A bucket that does not exist is a startup error.
    let out = Command::new(BIN)
        .args(["worker", "--store", &cl.store, "--artifacts", "s3://no-such-bucket/p", "--data"])
        .arg(cl.dir("bad"))
        .envs(cl.env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(1) && err.contains("s3://no-such-bucket/p") && err.contains("cannot list the bucket"), "{err}");
}

/// Server reflection answers in both protocol versions (on an API-only node).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_answers_as_v1_and_v1alpha() {
    let cl = Cluster::new();
    let dir = cl.dir("api");
    let _api = cl.spawn(&dir, &["serve", "--workers", "0", "--listen", "127.0.0.1:0"], None);
    let t0 = Instant::now();
    let addr = loop {
        if let Ok(a) = std::fs::read_to_string(dir.join("server.addr")) {
            break a;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the API node starts");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    {
        use tonic_reflection::pb::v1::{
            server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
            server_reflection_response::MessageResponse, ServerReflectionRequest,
        };
        let req = ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
        let mut s =
            ServerReflectionClient::new(channel.clone()).server_reflection_info(tokio_stream::iter(vec![req])).await.unwrap().into_inner();
        let Some(MessageResponse::ListServicesResponse(l)) = s.next().await.unwrap().unwrap().message_response else {
            panic!("v1 lists services")
        };
        assert!(l.service.iter().any(|s| s.name == "zkinfer.v1.Prover"));
    }
    use tonic_reflection::pb::v1alpha::{
        server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
        server_reflection_response::MessageResponse, ServerReflectionRequest,
    };
    let req = ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
    let mut s = ServerReflectionClient::new(channel).server_reflection_info(tokio_stream::iter(vec![req])).await.unwrap().into_inner();
    let Some(MessageResponse::ListServicesResponse(l)) = s.next().await.unwrap().unwrap().message_response else {
        panic!("v1alpha lists services")
    };
    let names: Vec<_> = l.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"zkinfer.v1.Prover") && names.contains(&"grpc.health.v1.Health"), "{names:?}");
}

/// Submits with retries (the idempotency key makes a retry safe while the database restarts).
async fn submit_retrying(c: &mut Client, model_id: &str, input_json: &[u8], key: &str) -> String {
    for _ in 0..60 {
        let req = pb::SubmitJobRequest {
            model_id: model_id.into(),
            input: Some(pb::submit_job_request::Input::InputJson(input_json.to_vec())),
            idempotency_key: key.into(),
            priority: 0,
        };
        match c.submit_job(req).await {
            Ok(r) => return r.into_inner().job_id,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    panic!("submission {key} kept failing");
}

/// A job read with retries (an API node may answer UNAVAILABLE while the database restarts).
async fn job_retrying(c: &mut Client, id: &str) -> pb::Job {
    for _ in 0..60 {
        match c.get_job(pb::GetJobRequest { job_id: id.into() }).await {
            Ok(j) => return j.into_inner(),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    panic!("job {id} could not be read");
}

/// Two API nodes and three workers on one PostgreSQL and one artifact folder; 40 jobs
/// over 3 models from 4 parallel clients; workers killed with SIGKILL at random moments
/// and restarted, PostgreSQL restarted once. Every accepted job ends DONE, once; every
/// proof verifies natively and on the EVM; both API nodes list the same jobs; every
/// referenced artifact exists and matches its hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_kills_and_a_database_restart_lose_no_job() {
    let pg = std::sync::Arc::new(PgCluster::new_cluster());
    let mut cl = Cluster::on(pg.database());
    cl.max_attempts = "20";
    let cl = std::sync::Arc::new(cl);
    let (_a, mut ca) = cl.api().await;
    let (_b, mut cb) = cl.api().await;
    let dirs: Vec<PathBuf> = (0..3).map(|i| cl.dir(&format!("w{i}"))).collect();
    // Each proof pauses a little, so that the run lasts long enough to be disturbed.
    let workers: Vec<Option<Proc>> = (0..3).map(|i| Some(cl.worker_in(&dirs[i], &format!("w{i}-g0"), "64GiB", Some(300)))).collect();
    let workers = std::sync::Arc::new(std::sync::Mutex::new(workers));

    let names = ["1l_mlp", "1l_relu", "2l_relu_small"];
    let mut models = Vec::new();
    for name in names {
        let dir = corpus(name);
        let (onnx, input) = (std::fs::read(dir.join("network.onnx")).unwrap(), std::fs::read(dir.join("input.json")).unwrap());
        let r = ca
            .register_model(pb::RegisterModelRequest { onnx, calibration_json: input.clone(), options: None, ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        models.push((r.model_id, r.compile_job_id, input));
    }
    for (_, compile, _) in &models {
        let (_, j) = wait_job(&mut cb, compile).await;
        assert_eq!(j.state(), pb::JobState::Done, "compile: {}", j.error);
    }

    // Chaos: 5 SIGKILLs of random workers (each restarted at once) and one PostgreSQL restart.
    let chaos = {
        let (cl, workers, pg, dirs) = (cl.clone(), workers.clone(), pg.clone(), dirs.clone());
        let mut watcher = ca.clone();
        tokio::spawn(async move {
            let mut log = Vec::new();
            for round in 0..6u32 {
                tokio::time::sleep(Duration::from_millis(700 + rand::random::<u64>() % 600)).await;
                if round == 3 {
                    let pg = pg.clone();
                    tokio::task::spawn_blocking(move || pg.restart()).await.unwrap();
                    log.push("PostgreSQL restarted (immediate stop, start)".to_string());
                    continue;
                }
                let running = watcher
                    .list_jobs(pb::ListJobsRequest { page_size: 100, states: vec![pb::JobState::Running as i32], ..Default::default() })
                    .await
                    .map(|r| r.into_inner().jobs.iter().map(|j| j.phase.clone()).collect::<Vec<_>>())
                    .unwrap_or_default();
                let i = (rand::random::<u32>() % 3) as usize;
                let old = workers.lock().unwrap()[i].take().unwrap();
                old.kill9();
                let new = cl.worker_in(&dirs[i], &format!("w{i}-g{}", round + 1), "64GiB", Some(300));
                workers.lock().unwrap()[i] = Some(new);
                log.push(format!("SIGKILL w{i} while running jobs were in phases {running:?}; restarted"));
            }
            log
        })
    };

    // 40 jobs from 4 parallel clients, alternating API nodes and models.
    let mut clients = Vec::new();
    for t in 0..4usize {
        let (mut a, mut b, models) = (ca.clone(), cb.clone(), models.clone());
        clients.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..10usize {
                let i = t * 10 + n;
                let (model_id, _, input) = &models[i % 3];
                let c = if i % 2 == 0 { &mut a } else { &mut b };
                ids.push((i % 3, submit_retrying(c, model_id, input, &format!("chaos-{i}")).await));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            ids
        }));
    }
    let mut jobs = Vec::new();
    for c in clients {
        jobs.extend(c.await.unwrap());
    }
    let log = chaos.await.unwrap();
    eprintln!("chaos: {log:#?}");

    let t0 = Instant::now();
    let mut finals = Vec::new();
    for (m, id) in &jobs {
        let j = loop {
            let j = job_retrying(&mut cb, id).await;
            if matches!(j.state(), pb::JobState::Done | pb::JobState::Failed | pb::JobState::Cancelled) {
                break j;
            }
            assert!(t0.elapsed() < Duration::from_secs(300), "job {id} ends: {j:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(j.state(), pb::JobState::Done, "job {id}: {}", j.error);
        finals.push((*m, j));
    }
    let mut ids: Vec<_> = jobs.iter().map(|(_, id)| id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40, "40 distinct jobs");
    let retried = finals.iter().filter(|(_, j)| j.attempts > 1).count();
    eprintln!("chaos: {retried} of 40 jobs ran more than once; took {:?} after the last submission", t0.elapsed());

    // Both API nodes list the same jobs, each once.
    let list = |mut c: Client| async move {
        let r = c.list_jobs(pb::ListJobsRequest { page_size: 100, ..Default::default() }).await.unwrap().into_inner();
        let mut v: Vec<_> = r.jobs.iter().map(|j| (j.id.clone(), j.state, j.attempts)).collect();
        v.sort();
        v
    };
    let (la, lb) = (list(ca.clone()).await, list(cb.clone()).await);
    assert_eq!(la, lb);
    assert_eq!(la.len(), 43, "3 compile jobs and 40 proofs, no duplicates");

    // Every proof verifies natively and on the EVM; every referenced artifact is whole.
    let mut verifiers = Vec::new();
    for (model_id, _, _) in &models {
        verifiers.push(Verifier::fetch(&mut ca, model_id).await);
    }
    for (m, j) in &finals {
        verifiers[*m].check_native(&mut cb, &j.id).await;
        assert!(verifiers[*m].call_evm(&mut ca, &j.id, false).await.0, "job {} verifies on the EVM", j.id);
        for kind in j.artifacts() {
            artifact(&mut ca, pb::get_artifact_request::Owner::JobId(j.id.clone()), kind).await;
        }
    }
}

/// Artifacts larger than gRPC's default 4 MiB message limit reach a client with default
/// limits through the chunked download (here the SRS of a k = 16 circuit), where the
/// unary GetArtifact cannot; the `fetch` command downloads the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_artifacts_stream_in_chunks_under_default_message_limits() {
    let cl = Cluster::new();
    let (api, mut c) = cl.api().await;
    let _w = cl.worker("w", "64GiB", None);
    let (onnx, input) = mlp();
    let options = pb::CompileOptions { k: 16, ..Default::default() };
    let r = c
        .register_model(pb::RegisterModelRequest { onnx, calibration_json: input, options: Some(options), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let (_, j) = wait_job(&mut c, &r.compile_job_id).await;
    assert_eq!(j.state(), pb::JobState::Done, "{}", j.error);
    let addr = std::fs::read_to_string(api.log.parent().unwrap().join("server.addr")).unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut plain = zkinfer_service::server::ProverClient::new(channel);
    let req = || pb::GetArtifactRequest {
        owner: Some(pb::get_artifact_request::Owner::ModelId(r.model_id.clone())),
        kind: pb::ArtifactKind::Srs as i32,
    };
    let unary = plain.get_artifact(req()).await;
    assert!(unary.is_err(), "over the default limit, one message cannot carry the SRS");
    let mut stream = plain.download_artifact(req()).await.unwrap().into_inner();
    let (mut content, mut chunks, mut sha) = (Vec::new(), 0, String::new());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if chunk.offset == 0 {
            sha = chunk.sha256.clone();
        }
        assert_eq!(chunk.offset, content.len() as u64);
        content.extend_from_slice(&chunk.data);
        chunks += 1;
    }
    assert!(content.len() > 4 << 20 && chunks >= 5, "{} bytes in {chunks} chunks", content.len());
    assert_eq!(zkinfer_service::hash::sha256_hex(&content), sha);
    let out = cl.dir("fetched").join("srs.bin");
    let fetched = Command::new(BIN)
        .args(["fetch", &r.model_id, "--kind", "srs", "--out", out.to_str().unwrap(), "--server", &format!("http://{addr}")])
        .output()
        .unwrap();
    assert!(fetched.status.success(), "{}", String::from_utf8_lossy(&fetched.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), content);
}

/// Cancellation through an API node: a queued job ends at once; a running one is asked
/// through the store, and its worker stops at its next lease renewal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_queued_and_running_jobs_of_other_processes() {
    let cl = Cluster::new();
    let (_api, mut c) = cl.api().await;
    let w = cl.worker("w", "64GiB", Some(60_000));
    let model_id = register_mlp(&mut c).await;
    let running = submit(&mut c, &model_id, mlp_sample(0.0), "run").await.unwrap();
    wait_phase(&mut c, &running.job_id, "proving").await;
    let queued = submit(&mut c, &model_id, mlp_sample(0.01), "queued").await.unwrap();
    let q = c.cancel_job(pb::CancelJobRequest { job_id: queued.job_id.clone() }).await.unwrap().into_inner();
    assert_eq!(q.state(), pb::JobState::Cancelled);
    c.cancel_job(pb::CancelJobRequest { job_id: running.job_id.clone() }).await.unwrap();
    let (_, r) = wait_job(&mut c, &running.job_id).await;
    assert_eq!((r.state(), r.error.as_str()), (pb::JobState::Cancelled, "cancelled by request"));
    assert!(c.cancel_job(pb::CancelJobRequest { job_id: running.job_id.clone() }).await.is_err(), "it has ended");
    assert!(!w.log_text().contains("panicked"));
}

/// A job whose workers keep dying (SIGKILL in its proving phase, each time) fails after
/// `--max-attempts` (3 here) with that reason, instead of killing workers for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_killing_its_workers_fails_with_the_reason() {
    let cl = Cluster::new();
    let (_api, mut c) = cl.api().await;
    let compiler = cl.worker("compiler", "64GiB", None);
    let model_id = register_mlp(&mut c).await;
    drop(compiler);
    let j = submit(&mut c, &model_id, mlp_sample(0.05), "deadly").await.unwrap();
    for attempt in 1..=3 {
        let w = cl.worker(&format!("victim{attempt}"), "64GiB", Some(60_000));
        let t0 = Instant::now();
        loop {
            let now = job(&mut c, &j.job_id).await;
            if now.attempts == attempt && now.phase == "proving" {
                break;
            }
            assert!(t0.elapsed() < PATIENCE, "attempt {attempt} reaches proving: {now:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        w.kill9();
    }
    // The next worker finds the third lease expired: the job fails, it does not run a fourth time.
    let _last = cl.worker("last", "64GiB", None);
    let (_, failed) = wait_job(&mut c, &j.job_id).await;
    assert_eq!((failed.state(), failed.attempts), (pb::JobState::Failed, 3));
    assert!(failed.error.contains("stopped renewing the lease 3 times"), "{}", failed.error);
}

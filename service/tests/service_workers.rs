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
use zkinfer_service::testing::{cluster, s3};

const BIN: &str = env!("CARGO_BIN_EXE_zkinfer");

/// A child process, killed when dropped; its stderr goes to a file.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status();
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
}

/// One deployment: a database, a shared artifact folder, nodes and workers.
struct Cluster {
    store: String,
    root: tempfile::TempDir,
    next: std::sync::atomic::AtomicU32,
    /// `--artifacts`; `None`: a folder of `root`.
    artifacts: Option<String>,
    env: Vec<(&'static str, String)>,
}

impl Cluster {
    fn new() -> Cluster {
        Cluster { store: cluster().database(), root: tempfile::tempdir().unwrap(), next: Default::default(), artifacts: None, env: vec![] }
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
        let p = self.spawn(&dir, &["serve", "--workers", "0", "--listen", "127.0.0.1:0"], None);
        let t0 = Instant::now();
        let addr = loop {
            if let Ok(a) = std::fs::read_to_string(dir.join("server.addr")) {
                break a;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "the API node starts: {}", p.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let c = connect(&ClientArgs { server: Some(format!("http://{addr}")), api_key: None }).await.unwrap();
        (p, c)
    }

    /// A worker process with a short lease.
    fn worker(&self, name: &str, budget: &str, pause_ms: Option<u64>) -> Proc {
        self.worker_in(&self.dir(name), name, budget, pause_ms)
    }

    fn worker_in(&self, dir: &Path, name: &str, budget: &str, pause_ms: Option<u64>) -> Proc {
        self.spawn(dir, &["worker", "--name", name, "--memory-budget", budget, "--lease-seconds", "2", "--max-attempts", "3"], pause_ms)
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
    let _w2 = cl.worker("w2", "64GiB", None);
    let (_, done) = wait_job(&mut c2, &j.job_id).await;
    assert_eq!(done.state(), pb::JobState::Done, "{}", done.error);
    assert_eq!(done.attempts, 2, "the killed attempt and the one that finished");
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

//! Crash safety with the real binary: `zkinfer serve` is killed with SIGKILL while a
//! proof is in progress, restarted on the same data directory, and finishes every
//! accepted job exactly once; finished proofs are untouched.

mod service_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use service_support::*;
use tokio_stream::StreamExt;
use zkinfer_service::cli::service_cmds::{connect, Client, ClientArgs};
use zkinfer_service::config::TEST_PAUSE_ENV;
use zkinfer_service::server::pb::{self, get_artifact_request::Owner};

const BIN: &str = env!("CARGO_BIN_EXE_zkinfer");

/// Kills the server if a test assertion fails midway.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `zkinfer serve` on a free loopback port and connects to it.
async fn serve(data: &Path, pause_ms: Option<u64>) -> (Server, Client, String) {
    let addr_file = data.join("server.addr");
    let _ = std::fs::remove_file(&addr_file);
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--data"]).arg(data).args(["--listen", "127.0.0.1:0", "--workers", "1", "--log", "warn"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
    match pause_ms {
        Some(ms) => cmd.env(TEST_PAUSE_ENV, ms.to_string()),
        None => cmd.env_remove(TEST_PAUSE_ENV),
    };
    let child = Server(cmd.spawn().expect("zkinfer serve starts"));
    let t0 = Instant::now();
    let addr = loop {
        if let Ok(a) = std::fs::read_to_string(&addr_file) {
            break a;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the server writes its address");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let url = format!("http://{addr}");
    let client = connect(&ClientArgs { server: Some(url.clone()), ..Default::default() }).await.unwrap();
    (child, client, url)
}

fn cli(url: &str, args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).args(["--server", url]).output().unwrap();
    assert!(out.status.success(), "zkinfer {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_proving_then_restart_finishes_every_job_once() {
    let data = tempfile::tempdir().unwrap();
    let (mut server, mut c, url) = serve(data.path(), Some(1500)).await;

    // A model and a finished job before the crash.
    let model_id = register_mlp(&mut c).await;
    let before = submit(&mut c, &model_id, mlp_sample(0.0), "before").await.unwrap();
    let (_, done_before) = wait_job(&mut c, &before.job_id).await;
    assert_eq!(done_before.state(), pb::JobState::Done, "{}", done_before.error);
    let proof_before = artifact(&mut c, Owner::JobId(before.job_id.clone()), pb::ArtifactKind::Proof).await;

    // One job in its proving phase, one queued behind it: then SIGKILL.
    let proving = submit(&mut c, &model_id, mlp_sample(0.05), "proving").await.unwrap();
    let waiting = submit(&mut c, &model_id, mlp_sample(0.1), "waiting").await.unwrap();
    let mut events = c.watch_job(pb::WatchJobRequest { job_id: proving.job_id.clone() }).await.unwrap().into_inner();
    tokio::time::timeout(PATIENCE, async {
        while let Some(ev) = events.next().await {
            if ev.unwrap().phase == "proving" {
                return;
            }
        }
        panic!("the job ended before its proving phase");
    })
    .await
    .unwrap();
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    drop((events, c));

    // Restart on the same data directory, without the pause.
    let (_server, mut c, url2) = serve(data.path(), None).await;
    assert_ne!(url, url2, "a fresh process on a fresh port");
    let (_, p) = wait_job(&mut c, &proving.job_id).await;
    let (_, w) = wait_job(&mut c, &waiting.job_id).await;
    assert_eq!((p.state(), w.state()), (pb::JobState::Done, pb::JobState::Done), "{} {}", p.error, w.error);
    assert_eq!(p.attempts, 2, "the interrupted job ran again");
    assert_eq!(w.attempts, 1, "the queued job ran once");

    // Nothing lost, nothing duplicated, the finished proof untouched.
    let all =
        c.list_jobs(pb::ListJobsRequest { model_id: model_id.clone(), page_size: 100, ..Default::default() }).await.unwrap().into_inner();
    let mut ids: Vec<_> = all.jobs.iter().map(|j| j.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "the compile job and three prove jobs");
    assert!(all.jobs.iter().all(|j| j.state() == pb::JobState::Done));
    let again = submit(&mut c, &model_id, mlp_sample(0.05), "proving").await.unwrap();
    assert_eq!((again.job_id.as_str(), again.existing), (proving.job_id.as_str(), true));
    let before_now = c.get_job(pb::GetJobRequest { job_id: before.job_id.clone() }).await.unwrap().into_inner();
    assert_eq!(before_now.attempts, 1);
    assert_eq!(artifact(&mut c, Owner::JobId(before.job_id.clone()), pb::ArtifactKind::Proof).await, proof_before);

    let v = Verifier::fetch(&mut c, &model_id).await;
    for id in [&before.job_id, &proving.job_id, &waiting.job_id] {
        v.check_native(&mut c, id).await;
    }

    // The command-line client against the restarted server.
    let job: serde_json::Value = serde_json::from_str(&cli(&url2, &["job", &proving.job_id])).unwrap();
    assert_eq!(job["state"], "JOB_STATE_DONE");
    let proof_file = data.path().join("fetched-proof.json");
    cli(&url2, &["fetch", &proving.job_id, "--kind", "proof-json", "--out", proof_file.to_str().unwrap()]);
    let pf: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof_file).unwrap()).unwrap();
    assert_eq!(pf["settings_hash"].as_str().unwrap(), v.settings.settings_hash);
}

//! Many clients at once, and backpressure when the queue is full.

mod service_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use service_support::*;
use tonic::Code;
use zkinfer_service::server::pb;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_submissions_all_get_valid_proofs() {
    let ts = TestServer::start(|o| o.engine.workers = 2).await;
    let mut c = ts.client().await;
    let model_id = register_mlp(&mut c).await;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (url, model_id) = (ts.url(), model_id.clone());
        tasks.push(tokio::spawn(async move {
            // Each task is its own client with its own connection.
            let mut c = zkinfer_service::cli::service_cmds::connect(&zkinfer_service::cli::service_cmds::ClientArgs {
                server: Some(url),
                ..Default::default()
            })
            .await
            .unwrap();
            let sub = submit(&mut c, &model_id, mlp_sample(i as f64 * 0.01), &format!("parallel-{i}")).await.unwrap();
            let (_, job) = wait_job(&mut c, &sub.job_id).await;
            job
        }));
    }
    let mut jobs = Vec::new();
    for t in tasks {
        jobs.push(t.await.unwrap());
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let ids: HashSet<_> = jobs.iter().map(|j| j.id.clone()).collect();
    assert_eq!(ids.len(), 50, "50 distinct jobs");
    for j in &jobs {
        assert_eq!(j.state(), pb::JobState::Done, "job {}: {}", j.id, j.error);
    }
    let v = Verifier::fetch(&mut c, &model_id).await;
    let mut instance_sets = HashSet::new();
    for j in &jobs {
        let (instances, _) = v.check_native(&mut c, &j.id).await;
        instance_sets.insert(format!("{instances:?}"));
    }
    assert_eq!(instance_sets.len(), 50, "each proof is for its own input");
    eprintln!("50 jobs, 2 workers: {elapsed:.2} s, {:.0} jobs/min", 50.0 * 60.0 / elapsed);
    let listed = c
        .list_jobs(pb::ListJobsRequest {
            model_id: model_id.clone(),
            states: vec![pb::JobState::Done as i32],
            page_size: 500,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.jobs.len(), 51, "50 proofs and the compile job");
    ts.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_resource_exhausted() {
    let ts = TestServer::start(|o| {
        o.engine.max_queue = 3;
        o.engine.test_pause_before_prove = Some(Duration::from_secs(2));
    })
    .await;
    let mut c = ts.client().await;
    let model_id = register_mlp(&mut c).await;
    let mut accepted = Vec::new();
    let refused = loop {
        match submit(&mut c, &model_id, mlp_sample(accepted.len() as f64 * 0.01), "").await {
            Ok(r) => accepted.push(r.job_id),
            Err(e) => break e,
        }
        assert!(accepted.len() <= 4, "3 queued jobs and at most 1 running before the queue is full");
    };
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert!(refused.message().contains("queue is full"), "{}", refused.message());
    assert!(accepted.len() >= 3);
    // Refused work leaves no trace, and the server still answers.
    let all = c.list_jobs(pb::ListJobsRequest { model_id: model_id.clone(), ..Default::default() }).await.unwrap().into_inner();
    assert_eq!(all.jobs.len(), accepted.len() + 1);
    for id in &accepted {
        let _ = c.cancel_job(pb::CancelJobRequest { job_id: id.clone() }).await;
    }
    for id in &accepted {
        let (_, j) = wait_job(&mut c, id).await;
        assert_eq!(j.state(), pb::JobState::Cancelled);
    }
    // With the queue drained, submissions are accepted again.
    assert!(submit(&mut c, &model_id, mlp_sample(0.5), "").await.is_ok());
    ts.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_over_the_memory_budget_is_refused() {
    // 16 MiB: compiling fits (its reservation is capped at the budget), a proof of
    // 1l_mlp (about 65 MiB estimated) never can.
    let ts = TestServer::start(|o| o.engine.memory_budget = 16 << 20).await;
    let mut c = ts.client().await;
    let model_id = register_mlp(&mut c).await;
    let e = submit(&mut c, &model_id, mlp_sample(0.0), "").await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(e.message().contains("memory budget"), "{}", e.message());
    ts.server.shutdown().await.unwrap();
}

/// Figures for the service's closing note (run with `--ignored --nocapture`): latency
/// to the float answer and to the proof on an idle server, and throughput with 1 and 2
/// workers on 1l_mlp.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn throughput_and_latency_report() {
    for workers in [1, 2] {
        let ts = TestServer::start(|o| o.engine.workers = workers).await;
        let mut c = ts.client().await;
        let model_id = register_mlp(&mut c).await;
        let (mut to_float, mut to_proof) = (Vec::new(), Vec::new());
        for i in 0..20 {
            let t0 = Instant::now();
            let sub = submit(&mut c, &model_id, mlp_sample(i as f64 * 0.01), "").await.unwrap();
            to_float.push(t0.elapsed().as_secs_f64() * 1e3);
            let (_, job) = wait_job(&mut c, &sub.job_id).await;
            assert_eq!(job.state(), pb::JobState::Done);
            to_proof.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            v[v.len() / 2]
        };
        let n = 120;
        let t0 = Instant::now();
        let mut ids = Vec::new();
        for i in 0..n {
            ids.push(submit(&mut c, &model_id, mlp_sample(0.2 + i as f64 * 0.001), "").await.unwrap().job_id);
        }
        for id in &ids {
            let (_, job) = wait_job(&mut c, id).await;
            assert_eq!(job.state(), pb::JobState::Done);
        }
        let secs = t0.elapsed().as_secs_f64();
        eprintln!(
            "workers {workers}: submit->float median {:.1} ms, submit->proof median {:.1} ms (idle server), {n} jobs in {secs:.2} s = {:.0} jobs/min",
            median(&mut to_float),
            median(&mut to_proof),
            n as f64 * 60.0 / secs
        );
        ts.server.shutdown().await.unwrap();
    }
}

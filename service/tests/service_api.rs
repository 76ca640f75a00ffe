//! The gRPC API end to end on an in-process server: register, submit, watch, fetch,
//! verify natively and in the EVM; health and reflection; bad requests and their
//! status codes; cancellation.

mod service_support;

use std::time::Duration;

use service_support::*;
use tokio_stream::StreamExt;
use tonic::Code;
use zkinfer_models::eval::{eval, shape_inputs};
use zkinfer_models::onnx::load_model;
use zkinfer_models::prepare::hints_for;
use zkinfer_service::server::pb::{self, get_artifact_request::Owner};

/// zkinfer's f64 evaluation of 1l_mlp on a sample: the reference for the float answer.
fn f64_reference(sample: &pb::Sample) -> Vec<f64> {
    let (onnx, _) = mlp();
    let flat: Vec<Vec<f64>> = sample.inputs.iter().map(|t| t.data.clone()).collect();
    let graph = load_model(&onnx, &hints_for(std::slice::from_ref(&flat), None)).unwrap();
    eval(&graph, &shape_inputs(&graph, &flat).unwrap()).unwrap().remove(0).data
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol, "{what}: {a:?} vs {b:?}");
    }
}

async fn health(ts: &TestServer) -> i32 {
    let channel = tonic::transport::Channel::from_shared(ts.url()).unwrap().connect().await.unwrap();
    let mut h = tonic_health::pb::health_client::HealthClient::new(channel);
    let req = tonic_health::pb::HealthCheckRequest { service: "zkinfer.v1.Prover".into() };
    h.check(req).await.unwrap().into_inner().status
}

async fn reflected_services(ts: &TestServer) -> Vec<String> {
    use tonic_reflection::pb::v1::{
        server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
        server_reflection_response::MessageResponse, ServerReflectionRequest,
    };
    let channel = tonic::transport::Channel::from_shared(ts.url()).unwrap().connect().await.unwrap();
    let mut r = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
    let mut stream = r.server_reflection_info(tokio_stream::iter(vec![req])).await.unwrap().into_inner();
    match stream.next().await.unwrap().unwrap().message_response {
        Some(MessageResponse::ListServicesResponse(l)) => l.service.into_iter().map(|s| s.name).collect(),
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_submit_watch_fetch_and_verify() {
    let ts = TestServer::start(|_| {}).await;
    assert_eq!(health(&ts).await, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
    let services = reflected_services(&ts).await;
    for s in ["zkinfer.v1.Prover", "grpc.health.v1.Health"] {
        assert!(services.iter().any(|n| n == s), "reflection lists {s}: {services:?}");
    }

    let mut c = ts.client().await;
    let (onnx, input) = mlp();
    let first = c
        .register_model(pb::RegisterModelRequest {
            onnx: onnx.clone(),
            calibration_json: input.clone(),
            options: None,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!first.existing);
    let again = c
        .register_model(pb::RegisterModelRequest { onnx, calibration_json: input, options: None, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (again.model_id.as_str(), again.compile_job_id.as_str(), again.existing),
        (first.model_id.as_str(), first.compile_job_id.as_str(), true)
    );
    let (_, compile) = wait_job(&mut c, &first.compile_job_id).await;
    assert_eq!(compile.state(), pb::JobState::Done, "{}", compile.error);
    let model = c.get_model(pb::GetModelRequest { model_id: first.model_id.clone() }).await.unwrap().into_inner();
    assert_eq!(model.state(), pb::ModelState::Ready);
    assert!(model.k >= 6 && !model.settings_hash.is_empty());
    assert_eq!(model.input_shapes[0].shape, vec![1, 3]);

    let sample = mlp_sample(0.0);
    let sub = submit(&mut c, &model.id, sample.clone(), "key-1").await.unwrap();
    assert!(!sub.existing);
    assert!(matches!(sub.float_source(), pb::FloatSource::OnnxRuntime | pb::FloatSource::F64Evaluator));
    assert_eq!(sub.float_outputs[0].shape, vec![1, 4]);
    assert_close(&sub.float_outputs[0].data, &f64_reference(&sample), 1e-5, "float answer");
    let same = submit(&mut c, &model.id, sample.clone(), "key-1").await.unwrap();
    assert_eq!((same.job_id.as_str(), same.existing), (sub.job_id.as_str(), true));
    let reused = submit(&mut c, &model.id, mlp_sample(0.1), "key-1").await.unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
    assert!(reused.message().contains("idempotency_key"), "{}", reused.message());

    let (events, job) = wait_job(&mut c, &sub.job_id).await;
    assert_eq!(job.state(), pb::JobState::Done, "{}", job.error);
    assert_eq!(events.last().unwrap().state(), pb::JobState::Done);
    let progress: Vec<u32> = events.iter().map(|e| e.progress_percent).collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "progress never goes back: {progress:?}");
    assert_eq!(job.attempts, 1);
    assert_close(&job.proven_outputs[0].data, &sub.float_outputs[0].data, 1e-3, "proven vs float outputs");
    assert!(job.artifacts.len() >= 4);

    let v = Verifier::fetch(&mut c, &model.id).await;
    v.check_native(&mut c, &job.id).await;
    let (accepted, gas) = v.call_evm(&mut c, &job.id, false).await;
    assert!(accepted && gas > 21_000, "EVM verification (gas {gas})");
    assert!(!v.call_evm(&mut c, &job.id, true).await.0, "a tampered proof is rejected on the EVM");
    let sol = artifact(&mut c, Owner::JobId(job.id.clone()), pb::ArtifactKind::SolidityVerifier).await;
    assert!(String::from_utf8(sol).unwrap().contains("contract"));
    let proof_json: serde_json::Value =
        serde_json::from_slice(&artifact(&mut c, Owner::JobId(job.id.clone()), pb::ArtifactKind::ProofJson).await).unwrap();
    assert_eq!(proof_json["settings_hash"], model.settings_hash.as_str());

    let list =
        |states: Vec<i32>, page_size, page_token: String| pb::ListJobsRequest { states, model_id: model.id.clone(), page_size, page_token };
    let all = c.list_jobs(list(vec![], 0, String::new())).await.unwrap().into_inner();
    assert_eq!(all.jobs.len(), 2, "the compile job and one prove job");
    let page1 = c.list_jobs(list(vec![], 1, String::new())).await.unwrap().into_inner();
    assert_eq!(page1.jobs[0].id, job.id, "newest first");
    let page2 = c.list_jobs(list(vec![], 1, page1.next_page_token)).await.unwrap().into_inner();
    assert_eq!(page2.jobs[0].id, compile.id);
    let queued = c.list_jobs(list(vec![pb::JobState::Queued as i32], 0, String::new())).await.unwrap().into_inner();
    assert!(queued.jobs.is_empty());

    let done = c.cancel_job(pb::CancelJobRequest { job_id: job.id.clone() }).await.unwrap_err();
    assert_eq!(done.code(), Code::FailedPrecondition);
    ts.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_their_status_codes_and_the_server_keeps_serving() {
    let ts = TestServer::start(|o| with_keys(o, &["good-key"])).await;
    let (onnx, input) = mlp();
    let register =
        |onnx: Vec<u8>, cal: Vec<u8>, options| pb::RegisterModelRequest { onnx, calibration_json: cal, options, ..Default::default() };

    let mut anonymous = ts.client().await;
    let e = anonymous.register_model(register(onnx.clone(), input.clone(), None)).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let mut wrong = ts.client_with_key(Some("bad-key")).await;
    assert_eq!(wrong.get_job(pb::GetJobRequest { job_id: "x".into() }).await.unwrap_err().code(), Code::Unauthenticated);
    assert_eq!(health(&ts).await, tonic_health::pb::health_check_response::ServingStatus::Serving as i32, "health needs no key");

    let mut c = ts.client_with_key(Some("good-key")).await;
    let e = c.register_model(register(b"definitely not onnx".to_vec(), input.clone(), None)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("onnx:"), "{}", e.message());
    let e = c.register_model(register(onnx.clone(), b"{\"input_data\": 3}".to_vec(), None)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("calibration_json"), "{}", e.message());
    let e = c.register_model(register(onnx.clone(), b"{\"input_data\": [[1.0, 2.0]]}".to_vec(), None)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
    // An option the backend cannot honour is refused, naming it (never ignored).
    let groth16_k = pb::CompileOptions { backend: pb::compile_options::Backend::Groth16 as i32, k: 10, ..Default::default() };
    let e = c.register_model(register(onnx.clone(), input.clone(), Some(groth16_k))).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("options.k") && e.message().contains("halo2"), "{}", e.message());
    let big = pb::CompileOptions { max_k: 40, ..Default::default() };
    let e = c.register_model(register(onnx.clone(), input.clone(), Some(big))).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("options.max_k"), "{}", e.message());

    let model_id = register_mlp(&mut c).await;
    let short = pb::Sample { inputs: vec![pb::Tensor { shape: vec![], data: vec![1.0, 2.0] }] };
    let e = submit(&mut c, &model_id, short, "").await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("sample:") && e.message().contains("expected 3 values"), "{}", e.message());
    let two = pb::Sample { inputs: vec![mlp_sample(0.0).inputs[0].clone(), mlp_sample(0.0).inputs[0].clone()] };
    let e = submit(&mut c, &model_id, two, "").await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("1 input(s), got 2"), "{}", e.message());
    let nan = pb::Sample { inputs: vec![pb::Tensor { shape: vec![1, 3], data: vec![1.0, f64::NAN, 0.5] }] };
    assert_eq!(submit(&mut c, &model_id, nan, "").await.unwrap_err().code(), Code::InvalidArgument);
    let bad_shape = pb::Sample { inputs: vec![pb::Tensor { shape: vec![2, 3], data: vec![1.0, 2.0, 3.0] }] };
    let e = submit(&mut c, &model_id, bad_shape, "").await.unwrap_err();
    assert!(e.message().starts_with("sample.inputs[0]"), "{}", e.message());
    let json = pb::SubmitJobRequest {
        model_id: model_id.clone(),
        input: Some(pb::submit_job_request::Input::InputJson(b"[1,2".to_vec())),
        ..Default::default()
    };
    let e = c.submit_job(json).await.unwrap_err();
    assert!(e.code() == Code::InvalidArgument && e.message().starts_with("input_json"), "{}", e.message());

    let unknown = "0".repeat(64);
    assert_eq!(submit(&mut c, &unknown, mlp_sample(0.0), "").await.unwrap_err().code(), Code::NotFound);
    assert_eq!(c.get_model(pb::GetModelRequest { model_id: unknown.clone() }).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(c.get_job(pb::GetJobRequest { job_id: "nope".into() }).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(c.cancel_job(pb::CancelJobRequest { job_id: "nope".into() }).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(c.watch_job(pb::WatchJobRequest { job_id: "nope".into() }).await.unwrap_err().code(), Code::NotFound);
    let art = |owner, kind: pb::ArtifactKind| pb::GetArtifactRequest { owner: Some(owner), kind: kind as i32 };
    assert_eq!(c.get_artifact(art(Owner::JobId("nope".into()), pb::ArtifactKind::Proof)).await.unwrap_err().code(), Code::NotFound);
    let e = c.get_artifact(art(Owner::ModelId(model_id.clone()), pb::ArtifactKind::Proof)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "a proof belongs to a job");

    // After all of that, the server still proves.
    let sub = submit(&mut c, &model_id, mlp_sample(0.01), "").await.unwrap();
    let (_, job) = wait_job(&mut c, &sub.job_id).await;
    assert_eq!(job.state(), pb::JobState::Done, "{}", job.error);
    ts.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_queued_and_running_jobs() {
    let ts = TestServer::start(|o| o.engine.test_pause_before_prove = Some(Duration::from_secs(3))).await;
    let mut c = ts.client().await;
    let model_id = register_mlp(&mut c).await;
    let running = submit(&mut c, &model_id, mlp_sample(0.0), "").await.unwrap();
    let queued = submit(&mut c, &model_id, mlp_sample(0.02), "").await.unwrap();

    let q = c.cancel_job(pb::CancelJobRequest { job_id: queued.job_id.clone() }).await.unwrap().into_inner();
    assert_eq!(q.state(), pb::JobState::Cancelled, "a queued job is cancelled at once");

    // Wait until the first job is in its proving phase, then cancel it.
    let mut stream = c.watch_job(pb::WatchJobRequest { job_id: running.job_id.clone() }).await.unwrap().into_inner();
    while let Some(ev) = stream.next().await {
        if ev.unwrap().phase == "proving" {
            break;
        }
    }
    c.cancel_job(pb::CancelJobRequest { job_id: running.job_id.clone() }).await.unwrap();
    let (events, job) = wait_job(&mut c, &running.job_id).await;
    assert_eq!(job.state(), pb::JobState::Cancelled, "{events:?}");
    assert!(job.artifacts.is_empty(), "a cancelled job publishes no proof");
    ts.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_outputs_stay_out_of_the_public_instances() {
    let ts = TestServer::start(|_| {}).await;
    let mut c = ts.client().await;
    let (onnx, input) = mlp();
    let mut models = Vec::new();
    for out in [pb::Visibility::Public, pb::Visibility::Private] {
        let options = pb::CompileOptions { output_visibility: out as i32, ..Default::default() };
        let r = c
            .register_model(pb::RegisterModelRequest {
                onnx: onnx.clone(),
                calibration_json: input.clone(),
                options: Some(options),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let (_, compile) = wait_job(&mut c, &r.compile_job_id).await;
        assert_eq!(compile.state(), pb::JobState::Done, "{}", compile.error);
        models.push(r.model_id);
    }
    assert_ne!(models[0], models[1], "visibility is part of the model id");
    let private = c.get_model(pb::GetModelRequest { model_id: models[1].clone() }).await.unwrap().into_inner();
    assert_eq!(private.options.unwrap().output_visibility(), pb::Visibility::Private);

    let mut instance_sets = Vec::new();
    for (i, model_id) in models.iter().enumerate() {
        let sub = submit(&mut c, model_id, mlp_sample(0.0), "").await.unwrap();
        let (_, job) = wait_job(&mut c, &sub.job_id).await;
        assert_eq!(job.state(), pb::JobState::Done, "{}", job.error);
        assert_eq!(job.proven_outputs.is_empty(), i == 1, "only public outputs are reported as proven");
        let v = Verifier::fetch(&mut c, model_id).await;
        let (instances, _) = v.check_native(&mut c, &job.id).await;
        assert!(v.call_evm(&mut c, &job.id, false).await.0);
        instance_sets.push(instances);
    }
    // Values are packed several to an instance: without the outputs the packing differs.
    assert_ne!(instance_sets[0], instance_sets[1], "private outputs are not in the instances");
    ts.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_inputs_and_params_over_grpc() {
    let ts = TestServer::start(|_| {}).await;
    let mut c = ts.client().await;
    let (onnx, input) = mlp();
    let options = pb::CompileOptions {
        input_visibility: pb::Visibility::Hashed as i32,
        param_visibility: pb::ParamVisibility::Hashed as i32,
        scale: Some(7),
        param_scale: Some(7),
        ..Default::default()
    };
    let r = c
        .register_model(pb::RegisterModelRequest { onnx, calibration_json: input, options: Some(options), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let (_, job) = wait_job(&mut c, &r.compile_job_id).await;
    assert_eq!(job.state(), pb::JobState::Done, "compile job: {}", job.error);
    let m = c.get_model(pb::GetModelRequest { model_id: r.model_id.clone() }).await.unwrap().into_inner();
    let o = m.options.unwrap();
    assert_eq!((o.input_visibility(), o.param_visibility(), o.scale), (pb::Visibility::Hashed, pb::ParamVisibility::Hashed, Some(7)));

    let sample = mlp_sample(0.0);
    let job_id = submit(&mut c, &r.model_id, sample.clone(), "").await.unwrap().job_id;
    let (_, job) = wait_job(&mut c, &job_id).await;
    assert_eq!(job.state(), pb::JobState::Done, "prove job: {}", job.error);
    let v = Verifier::fetch(&mut c, &r.model_id).await;
    let (instances, _) = v.check_native(&mut c, &job_id).await;
    let quant: zkinfer_models::QuantGraph =
        serde_json::from_slice(&artifact(&mut c, Owner::ModelId(r.model_id.clone()), pb::ArtifactKind::QuantizedModel).await).unwrap();
    let flat: Vec<Vec<f64>> = sample.inputs.iter().map(|t| t.data.clone()).collect();
    let qin = zkinfer_models::interp::quantize_inputs(&quant, &flat).unwrap();
    let input_hash = zkinfer_circuits::hash::hash_packed(&qin.iter().flatten().map(|v| *v as i128).collect::<Vec<_>>(), quant.bits);
    assert_eq!(instances[0], input_hash, "instance 0: input hash");
    assert_eq!(instances[1], zkinfer_prover::statement::param_hash(&quant), "instance 1: param hash");
    let (ok, _) = v.call_evm(&mut c, &job_id, false).await;
    assert!(ok, "the EVM verifier accepts the job's proof");
    let (ok, _) = v.call_evm(&mut c, &job_id, true).await;
    assert!(!ok, "the EVM verifier rejects a tampered proof");
    ts.server.shutdown().await.unwrap();
}

//! Tenant isolation over gRPC: two tenants and an admin against every RPC, for own,
//! shared and other tenants' models and jobs (on SQLite and on PostgreSQL); a model with
//! hashed parameters and inputs and private outputs whose weights, raw input and outputs
//! reach nobody else; the
//! per-tenant queue limit.
//!
//! `cargo test -p zkinfer-service --test service_tenants -- --nocapture` prints the matrix.

mod service_support;

use std::time::Duration;

use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use prost::Message;
use service_support::*;
use tokio_stream::StreamExt;
use tonic::Code;
use zkinfer_service::cli::service_cmds::Client;
use zkinfer_service::proof_file::fr_to_hex;
use zkinfer_service::server::pb::{self, get_artifact_request::Owner};
use zkinfer_service::server::{ApiKeys, Caller, Role, ServerOptions};
use zkinfer_service::store::StoreUrl;

/// The tenants: `alice` and `bob` (and `carol`, a bystander) are users, `ops` an admin.
fn tenants(opts: &mut ServerOptions) {
    let key = |k: &str, tenant: &str, role| (k.to_string(), Caller { tenant: tenant.into(), role });
    opts.api_keys = ApiKeys::from_tenants(&[
        key("k-alice", "alice", Role::User),
        key("k-bob", "bob", Role::User),
        key("k-carol", "carol", Role::User),
        key("k-ops", "ops", Role::Admin),
    ]);
}

const MODEL_KINDS: [pb::ArtifactKind; 8] = [
    pb::ArtifactKind::VerifyingKey,
    pb::ArtifactKind::SolidityVerifier,
    pb::ArtifactKind::VerifierBytecode,
    pb::ArtifactKind::VerifierDeployment,
    pb::ArtifactKind::Settings,
    pb::ArtifactKind::Srs,
    pb::ArtifactKind::QuantizedModel,
    pb::ArtifactKind::Onnx,
];

const JOB_KINDS: [pb::ArtifactKind; 4] =
    [pb::ArtifactKind::Proof, pb::ArtifactKind::PublicInstances, pb::ArtifactKind::EvmCalldata, pb::ArtifactKind::ProofJson];

/// A call of the matrix.
#[derive(Clone, Copy, Debug)]
enum Rpc {
    GetModel,
    SubmitJob,
    ListJobsOfModel,
    SetModelSharing,
    GetJob,
    WatchJob,
    CancelJob,
    GetArtifact(pb::ArtifactKind),
    DownloadArtifact(pb::ArtifactKind),
}

impl Rpc {
    fn label(self) -> String {
        match self {
            Rpc::GetModel => "GetModel".into(),
            Rpc::SubmitJob => "SubmitJob".into(),
            Rpc::ListJobsOfModel => "ListJobs (model_id filter)".into(),
            Rpc::SetModelSharing => "SetModelSharing".into(),
            Rpc::GetJob => "GetJob".into(),
            Rpc::WatchJob => "WatchJob".into(),
            Rpc::CancelJob => "CancelJob (a finished job)".into(),
            Rpc::GetArtifact(k) => format!("GetArtifact {}", k.as_str_name().trim_start_matches("ARTIFACT_KIND_")),
            Rpc::DownloadArtifact(k) => format!("DownloadArtifact {}", k.as_str_name().trim_start_matches("ARTIFACT_KIND_")),
        }
    }

    /// Whether the call names a job (else a model).
    fn of_job(self) -> bool {
        match self {
            Rpc::GetJob | Rpc::WatchJob | Rpc::CancelJob => true,
            Rpc::GetArtifact(k) | Rpc::DownloadArtifact(k) => JOB_KINDS.contains(&k),
            _ => false,
        }
    }
}

/// Calls `rpc` on object `id`: its status, and every byte of the answer.
async fn call(c: &mut Client, rpc: Rpc, id: &str) -> Result<Vec<u8>, tonic::Status> {
    let artifact_req = |kind: pb::ArtifactKind| pb::GetArtifactRequest {
        owner: Some(if JOB_KINDS.contains(&kind) { Owner::JobId(id.into()) } else { Owner::ModelId(id.into()) }),
        kind: kind as i32,
    };
    match rpc {
        Rpc::GetModel => c.get_model(pb::GetModelRequest { model_id: id.into() }).await.map(|r| r.into_inner().encode_to_vec()),
        Rpc::SubmitJob => submit(c, id, mlp_sample(0.01), "").await.map(|r| r.encode_to_vec()),
        Rpc::ListJobsOfModel => {
            c.list_jobs(pb::ListJobsRequest { model_id: id.into(), ..Default::default() }).await.map(|r| r.into_inner().encode_to_vec())
        }
        Rpc::SetModelSharing => {
            // The state it is in already: alice's first model is not shared.
            let req = pb::SetModelSharingRequest { model_id: id.into(), shared: false, share_weights: false };
            c.set_model_sharing(req).await.map(|r| r.into_inner().encode_to_vec())
        }
        Rpc::GetJob => c.get_job(pb::GetJobRequest { job_id: id.into() }).await.map(|r| r.into_inner().encode_to_vec()),
        Rpc::WatchJob => {
            let mut stream = c.watch_job(pb::WatchJobRequest { job_id: id.into() }).await?.into_inner();
            let mut out = Vec::new();
            while let Some(ev) = stream.next().await {
                out.extend(ev?.encode_to_vec());
            }
            Ok(out)
        }
        Rpc::CancelJob => c.cancel_job(pb::CancelJobRequest { job_id: id.into() }).await.map(|r| r.into_inner().encode_to_vec()),
        Rpc::GetArtifact(kind) => c.get_artifact(artifact_req(kind)).await.map(|r| r.into_inner().encode_to_vec()),
        Rpc::DownloadArtifact(kind) => {
            let mut stream = c.download_artifact(artifact_req(kind)).await?.into_inner();
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                out.extend(chunk?.encode_to_vec());
            }
            Ok(out)
        }
    }
}

fn code_name(code: Code) -> String {
    let mut out = String::new();
    for (i, ch) in format!("{code:?}").chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

/// An id no model or job has.
const UNKNOWN: &str = "0123456789abcdef0123456789abcdef";

/// Checks one cell: the status, and that a NOT_FOUND says exactly what an unknown id gets.
async fn cell(c: &mut Client, rpc: Rpc, id: &str, expected: Code, what: &str) -> String {
    let got = call(c, rpc, id).await;
    let code = got.as_ref().map_or_else(|s| s.code(), |_| Code::Ok);
    assert_eq!(code, expected, "{} {what}: {:?}", rpc.label(), got.err());
    if let Err(s) = &got {
        if s.code() == Code::NotFound {
            let unknown = call(c, rpc, UNKNOWN).await.expect_err("an unknown id");
            assert_eq!(
                s.message().replace(id, "<id>"),
                unknown.message().replace(UNKNOWN, "<id>"),
                "{} {what}: another tenant's object is refused as an unknown id is",
                rpc.label()
            );
        }
    }
    code_name(code)
}

async fn register(c: &mut Client, options: Option<pb::CompileOptions>, shared: bool) -> String {
    let (onnx, input) = mlp();
    let r = c
        .register_model(pb::RegisterModelRequest { onnx, calibration_json: input, options, shared, share_weights: false })
        .await
        .unwrap()
        .into_inner();
    let (_, job) = wait_job(c, &r.compile_job_id).await;
    assert_eq!(job.state(), pb::JobState::Done, "compile job: {}", job.error);
    r.model_id
}

async fn prove(c: &mut Client, model_id: &str, sample: pb::Sample) -> String {
    let id = submit(c, model_id, sample, "").await.unwrap().job_id;
    let (_, job) = wait_job(c, &id).await;
    assert_eq!(job.state(), pb::JobState::Done, "prove job: {}", job.error);
    id
}

async fn job_ids(c: &mut Client) -> Vec<String> {
    c.list_jobs(pb::ListJobsRequest { page_size: 500, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .jobs
        .into_iter()
        .map(|j| j.id)
        .collect()
}

/// The matrix on one server; returns its rows as markdown.
async fn matrix(ts: &TestServer) -> Vec<String> {
    let mut alice = ts.client_with_key(Some("k-alice")).await;
    let mut bob = ts.client_with_key(Some("k-bob")).await;
    let mut ops = ts.client_with_key(Some("k-ops")).await;

    // alice owns `private` (not shared) and `shared` (shared: not its weights).
    let private = register(&mut alice, None, false).await;
    let shared = register(&mut alice, Some(pb::CompileOptions { scale: Some(7), ..Default::default() }), true).await;
    let alices_job = prove(&mut alice, &private, mlp_sample(0.0)).await;
    let bobs_job = prove(&mut bob, &shared, mlp_sample(0.02)).await;

    use Code::*;
    // Columns: own (alice: her model / job), shared (bob: alice's shared model / his job on it),
    // other (bob: alice's private model / her job), admin (ops: alice's private model / her job),
    // model owner (alice: bob's job on her shared model; job calls only).
    let mut rows: Vec<(Rpc, [Code; 4], Option<Code>)> = vec![
        (Rpc::GetModel, [Ok, Ok, NotFound, Ok], None),
        (Rpc::ListJobsOfModel, [Ok, Ok, NotFound, Ok], None),
        (Rpc::SubmitJob, [Ok, Ok, NotFound, Ok], None),
        (Rpc::SetModelSharing, [Ok, PermissionDenied, NotFound, PermissionDenied], None),
        (Rpc::GetJob, [Ok, Ok, NotFound, Ok], Some(NotFound)),
        (Rpc::WatchJob, [Ok, Ok, NotFound, Ok], Some(NotFound)),
        (Rpc::CancelJob, [FailedPrecondition, FailedPrecondition, NotFound, FailedPrecondition], Some(NotFound)),
    ];
    for kind in JOB_KINDS {
        rows.push((Rpc::GetArtifact(kind), [Ok, Ok, NotFound, Ok], Some(NotFound)));
        rows.push((Rpc::DownloadArtifact(kind), [Ok, Ok, NotFound, Ok], Some(NotFound)));
    }
    for kind in MODEL_KINDS {
        let weights = matches!(kind, pb::ArtifactKind::QuantizedModel | pb::ArtifactKind::Onnx);
        let expect = if weights { [Ok, PermissionDenied, NotFound, PermissionDenied] } else { [Ok, Ok, NotFound, Ok] };
        rows.push((Rpc::GetArtifact(kind), expect, None));
        rows.push((Rpc::DownloadArtifact(kind), expect, None));
    }

    let mut table = Vec::new();
    for (rpc, expect, owner_of_model) in rows {
        let (own, sh, other) = if rpc.of_job() { (&alices_job, &bobs_job, &alices_job) } else { (&private, &shared, &private) };
        let mut cells = vec![
            cell(&mut alice, rpc, own, expect[0], "own").await,
            cell(&mut bob, rpc, sh, expect[1], "shared").await,
            cell(&mut bob, rpc, other, expect[2], "other").await,
            cell(&mut ops, rpc, own, expect[3], "admin").await,
        ];
        cells.push(match owner_of_model {
            Some(code) => cell(&mut alice, rpc, &bobs_job, code, "model owner, other tenant's job").await,
            None => "-".into(),
        });
        table.push(format!("| {} | {} |", rpc.label(), cells.join(" | ")));
    }

    // ListJobs: own jobs only; an admin sees every tenant's.
    let (a, b, all) = (job_ids(&mut alice).await, job_ids(&mut bob).await, job_ids(&mut ops).await);
    assert!(a.contains(&alices_job) && !a.contains(&bobs_job), "alice lists her jobs only");
    assert!(b.contains(&bobs_job) && !b.contains(&alices_job) && b.iter().all(|j| !a.contains(j)), "bob lists his jobs only");
    assert!(a.iter().chain(&b).all(|j| all.contains(j)), "the admin lists everyone's");
    table.push("| ListJobs (no filter) | own jobs | own jobs | - | every tenant's | - |".into());

    // The audit trail: admins only.
    let audit = |c: &mut Client| {
        let mut c = c.clone();
        async move { c.list_audit(pb::ListAuditRequest { page_size: 500, ..Default::default() }).await }
    };
    assert_eq!(audit(&mut alice).await.unwrap_err().code(), PermissionDenied);
    let entries = audit(&mut ops).await.unwrap().into_inner().entries;
    let has = |tenant: &str, action: &str, object: &str, outcome: &str| {
        entries.iter().any(|e| e.tenant == tenant && e.action == action && e.object_id == object && e.outcome == outcome)
    };
    assert!(has("alice", "register", &private, "ok"), "{entries:?}");
    assert!(has("bob", "submit", &bobs_job, "ok"));
    assert!(has("bob", "fetch", &format!("{private}/model.onnx"), "NOT_FOUND"));
    assert!(has("bob", "cancel", &alices_job, "NOT_FOUND"));
    assert!(has("alice", "share", &private, "ok"));
    table.push("| ListAudit | PERMISSION_DENIED | PERMISSION_DENIED | - | OK | - |".into());

    // RegisterModel of alice's bytes by bob: he proved he has them, so he owns the model
    // too (its weights included), and still sees none of alice's jobs.
    let (onnx, input) = mlp();
    let again =
        bob.register_model(pb::RegisterModelRequest { onnx, calibration_json: input, ..Default::default() }).await.unwrap().into_inner();
    assert_eq!((again.model_id.as_str(), again.existing), (private.as_str(), true));
    assert_eq!(cell(&mut bob, Rpc::GetModel, &private, Ok, "co-owner").await, "OK");
    assert_eq!(cell(&mut bob, Rpc::GetArtifact(pb::ArtifactKind::Onnx), &private, Ok, "co-owner").await, "OK");
    assert_eq!(cell(&mut bob, Rpc::GetJob, &alices_job, NotFound, "co-owner, other tenant's job").await, "NOT_FOUND");
    assert!(!job_ids(&mut bob).await.contains(&alices_job));
    table.push("| RegisterModel (same bytes as another tenant's model) | OK | OK (becomes an owner; sees none of the first owner's jobs) | OK (idem) | OK | - |".into());
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_matrix_on_sqlite() {
    let ts = TestServer::start(tenants).await;
    let rows = matrix(&ts).await;
    println!("| RPC | own | shared | other | admin | model owner, other tenant's job |\n|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    ts.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_matrix_on_postgres() {
    let db = zkinfer_service::testing::cluster().database();
    let ts = TestServer::start(|o| {
        tenants(o);
        o.engine.store = Some(StoreUrl::Postgres(db));
    })
    .await;
    matrix(&ts).await;
    ts.server.shutdown().await.unwrap();
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Whether the decimal `n` occurs in `hay` as a whole number (not inside a longer one).
fn contains_number(hay: &[u8], n: i64) -> bool {
    let d = n.to_string().into_bytes();
    let digit = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_digit() || *b == b'.');
    hay.windows(d.len())
        .enumerate()
        .any(|(i, w)| w == d && !digit(i.checked_sub(1).and_then(|j| hay.get(j))) && !digit(hay.get(i + d.len())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_weights_and_inputs_reach_no_other_tenant() {
    let ts = TestServer::start(tenants).await;
    let mut alice = ts.client_with_key(Some("k-alice")).await;
    let mut bob = ts.client_with_key(Some("k-bob")).await;
    let mut carol = ts.client_with_key(Some("k-carol")).await;
    let mut ops = ts.client_with_key(Some("k-ops")).await;
    let (onnx, input) = mlp();
    let options = pb::CompileOptions {
        input_visibility: pb::Visibility::Hashed as i32,
        output_visibility: pb::Visibility::Private as i32,
        param_visibility: pb::ParamVisibility::Hashed as i32,
        scale: Some(7),
        param_scale: Some(7),
        ..Default::default()
    };
    let req = |share_weights| pb::RegisterModelRequest {
        onnx: onnx.clone(),
        calibration_json: input.clone(),
        options: Some(options),
        shared: true,
        share_weights,
    };
    let e = alice.register_model(req(true)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("share_weights") && e.message().contains("hashed"), "{}", e.message());
    let r = alice.register_model(req(false)).await.unwrap().into_inner();
    let (_, compile) = wait_job(&mut alice, &r.compile_job_id).await;
    assert_eq!(compile.state(), pb::JobState::Done, "{}", compile.error);
    let model = r.model_id;
    let e = alice.set_model_sharing(pb::SetModelSharingRequest { model_id: model.clone(), shared: true, share_weights: true }).await;
    assert_eq!(e.unwrap_err().code(), Code::InvalidArgument);

    // bob submits to alice's shared model; his input must reach nobody else.
    let sample = pb::Sample { inputs: vec![pb::Tensor { shape: vec![1, 3], data: vec![1.6148295, 0.8123457, 1.3390621] }] };
    let submit_bytes = pb::SubmitJobRequest {
        model_id: model.clone(),
        input: Some(pb::submit_job_request::Input::Sample(sample.clone())),
        ..Default::default()
    }
    .encode_to_vec();
    let job = prove(&mut bob, &model, sample.clone()).await;
    let own = bob.get_job(pb::GetJobRequest { job_id: job.clone() }).await.unwrap().into_inner();
    let outputs: Vec<f64> = own.float_outputs.iter().flat_map(|t| t.data.clone()).collect();
    assert!(!outputs.is_empty(), "the submitter sees its float answer");
    let seen_by_admin = ops.get_job(pb::GetJobRequest { job_id: job.clone() }).await.unwrap().into_inner();
    assert!(seen_by_admin.float_outputs.is_empty() && seen_by_admin.proven_outputs.is_empty());
    let proof_json = |c: &mut Client| {
        let mut c = c.clone();
        let job = job.clone();
        async move {
            let a = artifact(&mut c, Owner::JobId(job), pb::ArtifactKind::ProofJson).await;
            serde_json::from_slice::<zkinfer_service::proof_file::ProofFile>(&a).unwrap()
        }
    };
    let (mine, theirs) = (proof_json(&mut bob).await, proof_json(&mut ops).await);
    assert!(!mine.outputs.is_empty() && theirs.outputs.is_empty(), "private outputs stay out of others' proof.json");
    assert_eq!((mine.instances, mine.proof), (theirs.instances, theirs.proof), "the public part is the same");

    // Everything alice (the model's owner), carol and ops (an admin) can get.
    let mut seen: Vec<(String, Vec<u8>)> = Vec::new();
    let mut weights_seen: Vec<(String, Vec<u8>)> = Vec::new();
    let mut rpcs = vec![Rpc::GetModel, Rpc::ListJobsOfModel, Rpc::GetJob, Rpc::WatchJob, Rpc::CancelJob];
    for kind in JOB_KINDS.into_iter().chain(MODEL_KINDS) {
        rpcs.push(Rpc::GetArtifact(kind));
        rpcs.push(Rpc::DownloadArtifact(kind));
    }
    for (name, c) in [("alice", &mut alice), ("carol", &mut carol), ("ops", &mut ops), ("bob", &mut bob)] {
        for &rpc in &rpcs {
            let id = if rpc.of_job() { &job } else { &model };
            let got = call(c, rpc, id).await;
            let bytes = match got {
                Ok(b) => b,
                Err(s) => s.message().as_bytes().to_vec(),
            };
            let label = format!("{name}: {}", rpc.label());
            if name != "bob" {
                seen.push((label.clone(), bytes.clone()));
            }
            if name != "alice" {
                weights_seen.push((label, bytes));
            }
        }
        let all = c.list_jobs(pb::ListJobsRequest::default()).await.unwrap().into_inner().encode_to_vec();
        if name != "bob" {
            seen.push((format!("{name}: ListJobs"), all));
        }
    }
    for (name, c) in [("bob", &mut bob), ("carol", &mut carol), ("ops", &mut ops)] {
        for kind in [pb::ArtifactKind::Onnx, pb::ArtifactKind::QuantizedModel] {
            // The model is shared: every tenant sees it, none its weights.
            let code = call(c, Rpc::GetArtifact(kind), &model).await.unwrap_err().code();
            assert_eq!(code, Code::PermissionDenied, "{name}: {kind:?} of a model with hashed parameters");
        }
    }
    let audit = ops.list_audit(pb::ListAuditRequest::default()).await.unwrap().into_inner().encode_to_vec();
    seen.push(("ops: ListAudit".into(), audit));

    // The input's encodings: its numbers as JSON and as f64/f32 little-endian, and the
    // quantized integers as decimals, little-endian i64, field elements (LE and 0x-hex).
    let quant: zkinfer_models::QuantGraph =
        serde_json::from_slice(&artifact(&mut alice, Owner::ModelId(model.clone()), pb::ArtifactKind::QuantizedModel).await).unwrap();
    let flat: Vec<Vec<f64>> = sample.inputs.iter().map(|t| t.data.clone()).collect();
    let quantized: Vec<i64> = zkinfer_models::interp::quantize_inputs(&quant, &flat).unwrap().concat();
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for x in flat.concat() {
        needles.push((format!("{x} as JSON"), serde_json::to_string(&x).unwrap().into_bytes()));
        needles.push((format!("{x} as f64 LE"), x.to_le_bytes().to_vec()));
        needles.push((format!("{x} as f32 LE"), (x as f32).to_le_bytes().to_vec()));
    }
    // The private outputs, too.
    for y in &outputs {
        needles.push((format!("private output {y}, little-endian"), y.to_le_bytes().to_vec()));
    }
    for &q in &quantized {
        assert!(q.abs() > 100, "distinctive quantized values: {quantized:?}");
        needles.push((format!("{q} as i64 LE"), q.to_le_bytes().to_vec()));
        let fr = if q < 0 { -Fr::from(q.unsigned_abs()) } else { Fr::from(q as u64) };
        needles.push((format!("{q} as a field element"), ff::PrimeField::to_repr(&fr).as_ref().to_vec()));
        needles.push((format!("{q} as hex"), fr_to_hex(&fr).into_bytes()));
    }
    // The search finds them where they are: in bob's own request.
    assert!(needles.iter().filter(|(n, _)| n.ends_with("f64 LE")).all(|(_, b)| contains(&submit_bytes, b)));
    let sample_json = serde_json::to_vec(&flat).unwrap();
    assert!(needles.iter().filter(|(n, _)| n.ends_with("JSON")).all(|(_, b)| contains(&sample_json, b)));
    for (what, bytes) in &seen {
        for (needle, b) in &needles {
            assert!(!contains(bytes, b), "{what} carries bob's input ({needle})");
        }
        if std::str::from_utf8(bytes).is_ok() {
            for &q in &quantized {
                assert!(!contains_number(bytes, q), "{what} carries bob's quantized input {q}");
            }
        }
    }
    // The weights: no window of the ONNX's binary (initializer) bytes in what others got.
    let windows: Vec<&[u8]> = onnx.windows(24).step_by(8).filter(|w| w.iter().filter(|b| !b.is_ascii_graphic()).count() >= 8).collect();
    let own = artifact(&mut alice, Owner::ModelId(model.clone()), pb::ArtifactKind::Onnx).await;
    assert!(!windows.is_empty() && windows.iter().all(|w| contains(&own, w)), "the search finds the weights in the owner's download");
    for (what, bytes) in &weights_seen {
        assert!(!windows.iter().any(|w| contains(bytes, w)), "{what} carries the ONNX weights");
    }
    ts.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_queue_limit_does_not_block_the_others() {
    let ts = TestServer::start(|o| {
        tenants(o);
        o.engine.tenant_limits.max_queued = Some(2);
        // The one worker holds each proof: jobs stay queued.
        o.engine.test_pause_before_prove = Some(Duration::from_secs(2));
    })
    .await;
    let mut alice = ts.client_with_key(Some("k-alice")).await;
    let mut bob = ts.client_with_key(Some("k-bob")).await;
    let mut carol = ts.client_with_key(Some("k-carol")).await;
    let model = register(&mut alice, None, true).await;
    let mut accepted = 0;
    let refusal = loop {
        match submit(&mut bob, &model, mlp_sample(accepted as f64 / 10.0), "").await {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted <= 3, "bob's queue limit of 2 holds (one job may be running)");
    };
    assert!(accepted >= 2, "{accepted}");
    assert_eq!(refusal.code(), Code::ResourceExhausted);
    assert!(refusal.message().contains("tenant-max-queued") && refusal.message().contains("limit of 2"), "{}", refusal.message());
    submit(&mut carol, &model, mlp_sample(0.5), "").await.expect("another tenant still submits");
    submit(&mut alice, &model, mlp_sample(0.6), "").await.expect("and so does the model's owner");
    ts.server.shutdown().await.unwrap();
}

#[test]
fn share_and_audit_commands() {
    use zkinfer_service::cli::service_cmds::{self, ClientArgs};
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ts = rt.block_on(TestServer::start(tenants));
    let model = rt.block_on(async {
        let mut alice = ts.client_with_key(Some("k-alice")).await;
        register(&mut alice, None, false).await
    });
    let args = |key: &str| ClientArgs { server: Some(ts.url()), api_key: Some(key.into()), ..Default::default() };
    let e = service_cmds::share(&args("k-bob"), &model, true, false).unwrap_err();
    assert!(format!("{e:#}").contains("not found"), "{e:#}");
    service_cmds::share(&args("k-alice"), &model, true, false).unwrap();
    service_cmds::share(&args("k-bob"), &model, true, false).expect_err("bob sees the shared model but does not own it");
    let e = service_cmds::audit(&args("k-alice"), None, 10).unwrap_err();
    assert!(format!("{e:#}").contains("admins only"), "{e:#}");
    service_cmds::audit(&args("k-ops"), Some("bob"), 10).unwrap();
    let entries = rt.block_on(async {
        let mut ops = ts.client_with_key(Some("k-ops")).await;
        let req = pb::ListAuditRequest { tenant: "bob".into(), ..Default::default() };
        ops.list_audit(req).await.unwrap().into_inner().entries
    });
    let outcomes: Vec<_> = entries.iter().map(|e| (e.action.as_str(), e.outcome.as_str())).collect();
    assert_eq!(outcomes, [("share", "PERMISSION_DENIED"), ("share", "NOT_FOUND")], "newest first");
    rt.block_on(ts.server.shutdown()).unwrap();
}

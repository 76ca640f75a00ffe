//! The `zkinfer.v1.Prover` service: each call converts its request, runs the engine on a
//! blocking thread (the store and float inference block; the async reactor never
//! does) and converts the answer.

use std::sync::Arc;

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::jobs::{Engine, EngineError, Owner, Principal, SubmitInput, SubmitRequest};
use crate::store::{AuditAction, AuditFilter, JobFilter, DEFAULT_TENANT};

use super::auth::{Caller, Role};
use super::pb::prover_server::Prover;
use super::pb::{self, get_artifact_request, submit_job_request};
use super::status::status_of;
use super::{convert, watch};

/// Who made a call: the tenant of its API key; without API keys, the implicit admin tenant.
pub fn principal<T>(req: &Request<T>) -> Principal {
    match req.extensions().get::<Caller>() {
        Some(c) => Principal { tenant: c.tenant.clone(), admin: c.role == Role::Admin },
        None => Principal { tenant: DEFAULT_TENANT.to_string(), admin: true },
    }
}

/// An audit outcome: `ok` or the status code as gRPC names it (`NOT_FOUND`).
fn outcome<T>(r: &Result<T, Status>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(s) => {
            let mut out = String::new();
            for (i, ch) in format!("{:?}", s.code()).chars().enumerate() {
                if ch.is_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(ch.to_ascii_uppercase());
            }
            out
        }
    }
}

/// Largest page of `ListJobs`.
pub const MAX_PAGE: u32 = 500;
/// Page size when none is asked.
pub const DEFAULT_PAGE: u32 = 50;

/// The service implementation.
#[derive(Clone)]
pub struct ProverApi {
    engine: Arc<Engine>,
}

impl ProverApi {
    /// A service over an engine.
    pub fn new(engine: Arc<Engine>) -> ProverApi {
        ProverApi { engine }
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Engine) -> Result<T, EngineError> + Send + 'static) -> Result<T, Status> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || f(&engine))
            .await
            .map_err(|e| Status::internal(format!("request task failed: {e}")))?
            .map_err(status_of)
    }
}

impl ProverApi {
    /// Records an audit entry (on a blocking thread: the store blocks).
    async fn audit(&self, p: &Principal, action: AuditAction, object_id: String, outcome: String) {
        let (engine, p) = (self.engine.clone(), p.clone());
        let _ = tokio::task::spawn_blocking(move || engine.audit(&p, action, &object_id, &outcome)).await;
    }

    /// The artifact a request names, as the caller may see it: its kind, content and hash.
    async fn artifact(&self, p: Principal, r: pb::GetArtifactRequest) -> Result<(pb::ArtifactKind, Vec<u8>, String), Status> {
        let kind = r.kind();
        let (name, of_job) = convert::artifact_name(kind).map_err(status_of)?;
        let owner = match r.owner {
            Some(get_artifact_request::Owner::ModelId(id)) if !id.is_empty() => Owner::Model(id),
            Some(get_artifact_request::Owner::JobId(id)) if !id.is_empty() => Owner::Job(id),
            _ => return Err(Status::invalid_argument("owner: model_id or job_id is required")),
        };
        let object = match &owner {
            Owner::Model(id) | Owner::Job(id) => format!("{id}/{name}"),
        };
        let pc = p.clone();
        let got = self.blocking(move |e| e.artifact_as(&pc, &owner, name, of_job)).await;
        self.audit(&p, AuditAction::Fetch, object, outcome(&got)).await;
        let (content, sha256) = got?;
        Ok((kind, content, sha256))
    }
}

/// Bytes per chunk of `DownloadArtifact` (well under gRPC's default 4 MiB message limit).
pub const DOWNLOAD_CHUNK: usize = 1 << 20;

fn required(field: &str, v: &str) -> Result<(), Status> {
    if v.is_empty() {
        return Err(Status::invalid_argument(format!("{field}: required")));
    }
    Ok(())
}

#[tonic::async_trait]
impl Prover for ProverApi {
    async fn register_model(&self, req: Request<pb::RegisterModelRequest>) -> Result<Response<pb::RegisterModelResponse>, Status> {
        let p = principal(&req);
        let r = req.into_inner();
        let onnx_sha = crate::hash::sha256_hex(&r.onnx);
        let pc = p.clone();
        let registered = match convert::model_options(r.options).map_err(status_of) {
            Ok(options) => {
                self.blocking(move |e| e.register_as(&pc, &r.onnx, &r.calibration_json, options, r.shared, r.share_weights)).await
            }
            Err(s) => Err(s),
        };
        let object = registered.as_ref().map_or_else(|_| format!("onnx {onnx_sha}"), |(m, _)| m.id.clone());
        self.audit(&p, AuditAction::Register, object, outcome(&registered)).await;
        let (m, existing) = registered?;
        Ok(Response::new(pb::RegisterModelResponse { model_id: m.id, compile_job_id: m.compile_job_id, existing }))
    }

    async fn get_model(&self, req: Request<pb::GetModelRequest>) -> Result<Response<pb::Model>, Status> {
        let p = principal(&req);
        let id = req.into_inner().model_id;
        required("model_id", &id)?;
        let (m, access) = self.blocking(move |e| e.model_as(&p, &id)).await?;
        Ok(Response::new(convert::model_for(&m, &access)))
    }

    async fn submit_job(&self, req: Request<pb::SubmitJobRequest>) -> Result<Response<pb::SubmitJobResponse>, Status> {
        let p = principal(&req);
        let r = req.into_inner();
        required("model_id", &r.model_id)?;
        let input = match r.input {
            Some(submit_job_request::Input::Sample(s)) => SubmitInput::Flat(convert::sample(s).map_err(status_of)?),
            Some(submit_job_request::Input::InputJson(b)) => SubmitInput::Json(b),
            None => return Err(Status::invalid_argument("input: required (sample or input_json)")),
        };
        let model_id = r.model_id.clone();
        let sreq = SubmitRequest {
            model_id: r.model_id,
            tenant: p.tenant.clone(),
            input,
            idempotency_key: Some(r.idempotency_key),
            priority: r.priority,
        };
        let pc = p.clone();
        let submitted = self.blocking(move |e| e.submit_as(&pc, sreq)).await;
        let object = submitted.as_ref().map_or(model_id, |(j, _)| j.job.id.clone());
        self.audit(&p, AuditAction::Submit, object, outcome(&submitted)).await;
        let (job, existing) = submitted?;
        let j = convert::job(&job);
        Ok(Response::new(pb::SubmitJobResponse { job_id: j.id, float_outputs: j.float_outputs, float_source: j.float_source, existing }))
    }

    async fn get_job(&self, req: Request<pb::GetJobRequest>) -> Result<Response<pb::Job>, Status> {
        let p = principal(&req);
        let id = req.into_inner().job_id;
        required("job_id", &id)?;
        let j = self.blocking(move |e| e.job_as(&p, &id)).await?;
        Ok(Response::new(convert::job(&j)))
    }

    async fn list_jobs(&self, req: Request<pb::ListJobsRequest>) -> Result<Response<pb::ListJobsResponse>, Status> {
        let p = principal(&req);
        let r = req.into_inner();
        let before_seq = match r.page_token.as_str() {
            "" => None,
            t => Some(t.parse::<i64>().map_err(|_| Status::invalid_argument(format!("page_token: `{t}` is not a token from ListJobs")))?),
        };
        let mut states = Vec::new();
        for (i, s) in r.states.iter().enumerate() {
            let s = pb::JobState::try_from(*s).ok().and_then(convert::job_state_from);
            states.push(s.ok_or_else(|| Status::invalid_argument(format!("states[{i}]: not a job state")))?);
        }
        let limit = match r.page_size {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        } as usize;
        let filter = JobFilter { states, model_id: (!r.model_id.is_empty()).then_some(r.model_id), tenant: None, before_seq, limit };
        let jobs = self.blocking(move |e| e.list_as(&p, &filter)).await?;
        let next_page_token = match jobs.last() {
            Some(j) if jobs.len() == limit => j.seq.to_string(),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListJobsResponse { jobs: jobs.iter().map(convert::job).collect(), next_page_token }))
    }

    type WatchJobStream = ReceiverStream<watch::WatchItem>;

    async fn watch_job(&self, req: Request<pb::WatchJobRequest>) -> Result<Response<Self::WatchJobStream>, Status> {
        let p = principal(&req);
        let id = req.into_inner().job_id;
        required("job_id", &id)?;
        Ok(Response::new(watch::watch(self.engine.clone(), p, id).await?))
    }

    async fn cancel_job(&self, req: Request<pb::CancelJobRequest>) -> Result<Response<pb::Job>, Status> {
        let p = principal(&req);
        let id = req.into_inner().job_id;
        required("job_id", &id)?;
        let (pc, idc) = (p.clone(), id.clone());
        let cancelled = self.blocking(move |e| e.cancel_as(&pc, &idc)).await;
        self.audit(&p, AuditAction::Cancel, id, outcome(&cancelled)).await;
        Ok(Response::new(convert::job(&cancelled?)))
    }

    async fn set_model_sharing(&self, req: Request<pb::SetModelSharingRequest>) -> Result<Response<pb::Model>, Status> {
        let p = principal(&req);
        let r = req.into_inner();
        required("model_id", &r.model_id)?;
        let (pc, id) = (p.clone(), r.model_id.clone());
        let set = self
            .blocking(move |e| {
                let access = e.set_sharing_as(&pc, &id, r.shared, r.share_weights)?;
                Ok((e.model(&id)?, access))
            })
            .await;
        self.audit(&p, AuditAction::Share, r.model_id, outcome(&set)).await;
        let (m, access) = set?;
        Ok(Response::new(convert::model_for(&m, &access)))
    }

    async fn list_audit(&self, req: Request<pb::ListAuditRequest>) -> Result<Response<pb::ListAuditResponse>, Status> {
        let p = principal(&req);
        let r = req.into_inner();
        let before_seq = match r.page_token.as_str() {
            "" => None,
            t => Some(t.parse::<i64>().map_err(|_| Status::invalid_argument(format!("page_token: `{t}` is not a token from ListAudit")))?),
        };
        let limit = match r.page_size {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        } as usize;
        let filter = AuditFilter { tenant: (!r.tenant.is_empty()).then_some(r.tenant), before_seq, limit };
        let entries = self.blocking(move |e| e.audit_as(&p, &filter)).await?;
        let next_page_token = match entries.last() {
            Some((seq, _)) if entries.len() == limit => seq.to_string(),
            _ => String::new(),
        };
        let entries = entries
            .into_iter()
            .map(|(_, a)| pb::AuditEntry {
                at_ms: a.at_ms,
                tenant: a.tenant,
                action: a.action.as_str().to_string(),
                object_id: a.object_id,
                outcome: a.outcome,
            })
            .collect();
        Ok(Response::new(pb::ListAuditResponse { entries, next_page_token }))
    }

    async fn get_artifact(&self, req: Request<pb::GetArtifactRequest>) -> Result<Response<pb::Artifact>, Status> {
        let p = principal(&req);
        let (kind, content, sha256) = self.artifact(p, req.into_inner()).await?;
        Ok(Response::new(pb::Artifact { kind: kind as i32, content, sha256 }))
    }

    type DownloadArtifactStream = ReceiverStream<Result<pb::ArtifactChunk, Status>>;

    async fn download_artifact(&self, req: Request<pb::GetArtifactRequest>) -> Result<Response<Self::DownloadArtifactStream>, Status> {
        let p = principal(&req);
        let (kind, content, sha256) = self.artifact(p, req.into_inner()).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let total = content.len() as u64;
            let mut offset = 0usize;
            loop {
                let end = (offset + DOWNLOAD_CHUNK).min(content.len());
                let first = offset == 0;
                let chunk = pb::ArtifactChunk {
                    kind: if first { kind as i32 } else { 0 },
                    sha256: if first { sha256.clone() } else { String::new() },
                    total_size: if first { total } else { 0 },
                    offset: offset as u64,
                    data: content[offset..end].to_vec(),
                };
                // The client went away: stop.
                if tx.send(Ok(chunk)).await.is_err() || end == content.len() {
                    return;
                }
                offset = end;
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

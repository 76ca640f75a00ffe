//! The `zkinfer.v1.Prover` service: each call converts its request, runs the engine on a
//! blocking thread (the store and float inference block; the async reactor never
//! does) and converts the answer.

use std::sync::Arc;

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::jobs::{Engine, EngineError, Owner, SubmitInput, SubmitRequest};
use crate::store::JobFilter;

use super::pb::prover_server::Prover;
use super::pb::{self, get_artifact_request, submit_job_request};
use super::status::status_of;
use super::{convert, watch};

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
    /// The artifact a request names: its kind, content and hash.
    async fn artifact(&self, r: pb::GetArtifactRequest) -> Result<(pb::ArtifactKind, Vec<u8>, String), Status> {
        let kind = r.kind();
        let (name, of_job) = convert::artifact_name(kind).map_err(status_of)?;
        let owner = match r.owner {
            Some(get_artifact_request::Owner::ModelId(id)) if !id.is_empty() => Owner::Model(id),
            Some(get_artifact_request::Owner::JobId(id)) if !id.is_empty() => Owner::Job(id),
            _ => return Err(Status::invalid_argument("owner: model_id or job_id is required")),
        };
        let (content, sha256) = self.blocking(move |e| e.artifact(&owner, name, of_job)).await?;
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
        let r = req.into_inner();
        let options = convert::model_options(r.options).map_err(status_of)?;
        let (m, existing) = self.blocking(move |e| e.register_model(&r.onnx, &r.calibration_json, options)).await?;
        Ok(Response::new(pb::RegisterModelResponse { model_id: m.id, compile_job_id: m.compile_job_id, existing }))
    }

    async fn get_model(&self, req: Request<pb::GetModelRequest>) -> Result<Response<pb::Model>, Status> {
        let id = req.into_inner().model_id;
        required("model_id", &id)?;
        let m = self.blocking(move |e| e.model(&id)).await?;
        Ok(Response::new(convert::model(&m)))
    }

    async fn submit_job(&self, req: Request<pb::SubmitJobRequest>) -> Result<Response<pb::SubmitJobResponse>, Status> {
        let r = req.into_inner();
        required("model_id", &r.model_id)?;
        let input = match r.input {
            Some(submit_job_request::Input::Sample(s)) => SubmitInput::Flat(convert::sample(s).map_err(status_of)?),
            Some(submit_job_request::Input::InputJson(b)) => SubmitInput::Json(b),
            None => return Err(Status::invalid_argument("input: required (sample or input_json)")),
        };
        let sreq = SubmitRequest { model_id: r.model_id, input, idempotency_key: Some(r.idempotency_key), priority: r.priority };
        let (job, existing) = self.blocking(move |e| e.submit(sreq)).await?;
        let j = convert::job(&job);
        Ok(Response::new(pb::SubmitJobResponse { job_id: j.id, float_outputs: j.float_outputs, float_source: j.float_source, existing }))
    }

    async fn get_job(&self, req: Request<pb::GetJobRequest>) -> Result<Response<pb::Job>, Status> {
        let id = req.into_inner().job_id;
        required("job_id", &id)?;
        let j = self.blocking(move |e| e.job(&id)).await?;
        Ok(Response::new(convert::job(&j)))
    }

    async fn list_jobs(&self, req: Request<pb::ListJobsRequest>) -> Result<Response<pb::ListJobsResponse>, Status> {
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
        let filter = JobFilter { states, model_id: (!r.model_id.is_empty()).then_some(r.model_id), before_seq, limit };
        let jobs = self.blocking(move |e| e.list(&filter)).await?;
        let next_page_token = match jobs.last() {
            Some(j) if jobs.len() == limit => j.seq.to_string(),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListJobsResponse { jobs: jobs.iter().map(convert::job).collect(), next_page_token }))
    }

    type WatchJobStream = ReceiverStream<watch::WatchItem>;

    async fn watch_job(&self, req: Request<pb::WatchJobRequest>) -> Result<Response<Self::WatchJobStream>, Status> {
        let id = req.into_inner().job_id;
        required("job_id", &id)?;
        Ok(Response::new(watch::watch(self.engine.clone(), id).await?))
    }

    async fn cancel_job(&self, req: Request<pb::CancelJobRequest>) -> Result<Response<pb::Job>, Status> {
        let id = req.into_inner().job_id;
        required("job_id", &id)?;
        let j = self.blocking(move |e| e.cancel(&id)).await?;
        Ok(Response::new(convert::job(&j)))
    }

    async fn get_artifact(&self, req: Request<pb::GetArtifactRequest>) -> Result<Response<pb::Artifact>, Status> {
        let (kind, content, sha256) = self.artifact(req.into_inner()).await?;
        Ok(Response::new(pb::Artifact { kind: kind as i32, content, sha256 }))
    }

    type DownloadArtifactStream = ReceiverStream<Result<pb::ArtifactChunk, Status>>;

    async fn download_artifact(&self, req: Request<pb::GetArtifactRequest>) -> Result<Response<Self::DownloadArtifactStream>, Status> {
        let (kind, content, sha256) = self.artifact(req.into_inner()).await?;
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

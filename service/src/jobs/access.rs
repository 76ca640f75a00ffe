//! Tenant isolation: what a caller may see and do. Every API call goes through these
//! methods; workers and the engine's own bookkeeping use the unchecked ones.
//!
//! Rules:
//! - A model is visible to its owners (every tenant that registered its bytes), to every
//!   tenant when an owner shared it (without its compile error), and to admins. Anything not visible is NOT_FOUND with
//!   the message of an id that does not exist.
//! - A prove job is visible to the tenant that submitted it and to admins; a compile job
//!   to the owners of its model and to admins.
//! - The weights (the ONNX bytes and the quantized graph) go to owners only, or to every
//!   tenant that sees the model when an owner shared them; admins are no exception.
//!   Weights of a model with private or hashed parameters are never shared.
//! - A job served to anyone but its submitter (an admin) never carries what the input
//!   determines beyond the proof's public instances: with non-public inputs no float
//!   outputs and no error text, with non-public outputs no outputs at all, and proof.json
//!   without its outputs. No job record on the wire carries the input itself.
//! - Audit entries are written by the API for registrations, submissions, cancellations,
//!   fetches and sharing changes, and read by admins only.

use zkinfer_circuits::{ParamVisibility, Visibility};

use crate::store::*;

use super::engine::{Engine, Owner};
use super::error::EngineError;
use super::now_ms;
use super::submit::SubmitRequest;

/// Who is asking: a tenant, and whether it is an admin (sees every tenant's models and
/// jobs, cancels any job, reads the audit trail).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub tenant: String,
    pub admin: bool,
}

impl Principal {
    /// A server without API keys: one implicit tenant with admin rights.
    pub fn implicit() -> Principal {
        Principal { tenant: DEFAULT_TENANT.to_string(), admin: true }
    }

    pub fn user(tenant: &str) -> Principal {
        Principal { tenant: tenant.to_string(), admin: false }
    }

    pub fn admin(tenant: &str) -> Principal {
        Principal { tenant: tenant.to_string(), admin: true }
    }
}

fn no_model(id: &str) -> EngineError {
    EngineError::NotFound { what: "model", id: id.to_string() }
}

fn no_job(id: &str) -> EngineError {
    EngineError::NotFound { what: "job", id: id.to_string() }
}

/// Whether an artifact is one of the model's weights.
fn is_weights(name: &str) -> bool {
    name == ArtifactName::ONNX || name == ArtifactName::QUANT || name == ArtifactName::CALIBRATION
}

/// Why a model's weights can never be shared, if they cannot.
pub fn weights_unshareable(options: &ModelOptions) -> Option<&'static str> {
    match options.param_visibility {
        ParamVisibility::Fixed => None,
        ParamVisibility::Private => Some("the model's parameters are private: its weights are never shared"),
        ParamVisibility::Hashed => Some("the model's parameters are hashed: its weights are never shared"),
    }
}

/// What replaces the error of a job whose input is private, for anyone but its submitter.
pub const REDACTED_ERROR: &str =
    "the job did not complete (details are shown to the submitting tenant only: the model's inputs are not public)";

impl Engine {
    /// A model the caller may see, with the caller's access to it.
    pub fn model_as(&self, p: &Principal, id: &str) -> Result<(ModelRecord, ModelAccess), EngineError> {
        // The same two reads whether or not the model exists: refusals take the same time.
        let m = self.store.model(id)?;
        let access = self.store.model_access(id, &p.tenant)?;
        match m {
            Some(mut m) if p.admin || access.owned || access.shared => {
                // A compile failure may quote the owners' calibration data.
                if !(p.admin || access.owned) && m.error.is_some() {
                    m.error = Some("the model failed to compile (details are shown to its owners only)".into());
                }
                Ok((m, access))
            }
            _ => Err(no_model(id)),
        }
    }

    /// A job the caller may see, as the caller may see it ([`Engine::redact`]).
    pub fn job_as(&self, p: &Principal, id: &str) -> Result<JobRecord, EngineError> {
        let job = self.store.job(id)?.ok_or_else(|| no_job(id))?;
        if !self.may_see_job(p, &job)? {
            return Err(no_job(id));
        }
        self.redact(p, job)
    }

    fn may_see_job(&self, p: &Principal, job: &JobRecord) -> Result<bool, EngineError> {
        if p.admin || job.job.tenant == p.tenant {
            return Ok(true);
        }
        Ok(job.job.kind == JobKind::Compile && self.store.model_access(&job.job.model_id, &p.tenant)?.owned)
    }

    /// A job as shown to `p`: unchanged for its submitter; for anyone else without the
    /// input, without what the input determines unless the model makes it public, and
    /// without the idempotency key.
    pub fn redact(&self, p: &Principal, mut job: JobRecord) -> Result<JobRecord, EngineError> {
        if job.job.tenant == p.tenant {
            return Ok(job);
        }
        job.job.input = None;
        job.job.idempotency_key = None;
        if job.job.kind == JobKind::Prove {
            let m = self.model(&job.job.model_id)?;
            if m.options.input_visibility != Visibility::Public {
                job.job.float_outputs.clear();
                if job.error.is_some() {
                    job.error = Some(REDACTED_ERROR.to_string());
                }
            }
            if m.options.output_visibility != Visibility::Public {
                job.job.float_outputs.clear();
                job.proven_outputs.clear();
            }
        }
        Ok(job)
    }

    /// Registers a model for `p` (see [`Engine::register_model`]); with `shared` or
    /// `share_weights`, `p`'s sharing of it is set too (never unset: registering again
    /// without them keeps what `p` chose before).
    pub fn register_as(
        &self,
        p: &Principal,
        onnx: &[u8],
        calibration_json: &[u8],
        options: ModelOptions,
        shared: bool,
        share_weights: bool,
    ) -> Result<(ModelRecord, bool), EngineError> {
        if share_weights {
            if let Some(why) = weights_unshareable(&options.clone().normalized()) {
                return Err(EngineError::invalid("share_weights", why));
            }
        }
        let (m, existing) = self.register_model(&p.tenant, onnx, calibration_json, options)?;
        if shared || share_weights {
            self.store.set_sharing(&m.id, &p.tenant, shared || share_weights, share_weights)?;
        }
        Ok((m, existing))
    }

    /// Sets `p`'s sharing of a model it owns (`share_weights` implies `shared`).
    pub fn set_sharing_as(&self, p: &Principal, id: &str, shared: bool, share_weights: bool) -> Result<ModelAccess, EngineError> {
        let (m, access) = self.model_as(p, id)?;
        if !access.owned {
            return Err(EngineError::PermissionDenied(format!("model `{id}`: only its owners may change its sharing")));
        }
        if share_weights {
            if let Some(why) = weights_unshareable(&m.options) {
                return Err(EngineError::invalid("share_weights", why));
            }
        }
        if !self.store.set_sharing(id, &p.tenant, shared || share_weights, share_weights)? {
            return Err(no_model(id));
        }
        Ok(self.store.model_access(id, &p.tenant)?)
    }

    /// Submits a job as `p` on a model `p` may see (owned, shared or, for admins, any).
    pub fn submit_as(&self, p: &Principal, mut req: SubmitRequest) -> Result<(JobRecord, bool), EngineError> {
        let (m, access) = self.model_as(p, &req.model_id)?;
        if m.state == ModelState::Failed && !(access.owned || p.admin) {
            return Err(EngineError::FailedPrecondition(format!("model {} failed to compile", m.id)));
        }
        req.tenant = p.tenant.clone();
        self.submit(req)
    }

    /// Jobs `p` may list, newest first: its own tenant's; an admin's filter may name any tenant.
    pub fn list_as(&self, p: &Principal, filter: &JobFilter) -> Result<Vec<JobRecord>, EngineError> {
        let mut filter = filter.clone();
        if !p.admin {
            filter.tenant = Some(p.tenant.clone());
        }
        if let Some(m) = &filter.model_id {
            self.model_as(p, m)?;
        }
        self.store.list_jobs(&filter)?.into_iter().map(|j| self.redact(p, j)).collect()
    }

    /// Cancels a job `p` may see.
    pub fn cancel_as(&self, p: &Principal, id: &str) -> Result<JobRecord, EngineError> {
        self.job_as(p, id)?;
        let job = self.cancel(id)?;
        self.redact(p, job)
    }

    /// An artifact `p` may fetch, as `p` may see it: job artifacts of jobs `p` sees,
    /// model artifacts of models `p` sees (a job's: its model's), weights only to owners
    /// or when shared, proof.json without outputs for anyone but the submitter when the
    /// outputs are not public.
    pub fn artifact_as(&self, p: &Principal, owner: &Owner, name: &'static str, of_job: bool) -> Result<(Vec<u8>, String), EngineError> {
        let model_id = match owner {
            Owner::Model(id) => id.clone(),
            Owner::Job(id) => self.job_as(p, id)?.job.model_id,
        };
        let (m, access) = match owner {
            Owner::Model(id) => self.model_as(p, id)?,
            // The job's model: visible to whoever sees the job.
            Owner::Job(_) => {
                let m = self.model(&model_id)?;
                let access = self.store.model_access(&model_id, &p.tenant)?;
                (m, access)
            }
        };
        if !of_job && is_weights(name) && !access.owned && (!access.share_weights || weights_unshareable(&m.options).is_some()) {
            return Err(EngineError::PermissionDenied(format!(
                "model `{model_id}`: its weights (ONNX, quantized graph) are not shared with tenant `{}`",
                p.tenant
            )));
        }
        let (content, sha) = self.artifact(owner, name, of_job)?;
        if let (Owner::Job(id), true) = (owner, of_job) {
            let submitter = self.job(id)?.job.tenant == p.tenant;
            if name == ArtifactName::PROOF_JSON && !submitter && m.options.output_visibility != Visibility::Public {
                let mut file: crate::proof_file::ProofFile = serde_json::from_slice(&content)
                    .map_err(|e| EngineError::Store(StoreError::BadRecord { id: id.clone(), message: e.to_string() }))?;
                file.outputs.clear();
                let content = serde_json::to_vec_pretty(&file).expect("proof files serialize");
                let sha = crate::hash::sha256_hex(&content);
                return Ok((content, sha));
            }
        }
        Ok((content, sha))
    }

    /// A job's end reason as logs may show it: the reason itself, except for prove jobs of
    /// a model whose inputs are not public (a failure's text may quote the input).
    pub fn loggable_reason(&self, job: &JobRecord, reason: &str) -> String {
        let private_input = job.job.kind == JobKind::Prove
            && self.store.model(&job.job.model_id).ok().flatten().is_none_or(|m| m.options.input_visibility != Visibility::Public);
        match private_input {
            true => "(not logged: the model's inputs are not public; the submitter sees it in the job)".into(),
            false => reason.to_string(),
        }
    }

    /// Appends to the audit trail; a failure to write is logged, never the caller's error.
    pub fn audit(&self, p: &Principal, action: AuditAction, object_id: &str, outcome: &str) {
        let entry = AuditEntry {
            at_ms: now_ms(),
            tenant: p.tenant.clone(),
            action,
            object_id: object_id.to_string(),
            outcome: outcome.to_string(),
        };
        if let Err(e) = self.store.record_audit(&entry) {
            tracing::error!(tenant = %p.tenant, %action, object = object_id, "cannot write the audit trail: {e}");
        }
    }

    /// The audit trail, newest first: admins only.
    pub fn audit_as(&self, p: &Principal, filter: &AuditFilter) -> Result<Vec<(i64, AuditEntry)>, EngineError> {
        if !p.admin {
            return Err(EngineError::PermissionDenied("the audit trail is for admins only".into()));
        }
        Ok(self.store.list_audit(filter)?)
    }
}

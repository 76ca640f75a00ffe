//! [`JobStore`] on PostgreSQL, shared by any number of API nodes and worker processes.
//!
//! Every method is one transaction. Submissions take a transaction-scoped advisory lock,
//! so the queue limit and idempotency keys hold across processes. Workers claim jobs
//! with `FOR UPDATE SKIP LOCKED` (concurrent claims never wait on each other or take
//! the same job) and publish under their lease's fencing token. Every committed change
//! of a job sends `NOTIFY zkinfer_jobs, '<job id>'`, which API nodes relay to their
//! watchers ([`JobStore::watch_changes`]).
//!
//! Connections: a small pool, opened on demand; a connection that broke (the database
//! restarted) is dropped and the next call opens a new one. Connecting has a timeout,
//! so an unreachable database is an error, never a hang.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls, Transaction};

use super::lease::{unfit_phase, Claim, Lease, LeaseState, FAIR_ORDER_SQL, NEED_SQL};
use super::postgres_rows::{job_from_row, model_from_row, MIGRATIONS};
use super::records::*;
use super::url::redact;
use super::{JobStore, StoreError};

/// The channel of job change notifications (payload: the job id).
pub const CHANNEL: &str = "zkinfer_jobs";
/// The channel that tells idle workers that a job may have become claimable (a new job,
/// a requeued one, or prove jobs of a model that became ready).
pub const QUEUE_CHANNEL: &str = "zkinfer_queue";
/// Advisory lock keys: schema migrations, and submissions (queue limit, idempotency).
const MIGRATION_LOCK: i64 = 0x7a6b_696e_0001;
const SUBMIT_LOCK: i64 = 0x7a6b_696e_0002;
/// Idle connections kept.
const POOL: usize = 8;
/// Time to establish a connection, when the URL sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL job store.
pub struct PgStore {
    config: Config,
    url: String,
    idle: Mutex<Vec<Client>>,
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        StoreError::Db(describe(&e))
    }
}

/// The error with the database's own message (`db error` alone says nothing).
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s = format!("{s}: {text}");
        }
        source = inner.source();
    }
    s
}

fn notify(tx: &mut Transaction<'_>, job_id: &str) -> Result<(), StoreError> {
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &job_id])?;
    Ok(())
}

fn notify_queue(tx: &mut Transaction<'_>) -> Result<(), StoreError> {
    tx.execute("SELECT pg_notify($1, '')", &[&QUEUE_CHANNEL])?;
    Ok(())
}

fn get_job(tx: &mut impl postgres::GenericClient, id: &str) -> Result<Option<JobRecord>, StoreError> {
    tx.query_opt("SELECT * FROM jobs WHERE id = $1", &[&id])?.map(|r| job_from_row(&r)).transpose()
}

fn get_model(tx: &mut impl postgres::GenericClient, id: &str) -> Result<Option<ModelRecord>, StoreError> {
    tx.query_opt("SELECT * FROM models WHERE id = $1", &[&id])?.map(|r| model_from_row(&r)).transpose()
}

fn queued_count(tx: &mut Transaction<'_>) -> Result<usize, StoreError> {
    let n: i64 = tx.query_one("SELECT COUNT(*) FROM jobs WHERE state = 'queued'", &[])?.get(0);
    Ok(n as usize)
}

/// Refuses a job that would put its tenant over `limits` (under the submission lock).
fn check_tenant_limits(tx: &mut Transaction<'_>, j: &NewJob, limits: &TenantLimits) -> Result<(), StoreError> {
    limits.check(j, |c| {
        let row = match c {
            TenantCount::Queued => tx.query_one("SELECT COUNT(*) FROM jobs WHERE tenant = $1 AND state = 'queued'", &[&j.tenant])?,
            TenantCount::ProvesSince(ms) => {
                tx.query_one("SELECT COUNT(*) FROM jobs WHERE tenant = $1 AND kind = 'prove' AND created_ms > $2", &[&j.tenant, &ms])?
            }
        };
        Ok(row.get(0))
    })
}

fn add_owner(tx: &mut Transaction<'_>, model_id: &str, tenant: &str, now_ms: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO model_owners (model_id, tenant, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        &[&model_id, &tenant, &now_ms],
    )?;
    Ok(())
}

fn insert_job(tx: &mut Transaction<'_>, j: &NewJob) -> Result<(), StoreError> {
    let input = j.input.as_ref().map(|v| serde_json::to_string(v).expect("records serialize"));
    tx.execute(
        "INSERT INTO jobs (id, kind, model_id, state, priority, idempotency_key, request_hash, input_json, \
         float_outputs_json, float_source, memory_estimate, created_ms, tenant) \
         VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            &j.id,
            &j.kind.as_str(),
            &j.model_id,
            &j.priority,
            &j.idempotency_key,
            &j.request_hash,
            &input,
            &to_json(&j.float_outputs),
            &j.float_source.map(|s| s.as_str()),
            &(j.memory_estimate.min(i64::MAX as u64) as i64),
            &j.created_ms,
            &j.tenant,
        ],
    )?;
    notify_queue(tx)?;
    notify(tx, &j.id)
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("records serialize")
}

fn fail_model_of(tx: &mut Transaction<'_>, job: &JobRecord, state: JobState, reason: &str) -> Result<(), StoreError> {
    if job.job.kind == JobKind::Compile {
        let id = &job.job.id;
        tx.execute(
            "UPDATE models SET state = 'failed', error = $3 WHERE id = $1 AND compile_job_id = $2",
            &[&job.job.model_id, id, &format!("compile job {id} {state}: {reason}")],
        )?;
    }
    Ok(())
}

/// The condition that `$2` (worker) and `$3` (token) hold the lease of job `$1`.
const HELD: &str = "id = $1 AND state = 'running' AND lease_owner = $2 AND attempts = $3";

fn token(lease: &Lease) -> i32 {
    lease.token as i32
}

impl PgStore {
    /// Connects (with a timeout), checks the credentials and migrates the schema.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        let shown = redact(url);
        let mut config: Config =
            url.parse().map_err(|e: postgres::Error| StoreError::BadUrl { url: shown.clone(), message: describe(&e) })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.keepalives(true).keepalives_idle(Duration::from_secs(10));
        if config.get_application_name().is_none() {
            config.application_name("zkinfer");
        }
        let store = PgStore { config, url: shown, idle: Mutex::new(Vec::new()) };
        let mut client = store.open_client()?;
        store.migrate(&mut client)?;
        store.idle.lock().unwrap_or_else(|p| p.into_inner()).push(client);
        Ok(store)
    }

    fn open_client(&self) -> Result<Client, StoreError> {
        self.config.connect(NoTls).map_err(|e| StoreError::Connect { url: self.url.clone(), message: describe(&e) })
    }

    fn migrate(&self, client: &mut Client) -> Result<(), StoreError> {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS zkinfer_migrations (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)")?;
        let current: i32 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM zkinfer_migrations", &[])?.get(0);
        let latest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
        if current > latest {
            return Err(StoreError::Db(format!(
                "the database schema is at version {current}, newer than this zkinfer knows ({latest}): upgrade zkinfer"
            )));
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            tx.batch_execute(sql).map_err(|e| StoreError::Db(format!("migration {version}: {}", describe(&e))))?;
            tx.execute("INSERT INTO zkinfer_migrations (version, applied_ms) VALUES ($1, $2)", &[version, &crate::jobs::now_ms()])?;
            tracing::info!(version, "job store schema migrated");
        }
        tx.commit()?;
        Ok(())
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        self.with(|c| Ok(c.query_one("SELECT MAX(version) FROM zkinfer_migrations", &[])?.get(0)))
    }

    /// Runs `f` on a pooled connection; a connection that broke is dropped. When a pooled
    /// connection turns out to be broken (the database restarted since it was last used),
    /// `f` runs once more on a new connection: the old one failed before anything reached
    /// the database.
    fn with<T>(&self, mut f: impl FnMut(&mut Client) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            std::iter::from_fn(|| idle.pop()).find(|c| !c.is_closed())
        };
        let (mut client, reused) = match pooled {
            Some(c) => (c, true),
            None => (self.open_client()?, false),
        };
        let mut out = f(&mut client);
        if out.is_err() && reused && client.is_closed() {
            drop_off_runtime(client);
            client = self.open_client()?;
            out = f(&mut client);
        }
        if !client.is_closed() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < POOL {
                idle.push(client);
                return out;
            }
        }
        drop_off_runtime(client);
        out
    }

    fn tx<T>(&self, mut f: impl FnMut(&mut Transaction<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        })
    }
}

/// A synchronous client owns a tokio runtime, which must not be dropped inside another
/// runtime's async context: drop it on a thread of its own.
fn drop_off_runtime<T: Send + 'static>(value: T) {
    if tokio::runtime::Handle::try_current().is_ok() {
        let _ = std::thread::Builder::new().name("zkinfer-pg-drop".into()).spawn(move || drop(value));
    } else {
        drop(value);
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        drop_off_runtime(idle);
    }
}

impl JobStore for PgStore {
    fn register_model(&self, model: &ModelRecord, job: &NewJob, max_queued: usize) -> Result<Registered, StoreError> {
        self.tx(|tx| {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SUBMIT_LOCK])?;
            let existing = get_model(tx, &model.id)?;
            if let Some(m) = existing.as_ref().filter(|m| m.state != ModelState::Failed) {
                add_owner(tx, &model.id, &job.tenant, job.created_ms)?;
                return Ok(Registered::Existing(m.clone()));
            }
            if queued_count(tx)? >= max_queued {
                return Err(StoreError::QueueFull { limit: max_queued });
            }
            if existing.is_some() {
                tx.execute("UPDATE models SET state = 'compiling', compile_job_id = $2, error = NULL WHERE id = $1", &[&model.id, &job.id])?;
            } else {
                tx.execute(
                    "INSERT INTO models (id, state, compile_job_id, onnx_sha256, calibration_sha256, options_json, input_shapes_json, created_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &model.id,
                        &ModelState::Compiling.as_str(),
                        &job.id,
                        &model.onnx_sha256,
                        &model.calibration_sha256,
                        &to_json(&model.options),
                        &to_json(&model.input_shapes),
                        &model.created_ms,
                    ],
                )?;
            }
            insert_job(tx, job)?;
            add_owner(tx, &model.id, &job.tenant, job.created_ms)?;
            Ok(Registered::Created(get_model(tx, &model.id)?.expect("just written")))
        })
    }

    fn model(&self, id: &str) -> Result<Option<ModelRecord>, StoreError> {
        self.with(|c| get_model(c, id))
    }

    fn models_in_state(&self, state: ModelState) -> Result<Vec<ModelRecord>, StoreError> {
        self.with(|c| c.query("SELECT * FROM models WHERE state = $1", &[&state.as_str()])?.iter().map(model_from_row).collect())
    }

    fn submit_job(&self, job: &NewJob, max_queued: usize, limits: &TenantLimits) -> Result<Submitted, StoreError> {
        self.tx(|tx| {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SUBMIT_LOCK])?;
            if let Some(key) = &job.idempotency_key {
                let earlier = tx
                    .query_opt("SELECT * FROM jobs WHERE tenant = $1 AND idempotency_key = $2", &[&job.tenant, key])?
                    .map(|r| job_from_row(&r))
                    .transpose()?;
                if let Some(earlier) = earlier {
                    if earlier.job.request_hash != job.request_hash {
                        return Err(StoreError::KeyReused { key: key.clone(), job_id: earlier.job.id });
                    }
                    return Ok(Submitted::Existing(earlier));
                }
            }
            if queued_count(tx)? >= max_queued {
                return Err(StoreError::QueueFull { limit: max_queued });
            }
            check_tenant_limits(tx, job, limits)?;
            insert_job(tx, job)?;
            Ok(Submitted::Created(get_job(tx, &job.id)?.expect("just written")))
        })
    }

    fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.with(|c| get_job(c, id))
    }

    fn job_by_idempotency_key(&self, tenant: &str, key: &str) -> Result<Option<JobRecord>, StoreError> {
        self.with(|c| {
            c.query_opt("SELECT * FROM jobs WHERE tenant = $1 AND idempotency_key = $2", &[&tenant, &key])?
                .map(|r| job_from_row(&r))
                .transpose()
        })
    }

    fn model_access(&self, model_id: &str, tenant: &str) -> Result<ModelAccess, StoreError> {
        self.with(|c| {
            let row = c.query_one(
                "SELECT COALESCE(BOOL_OR(tenant = $2), FALSE), COALESCE(BOOL_OR(shared), FALSE), COALESCE(BOOL_OR(share_weights), FALSE) \
                 FROM model_owners WHERE model_id = $1",
                &[&model_id, &tenant],
            )?;
            Ok(ModelAccess { owned: row.get(0), shared: row.get(1), share_weights: row.get(2) })
        })
    }

    fn set_sharing(&self, model_id: &str, tenant: &str, shared: bool, share_weights: bool) -> Result<bool, StoreError> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE model_owners SET shared = $3, share_weights = $4 WHERE model_id = $1 AND tenant = $2",
                &[&model_id, &tenant, &shared, &share_weights],
            )?;
            Ok(n == 1)
        })
    }

    fn record_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO audit (at_ms, tenant, action, object_id, outcome) VALUES ($1, $2, $3, $4, $5)",
                &[&e.at_ms, &e.tenant, &e.action.as_str(), &e.object_id, &e.outcome],
            )?;
            Ok(())
        })
    }

    fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<(i64, AuditEntry)>, StoreError> {
        let before = filter.before_seq.unwrap_or(i64::MAX);
        let limit = filter.limit.min(i64::MAX as usize) as i64;
        self.with(|c| {
            let rows = c.query(
                "SELECT seq, at_ms, tenant, action, object_id, outcome FROM audit WHERE seq < $1 AND ($2::TEXT IS NULL OR tenant = $2) \
                 ORDER BY seq DESC LIMIT $3",
                &[&before, &filter.tenant, &limit],
            )?;
            rows.iter()
                .map(|r| {
                    let action: String = r.get(3);
                    let action =
                        action.parse().map_err(|m| StoreError::BadRecord { id: format!("audit {}", r.get::<_, i64>(0)), message: m })?;
                    Ok((r.get(0), AuditEntry { at_ms: r.get(1), tenant: r.get(2), action, object_id: r.get(4), outcome: r.get(5) }))
                })
                .collect()
        })
    }

    fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError> {
        let before = filter.before_seq.unwrap_or(i64::MAX);
        let states: Vec<String> = filter.states.iter().map(|s| s.as_str().to_string()).collect();
        let limit = filter.limit.min(i64::MAX as usize) as i64;
        self.with(|c| {
            c.query(
                "SELECT * FROM jobs WHERE seq < $1 AND ($2::TEXT IS NULL OR model_id = $2) \
                 AND (cardinality($3::TEXT[]) = 0 OR state = ANY($3)) AND ($5::TEXT IS NULL OR tenant = $5) ORDER BY seq DESC LIMIT $4",
                &[&before, &filter.model_id, &states, &limit, &filter.tenant],
            )?
            .iter()
            .map(job_from_row)
            .collect()
        })
    }

    fn queued_jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        self.with(|c| c.query("SELECT * FROM jobs WHERE state = 'queued' ORDER BY seq", &[])?.iter().map(job_from_row).collect())
    }

    fn start_job(&self, id: &str, phase: &str, now_ms: i64) -> Result<bool, StoreError> {
        self.tx(|tx| {
            let n = tx.execute(
                "UPDATE jobs SET state = 'running', phase = $2, progress = 0, attempts = attempts + 1, started_ms = $3, \
                 lease_owner = NULL, lease_until = NULL WHERE id = $1 AND state = 'queued'",
                &[&id, &phase, &now_ms],
            )?;
            if n == 1 {
                notify(tx, id)?;
            }
            Ok(n == 1)
        })
    }

    fn set_phase(&self, id: &str, phase: &str, progress: u32) -> Result<(), StoreError> {
        self.tx(|tx| {
            if tx.execute(
                "UPDATE jobs SET phase = $2, progress = $3 WHERE id = $1 AND state = 'running'",
                &[&id, &phase, &(progress as i32)],
            )? == 1
            {
                notify(tx, id)?;
            }
            Ok(())
        })
    }

    fn finish_prove(&self, id: &str, r: &ProveResult, now_ms: i64) -> Result<bool, StoreError> {
        self.tx(|tx| {
            let n = tx.execute(
                "UPDATE jobs SET state = 'done', phase = 'done', progress = 100, proven_outputs_json = $2, \
                 prove_seconds = $3, artifacts_json = $4, finished_ms = $5 WHERE id = $1 AND state = 'running'",
                &[&id, &to_json(&r.proven_outputs), &r.prove_seconds, &to_json(&r.artifacts), &now_ms],
            )?;
            if n == 1 {
                notify(tx, id)?;
            }
            Ok(n == 1)
        })
    }

    fn finish_compile(&self, job_id: &str, model_id: &str, r: &CompileResult, now_ms: i64) -> Result<bool, StoreError> {
        self.tx(|tx| {
            let n = tx.execute(
                "UPDATE jobs SET state = 'done', phase = 'done', progress = 100, finished_ms = $2 WHERE id = $1 AND state = 'running'",
                &[&job_id, &now_ms],
            )?;
            if n != 1 {
                return Ok(false);
            }
            set_ready(tx, model_id, r)?;
            notify(tx, job_id)?;
            Ok(true)
        })
    }

    fn end_job(&self, id: &str, state: JobState, reason: &str, now_ms: i64) -> Result<bool, StoreError> {
        debug_assert!(matches!(state, JobState::Failed | JobState::Cancelled));
        self.tx(|tx| {
            let Some(job) = tx.query_opt("SELECT * FROM jobs WHERE id = $1 FOR UPDATE", &[&id])?.map(|r| job_from_row(&r)).transpose()?
            else {
                return Ok(false);
            };
            if job.state.is_terminal() {
                return Ok(false);
            }
            tx.execute(
                "UPDATE jobs SET state = $2, phase = $2, error = $3, finished_ms = $4, lease_until = NULL WHERE id = $1",
                &[&id, &state.as_str(), &reason, &now_ms],
            )?;
            fail_model_of(tx, &job, state, reason)?;
            notify(tx, id)?;
            Ok(true)
        })
    }

    fn recover(&self, max_attempts: u32, now_ms: i64) -> Result<Recovery, StoreError> {
        // Shared by many processes: only jobs that no live lease holds are this caller's to recover.
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT * FROM jobs WHERE state = 'running' AND (lease_until IS NULL OR lease_until < $1) ORDER BY seq FOR UPDATE",
                &[&now_ms],
            )?;
            let mut out = Recovery::default();
            for row in rows {
                let j = job_from_row(&row)?;
                let id = j.job.id.clone();
                if j.attempts >= max_attempts {
                    let reason = format!("interrupted {} times by a server crash; not retried", j.attempts);
                    tx.execute(
                        "UPDATE jobs SET state = 'failed', phase = 'failed', error = $2, finished_ms = $3, lease_until = NULL WHERE id = $1",
                        &[&id, &reason, &now_ms],
                    )?;
                    tx.execute(
                        "UPDATE models SET state = 'failed', error = 'its compile job was interrupted too often' \
                         WHERE compile_job_id = $1 AND state = 'compiling'",
                        &[&id],
                    )?;
                    out.failed.push(id.clone());
                } else {
                    tx.execute(
                        "UPDATE jobs SET state = 'queued', phase = 'requeued after restart', progress = 0, lease_owner = NULL, \
                         lease_until = NULL WHERE id = $1",
                        &[&id],
                    )?;
                    out.requeued.push(id.clone());
                    notify_queue(tx)?;
                }
                notify(tx, &id)?;
            }
            Ok(out)
        })
    }

    fn claim(&self, worker: &str, free_memory: u64, lease_ms: i64, max_attempts: u32, now_ms: i64) -> Result<Claim, StoreError> {
        self.tx(|tx| {
            let mut out = Claim::default();
            let expired = tx
                .query("SELECT * FROM jobs WHERE state = 'running' AND lease_until < $1 ORDER BY seq FOR UPDATE SKIP LOCKED", &[&now_ms])?;
            for row in expired {
                let j = job_from_row(&row)?;
                let id = j.job.id.clone();
                if j.attempts >= max_attempts {
                    let reason = format!("its worker stopped renewing the lease {} times (killed or lost); not retried", j.attempts);
                    tx.execute(
                        "UPDATE jobs SET state = 'failed', phase = 'failed', error = $2, finished_ms = $3, lease_owner = NULL, \
                         lease_until = NULL WHERE id = $1",
                        &[&id, &reason, &now_ms],
                    )?;
                    fail_model_of(tx, &j, JobState::Failed, &reason)?;
                    out.expired.failed.push(id.clone());
                } else {
                    tx.execute(
                        "UPDATE jobs SET state = 'queued', phase = 'requeued: its worker stopped renewing the lease', progress = 0, \
                         lease_owner = NULL, lease_until = NULL WHERE id = $1",
                        &[&id],
                    )?;
                    out.expired.requeued.push(id.clone());
                    notify_queue(tx)?;
                }
                notify(tx, &id)?;
            }
            let free = free_memory.min(i64::MAX as u64) as i64;
            let next = tx.query_opt(
                &format!(
                    "SELECT j.id FROM jobs j JOIN models m ON m.id = j.model_id WHERE j.state = 'queued' \
                     AND (j.kind = 'compile' OR m.state IN ('ready', 'failed')) AND {NEED_SQL} <= $1 \
                     ORDER BY {FAIR_ORDER_SQL} LIMIT 1 FOR UPDATE OF j SKIP LOCKED"
                ),
                &[&free],
            )?;
            if let Some(row) = next {
                let id: String = row.get(0);
                let row = tx.query_one(
                    "UPDATE jobs SET state = 'running', phase = 'starting', progress = 0, attempts = attempts + 1, started_ms = $2, \
                     lease_owner = $3, lease_until = $4, cancel_requested = FALSE, waiting_budget = NULL WHERE id = $1 RETURNING *",
                    &[&id, &now_ms, &worker, &(now_ms + lease_ms)],
                )?;
                let job = job_from_row(&row)?;
                notify(tx, &id)?;
                let lease = Lease { worker: worker.to_string(), token: job.attempts };
                out.job = Some((job, lease));
            }
            Ok(out)
        })
    }

    fn renew_lease(&self, id: &str, lease: &Lease, lease_ms: i64, now_ms: i64) -> Result<LeaseState, StoreError> {
        self.with(|c| {
            let row = c.query_opt(
                &format!("UPDATE jobs SET lease_until = $4 WHERE {HELD} RETURNING cancel_requested"),
                &[&id, &lease.worker, &token(lease), &(now_ms + lease_ms)],
            )?;
            Ok(match row {
                Some(r) => LeaseState::Held { cancel: r.get(0) },
                None => LeaseState::Lost,
            })
        })
    }

    fn set_phase_leased(&self, id: &str, lease: &Lease, phase: &str, progress: u32) -> Result<bool, StoreError> {
        self.tx(|tx| {
            let n = tx.execute(
                &format!("UPDATE jobs SET phase = $4, progress = $5 WHERE {HELD}"),
                &[&id, &lease.worker, &token(lease), &phase, &(progress as i32)],
            )?;
            if n == 1 {
                notify(tx, id)?;
            }
            Ok(n == 1)
        })
    }

    fn finish_prove_leased(&self, id: &str, lease: &Lease, r: &ProveResult, now_ms: i64) -> Result<bool, StoreError> {
        self.tx(|tx| {
            let n = tx.execute(
                &format!(
                    "UPDATE jobs SET state = 'done', phase = 'done', progress = 100, proven_outputs_json = $4, prove_seconds = $5, \
                     artifacts_json = $6, finished_ms = $7, lease_until = NULL WHERE {HELD}"
                ),
                &[&id, &lease.worker, &token(lease), &to_json(&r.proven_outputs), &r.prove_seconds, &to_json(&r.artifacts), &now_ms],
            )?;
            if n == 1 {
                notify(tx, id)?;
            }
            Ok(n == 1)
        })
    }

    fn finish_compile_leased(
        &self,
        job_id: &str,
        lease: &Lease,
        model_id: &str,
        r: &CompileResult,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.tx(|tx| {
            let n = tx.execute(
                &format!(
                    "UPDATE jobs SET state = 'done', phase = 'done', progress = 100, finished_ms = $4, lease_until = NULL WHERE {HELD}"
                ),
                &[&job_id, &lease.worker, &token(lease), &now_ms],
            )?;
            if n != 1 {
                return Ok(false);
            }
            set_ready(tx, model_id, r)?;
            notify(tx, job_id)?;
            Ok(true)
        })
    }

    fn end_job_leased(&self, id: &str, lease: &Lease, state: JobState, reason: &str, now_ms: i64) -> Result<bool, StoreError> {
        debug_assert!(matches!(state, JobState::Failed | JobState::Cancelled));
        self.tx(|tx| {
            let row = tx.query_opt(
                &format!(
                    "UPDATE jobs SET state = $4, phase = $4, error = $5, finished_ms = $6, lease_until = NULL WHERE {HELD} RETURNING *"
                ),
                &[&id, &lease.worker, &token(lease), &state.as_str(), &reason, &now_ms],
            )?;
            let Some(row) = row else { return Ok(false) };
            fail_model_of(tx, &job_from_row(&row)?, state, reason)?;
            notify(tx, id)?;
            Ok(true)
        })
    }

    fn request_cancel(&self, id: &str) -> Result<bool, StoreError> {
        self.with(|c| Ok(c.execute("UPDATE jobs SET cancel_requested = TRUE WHERE id = $1 AND state = 'running'", &[&id])? == 1))
    }

    fn note_unfit(&self, budget: u64) -> Result<usize, StoreError> {
        let budget = budget.min(i64::MAX as u64) as i64;
        self.tx(|tx| {
            let rows = tx.query(
                &format!(
                    "SELECT j.id, {NEED_SQL} FROM jobs j JOIN models m ON m.id = j.model_id WHERE j.state = 'queued' \
                     AND (j.kind = 'compile' OR m.state = 'ready') AND {NEED_SQL} > $1 \
                     AND (j.waiting_budget IS NULL OR j.waiting_budget < $1) FOR UPDATE OF j SKIP LOCKED"
                ),
                &[&budget],
            )?;
            for row in &rows {
                let (id, need): (String, i64) = (row.get(0), row.get(1));
                tx.execute(
                    "UPDATE jobs SET waiting_budget = $2, phase = $3 WHERE id = $1",
                    &[&id, &budget, &unfit_phase(need as u64, budget as u64)],
                )?;
                notify(tx, &id)?;
            }
            Ok(rows.len())
        })
    }

    fn watch_changes(&self, on_change: Box<dyn Fn(&str) + Send>, stop: Arc<AtomicBool>) -> Result<bool, StoreError> {
        let config = self.config.clone();
        let url = self.url.clone();
        std::thread::Builder::new()
            .name("zkinfer-pg-listen".into())
            .spawn(move || listen(config, url, on_change, stop))
            .map_err(|e| StoreError::Db(format!("cannot start the notification listener: {e}")))?;
        Ok(true)
    }

    fn chain_cursor(&self, key: &str) -> Result<Option<u64>, StoreError> {
        self.with(|c| {
            let row = c.query_opt("SELECT next_block FROM chain_cursors WHERE key = $1", &[&key])?;
            Ok(row.map(|r| r.get::<_, i64>(0) as u64))
        })
    }

    fn set_chain_cursor(&self, key: &str, next_block: u64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO chain_cursors (key, next_block) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET next_block = EXCLUDED.next_block",
                &[&key, &(next_block.min(i64::MAX as u64) as i64)],
            )?;
            Ok(())
        })
    }

    fn count_by_state(&self) -> Result<Vec<(JobState, u64)>, StoreError> {
        self.with(|c| {
            let mut out = Vec::new();
            for row in c.query("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state", &[])? {
                let state: String = row.get(0);
                let n: i64 = row.get(1);
                out.push((state.parse().map_err(|m| StoreError::BadRecord { id: state.clone(), message: m })?, n as u64));
            }
            Ok(out)
        })
    }
}

fn set_ready(tx: &mut Transaction<'_>, model_id: &str, r: &CompileResult) -> Result<(), StoreError> {
    // Its waiting prove jobs become claimable.
    notify_queue(tx)?;
    tx.execute(
        "UPDATE models SET state = 'ready', settings_json = $2, settings_hash = $3, k = $4, artifacts_json = $5, \
         prove_memory = $6, error = NULL WHERE id = $1",
        &[
            &model_id,
            &r.settings_json,
            &r.settings_hash,
            &(r.k as i32),
            &to_json(&r.artifacts),
            &(r.prove_memory.min(i64::MAX as u64) as i64),
        ],
    )?;
    Ok(())
}

/// The notification listener: `LISTEN`, relay every job id, reconnect after the
/// connection breaks (the database restarted), until `stop`. While disconnected,
/// watchers fall back to polling the store; after a reconnect `on_change("")` tells
/// them that changes may have been missed.
fn listen(config: Config, url: String, on_change: Box<dyn Fn(&str) + Send>, stop: Arc<AtomicBool>) {
    let mut warned = false;
    while !stop.load(Ordering::SeqCst) {
        let listen = format!("LISTEN {CHANNEL}; LISTEN {QUEUE_CHANNEL}");
        let mut client = match config.connect(NoTls).and_then(|mut c| c.batch_execute(&listen).map(|_| c)) {
            Ok(c) => c,
            Err(e) => {
                if !warned {
                    tracing::warn!(store = %url, "job notifications unavailable ({}); watchers poll", describe(&e));
                    warned = true;
                }
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        if warned {
            tracing::info!(store = %url, "job notifications restored");
            warned = false;
        }
        on_change("");
        while !stop.load(Ordering::SeqCst) && !client.is_closed() {
            {
                let mut notes = client.notifications();
                let mut it = notes.timeout_iter(Duration::from_millis(250));
                while let Ok(Some(n)) = it.next() {
                    on_change(if n.channel() == QUEUE_CHANNEL { super::QUEUED } else { n.payload() });
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                }
            }
            // A broken connection shows on the next round trip.
            if client.simple_query("").is_err() {
                break;
            }
        }
    }
}

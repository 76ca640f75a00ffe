//! [`JobStore`] on an embedded SQLite database (one file in the data directory).
//!
//! Durability: WAL journal with `synchronous = FULL`, so a committed transaction
//! survives a crash or power loss. The connection holds the database in exclusive
//! locking mode: a second server on the same data directory fails at start with
//! [`StoreError::Locked`] instead of double-running jobs; the OS drops the lock when the
//! process dies, even by SIGKILL.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::lease::{unfit_phase, Claim, Lease, LeaseState, FAIR_ORDER_SQL, NEED_SQL};
use super::records::*;
use super::sqlite_rows::{job_from_row, model_from_row, to_json, JOB_COLS, MIGRATIONS, MODEL_COLS};
use super::{JobStore, StoreError};

/// The embedded job store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn queued_count(tx: &rusqlite::Transaction<'_>) -> Result<usize, StoreError> {
    let n: i64 = tx.query_row("SELECT COUNT(*) FROM jobs WHERE state = 'queued'", [], |r| r.get(0))?;
    Ok(n as usize)
}

/// Refuses a job that would put its tenant over `limits`.
fn check_tenant_limits(tx: &rusqlite::Transaction<'_>, j: &NewJob, limits: &TenantLimits) -> Result<(), StoreError> {
    limits.check(j, |c| {
        Ok(match c {
            TenantCount::Queued => {
                tx.query_row("SELECT COUNT(*) FROM jobs WHERE tenant = ?1 AND state = 'queued'", [&j.tenant], |r| r.get(0))?
            }
            TenantCount::ProvesSince(ms) => tx.query_row(
                "SELECT COUNT(*) FROM jobs WHERE tenant = ?1 AND kind = 'prove' AND created_ms > ?2",
                params![j.tenant, ms],
                |r| r.get(0),
            )?,
        })
    })
}

fn add_owner(tx: &rusqlite::Transaction<'_>, model_id: &str, tenant: &str, now_ms: i64) -> Result<(), StoreError> {
    tx.execute("INSERT OR IGNORE INTO model_owners (model_id, tenant, created_ms) VALUES (?1, ?2, ?3)", params![model_id, tenant, now_ms])?;
    Ok(())
}

fn insert_job(tx: &rusqlite::Transaction<'_>, j: &NewJob) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO jobs (id, kind, model_id, state, priority, idempotency_key, request_hash, input_json, \
         float_outputs_json, float_source, memory_estimate, created_ms, tenant) \
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            j.id,
            j.kind.as_str(),
            j.model_id,
            j.priority,
            j.idempotency_key,
            j.request_hash,
            j.input.as_ref().map(to_json),
            to_json(&j.float_outputs),
            j.float_source.map(|s| s.as_str()),
            j.memory_estimate as i64,
            j.created_ms,
            j.tenant,
        ],
    )?;
    Ok(())
}

fn get_job(conn: &Connection, id: &str) -> Result<Option<JobRecord>, StoreError> {
    Ok(conn.query_row(&format!("SELECT {JOB_COLS} FROM jobs WHERE id = ?1"), [id], job_from_row).optional()?)
}

/// The condition that `?2` (worker) and `?3` (token) hold the lease of job `?1`.
const HELD: &str = "id = ?1 AND state = 'running' AND lease_owner = ?2 AND attempts = ?3";

/// Fails a compile job's model along with it.
fn fail_model_of(tx: &rusqlite::Transaction<'_>, job: &JobRecord, state: JobState, reason: &str) -> Result<(), StoreError> {
    if job.job.kind == JobKind::Compile {
        let id = &job.job.id;
        tx.execute(
            "UPDATE models SET state = 'failed', error = ?3 WHERE id = ?1 AND compile_job_id = ?2",
            params![job.job.model_id, id, format!("compile job {id} {state}: {reason}")],
        )?;
    }
    Ok(())
}

fn get_model(conn: &Connection, id: &str) -> Result<Option<ModelRecord>, StoreError> {
    Ok(conn.query_row(&format!("SELECT {MODEL_COLS} FROM models WHERE id = ?1"), [id], model_from_row).optional()?)
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` and takes the exclusive lock.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Io { path: dir.display().to_string(), message: e.to_string() })?;
        }
        let locked = || StoreError::Locked { path: path.parent().unwrap_or(path).display().to_string() };
        let conn = Connection::open(path)?;
        let busy = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => locked(),
            _ => StoreError::from(e),
        };
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(busy)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(busy)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(busy)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(busy)?;
        // The first write takes the exclusive lock and keeps it while the process lives.
        conn.execute_batch("BEGIN IMMEDIATE;").map_err(busy)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (v, sql) in MIGRATIONS {
            if version < *v {
                conn.execute_batch(&format!("{sql}; PRAGMA user_version = {v};"))?;
            }
        }
        conn.execute_batch("COMMIT;")?;
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }
}

impl JobStore for SqliteStore {
    fn register_model(&self, model: &ModelRecord, job: &NewJob, max_queued: usize) -> Result<Registered, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existing = get_model(&tx, &model.id)?;
            if let Some(m) = existing.as_ref().filter(|m| m.state != ModelState::Failed) {
                add_owner(&tx, &model.id, &job.tenant, job.created_ms)?;
                tx.commit()?;
                return Ok(Registered::Existing(m.clone()));
            }
            if queued_count(&tx)? >= max_queued {
                return Err(StoreError::QueueFull { limit: max_queued });
            }
            if existing.is_some() {
                tx.execute(
                    "UPDATE models SET state = 'compiling', compile_job_id = ?2, error = NULL WHERE id = ?1",
                    params![model.id, job.id],
                )?;
            } else {
                tx.execute(
                    &format!(
                        "INSERT INTO models ({MODEL_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, NULL, NULL, '{{}}', NULL, NULL, ?8)"
                    ),
                    params![
                        model.id,
                        ModelState::Compiling.as_str(),
                        job.id,
                        model.onnx_sha256,
                        model.calibration_sha256,
                        to_json(&model.options),
                        to_json(&model.input_shapes),
                        model.created_ms,
                    ],
                )?;
            }
            insert_job(&tx, job)?;
            add_owner(&tx, &model.id, &job.tenant, job.created_ms)?;
            let stored = get_model(&tx, &model.id)?.expect("just written");
            tx.commit()?;
            Ok(Registered::Created(stored))
        })
    }

    fn model(&self, id: &str) -> Result<Option<ModelRecord>, StoreError> {
        self.with(|conn| get_model(conn, id))
    }

    fn models_in_state(&self, state: ModelState) -> Result<Vec<ModelRecord>, StoreError> {
        self.with(|conn| {
            let mut st = conn.prepare(&format!("SELECT {MODEL_COLS} FROM models WHERE state = ?1"))?;
            let rows = st.query_map([state.as_str()], model_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn submit_job(&self, job: &NewJob, max_queued: usize, limits: &TenantLimits) -> Result<Submitted, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(key) = &job.idempotency_key {
                let earlier = tx
                    .query_row(
                        &format!("SELECT {JOB_COLS} FROM jobs WHERE tenant = ?1 AND idempotency_key = ?2"),
                        [&job.tenant, key],
                        job_from_row,
                    )
                    .optional()?;
                if let Some(earlier) = earlier {
                    if earlier.job.request_hash != job.request_hash {
                        return Err(StoreError::KeyReused { key: key.clone(), job_id: earlier.job.id });
                    }
                    return Ok(Submitted::Existing(earlier));
                }
            }
            if queued_count(&tx)? >= max_queued {
                return Err(StoreError::QueueFull { limit: max_queued });
            }
            check_tenant_limits(&tx, job, limits)?;
            insert_job(&tx, job)?;
            let stored = get_job(&tx, &job.id)?.expect("just written");
            tx.commit()?;
            Ok(Submitted::Created(stored))
        })
    }

    fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.with(|conn| get_job(conn, id))
    }

    fn job_by_idempotency_key(&self, tenant: &str, key: &str) -> Result<Option<JobRecord>, StoreError> {
        self.with(|conn| {
            Ok(conn
                .query_row(&format!("SELECT {JOB_COLS} FROM jobs WHERE tenant = ?1 AND idempotency_key = ?2"), [tenant, key], job_from_row)
                .optional()?)
        })
    }

    fn model_access(&self, model_id: &str, tenant: &str) -> Result<ModelAccess, StoreError> {
        self.with(|conn| {
            let row: (i64, i64, i64) = conn.query_row(
                "SELECT COALESCE(MAX(tenant = ?2), 0), COALESCE(MAX(shared), 0), COALESCE(MAX(share_weights), 0) \
                 FROM model_owners WHERE model_id = ?1",
                [model_id, tenant],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok(ModelAccess { owned: row.0 != 0, shared: row.1 != 0, share_weights: row.2 != 0 })
        })
    }

    fn set_sharing(&self, model_id: &str, tenant: &str, shared: bool, share_weights: bool) -> Result<bool, StoreError> {
        self.with(|conn| {
            let n = conn.execute(
                "UPDATE model_owners SET shared = ?3, share_weights = ?4 WHERE model_id = ?1 AND tenant = ?2",
                params![model_id, tenant, shared, share_weights],
            )?;
            Ok(n == 1)
        })
    }

    fn record_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.with(|conn| {
            conn.execute(
                "INSERT INTO audit (at_ms, tenant, action, object_id, outcome) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![e.at_ms, e.tenant, e.action.as_str(), e.object_id, e.outcome],
            )?;
            Ok(())
        })
    }

    fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<(i64, AuditEntry)>, StoreError> {
        self.with(|conn| {
            let mut st = conn.prepare(
                "SELECT seq, at_ms, tenant, action, object_id, outcome FROM audit WHERE seq < ?1 AND (?2 IS NULL OR tenant = ?2) \
                 ORDER BY seq DESC LIMIT ?3",
            )?;
            let rows = st.query_map(
                params![filter.before_seq.unwrap_or(i64::MAX), filter.tenant, filter.limit.min(i64::MAX as usize) as i64],
                |r| {
                    let action: String = r.get(3)?;
                    let action = action
                        .parse()
                        .map_err(|m: String| rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, m.into()))?;
                    Ok((r.get(0)?, AuditEntry { at_ms: r.get(1)?, tenant: r.get(2)?, action, object_id: r.get(4)?, outcome: r.get(5)? }))
                },
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError> {
        self.with(|conn| {
            let mut sql = format!("SELECT {JOB_COLS} FROM jobs WHERE seq < ?1");
            let mut args: Vec<rusqlite::types::Value> = vec![filter.before_seq.unwrap_or(i64::MAX).into()];
            if let Some(m) = &filter.model_id {
                args.push(m.clone().into());
                sql.push_str(&format!(" AND model_id = ?{}", args.len()));
            }
            if let Some(t) = &filter.tenant {
                args.push(t.clone().into());
                sql.push_str(&format!(" AND tenant = ?{}", args.len()));
            }
            if !filter.states.is_empty() {
                let mut marks = Vec::new();
                for s in &filter.states {
                    args.push(s.as_str().to_string().into());
                    marks.push(format!("?{}", args.len()));
                }
                sql.push_str(&format!(" AND state IN ({})", marks.join(", ")));
            }
            args.push((filter.limit as i64).into());
            sql.push_str(&format!(" ORDER BY seq DESC LIMIT ?{}", args.len()));
            let mut st = conn.prepare(&sql)?;
            let rows = st.query_map(rusqlite::params_from_iter(args), job_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn queued_jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        self.with(|conn| {
            let mut st = conn.prepare(&format!("SELECT {JOB_COLS} FROM jobs WHERE state = 'queued' ORDER BY seq"))?;
            let rows = st.query_map([], job_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn start_job(&self, id: &str, phase: &str, now_ms: i64) -> Result<bool, StoreError> {
        self.with(|conn| {
            let n = conn.execute(
                "UPDATE jobs SET state = 'running', phase = ?2, progress = 0, attempts = attempts + 1, started_ms = ?3 \
                 WHERE id = ?1 AND state = 'queued'",
                params![id, phase, now_ms],
            )?;
            Ok(n == 1)
        })
    }

    fn set_phase(&self, id: &str, phase: &str, progress: u32) -> Result<(), StoreError> {
        self.with(|conn| {
            conn.execute("UPDATE jobs SET phase = ?2, progress = ?3 WHERE id = ?1 AND state = 'running'", params![id, phase, progress])?;
            Ok(())
        })
    }

    fn finish_prove(&self, id: &str, r: &ProveResult, now_ms: i64) -> Result<bool, StoreError> {
        self.with(|conn| {
            let n = conn.execute(
                "UPDATE jobs SET state = 'done', phase = 'done', progress = 100, proven_outputs_json = ?2, \
                 prove_seconds = ?3, artifacts_json = ?4, finished_ms = ?5 WHERE id = ?1 AND state = 'running'",
                params![id, to_json(&r.proven_outputs), r.prove_seconds, to_json(&r.artifacts), now_ms],
            )?;
            Ok(n == 1)
        })
    }

    fn finish_compile(&self, job_id: &str, model_id: &str, r: &CompileResult, now_ms: i64) -> Result<bool, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE jobs SET state = 'done', phase = 'done', progress = 100, finished_ms = ?2 \
                 WHERE id = ?1 AND state = 'running'",
                params![job_id, now_ms],
            )?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute(
                "UPDATE models SET state = 'ready', settings_json = ?2, settings_hash = ?3, k = ?4, artifacts_json = ?5, \
                 prove_memory = ?6, error = NULL WHERE id = ?1",
                params![model_id, r.settings_json, r.settings_hash, r.k, to_json(&r.artifacts), r.prove_memory as i64],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn end_job(&self, id: &str, state: JobState, reason: &str, now_ms: i64) -> Result<bool, StoreError> {
        debug_assert!(matches!(state, JobState::Failed | JobState::Cancelled));
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some(job) = get_job(&tx, id)? else { return Ok(false) };
            if job.state.is_terminal() {
                return Ok(false);
            }
            tx.execute(
                "UPDATE jobs SET state = ?2, phase = ?2, error = ?3, finished_ms = ?4 WHERE id = ?1",
                params![id, state.as_str(), reason, now_ms],
            )?;
            if job.job.kind == JobKind::Compile {
                tx.execute(
                    "UPDATE models SET state = 'failed', error = ?3 WHERE id = ?1 AND compile_job_id = ?2",
                    params![job.job.model_id, id, format!("compile job {id} {state}: {reason}")],
                )?;
            }
            tx.commit()?;
            Ok(true)
        })
    }

    fn recover(&self, max_attempts: u32, now_ms: i64) -> Result<Recovery, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let running: Vec<(String, u32)> = {
                let mut st = tx.prepare("SELECT id, attempts FROM jobs WHERE state = 'running' ORDER BY seq")?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            let mut out = Recovery::default();
            for (id, attempts) in running {
                if attempts >= max_attempts {
                    tx.execute(
                        "UPDATE jobs SET state = 'failed', phase = 'failed', error = ?2, finished_ms = ?3 WHERE id = ?1",
                        params![id, format!("interrupted {attempts} times by a server crash; not retried"), now_ms],
                    )?;
                    tx.execute(
                        "UPDATE models SET state = 'failed', error = 'its compile job was interrupted too often' \
                         WHERE compile_job_id = ?1 AND state = 'compiling'",
                        [&id],
                    )?;
                    out.failed.push(id);
                } else {
                    tx.execute("UPDATE jobs SET state = 'queued', phase = 'requeued after restart', progress = 0 WHERE id = ?1", [&id])?;
                    out.requeued.push(id);
                }
            }
            tx.commit()?;
            Ok(out)
        })
    }

    fn claim(&self, worker: &str, free_memory: u64, lease_ms: i64, max_attempts: u32, now_ms: i64) -> Result<Claim, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut out = Claim::default();
            let expired: Vec<JobRecord> = {
                let mut st = tx.prepare(&format!(
                    "SELECT {JOB_COLS} FROM jobs WHERE state = 'running' AND lease_until IS NOT NULL AND lease_until < ?1 ORDER BY seq"
                ))?;
                let rows = st.query_map([now_ms], job_from_row)?;
                rows.collect::<Result<_, _>>()?
            };
            for j in expired {
                let id = j.job.id.clone();
                if j.attempts >= max_attempts {
                    let reason = format!("its worker stopped renewing the lease {} times (killed or lost); not retried", j.attempts);
                    tx.execute(
                        "UPDATE jobs SET state = 'failed', phase = 'failed', error = ?2, finished_ms = ?3, lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                        params![id, reason, now_ms],
                    )?;
                    fail_model_of(&tx, &j, JobState::Failed, &reason)?;
                    out.expired.failed.push(id);
                } else {
                    tx.execute(
                        "UPDATE jobs SET state = 'queued', phase = 'requeued: its worker stopped renewing the lease', progress = 0, \
                         lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                        [&id],
                    )?;
                    out.expired.requeued.push(id);
                }
            }
            let next: Option<String> = tx
                .query_row(
                    &format!(
                        "SELECT j.id FROM jobs j JOIN models m ON m.id = j.model_id WHERE j.state = 'queued' \
                         AND (j.kind = 'compile' OR m.state IN ('ready', 'failed')) AND {NEED_SQL} <= ?1 \
                         ORDER BY {FAIR_ORDER_SQL} LIMIT 1"
                    ),
                    [free_memory.min(i64::MAX as u64) as i64],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = next {
                tx.execute(
                    "UPDATE jobs SET state = 'running', phase = 'starting', progress = 0, attempts = attempts + 1, started_ms = ?2, \
                     lease_owner = ?3, lease_until = ?4, cancel_requested = 0, waiting_budget = NULL WHERE id = ?1",
                    params![id, now_ms, worker, now_ms + lease_ms],
                )?;
                let job = get_job(&tx, &id)?.expect("just claimed");
                let lease = Lease { worker: worker.to_string(), token: job.attempts };
                out.job = Some((job, lease));
            }
            tx.commit()?;
            Ok(out)
        })
    }

    fn renew_lease(&self, id: &str, lease: &Lease, lease_ms: i64, now_ms: i64) -> Result<LeaseState, StoreError> {
        self.with(|conn| {
            let cancel: Option<bool> = conn
                .query_row(
                    &format!("UPDATE jobs SET lease_until = ?4 WHERE {HELD} RETURNING cancel_requested"),
                    params![id, lease.worker, lease.token, now_ms + lease_ms],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(match cancel {
                Some(cancel) => LeaseState::Held { cancel },
                None => LeaseState::Lost,
            })
        })
    }

    fn set_phase_leased(&self, id: &str, lease: &Lease, phase: &str, progress: u32) -> Result<bool, StoreError> {
        self.with(|conn| {
            let n = conn.execute(
                &format!("UPDATE jobs SET phase = ?4, progress = ?5 WHERE {HELD}"),
                params![id, lease.worker, lease.token, phase, progress],
            )?;
            Ok(n == 1)
        })
    }

    fn finish_prove_leased(&self, id: &str, lease: &Lease, r: &ProveResult, now_ms: i64) -> Result<bool, StoreError> {
        self.with(|conn| {
            let n = conn.execute(
                &format!(
                    "UPDATE jobs SET state = 'done', phase = 'done', progress = 100, proven_outputs_json = ?4, prove_seconds = ?5, \
                     artifacts_json = ?6, finished_ms = ?7, lease_until = NULL WHERE {HELD}"
                ),
                params![id, lease.worker, lease.token, to_json(&r.proven_outputs), r.prove_seconds, to_json(&r.artifacts), now_ms],
            )?;
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
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                &format!(
                    "UPDATE jobs SET state = 'done', phase = 'done', progress = 100, finished_ms = ?4, lease_until = NULL WHERE {HELD}"
                ),
                params![job_id, lease.worker, lease.token, now_ms],
            )?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute(
                "UPDATE models SET state = 'ready', settings_json = ?2, settings_hash = ?3, k = ?4, artifacts_json = ?5, \
                 prove_memory = ?6, error = NULL WHERE id = ?1",
                params![model_id, r.settings_json, r.settings_hash, r.k, to_json(&r.artifacts), r.prove_memory as i64],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn end_job_leased(&self, id: &str, lease: &Lease, state: JobState, reason: &str, now_ms: i64) -> Result<bool, StoreError> {
        debug_assert!(matches!(state, JobState::Failed | JobState::Cancelled));
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                &format!("UPDATE jobs SET state = ?4, phase = ?4, error = ?5, finished_ms = ?6, lease_until = NULL WHERE {HELD}"),
                params![id, lease.worker, lease.token, state.as_str(), reason, now_ms],
            )?;
            if n != 1 {
                return Ok(false);
            }
            let job = get_job(&tx, id)?.expect("just ended");
            fail_model_of(&tx, &job, state, reason)?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn request_cancel(&self, id: &str) -> Result<bool, StoreError> {
        self.with(|conn| Ok(conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND state = 'running'", [id])? == 1))
    }

    fn note_unfit(&self, budget: u64) -> Result<usize, StoreError> {
        let budget = budget.min(i64::MAX as u64) as i64;
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let unfit: Vec<(String, i64)> = {
                let mut st = tx.prepare(&format!(
                    "SELECT j.id, {NEED_SQL} FROM jobs j JOIN models m ON m.id = j.model_id WHERE j.state = 'queued' \
                     AND (j.kind = 'compile' OR m.state = 'ready') AND {NEED_SQL} > ?1 \
                     AND (j.waiting_budget IS NULL OR j.waiting_budget < ?1)"
                ))?;
                let rows = st.query_map([budget], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            for (id, need) in &unfit {
                tx.execute(
                    "UPDATE jobs SET waiting_budget = ?2, phase = ?3 WHERE id = ?1",
                    params![id, budget, unfit_phase(*need as u64, budget as u64)],
                )?;
            }
            tx.commit()?;
            Ok(unfit.len())
        })
    }

    fn count_by_state(&self) -> Result<Vec<(JobState, u64)>, StoreError> {
        self.with(|conn| {
            let mut st = conn.prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (state, n) = row?;
                out.push((state.parse().map_err(|m| StoreError::BadRecord { id: state.clone(), message: m })?, n as u64));
            }
            Ok(out)
        })
    }

    fn chain_cursor(&self, key: &str) -> Result<Option<u64>, StoreError> {
        self.with(|conn| {
            let v: Option<i64> = conn.query_row("SELECT next_block FROM chain_cursors WHERE key = ?1", [key], |r| r.get(0)).optional()?;
            Ok(v.map(|b| b as u64))
        })
    }

    fn set_chain_cursor(&self, key: &str, next_block: u64) -> Result<(), StoreError> {
        self.with(|conn| {
            conn.execute(
                "INSERT INTO chain_cursors (key, next_block) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET next_block = excluded.next_block",
                params![key, next_block as i64],
            )?;
            Ok(())
        })
    }
}

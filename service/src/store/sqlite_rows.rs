//! The SQLite schema and the mapping between rows and records.

use std::collections::BTreeMap;
use std::str::FromStr;

use rusqlite::types::Type;
use rusqlite::Row;
use serde::de::DeserializeOwned;

use super::records::*;

/// Schema version 1. Jobs are ordered by `seq` (insertion order); `idempotency_key` is
/// unique when present.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS models (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  compile_job_id TEXT NOT NULL,
  onnx_sha256 TEXT NOT NULL,
  calibration_sha256 TEXT NOT NULL,
  options_json TEXT NOT NULL,
  input_shapes_json TEXT NOT NULL,
  settings_json TEXT,
  settings_hash TEXT,
  k INTEGER,
  artifacts_json TEXT NOT NULL DEFAULT '{}',
  prove_memory INTEGER,
  error TEXT,
  created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  model_id TEXT NOT NULL REFERENCES models(id),
  state TEXT NOT NULL,
  phase TEXT NOT NULL DEFAULT '',
  progress INTEGER NOT NULL DEFAULT 0,
  priority INTEGER NOT NULL,
  idempotency_key TEXT UNIQUE,
  request_hash TEXT NOT NULL,
  input_json TEXT,
  float_outputs_json TEXT NOT NULL,
  float_source TEXT,
  proven_outputs_json TEXT NOT NULL DEFAULT '[]',
  prove_seconds REAL,
  artifacts_json TEXT NOT NULL DEFAULT '{}',
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  memory_estimate INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  started_ms INTEGER,
  finished_ms INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, seq);
CREATE INDEX IF NOT EXISTS jobs_by_model ON jobs(model_id, seq);
PRAGMA user_version = 1;
";

/// Schema version 2: leases of jobs claimed by worker processes (owner, expiry, the
/// attempt as fencing token), cancellation asked of a running job, and the largest
/// worker budget a queued job was found not to fit.
const SCHEMA_V2: &str = "
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until INTEGER;
ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN waiting_budget INTEGER;
CREATE INDEX IF NOT EXISTS jobs_by_lease ON jobs(state, lease_until);
";

/// Schema version 3: the next block each chain follower scans (key: chain id and
/// coordinator address), so that a restarted node resumes where it stopped.
const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS chain_cursors (
  key TEXT PRIMARY KEY,
  next_block INTEGER NOT NULL
);
";

/// Schema version 4: tenants. Jobs get the submitting `tenant` (rows written before
/// become the tenant `default`), and idempotency keys are unique per tenant (SQLite
/// cannot drop a column's UNIQUE: the table is rebuilt, `seq` values kept). Models may
/// have several owners (`model_owners`, each with its sharing choice; existing models
/// become owned by `default`). The audit trail.
const SCHEMA_V4: &str = "
CREATE TABLE jobs_v4 (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  model_id TEXT NOT NULL REFERENCES models(id),
  tenant TEXT NOT NULL DEFAULT 'default',
  state TEXT NOT NULL,
  phase TEXT NOT NULL DEFAULT '',
  progress INTEGER NOT NULL DEFAULT 0,
  priority INTEGER NOT NULL,
  idempotency_key TEXT,
  request_hash TEXT NOT NULL,
  input_json TEXT,
  float_outputs_json TEXT NOT NULL,
  float_source TEXT,
  proven_outputs_json TEXT NOT NULL DEFAULT '[]',
  prove_seconds REAL,
  artifacts_json TEXT NOT NULL DEFAULT '{}',
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  memory_estimate INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  started_ms INTEGER,
  finished_ms INTEGER,
  lease_owner TEXT,
  lease_until INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  waiting_budget INTEGER,
  UNIQUE (tenant, idempotency_key)
);
INSERT INTO jobs_v4 (seq, id, kind, model_id, tenant, state, phase, progress, priority, idempotency_key, request_hash, input_json,
  float_outputs_json, float_source, proven_outputs_json, prove_seconds, artifacts_json, error, attempts, memory_estimate, created_ms,
  started_ms, finished_ms, lease_owner, lease_until, cancel_requested, waiting_budget)
SELECT seq, id, kind, model_id, 'default', state, phase, progress, priority, idempotency_key, request_hash, input_json,
  float_outputs_json, float_source, proven_outputs_json, prove_seconds, artifacts_json, error, attempts, memory_estimate, created_ms,
  started_ms, finished_ms, lease_owner, lease_until, cancel_requested, waiting_budget FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v4 RENAME TO jobs;
CREATE INDEX jobs_by_state ON jobs(state, seq);
CREATE INDEX jobs_by_model ON jobs(model_id, seq);
CREATE INDEX jobs_by_lease ON jobs(state, lease_until);
CREATE INDEX jobs_by_tenant ON jobs(tenant, state, seq);
CREATE INDEX jobs_by_tenant_start ON jobs(tenant, started_ms);
CREATE TABLE model_owners (
  model_id TEXT NOT NULL REFERENCES models(id),
  tenant TEXT NOT NULL,
  shared INTEGER NOT NULL DEFAULT 0,
  share_weights INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (model_id, tenant)
);
INSERT INTO model_owners (model_id, tenant, created_ms) SELECT id, 'default', created_ms FROM models;
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  tenant TEXT NOT NULL,
  action TEXT NOT NULL,
  object_id TEXT NOT NULL,
  outcome TEXT NOT NULL
);
CREATE INDEX audit_by_tenant ON audit(tenant, seq);
";

/// Migrations by version, applied in order to a database at a lower `user_version`.
pub(super) const MIGRATIONS: &[(i64, &str)] = &[(1, SCHEMA), (2, SCHEMA_V2), (3, SCHEMA_V3), (4, SCHEMA_V4)];

/// Columns read by [`model_from_row`], in order.
pub(crate) const MODEL_COLS: &str = "id, state, compile_job_id, onnx_sha256, calibration_sha256, options_json, \
     input_shapes_json, settings_json, settings_hash, k, artifacts_json, prove_memory, error, created_ms";

/// Columns read by [`job_from_row`], in order.
pub(crate) const JOB_COLS: &str = "id, kind, model_id, priority, idempotency_key, request_hash, input_json, \
     float_outputs_json, float_source, memory_estimate, created_ms, seq, state, phase, progress, \
     proven_outputs_json, prove_seconds, artifacts_json, error, attempts, started_ms, finished_ms, tenant";

fn conversion(col: usize, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, Type::Text, message.into())
}

fn json<T: DeserializeOwned>(row: &Row<'_>, col: usize) -> rusqlite::Result<T> {
    let s: String = row.get(col)?;
    serde_json::from_str(&s).map_err(|e| conversion(col, e.to_string()))
}

fn json_opt<T: DeserializeOwned>(row: &Row<'_>, col: usize) -> rusqlite::Result<Option<T>> {
    let s: Option<String> = row.get(col)?;
    s.map(|s| serde_json::from_str(&s).map_err(|e| conversion(col, e.to_string()))).transpose()
}

fn parsed<T: FromStr<Err = String>>(row: &Row<'_>, col: usize) -> rusqlite::Result<T> {
    let s: String = row.get(col)?;
    s.parse().map_err(|e| conversion(col, e))
}

fn parsed_opt<T: FromStr<Err = String>>(row: &Row<'_>, col: usize) -> rusqlite::Result<Option<T>> {
    let s: Option<String> = row.get(col)?;
    s.map(|s| s.parse().map_err(|e| conversion(col, e))).transpose()
}

/// A JSON text for a column.
pub(super) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("records serialize")
}

/// A row selected with [`MODEL_COLS`].
pub(super) fn model_from_row(row: &Row<'_>) -> rusqlite::Result<ModelRecord> {
    Ok(ModelRecord {
        id: row.get(0)?,
        state: parsed(row, 1)?,
        compile_job_id: row.get(2)?,
        onnx_sha256: row.get(3)?,
        calibration_sha256: row.get(4)?,
        options: json(row, 5)?,
        input_shapes: json(row, 6)?,
        settings_json: row.get(7)?,
        settings_hash: row.get(8)?,
        k: row.get(9)?,
        artifacts: json::<BTreeMap<String, String>>(row, 10)?,
        prove_memory: row.get::<_, Option<i64>>(11)?.map(|v| v as u64),
        error: row.get(12)?,
        created_ms: row.get(13)?,
    })
}

/// A row selected with [`JOB_COLS`].
pub(super) fn job_from_row(row: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let job = NewJob {
        id: row.get(0)?,
        kind: parsed(row, 1)?,
        model_id: row.get(2)?,
        tenant: row.get(22)?,
        priority: row.get(3)?,
        idempotency_key: row.get(4)?,
        request_hash: row.get(5)?,
        input: json_opt(row, 6)?,
        float_outputs: json(row, 7)?,
        float_source: parsed_opt(row, 8)?,
        memory_estimate: row.get::<_, i64>(9)? as u64,
        created_ms: row.get(10)?,
    };
    Ok(JobRecord {
        job,
        seq: row.get(11)?,
        state: parsed(row, 12)?,
        phase: row.get(13)?,
        progress: row.get(14)?,
        proven_outputs: json(row, 15)?,
        prove_seconds: row.get(16)?,
        artifacts: json(row, 17)?,
        error: row.get(18)?,
        attempts: row.get(19)?,
        started_ms: row.get(20)?,
        finished_ms: row.get(21)?,
    })
}

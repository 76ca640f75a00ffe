//! The PostgreSQL schema, its migrations, and the mapping between rows and records.
//!
//! Column names and meanings are those of the SQLite schema (`sqlite_rows.rs`), so both
//! stores read and write the same records; JSON values are stored as text.

use std::str::FromStr;

use postgres::Row;
use serde::de::DeserializeOwned;

use super::records::*;
use super::StoreError;

/// Migrations by version, each applied once in its own transaction (recorded in
/// `zkinfer_migrations`), under an advisory lock so that nodes starting together do
/// not race. Never edit a released migration: add the next version.
pub(super) const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE models (
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
  prove_memory BIGINT,
  error TEXT,
  created_ms BIGINT NOT NULL
);
CREATE TABLE jobs (
  seq BIGSERIAL PRIMARY KEY,
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
  prove_seconds DOUBLE PRECISION,
  artifacts_json TEXT NOT NULL DEFAULT '{}',
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  memory_estimate BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  started_ms BIGINT,
  finished_ms BIGINT
);
CREATE INDEX jobs_by_state ON jobs(state, seq);
CREATE INDEX jobs_by_model ON jobs(model_id, seq);",
    ),
    (
        2,
        "ALTER TABLE jobs ADD COLUMN lease_owner TEXT, ADD COLUMN lease_until BIGINT,
  ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE, ADD COLUMN waiting_budget BIGINT;
CREATE INDEX jobs_queue ON jobs(priority DESC, seq) WHERE state = 'queued';
CREATE INDEX jobs_leases ON jobs(lease_until) WHERE state = 'running';",
    ),
    (3, "CREATE TABLE chain_cursors (key TEXT PRIMARY KEY, next_block BIGINT NOT NULL);"),
    // Tenants (see the SQLite schema's version 4): existing jobs and models belong to `default`.
    (
        4,
        "ALTER TABLE jobs ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE jobs DROP CONSTRAINT jobs_idempotency_key_key;
CREATE UNIQUE INDEX jobs_idempotency_by_tenant ON jobs(tenant, idempotency_key);
CREATE INDEX jobs_by_tenant ON jobs(tenant, state, seq);
CREATE INDEX jobs_by_tenant_start ON jobs(tenant, started_ms);
CREATE TABLE model_owners (
  model_id TEXT NOT NULL REFERENCES models(id),
  tenant TEXT NOT NULL,
  shared BOOLEAN NOT NULL DEFAULT FALSE,
  share_weights BOOLEAN NOT NULL DEFAULT FALSE,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (model_id, tenant)
);
INSERT INTO model_owners (model_id, tenant, created_ms) SELECT id, 'default', created_ms FROM models;
CREATE TABLE audit (
  seq BIGSERIAL PRIMARY KEY,
  at_ms BIGINT NOT NULL,
  tenant TEXT NOT NULL,
  action TEXT NOT NULL,
  object_id TEXT NOT NULL,
  outcome TEXT NOT NULL
);
CREATE INDEX audit_by_tenant ON audit(tenant, seq);",
    ),
];

fn bad(id: &str, col: &str, message: impl ToString) -> StoreError {
    StoreError::BadRecord { id: id.to_string(), message: format!("{col}: {}", message.to_string()) }
}

fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, id: &str, col: &str) -> Result<T, StoreError> {
    row.try_get(col).map_err(|e| bad(id, col, e))
}

fn json<T: DeserializeOwned>(row: &Row, id: &str, col: &str) -> Result<T, StoreError> {
    let s: String = get(row, id, col)?;
    serde_json::from_str(&s).map_err(|e| bad(id, col, e))
}

fn json_opt<T: DeserializeOwned>(row: &Row, id: &str, col: &str) -> Result<Option<T>, StoreError> {
    let s: Option<String> = get(row, id, col)?;
    s.map(|s| serde_json::from_str(&s).map_err(|e| bad(id, col, e))).transpose()
}

fn parsed<T: FromStr<Err = String>>(row: &Row, id: &str, col: &str) -> Result<T, StoreError> {
    let s: String = get(row, id, col)?;
    s.parse().map_err(|e| bad(id, col, e))
}

fn parsed_opt<T: FromStr<Err = String>>(row: &Row, id: &str, col: &str) -> Result<Option<T>, StoreError> {
    let s: Option<String> = get(row, id, col)?;
    s.map(|s| s.parse().map_err(|e| bad(id, col, e))).transpose()
}

/// A row selected with `MODEL_COLS`.
pub(super) fn model_from_row(row: &Row) -> Result<ModelRecord, StoreError> {
    let id: String = get(row, "?", "id")?;
    let i = id.as_str();
    Ok(ModelRecord {
        state: parsed(row, i, "state")?,
        compile_job_id: get(row, i, "compile_job_id")?,
        onnx_sha256: get(row, i, "onnx_sha256")?,
        calibration_sha256: get(row, i, "calibration_sha256")?,
        options: json(row, i, "options_json")?,
        input_shapes: json(row, i, "input_shapes_json")?,
        settings_json: get(row, i, "settings_json")?,
        settings_hash: get(row, i, "settings_hash")?,
        k: get::<Option<i32>>(row, i, "k")?.map(|k| k as u32),
        artifacts: json(row, i, "artifacts_json")?,
        prove_memory: get::<Option<i64>>(row, i, "prove_memory")?.map(|v| v as u64),
        error: get(row, i, "error")?,
        created_ms: get(row, i, "created_ms")?,
        id,
    })
}

/// A row selected with `JOB_COLS`.
pub(super) fn job_from_row(row: &Row) -> Result<JobRecord, StoreError> {
    let id: String = get(row, "?", "id")?;
    let i = id.as_str();
    let job = NewJob {
        kind: parsed(row, i, "kind")?,
        model_id: get(row, i, "model_id")?,
        tenant: get(row, i, "tenant")?,
        priority: get(row, i, "priority")?,
        idempotency_key: get(row, i, "idempotency_key")?,
        request_hash: get(row, i, "request_hash")?,
        input: json_opt(row, i, "input_json")?,
        float_outputs: json(row, i, "float_outputs_json")?,
        float_source: parsed_opt(row, i, "float_source")?,
        memory_estimate: get::<i64>(row, i, "memory_estimate")? as u64,
        created_ms: get(row, i, "created_ms")?,
        id: id.clone(),
    };
    Ok(JobRecord {
        job,
        seq: get(row, i, "seq")?,
        state: parsed(row, i, "state")?,
        phase: get(row, i, "phase")?,
        progress: get::<i32>(row, i, "progress")? as u32,
        proven_outputs: json(row, i, "proven_outputs_json")?,
        prove_seconds: get(row, i, "prove_seconds")?,
        artifacts: json(row, i, "artifacts_json")?,
        error: get(row, i, "error")?,
        attempts: get::<i32>(row, i, "attempts")? as u32,
        started_ms: get(row, i, "started_ms")?,
        finished_ms: get(row, i, "finished_ms")?,
    })
}

//! The job store suite, run against SQLite and PostgreSQL alike: idempotency, the queue
//! limit, state transitions, crash recovery, claims, leases and fencing; then what is
//! particular to each (SQLite's lock against a second server, PostgreSQL's migrations,
//! notifications and connection errors).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::testing::cluster;

fn model(id: &str) -> ModelRecord {
    ModelRecord {
        id: id.into(),
        state: ModelState::Compiling,
        compile_job_id: String::new(),
        onnx_sha256: "o".into(),
        calibration_sha256: "c".into(),
        options: ModelOptions::default(),
        input_shapes: vec![vec![1, 3]],
        settings_json: None,
        settings_hash: None,
        k: None,
        artifacts: Default::default(),
        prove_memory: None,
        error: None,
        created_ms: 1,
    }
}

fn job(id: &str, kind: JobKind, key: Option<&str>, request_hash: &str) -> NewJob {
    NewJob {
        id: id.into(),
        kind,
        model_id: "m".into(),
        tenant: DEFAULT_TENANT.into(),
        priority: 0,
        idempotency_key: key.map(String::from),
        request_hash: request_hash.into(),
        input: (kind == JobKind::Prove).then(|| vec![vec![1.0, 2.5, -3.0]]),
        float_outputs: vec![TensorValue { shape: vec![1], data: vec![0.25] }],
        float_source: Some(FloatSource::OnnxRuntime),
        memory_estimate: 10,
        created_ms: 2,
    }
}

const NO_LIMITS: TenantLimits = TenantLimits { max_queued: None, submits_per_minute: None };

/// Opens the same store again, as a new process would (the previous one dropped first).
type Open<'a> = &'a dyn Fn() -> Box<dyn JobStore>;

fn ready(s: &dyn JobStore, model_id: &str, compile_id: &str, prove_memory: u64) {
    let mut c = job(compile_id, JobKind::Compile, None, model_id);
    c.model_id = model_id.into();
    assert!(matches!(s.register_model(&model(model_id), &c, 100).unwrap(), Registered::Created(_)));
    assert!(s.start_job(compile_id, "starting", 3).unwrap());
    let result = CompileResult { settings_json: "{}".into(), settings_hash: "h".into(), k: 7, artifacts: Default::default(), prove_memory };
    assert!(s.finish_compile(compile_id, model_id, &result, 4).unwrap());
}

fn prove(id: &str, model_id: &str, priority: i32) -> NewJob {
    let mut j = job(id, JobKind::Prove, None, id);
    j.model_id = model_id.into();
    j.priority = priority;
    j
}

fn lifecycle(open: Open<'_>) {
    {
        let s = open();
        assert!(matches!(s.register_model(&model("m"), &job("c", JobKind::Compile, None, "m"), 10).unwrap(), Registered::Created(_)));
        assert!(matches!(s.register_model(&model("m"), &job("c2", JobKind::Compile, None, "m"), 10).unwrap(), Registered::Existing(_)));
        assert!(s.start_job("c", "starting", 3).unwrap());
        let result =
            CompileResult { settings_json: "{}".into(), settings_hash: "h".into(), k: 7, artifacts: Default::default(), prove_memory: 99 };
        assert!(s.finish_compile("c", "m", &result, 4).unwrap());
        assert_eq!(s.model("m").unwrap().unwrap().prove_memory, Some(99));
        assert_eq!(s.models_in_state(ModelState::Ready).unwrap().len(), 1);

        assert!(matches!(s.submit_job(&job("a", JobKind::Prove, Some("k"), "r1"), 2, &NO_LIMITS).unwrap(), Submitted::Created(_)));
        assert!(
            matches!(s.submit_job(&job("a2", JobKind::Prove, Some("k"), "r1"), 2, &NO_LIMITS).unwrap(), Submitted::Existing(j) if j.job.id == "a")
        );
        assert!(matches!(s.submit_job(&job("a3", JobKind::Prove, Some("k"), "r2"), 2, &NO_LIMITS), Err(StoreError::KeyReused { .. })));
        assert_eq!(s.job_by_idempotency_key(DEFAULT_TENANT, "k").unwrap().unwrap().job.id, "a");
        s.submit_job(&job("b", JobKind::Prove, None, "r3"), 2, &NO_LIMITS).unwrap();
        assert!(matches!(s.submit_job(&job("x", JobKind::Prove, None, "r4"), 2, &NO_LIMITS), Err(StoreError::QueueFull { limit: 2 })));
        assert!(s.start_job("a", "starting", 5).unwrap());
        assert!(!s.start_job("a", "starting", 5).unwrap(), "a job starts once");
        s.set_phase("a", "proving", 25).unwrap();
        assert!(s.end_job("b", JobState::Cancelled, "cancelled by request", 6).unwrap());
        assert!(!s.end_job("b", JobState::Failed, "late", 7).unwrap(), "final states are final");
        // "a" is running when the process dies.
    }
    let s = open();
    let a = s.job("a").unwrap().unwrap();
    assert_eq!((a.state, a.phase.as_str(), a.progress), (JobState::Running, "proving", 25));
    let r = s.recover(2, 8).unwrap();
    assert_eq!(r, Recovery { requeued: vec!["a".into()], failed: vec![] });
    let a = s.job("a").unwrap().unwrap();
    assert_eq!((a.state, a.attempts, a.job.input.clone()), (JobState::Queued, 1, Some(vec![vec![1.0, 2.5, -3.0]])));
    assert_eq!(a.job.float_outputs, vec![TensorValue { shape: vec![1], data: vec![0.25] }]);
    assert_eq!(s.queued_jobs().unwrap().len(), 1);
    assert!(s.start_job("a", "starting", 9).unwrap());
    assert_eq!(s.recover(2, 10).unwrap().failed, vec!["a".to_string()], "a job that keeps crashing the server fails");
    let filter = JobFilter {
        states: vec![JobState::Cancelled, JobState::Failed],
        model_id: Some("m".into()),
        tenant: None,
        before_seq: None,
        limit: 10,
    };
    let ids: Vec<_> = s.list_jobs(&filter).unwrap().into_iter().map(|j| j.job.id).collect();
    assert_eq!(ids, vec!["b".to_string(), "a".to_string()], "newest first");
    let all = s.list_jobs(&JobFilter { limit: 10, ..Default::default() }).unwrap();
    assert_eq!(all.len(), 3);
    let page2 = s.list_jobs(&JobFilter { limit: 10, before_seq: Some(all[0].seq), ..Default::default() }).unwrap();
    assert_eq!(page2.len(), 2);
    let mut counts = s.count_by_state().unwrap();
    counts.sort_by_key(|(st, _)| st.as_str());
    assert_eq!(counts, vec![(JobState::Cancelled, 1), (JobState::Done, 1), (JobState::Failed, 1)]);
}

fn claims_leases_and_fencing(open: Open<'_>) {
    let s = open();
    let s = &*s;
    // A model still compiling: its prove jobs are not claimed.
    let mut c = job("cw", JobKind::Compile, None, "w");
    let mw = model("w");
    c.model_id = "w".into();
    c.memory_estimate = 50;
    s.register_model(&mw, &c, 100).unwrap();
    ready(s, "m", "cm", 40);
    s.submit_job(&prove("p-low", "m", 0), 100, &NO_LIMITS).unwrap();
    s.submit_job(&prove("p-high", "m", 5), 100, &NO_LIMITS).unwrap();
    s.submit_job(&prove("p-waits", "w", 9), 100, &NO_LIMITS).unwrap();

    // Not enough memory for anything.
    let none = s.claim("w1", 39, 1000, 3, 100).unwrap();
    assert!(none.job.is_none());
    assert_eq!(s.note_unfit(39).unwrap(), 3, "the compile job (50) and both prove jobs (40) do not fit 39");
    let waiting = s.job("p-low").unwrap().unwrap();
    assert!(waiting.phase.contains("waiting for a worker with more memory"), "{}", waiting.phase);
    assert_eq!(s.note_unfit(39).unwrap(), 0, "recorded once per budget");
    assert_eq!(s.note_unfit(45).unwrap(), 1, "a larger worker that still cannot fit the compile job says so");

    // Priority first, then order; the compile job (50) is skipped by a 45-byte worker.
    let (j1, l1) = s.claim("w1", 45, 1000, 3, 100).unwrap().job.unwrap();
    assert_eq!((j1.job.id.as_str(), j1.state, j1.attempts, l1.token), ("p-high", JobState::Running, 1, 1));
    let (j2, _) = s.claim("w2", 100, 1000, 3, 100).unwrap().job.unwrap();
    assert_eq!(j2.job.id, "cw", "submitted before p-low, and this worker fits it");
    let (j3, l3) = s.claim("w2", 100, 1000, 3, 100).unwrap().job.unwrap();
    assert_eq!(j3.job.id, "p-low");
    assert!(s.claim("w3", 1 << 40, 1000, 3, 100).unwrap().job.is_none(), "p-waits waits for its model");

    // Renewal, phases, cancellation requests.
    assert_eq!(s.renew_lease("p-high", &l1, 1000, 500).unwrap(), LeaseState::Held { cancel: false });
    assert!(s.set_phase_leased("p-high", &l1, "proving", 30).unwrap());
    assert!(s.request_cancel("p-low").unwrap());
    assert_eq!(s.renew_lease("p-low", &l3, 1000, 500).unwrap(), LeaseState::Held { cancel: true });
    assert!(s.end_job_leased("p-low", &l3, JobState::Cancelled, "cancelled by request", 600).unwrap());
    assert!(!s.request_cancel("p-low").unwrap(), "not running any more");

    // w1 stops renewing: at 1501 its lease (until 1500) has expired; w3 takes the job over.
    let c = s.claim("w3", 100, 1000, 3, 1501).unwrap();
    assert_eq!(c.expired.requeued, vec!["cw".to_string(), "p-high".to_string()], "in submission order");
    let (again, l_new) = c.job.unwrap();
    assert_eq!((again.job.id.as_str(), again.attempts, l_new.token), ("p-high", 2, 2));
    // The zombie w1 comes back: it can neither renew, nor report, nor publish, nor end.
    assert_eq!(s.renew_lease("p-high", &l1, 1000, 1600).unwrap(), LeaseState::Lost);
    assert!(!s.set_phase_leased("p-high", &l1, "storing", 95).unwrap());
    let result =
        ProveResult { proven_outputs: vec![vec![1.0]], prove_seconds: 0.5, artifacts: [("proof".to_string(), "aa".to_string())].into() };
    assert!(!s.finish_prove_leased("p-high", &l1, &result, 1700).unwrap());
    assert!(!s.end_job_leased("p-high", &l1, JobState::Failed, "zombie", 1700).unwrap());
    let forged = Lease { worker: "w1".into(), token: 2 };
    assert!(!s.finish_prove_leased("p-high", &forged, &result, 1700).unwrap(), "the token is the holder's only with its worker");
    assert_eq!(s.job("p-high").unwrap().unwrap().phase, "starting");
    // The holder publishes once.
    let mine = ProveResult { artifacts: [("proof".to_string(), "bb".to_string())].into(), ..result.clone() };
    assert!(s.finish_prove_leased("p-high", &l_new, &mine, 1800).unwrap());
    assert!(!s.finish_prove_leased("p-high", &l_new, &mine, 1801).unwrap(), "published once");
    let done = s.job("p-high").unwrap().unwrap();
    assert_eq!((done.state, done.attempts, done.artifacts["proof"].as_str()), (JobState::Done, 2, "bb"));

    // A compile job that kills every worker: requeued until max_attempts, then failed with its model.
    let mut t = 2000;
    for attempt in 2..=3 {
        let c = s.claim("killer", 100, 10, 3, t).unwrap();
        let (j, l) = c.job.unwrap();
        assert_eq!((j.job.id.as_str(), l.token), ("cw", attempt));
        t += 100;
    }
    let c = s.claim("w4", 100, 10, 3, t).unwrap();
    assert_eq!(c.expired.failed, vec!["cw".to_string()]);
    let cw = s.job("cw").unwrap().unwrap();
    assert_eq!(cw.state, JobState::Failed);
    assert!(cw.error.as_deref().unwrap().contains("stopped renewing the lease 3 times"), "{:?}", cw.error);
    assert_eq!(s.model("w").unwrap().unwrap().state, ModelState::Failed);
    // Now its prove job is claimable: a worker fails it with the model's reason.
    let (pw, lw) = c.job.expect("p-waits, of a failed model");
    assert_eq!(pw.job.id, "p-waits");
    assert!(s.end_job_leased("p-waits", &lw, JobState::Failed, "the model failed to compile", t).unwrap());

    // A compile job published under its lease makes the model ready.
    let mut cx = job("cx", JobKind::Compile, None, "x");
    cx.model_id = "x".into();
    let mx = model("x");
    s.register_model(&mx, &cx, 100).unwrap();
    let (j, l) = s.claim("w5", 100, 1000, 3, t).unwrap().job.unwrap();
    assert_eq!(j.job.id, "cx");
    let r = CompileResult { settings_json: "{}".into(), settings_hash: "hx".into(), k: 9, artifacts: Default::default(), prove_memory: 7 };
    assert!(!s.finish_compile_leased("cx", &Lease { worker: "w6".into(), token: 1 }, "x", &r, t).unwrap());
    assert_eq!(s.model("x").unwrap().unwrap().state, ModelState::Compiling);
    assert!(s.finish_compile_leased("cx", &l, "x", &r, t).unwrap());
    assert_eq!(s.model("x").unwrap().unwrap().k, Some(9));
}

fn concurrent_claims_take_each_job_once(open: Open<'_>) {
    let s: Arc<dyn JobStore> = Arc::from(open());
    ready(&*s, "m", "c", 1);
    for i in 0..40 {
        s.submit_job(&prove(&format!("j{i:02}"), "m", 0), 100, &NO_LIMITS).unwrap();
    }
    let taken = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|w| {
            let (s, taken) = (s.clone(), taken.clone());
            std::thread::spawn(move || {
                while let Some((j, l)) = s.claim(&format!("w{w}"), 100, 60_000, 3, crate::jobs::now_ms()).unwrap().job {
                    let r = ProveResult { proven_outputs: vec![], prove_seconds: 0.0, artifacts: Default::default() };
                    assert!(s.finish_prove_leased(&j.job.id, &l, &r, crate::jobs::now_ms()).unwrap());
                    taken.lock().unwrap().push(j.job.id);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut taken = taken.lock().unwrap().clone();
    taken.sort();
    taken.dedup();
    assert_eq!(taken.len(), 40, "every job claimed exactly once");
    let done = s.list_jobs(&JobFilter { states: vec![JobState::Done], limit: 100, ..Default::default() }).unwrap();
    assert!(done.iter().all(|j| j.attempts == 1) && done.len() == 41);
}

fn sqlite_opener(dir: &std::path::Path) -> impl Fn() -> Box<dyn JobStore> + '_ {
    move || Box::new(SqliteStore::open(&dir.join("db.sqlite3")).unwrap())
}

fn pg_opener(url: String) -> impl Fn() -> Box<dyn JobStore> {
    move || Box::new(PgStore::connect(&url).unwrap())
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite_suite {
            use super::*;
            $(#[test] fn $name() { let dir = tempfile::tempdir().unwrap(); super::$name(&sqlite_opener(dir.path())); })*
        }
        mod postgres_suite {
            use super::*;
            $(#[test] fn $name() { super::$name(&pg_opener(cluster().database())); })*
        }
    };
}

both!(
    lifecycle,
    claims_leases_and_fencing,
    concurrent_claims_take_each_job_once,
    chain_cursors_are_per_key_and_survive_reopening,
    tenants_own_models_jobs_and_keys,
    tenant_limits_hold_per_tenant,
    claims_interleave_tenants_of_equal_priority,
    audit_trail_is_kept_and_paged
);

#[test]
fn sqlite_refuses_a_second_server_and_migrates_version_1_databases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    {
        // A database as written before leases existed (schema version 1).
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(super::sqlite_rows::MIGRATIONS[0].1).unwrap();
        assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
    }
    let s = SqliteStore::open(&path).unwrap();
    assert!(matches!(SqliteStore::open(&path), Err(StoreError::Locked { .. })), "a second server is refused");
    ready(&s, "m", "c", 1);
    s.submit_job(&prove("p", "m", 0), 10, &NO_LIMITS).unwrap();
    assert_eq!(s.claim("w", 10, 100, 3, 1).unwrap().job.unwrap().1.token, 1);
    drop(s);
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), 4);
}

/// Inserts, with the SQL of schema version 3, a model and a job holding idempotency key `k`.
const V3_ROWS: &str = "INSERT INTO models (id, state, compile_job_id, onnx_sha256, calibration_sha256, options_json, input_shapes_json, created_ms) \
     VALUES ('old', 'ready', 'c-old', 'o', 'c', '{}', '[]', 1);
     INSERT INTO jobs (id, kind, model_id, state, priority, idempotency_key, request_hash, float_outputs_json, memory_estimate, created_ms) \
     VALUES ('j-old', 'prove', 'old', 'queued', 0, 'k', 'r', '[]', 1, 1);";

/// After the migration to tenants: rows written before belong to the tenant `default`,
/// whose idempotency keys still hold, and another tenant may use the same key.
fn check_migrated_rows(s: &dyn JobStore) {
    let old = s.job("j-old").unwrap().unwrap();
    assert_eq!((old.job.tenant.as_str(), old.job.idempotency_key.as_deref()), (DEFAULT_TENANT, Some("k")));
    assert!(s.model_access("old", DEFAULT_TENANT).unwrap().owned);
    assert_eq!(s.model_access("old", "alice").unwrap(), ModelAccess::default());
    let mut again = job("j-again", JobKind::Prove, Some("k"), "r");
    again.model_id = "old".into();
    assert!(matches!(s.submit_job(&again, 10, &NO_LIMITS).unwrap(), Submitted::Existing(j) if j.job.id == "j-old"));
    let mut alice = job("j-alice", JobKind::Prove, Some("k"), "other");
    alice.model_id = "old".into();
    alice.tenant = "alice".into();
    let created = match s.submit_job(&alice, 10, &NO_LIMITS).unwrap() {
        Submitted::Created(j) => j,
        other => panic!("{other:?}"),
    };
    assert!(created.seq > old.seq, "sequence numbers keep growing after the rebuild");
}

#[test]
fn sqlite_migrates_version_3_rows_to_the_default_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (v, sql) in &super::sqlite_rows::MIGRATIONS[..3] {
            conn.execute_batch(&format!("{sql}; PRAGMA user_version = {v};")).unwrap();
        }
        conn.execute_batch(V3_ROWS).unwrap();
    }
    check_migrated_rows(&SqliteStore::open(&path).unwrap());
}

#[test]
fn postgres_migrates_version_3_rows_to_the_default_tenant() {
    let url = cluster().database();
    {
        let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        c.batch_execute("CREATE TABLE zkinfer_migrations (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)").unwrap();
        for (v, sql) in &super::postgres_rows::MIGRATIONS[..3] {
            c.batch_execute(sql).unwrap();
            c.execute("INSERT INTO zkinfer_migrations (version, applied_ms) VALUES ($1, 0)", &[v]).unwrap();
        }
        c.batch_execute(V3_ROWS).unwrap();
    }
    let s = PgStore::connect(&url).unwrap();
    assert_eq!(s.schema_version().unwrap(), 4);
    check_migrated_rows(&s);
}

fn of_tenant(mut j: NewJob, tenant: &str) -> NewJob {
    j.tenant = tenant.into();
    j
}

fn tenants_own_models_jobs_and_keys(open: Open<'_>) {
    let s = open();
    let s = &*s;
    // Alice registers "m"; Bob registers the same bytes and becomes an owner too.
    let c = of_tenant(job("c", JobKind::Compile, None, "m"), "alice");
    assert!(matches!(s.register_model(&model("m"), &c, 10).unwrap(), Registered::Created(_)));
    assert_eq!(s.model_access("m", "alice").unwrap(), ModelAccess { owned: true, shared: false, share_weights: false });
    assert_eq!(s.model_access("m", "bob").unwrap(), ModelAccess::default());
    assert_eq!(s.model_access("nope", "alice").unwrap(), ModelAccess::default());
    let c2 = of_tenant(job("c2", JobKind::Compile, None, "m"), "bob");
    assert!(matches!(s.register_model(&model("m"), &c2, 10).unwrap(), Registered::Existing(_)));
    assert!(s.model_access("m", "bob").unwrap().owned);
    assert!(s.job("c2").unwrap().is_none(), "an existing model gets no second compile job");
    // Sharing: only owners; any owner's choice shares the model.
    assert!(!s.set_sharing("m", "carol", true, true).unwrap());
    assert_eq!(s.model_access("m", "carol").unwrap(), ModelAccess::default());
    assert!(s.set_sharing("m", "bob", true, false).unwrap());
    assert_eq!(s.model_access("m", "carol").unwrap(), ModelAccess { owned: false, shared: true, share_weights: false });
    assert!(s.set_sharing("m", "alice", true, true).unwrap());
    assert!(s.model_access("m", "carol").unwrap().share_weights);
    assert!(s.set_sharing("m", "alice", false, false).unwrap());
    assert!(s.set_sharing("m", "bob", false, false).unwrap());
    assert_eq!(s.model_access("m", "carol").unwrap(), ModelAccess::default());

    // Idempotency keys are per tenant: the same key by two tenants names two jobs.
    let a = of_tenant(job("a", JobKind::Prove, Some("k"), "r-a"), "alice");
    let b = of_tenant(job("b", JobKind::Prove, Some("k"), "r-b"), "bob");
    assert!(matches!(s.submit_job(&a, 10, &NO_LIMITS).unwrap(), Submitted::Created(_)));
    assert!(matches!(s.submit_job(&b, 10, &NO_LIMITS).unwrap(), Submitted::Created(_)));
    assert_eq!(s.job_by_idempotency_key("bob", "k").unwrap().unwrap().job.id, "b");
    assert_eq!(s.job_by_idempotency_key("alice", "k").unwrap().unwrap().job.id, "a");
    assert!(s.job_by_idempotency_key("carol", "k").unwrap().is_none());
    let a_again = of_tenant(job("a2", JobKind::Prove, Some("k"), "r-b"), "alice");
    assert!(matches!(s.submit_job(&a_again, 10, &NO_LIMITS), Err(StoreError::KeyReused { job_id, .. }) if job_id == "a"));
    assert_eq!(s.job("b").unwrap().unwrap().job.tenant, "bob");

    let ids = |tenant: Option<&str>| -> Vec<String> {
        let f = JobFilter { tenant: tenant.map(String::from), limit: 10, ..Default::default() };
        s.list_jobs(&f).unwrap().into_iter().map(|j| j.job.id).collect()
    };
    assert_eq!(ids(Some("bob")), ["b"]);
    assert_eq!(ids(Some("alice")), ["a", "c"]);
    assert_eq!(ids(None), ["b", "a", "c"]);
}

fn tenant_limits_hold_per_tenant(open: Open<'_>) {
    let s = open();
    let s = &*s;
    ready(s, "m", "c", 1);
    let queued = TenantLimits { max_queued: Some(2), submits_per_minute: None };
    let at = |id: &str, tenant: &str, ms: i64| {
        let mut j = of_tenant(prove(id, "m", 0), tenant);
        j.created_ms = ms;
        j
    };
    s.submit_job(&at("a1", "alice", 10), 100, &queued).unwrap();
    s.submit_job(&at("a2", "alice", 10), 100, &queued).unwrap();
    let e = s.submit_job(&at("a3", "alice", 10), 100, &queued).unwrap_err();
    assert!(matches!(&e, StoreError::TenantLimit { limit: 2, .. }), "{e}");
    assert!(e.to_string().contains("tenant-max-queued") && e.to_string().contains("alice"), "{e}");
    s.submit_job(&at("b1", "bob", 10), 100, &queued).unwrap();
    // A job that leaves the queue frees a place.
    assert!(s.end_job("a1", JobState::Cancelled, "cancelled by request", 11).unwrap());
    s.submit_job(&at("a3", "alice", 12), 100, &queued).unwrap();

    let rate = TenantLimits { max_queued: None, submits_per_minute: Some(3) };
    // Alice submitted 3 prove jobs (a1, a2, a3) in the minute before 60_000.
    let e = s.submit_job(&at("a4", "alice", 60_000), 100, &rate).unwrap_err();
    assert!(e.to_string().contains("tenant-submits-per-minute"), "{e}");
    s.submit_job(&at("b2", "bob", 60_000), 100, &rate).unwrap();
    // A minute after them, the window is clear.
    s.submit_job(&at("a4", "alice", 60_013), 100, &rate).unwrap();
}

fn claims_interleave_tenants_of_equal_priority(open: Open<'_>) {
    let s = open();
    let s = &*s;
    ready(s, "m", "c", 1);
    for id in ["a1", "a2", "a3"] {
        s.submit_job(&of_tenant(prove(id, "m", 0), "alice"), 100, &NO_LIMITS).unwrap();
    }
    s.submit_job(&of_tenant(prove("b1", "m", 0), "bob"), 100, &NO_LIMITS).unwrap();
    s.submit_job(&of_tenant(prove("c1", "m", 0), "carol"), 100, &NO_LIMITS).unwrap();
    s.submit_job(&of_tenant(prove("urgent", "m", 3), "alice"), 100, &NO_LIMITS).unwrap();
    let mut order = Vec::new();
    for t in 0..6 {
        order.push(s.claim("w", 1000, 1000, 3, 100 + t).unwrap().job.unwrap().0.job.id);
    }
    // Priority first; then whoever runs the fewest jobs, not whoever queued first.
    assert_eq!(order, ["urgent", "b1", "c1", "a1", "a2", "a3"]);
}

fn audit_trail_is_kept_and_paged(open: Open<'_>) {
    let s = open();
    let entry = |tenant: &str, action, object: &str, outcome: &str, at_ms| AuditEntry {
        at_ms,
        tenant: tenant.into(),
        action,
        object_id: object.into(),
        outcome: outcome.into(),
    };
    s.record_audit(&entry("alice", AuditAction::Register, "m", "ok", 1)).unwrap();
    s.record_audit(&entry("bob", AuditAction::Fetch, "m/model.onnx", "NOT_FOUND", 2)).unwrap();
    s.record_audit(&entry("alice", AuditAction::Submit, "j", "ok", 3)).unwrap();
    drop(s);
    let s = open();
    let all = s.list_audit(&AuditFilter { limit: 10, ..Default::default() }).unwrap();
    let actions: Vec<_> = all.iter().map(|(_, e)| e.action).collect();
    assert_eq!(actions, [AuditAction::Submit, AuditAction::Fetch, AuditAction::Register], "newest first");
    assert_eq!(all[1].1, entry("bob", AuditAction::Fetch, "m/model.onnx", "NOT_FOUND", 2));
    let alice = s.list_audit(&AuditFilter { tenant: Some("alice".into()), limit: 1, before_seq: None }).unwrap();
    assert_eq!(alice.len(), 1);
    let next = s.list_audit(&AuditFilter { tenant: Some("alice".into()), limit: 10, before_seq: Some(alice[0].0) }).unwrap();
    assert_eq!(next.iter().map(|(_, e)| e.object_id.as_str()).collect::<Vec<_>>(), ["m"]);
}

#[test]
fn postgres_migrates_once_and_relays_changes_from_other_processes() {
    let url = cluster().database();
    let a = PgStore::connect(&url).unwrap();
    let b = PgStore::connect(&url).unwrap();
    assert_eq!(a.schema_version().unwrap(), 4, "every migration applied, once");
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let sink = seen.clone();
    assert!(a.watch_changes(Box::new(move |id| sink.lock().unwrap().push(id.to_string())), stop.clone()).unwrap());
    // The listener is connected once it reports "" (changes may have been missed).
    assert!(crate::testing::wait_until(Duration::from_secs(20), || seen.lock().unwrap().iter().any(|s| s.is_empty())));
    ready(&b, "m", "c", 1);
    b.submit_job(&prove("p", "m", 0), 10, &NO_LIMITS).unwrap();
    assert!(
        crate::testing::wait_until(Duration::from_secs(20), || seen.lock().unwrap().iter().any(|s| s == "p")),
        "a NOTIFY from another store"
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn postgres_configuration_errors_are_clear_and_quick() {
    let c = cluster();
    let t0 = Instant::now();
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = format!("postgres://{}:{}@127.0.0.1:{port}/x", crate::testing::USER, crate::testing::PASSWORD);
    let e = PgStore::connect(&unreachable).err().expect("unreachable database");
    assert!(matches!(e, StoreError::Connect { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("cannot connect to the job store") && !msg.contains(crate::testing::PASSWORD), "{msg}");
    let wrong = c.url("postgres").replace(crate::testing::PASSWORD, "wrong-password");
    let e = PgStore::connect(&wrong).err().expect("wrong password").to_string();
    assert!(e.contains("password authentication failed") && !e.contains("wrong-password"), "{e}");
    let e = PgStore::connect(&c.url("no_such_database")).err().expect("missing database").to_string();
    assert!(e.contains("does not exist"), "{e}");
    assert!(matches!(PgStore::connect("postgres://u@127.0.0.1:notaport/db"), Err(StoreError::BadUrl { .. })));
    // A timeout in the URL is honoured.
    let e = PgStore::connect(&format!("postgres://u:p@127.0.0.1:{port}/x?connect_timeout=2")).err().unwrap();
    assert!(matches!(e, StoreError::Connect { .. }));
    assert!(t0.elapsed() < Duration::from_secs(30), "errors, not hangs: {:?}", t0.elapsed());
}

fn chain_cursors_are_per_key_and_survive_reopening(open: Open<'_>) {
    {
        let s = open();
        assert_eq!(s.chain_cursor("31337:0xabc").unwrap(), None);
        s.set_chain_cursor("31337:0xabc", 7).unwrap();
        s.set_chain_cursor("31337:0xabc", 12).unwrap();
        s.set_chain_cursor("1:0xabc", 3).unwrap();
    }
    let s = open();
    assert_eq!(s.chain_cursor("31337:0xabc").unwrap(), Some(12));
    assert_eq!(s.chain_cursor("1:0xabc").unwrap(), Some(3));
}

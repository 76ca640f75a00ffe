//! The SQLite store's transactions: idempotency, the queue limit, state transitions,
//! crash recovery and the lock against a second server.

use super::*;

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

#[test]
fn jobs_move_through_their_states_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    {
        let s = SqliteStore::open(&path).unwrap();
        assert!(matches!(SqliteStore::open(&path), Err(StoreError::Locked { .. })), "a second server is refused");
        assert!(matches!(s.register_model(&model("m"), &job("c", JobKind::Compile, None, "m"), 10).unwrap(), Registered::Created(_)));
        assert!(matches!(s.register_model(&model("m"), &job("c2", JobKind::Compile, None, "m"), 10).unwrap(), Registered::Existing(_)));
        assert!(s.start_job("c", "starting", 3).unwrap());
        let result = CompileResult { settings_json: "{}".into(), settings_hash: "h".into(), k: 7, artifacts: Default::default(), prove_memory: 99 };
        assert!(s.finish_compile("c", "m", &result, 4).unwrap());
        assert_eq!(s.model("m").unwrap().unwrap().prove_memory, Some(99));

        assert!(matches!(s.submit_job(&job("a", JobKind::Prove, Some("k"), "r1"), 2).unwrap(), Submitted::Created(_)));
        assert!(matches!(s.submit_job(&job("a2", JobKind::Prove, Some("k"), "r1"), 2).unwrap(), Submitted::Existing(j) if j.job.id == "a"));
        assert!(matches!(s.submit_job(&job("a3", JobKind::Prove, Some("k"), "r2"), 2), Err(StoreError::KeyReused { .. })));
        s.submit_job(&job("b", JobKind::Prove, None, "r3"), 2).unwrap();
        assert!(matches!(s.submit_job(&job("x", JobKind::Prove, None, "r4"), 2), Err(StoreError::QueueFull { limit: 2 })));
        assert!(s.start_job("a", "starting", 5).unwrap());
        assert!(!s.start_job("a", "starting", 5).unwrap(), "a job starts once");
        s.set_phase("a", "proving", 25).unwrap();
        assert!(s.end_job("b", JobState::Cancelled, "cancelled by request", 6).unwrap());
        assert!(!s.end_job("b", JobState::Failed, "late", 7).unwrap(), "final states are final");
        // "a" is running when the process dies.
    }
    let s = SqliteStore::open(&path).unwrap();
    let r = s.recover(2, 8).unwrap();
    assert_eq!(r, Recovery { requeued: vec!["a".into()], failed: vec![] });
    let a = s.job("a").unwrap().unwrap();
    assert_eq!((a.state, a.attempts, a.job.input.clone()), (JobState::Queued, 1, Some(vec![vec![1.0, 2.5, -3.0]])));
    assert_eq!(s.queued_jobs().unwrap().len(), 1);
    assert!(s.start_job("a", "starting", 9).unwrap());
    assert_eq!(s.recover(2, 10).unwrap().failed, vec!["a".to_string()], "a job that keeps crashing the server fails");
    let filter = JobFilter { states: vec![JobState::Cancelled, JobState::Failed], model_id: Some("m".into()), before_seq: None, limit: 10 };
    let ids: Vec<_> = s.list_jobs(&filter).unwrap().into_iter().map(|j| j.job.id).collect();
    assert_eq!(ids, vec!["b".to_string(), "a".to_string()], "newest first");
}

#[test]
fn chain_cursors_are_per_key_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.chain_cursor("31337:0xabc").unwrap(), None);
        s.set_chain_cursor("31337:0xabc", 7).unwrap();
        s.set_chain_cursor("31337:0xabc", 12).unwrap();
        s.set_chain_cursor("1:0xabc", 3).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.chain_cursor("31337:0xabc").unwrap(), Some(12));
    assert_eq!(s.chain_cursor("1:0xabc").unwrap(), Some(3));
}

//! Shared by the `service_*` tests: an in-process server on 127.0.0.1, clients, and
//! checks of proofs fetched from the server (natively and in the EVM).

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use tokio_stream::StreamExt;
use zkinfer_compiler::{CircuitSettings, Settings};
use zkinfer_prover::{halo2 as h2, srs};
use zkinfer_service::cli::service_cmds::{connect, Client, ClientArgs};
use zkinfer_service::environment::{ToolArgs, Tools};
use zkinfer_service::jobs::EngineConfig;
use zkinfer_service::proof_file::fr_from_hex;
use zkinfer_service::server::pb::{self, get_artifact_request::Owner};
use zkinfer_service::server::{self, ApiKeys, RunningServer, ServerOptions};
use zkinfer_verifier_contracts::Evm;

/// Upper bound for anything a test waits for.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// A corpus model folder.
pub fn corpus(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus")).join(name)
}

/// The 1l_mlp model bytes and its input.json bytes.
pub fn mlp() -> (Vec<u8>, Vec<u8>) {
    let dir = corpus("1l_mlp");
    (std::fs::read(dir.join("network.onnx")).unwrap(), std::fs::read(dir.join("input.json")).unwrap())
}

/// An in-process server on a free loopback port with its data directory.
pub struct TestServer {
    pub server: RunningServer,
    pub data: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server; `tune` adjusts the options (workers, queue, keys, test pause).
    pub async fn start(tune: impl FnOnce(&mut ServerOptions)) -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let mut engine = EngineConfig::new(data.path(), Tools::resolve(&ToolArgs::default()));
        engine.memory_budget = 8 << 30;
        let mut opts = ServerOptions::new(engine);
        opts.listen = "127.0.0.1:0".parse().unwrap();
        tune(&mut opts);
        let server = server::start(opts).await.expect("server starts");
        TestServer { server, data }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// A client without API key.
    pub async fn client(&self) -> Client {
        self.client_with_key(None).await
    }

    pub async fn client_with_key(&self, key: Option<&str>) -> Client {
        connect(&ClientArgs { server: Some(self.url()), api_key: key.map(String::from), ..Default::default() }).await.unwrap()
    }
}

/// Test options: API keys.
pub fn with_keys(opts: &mut ServerOptions, keys: &[&str]) {
    opts.api_keys = ApiKeys::from_keys(keys);
}

/// Follows a job to its end; returns the states and phases seen, and the final job.
pub async fn wait_job(client: &mut Client, job_id: &str) -> (Vec<pb::JobEvent>, pb::Job) {
    let events = tokio::time::timeout(PATIENCE, async {
        let mut stream = client.watch_job(pb::WatchJobRequest { job_id: job_id.into() }).await.unwrap().into_inner();
        let mut events = Vec::new();
        while let Some(ev) = stream.next().await {
            events.push(ev.unwrap());
        }
        events
    })
    .await
    .expect("the job ends in time");
    let job = client.get_job(pb::GetJobRequest { job_id: job_id.into() }).await.unwrap().into_inner();
    (events, job)
}

/// Registers 1l_mlp and waits until it is compiled; returns the model id.
pub async fn register_mlp(client: &mut Client) -> String {
    let (onnx, input) = mlp();
    let r = client
        .register_model(pb::RegisterModelRequest { onnx, calibration_json: input, options: None, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let (_, job) = wait_job(client, &r.compile_job_id).await;
    assert_eq!(job.state(), pb::JobState::Done, "compile job: {}", job.error);
    r.model_id
}

/// The 1l_mlp input with its values shifted by `delta`.
pub fn mlp_sample(delta: f64) -> pb::Sample {
    let data = vec![1.5417295 + delta, 0.5346153 - delta, 1.2172532 + delta / 2.0];
    pb::Sample { inputs: vec![pb::Tensor { shape: vec![1, 3], data }] }
}

/// Submits a job with a sample.
pub async fn submit(client: &mut Client, model_id: &str, sample: pb::Sample, key: &str) -> Result<pb::SubmitJobResponse, tonic::Status> {
    let req = pb::SubmitJobRequest {
        model_id: model_id.into(),
        input: Some(pb::submit_job_request::Input::Sample(sample)),
        idempotency_key: key.into(),
        priority: 0,
    };
    client.submit_job(req).await.map(|r| r.into_inner())
}

/// An artifact's bytes.
pub async fn artifact(client: &mut Client, owner: Owner, kind: pb::ArtifactKind) -> Vec<u8> {
    let req = pb::GetArtifactRequest { owner: Some(owner), kind: kind as i32 };
    let a = client.get_artifact(req).await.unwrap_or_else(|e| panic!("{kind:?}: {e}")).into_inner();
    assert_eq!(a.sha256, zkinfer_service::hash::sha256_hex(&a.content), "artifacts are content-addressed");
    a.content
}

/// What verifying a job's proof needs, fetched once per model.
pub struct Verifier {
    pub settings: Settings,
    pub params: halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG<halo2_base::halo2_proofs::halo2curves::bn256::Bn256>,
    pub vk: halo2_base::halo2_proofs::plonk::VerifyingKey<halo2_base::halo2_proofs::halo2curves::bn256::G1Affine>,
    pub bytecode: Vec<u8>,
}

impl Verifier {
    /// Fetches the settings, SRS, verifying key and verifier bytecode of a model.
    pub async fn fetch(client: &mut Client, model_id: &str) -> Verifier {
        let m = || Owner::ModelId(model_id.into());
        let settings = Settings::from_json(&artifact(client, m(), pb::ArtifactKind::Settings).await).unwrap();
        let CircuitSettings::Halo2 { shape, .. } = &settings.circuit else { panic!("model {model_id} is not a halo2 model") };
        let params = srs::read_srs(&artifact(client, m(), pb::ArtifactKind::Srs).await, shape.k()).unwrap();
        let vk = h2::read_vk(&artifact(client, m(), pb::ArtifactKind::VerifyingKey).await, shape).unwrap();
        let bytecode = artifact(client, m(), pb::ArtifactKind::VerifierBytecode).await;
        Verifier { settings, params, vk, bytecode }
    }

    /// Fetches a job's proof and instances and verifies them natively; returns them.
    pub async fn check_native(
        &self,
        client: &mut Client,
        job_id: &str,
    ) -> (Vec<halo2_base::halo2_proofs::halo2curves::bn256::Fr>, Vec<u8>) {
        let j = || Owner::JobId(job_id.into());
        let proof = artifact(client, j(), pb::ArtifactKind::Proof).await;
        let hex: Vec<String> = serde_json::from_slice(&artifact(client, j(), pb::ArtifactKind::PublicInstances).await).unwrap();
        let instances: Vec<_> = hex.iter().map(|h| fr_from_hex(h).unwrap()).collect();
        assert!(h2::verify(&self.params, &self.vk, &instances, &proof), "job {job_id}: the proof verifies natively");
        (instances, proof)
    }

    /// Deploys the verifier and calls it with the job's EVM calldata: `(accepted, gas)`.
    pub async fn call_evm(&self, client: &mut Client, job_id: &str, tamper: bool) -> (bool, u64) {
        let mut calldata = artifact(client, Owner::JobId(job_id.into()), pb::ArtifactKind::EvmCalldata).await;
        if tamper {
            let last = calldata.len() - 1;
            calldata[last] ^= 1;
        }
        let mut evm = Evm::new();
        let deployed = evm.deploy(&self.bytecode).unwrap();
        let out = evm.call(deployed.address, &calldata).unwrap();
        // The verifier returns empty data when it accepts.
        (out.success && out.output.is_empty(), out.gas_used)
    }
}

//! The gRPC backend option: a model registered with `backend: GROTH16` is compiled,
//! proved and its proof fetched through the same GetJob / GetArtifact paths, then
//! verified natively and in revm through the generated verifier; combinations the
//! Groth16 backend does not support are refused with INVALID_ARGUMENT naming the field.

mod service_support;

use service_support::*;
use tonic::Code;
use zkinfer_circuits::public;
use zkinfer_models::quant::QuantGraph;
use zkinfer_prover::groth16::{read_proof, read_vk, verify, PublicLayout};
use zkinfer_service::proof_file::fr_from_hex;
use zkinfer_service::server::pb::{self, compile_options::Backend, get_artifact_request::Owner};
use zkinfer_verifier_contracts::groth16::verify_groth16_calldata_on_evm;

fn groth16_options() -> pb::CompileOptions {
    pb::CompileOptions { backend: Backend::Groth16 as i32, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groth16_model_proves_and_verifies_natively_and_on_the_evm() {
    let ts = TestServer::start(|_| {}).await;
    let mut c = ts.client().await;
    let (onnx, input) = mlp();
    let reg = c
        .register_model(pb::RegisterModelRequest {
            onnx: onnx.clone(),
            calibration_json: input.clone(),
            options: Some(groth16_options()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let (_, compile) = wait_job(&mut c, &reg.compile_job_id).await;
    assert_eq!(compile.state(), pb::JobState::Done, "{}", compile.error);
    let model = c.get_model(pb::GetModelRequest { model_id: reg.model_id.clone() }).await.unwrap().into_inner();
    assert_eq!(model.state(), pb::ModelState::Ready);
    assert_eq!(model.options.as_ref().unwrap().backend(), Backend::Groth16);
    let settings: serde_json::Value = serde_json::from_str(&model.settings_json).unwrap();
    assert_eq!(settings["backend"], "groth16");
    // The backend is part of the model id: the same model and calibration with halo2
    // (the default) is another model.
    let halo2 = c
        .register_model(pb::RegisterModelRequest { onnx, calibration_json: input, options: None, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(halo2.model_id, reg.model_id);
    let _ = c.cancel_job(pb::CancelJobRequest { job_id: halo2.compile_job_id.clone() }).await;

    let sub = submit(&mut c, &model.id, mlp_sample(0.0), "g16-1").await.unwrap();
    let (_, job) = wait_job(&mut c, &sub.job_id).await;
    assert_eq!(job.state(), pb::JobState::Done, "{}", job.error);
    for (p, f) in job.proven_outputs[0].data.iter().zip(&sub.float_outputs[0].data) {
        assert!((p - f).abs() < 1e-2, "proven {p} vs float {f}");
    }

    let m = || Owner::ModelId(model.id.clone());
    let j = || Owner::JobId(job.id.clone());
    let quant: QuantGraph = serde_json::from_slice(&artifact(&mut c, m(), pb::ArtifactKind::QuantizedModel).await).unwrap();
    let vk = read_vk(&artifact(&mut c, m(), pb::ArtifactKind::VerifyingKey).await, &quant).unwrap();
    let bytecode = artifact(&mut c, m(), pb::ArtifactKind::VerifierBytecode).await;
    let proof = read_proof(&artifact(&mut c, j(), pb::ArtifactKind::Proof).await).unwrap();
    let hex: Vec<String> = serde_json::from_slice(&artifact(&mut c, j(), pb::ArtifactKind::PublicInstances).await).unwrap();
    let words: Vec<_> = hex.iter().map(|h| fr_from_hex(h).unwrap()).collect();
    let values = public::unpack(&words, quant.num_public(), quant.bits).expect("a valid packing");
    let layout = PublicLayout::of(&quant);
    assert!(verify(&vk, &layout, &values, &proof).unwrap(), "the service's proof verifies natively");
    let mut wrong = values.clone();
    *wrong.last_mut().unwrap() += 1;
    assert!(!verify(&vk, &layout, &wrong, &proof).unwrap(), "a changed output is rejected natively");

    let calldata = artifact(&mut c, j(), pb::ArtifactKind::EvmCalldata).await;
    let honest = verify_groth16_calldata_on_evm(&bytecode, &calldata).unwrap();
    assert!(honest.accepted, "the service's proof verifies on the EVM");
    println!("1l_mlp via gRPC, Groth16: {} gas", honest.gas_used);
    let mut tampered = calldata.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(!verify_groth16_calldata_on_evm(&bytecode, &tampered).unwrap().accepted, "a changed output is rejected on the EVM");
    let mut tampered = calldata;
    tampered[4 + 31] ^= 1;
    assert!(!verify_groth16_calldata_on_evm(&bytecode, &tampered).unwrap().accepted, "a tampered proof is rejected on the EVM");
    let sol = artifact(&mut c, m(), pb::ArtifactKind::SolidityVerifier).await;
    assert!(String::from_utf8(sol).unwrap().contains("contract"));
    let (_, halo2_job) = wait_job(&mut c, &halo2.compile_job_id).await;
    assert!(matches!(halo2_job.state(), pb::JobState::Done | pb::JobState::Cancelled), "{}", halo2_job.error);
    ts.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_groth16_combinations_are_refused() {
    let ts = TestServer::start(|_| {}).await;
    let mut c = ts.client().await;
    let (onnx, input) = mlp();
    let private = pb::CompileOptions { output_visibility: pb::Visibility::Private as i32, ..groth16_options() };
    let fixed_k = pb::CompileOptions { k: 8, ..groth16_options() };
    // The field named is the option the backend cannot honour.
    for (options, field) in [(private, "options.output_visibility"), (fixed_k, "options.k")] {
        let req =
            pb::RegisterModelRequest { onnx: onnx.clone(), calibration_json: input.clone(), options: Some(options), ..Default::default() };
        let e = c.register_model(req).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
        let m = e.message();
        assert!(m.starts_with(field) && (m.contains("groth16") || m.contains("halo2")), "{m}");
    }
    ts.server.shutdown().await.unwrap();
}

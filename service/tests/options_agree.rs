//! The CLI (`compile`, `register`) and gRPC (`RegisterModel`) front ends build the same
//! typed compile options from the same request, and so the same circuit: each divergence
//! the two front ends once had is pinned here (`--target resources`, Groth16's pinned
//! scales, options a backend cannot honour, the largest k, private parameters without
//! pinned scales).

mod service_support;

use clap::Parser;
use service_support::*;
use zkinfer_circuits::layout::Optimize;
use zkinfer_circuits::{ParamVisibility, Visibility};
use zkinfer_compiler::{CompileOptions, Settings, Target};
use zkinfer_prover::Backend;
use zkinfer_service::cli::{Cli, Command};
use zkinfer_service::server::convert::model_options;
use zkinfer_service::server::pb::{self, compile_options};

/// The options `zkinfer compile M --input I --out D FLAGS` compiles with.
fn compile_flags(flags: &[&str]) -> CompileOptions {
    let mut args = vec!["zkinfer", "compile", "m.onnx", "--input", "i.json", "--out", "d"];
    args.extend_from_slice(flags);
    match Cli::try_parse_from(args).unwrap().command {
        Command::Compile { flags, .. } => flags.options.options(),
        _ => unreachable!(),
    }
}

/// The options `zkinfer register M --calibration C FLAGS` sends.
fn register_flags(flags: &[&str]) -> CompileOptions {
    let mut args = vec!["zkinfer", "register", "m.onnx", "--calibration", "c.json"];
    args.extend_from_slice(flags);
    match Cli::try_parse_from(args).unwrap().command {
        Command::Register { options, .. } => {
            // What the server makes of what the client sends.
            model_options(Some(zkinfer_service::server::convert::wire_options(&options.options()))).unwrap()
        }
        _ => unreachable!(),
    }
}

#[test]
fn cli_and_grpc_build_the_same_options() {
    let cases: Vec<(&[&str], pb::CompileOptions, CompileOptions)> = vec![
        (
            &["--target", "resources"],
            pb::CompileOptions { target: pb::Target::Resources as i32, ..Default::default() },
            CompileOptions { target: Target::Resources, ..Default::default() },
        ),
        (
            &["--backend", "groth16", "--scale", "6", "--param-scale", "6"],
            pb::CompileOptions {
                backend: compile_options::Backend::Groth16 as i32,
                scale: Some(6),
                param_scale: Some(6),
                ..Default::default()
            },
            CompileOptions { backend: Backend::Groth16, scale: Some(6), param_scale: Some(6), ..Default::default() },
        ),
        // The default largest k, said or not, is one option.
        (&["--max-k", "23", "--optimize", "prove"], pb::CompileOptions { max_k: 23, ..Default::default() }, CompileOptions::default()),
        (
            &["--optimize", "gas", "--max-advice", "4", "--mac-width", "2", "--bits", "28", "--max-error", "0.05"],
            pb::CompileOptions {
                optimize: compile_options::Optimize::Gas as i32,
                max_advice: 4,
                mac_width: Some(2),
                bits: Some(28),
                max_error: Some(0.05),
                ..Default::default()
            },
            CompileOptions {
                optimize: Some(Optimize::Gas),
                max_advice: Some(4),
                mac_width: Some(2),
                bits: Some(28),
                max_error: Some(0.05),
                ..Default::default()
            },
        ),
        // Private or hashed parameters calibrate by default: no pinned scales needed.
        (
            &["--param-visibility", "hashed", "--input-visibility", "hashed"],
            pb::CompileOptions {
                param_visibility: pb::ParamVisibility::Hashed as i32,
                input_visibility: pb::Visibility::Hashed as i32,
                ..Default::default()
            },
            CompileOptions { param_visibility: ParamVisibility::Hashed, input_visibility: Visibility::Hashed, ..Default::default() },
        ),
    ];
    for (flags, wire, want) in cases {
        assert_eq!(compile_flags(flags), want, "compile {flags:?}");
        assert_eq!(register_flags(flags), want, "register {flags:?}");
        assert_eq!(model_options(Some(wire)).unwrap(), want, "gRPC for {flags:?}");
        // The same options quantize and plan the same way (what the circuit follows).
        assert_eq!(format!("{:?}", want.quant_options()), format!("{:?}", compile_flags(flags).quant_options()));
    }
    // resources: the same quantization on every front end (it once meant 24 bits and
    // scale 2^8 over gRPC only).
    let q = compile_flags(&["--target", "resources"]).quant_options();
    assert_eq!((q.bits, q.max_scale), (24, 8));
}

#[test]
fn options_a_backend_cannot_honour_are_refused_by_both_front_ends() {
    for (flags, field) in [
        (&["--backend", "groth16", "--k", "10"][..], "k"),
        (&["--backend", "groth16", "--input-visibility", "hashed"][..], "input_visibility"),
        (&["--backend", "groth16", "--optimize", "gas"][..], "optimize"),
        (&["--backend", "groth16", "--max-advice", "5"][..], "max_advice"),
    ] {
        let cli = compile_flags(flags);
        assert_eq!(cli.validate().unwrap_err().field, field, "{flags:?}");
        let e = model_options(Some(zkinfer_service::server::convert::wire_options(&cli))).unwrap_err();
        assert!(e.to_string().contains(&format!("options.{field}")), "{flags:?}: {e}");
    }
}

/// `zkinfer compile --target resources` and `RegisterModel { target: RESOURCES }` compile
/// 1l_mlp to the same circuit: the same settings hash (quantized graph, shape, SRS, version).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_compile_and_grpc_register_make_the_same_circuit() {
    let dir = corpus("1l_mlp");
    let out = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_zkinfer");
    let status = std::process::Command::new(bin)
        .env("ZKINFER_CACHE", cache.path())
        .args(["compile", dir.join("network.onnx").to_str().unwrap(), "--input", dir.join("input.json").to_str().unwrap()])
        .args(["--out", out.path().to_str().unwrap(), "--target", "resources"])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let cli = Settings::from_json(&std::fs::read(out.path().join("settings.json")).unwrap()).unwrap();

    let ts = TestServer::start(|_| {}).await;
    let mut c = ts.client().await;
    let (onnx, input) = mlp();
    let options = pb::CompileOptions { target: pb::Target::Resources as i32, ..Default::default() };
    let r = c
        .register_model(pb::RegisterModelRequest { onnx, calibration_json: input, options: Some(options), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let (_, job) = wait_job(&mut c, &r.compile_job_id).await;
    assert_eq!(job.state(), pb::JobState::Done, "{}", job.error);
    let m = c.get_model(pb::GetModelRequest { model_id: r.model_id }).await.unwrap().into_inner();
    let grpc = Settings::from_json(m.settings_json.as_bytes()).unwrap();
    assert_eq!(grpc.options, cli.options);
    assert_eq!(grpc.calibration.bits, 24, "resources: 24-bit activations");
    assert_eq!(grpc.settings_hash, cli.settings_hash, "the same circuit from both front ends");
    ts.server.shutdown().await.unwrap();
}

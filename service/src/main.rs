//! The `zkinfer` binary.

use clap::Parser;
use zkinfer_service::cli::{commands, segment_cmds, service_cmds, Cli, Command};
use zkinfer_service::environment::{self, Tools};

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run { model, input, device, tools } => commands::run(model, input, device, &Tools::resolve(tools)),
        Command::Compile { model, input, out, flags, json, tools } => {
            commands::compile(model, input, out, flags, *json, &Tools::resolve(tools))
        }
        Command::Prove { dir, input, out } => commands::prove(dir, input, out),
        Command::Hash { dir, input, params: _ } => commands::hash(dir, input.as_deref()),
        Command::Verify { dir, proof } => commands::verify(dir, proof),
        Command::CompileSegments { model, input, out, segment_k, segments, flags, tools } => segment_cmds::compile(
            model,
            input,
            out,
            flags,
            zkinfer_compiler::segments::SegmentOptions { max_k: *segment_k, parts: *segments },
            &Tools::resolve(tools),
        ),
        Command::ProveSegments { dir, input, out, segment } => segment_cmds::prove(dir, input, out, segment),
        Command::JoinSegments { dir, parts, out } => segment_cmds::join(dir, parts, out),
        Command::VerifySegments { dir, proof, evm, rpc } => segment_cmds::verify(dir, proof, *evm, rpc.as_deref()),
        Command::VerifyEvm { dir, proof, rpc: None } => commands::verify_evm(dir, proof),
        Command::VerifyEvm { dir, proof, rpc: Some(rpc) } => zkinfer_service::cli::chain_cmds::verify_evm_rpc(dir, proof, rpc),
        Command::Deploy { dir, rpc, key_file, tools } => {
            zkinfer_service::cli::chain_cmds::deploy(dir, rpc, key_file.as_deref(), &Tools::resolve(tools))
        }
        Command::DeployCoordinator { rpc, key_file, timeout, tools } => {
            zkinfer_service::cli::chain_cmds::deploy_coordinator(rpc, key_file.as_deref(), *timeout, &Tools::resolve(tools))
        }
        Command::RegisterOnchain { dir, coordinator, model_id, rpc, key_file } => {
            zkinfer_service::cli::chain_cmds::register_onchain(dir, coordinator, model_id.as_deref(), rpc, key_file.as_deref())
        }
        Command::Serve(args) => service_cmds::serve(args),
        Command::Worker(args) => zkinfer_service::cli::worker_cmd::worker(args),
        Command::Register { model, calibration, options, wait, shared, share_weights, client } => {
            service_cmds::register(client, model, calibration, &options.options(), *wait, (*shared, *share_weights))
        }
        Command::Share { model_id, shared, share_weights, client } => service_cmds::share(client, model_id, *shared, *share_weights),
        Command::Audit { tenant, limit, client } => service_cmds::audit(client, tenant.as_deref(), *limit),
        Command::Submit { model_id, input, priority, idempotency_key, watch, client } => {
            service_cmds::submit(client, model_id, input, *priority, idempotency_key.clone(), *watch)
        }
        Command::Job { id, watch, client } => service_cmds::job(client, id, *watch),
        Command::Fetch { id, kind, out, client } => service_cmds::fetch(client, id, kind, out),
        Command::Conformance { dir, report, only, evm, tools } => {
            zkinfer_service::cli::conformance_cmd::conformance(dir, report.as_ref(), only.as_deref(), *evm, &Tools::resolve(tools))
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        if let Some(hint) = e.chain().find_map(environment::contract_error).and_then(environment::flag_hint) {
            eprintln!("hint: {hint}");
        }
        std::process::exit(1);
    }
}

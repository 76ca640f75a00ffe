//! The `zkinfer` binary.

use clap::Parser;
use zkinfer_service::cli::{commands, Cli, Command};

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run { model, input, device } => commands::run(model, input, device),
        Command::Compile { model, input, out, flags, json } => commands::compile(model, input, out, flags, *json),
        Command::Prove { dir, input, out } => commands::prove(dir, input, out),
        Command::Verify { dir, proof } => commands::verify(dir, proof),
        Command::VerifyEvm { dir, proof } => commands::verify_evm(dir, proof),
        Command::Conformance { dir, report, only, evm } => {
            zkinfer_service::cli::conformance_cmd::conformance(dir, report.as_ref(), only.as_deref(), *evm)
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

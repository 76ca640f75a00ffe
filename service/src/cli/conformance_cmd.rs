//! `zkinfer conformance DIR [--report FILE]`: the conformance runner on the command line.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use zkinfer_compiler::Environment;

use crate::conformance::{run_dir, table_header, table_row, ConformanceOptions, ModelResult, Status};
use crate::environment::Tools;
use crate::fsio::write_atomic;
use crate::keycache::DiskKeyCache;

/// Runs every model folder under `dir` (optionally only the comma-separated `only`),
/// prints the table as results come, writes the JSON report, and fails when a model
/// does not pass.
pub fn conformance(dir: &Path, report: Option<&PathBuf>, only: Option<&str>, evm: bool, tools: &Tools) -> Result<()> {
    let names: Option<Vec<String>> = only.map(|o| o.split(',').map(|s| s.trim().to_string()).collect());
    let filter = |n: &str| names.as_ref().is_none_or(|v| v.iter().any(|x| x == n));
    let opts = ConformanceOptions { evm, ..Default::default() };
    println!("{}", table_header());
    let results = run_dir(dir, &filter, &opts, &Environment::new(tools.solc.clone()), &DiskKeyCache::default_location(), |r| {
        println!("{}", table_row(r))
    })?;
    let count = |f: &dyn Fn(&ModelResult) -> bool| results.iter().filter(|r| f(r)).count();
    let (pass, unsupported) = (count(&|r| r.passed()), count(&|r| matches!(r.status, Status::Unsupported(_))));
    println!("{pass} of {} pass, {unsupported} unsupported, {} failed", results.len(), results.len() - pass - unsupported);
    if let Some(path) = report {
        write_atomic(path, &serde_json::to_vec_pretty(&results)?)?;
        eprintln!("report written to {}", path.display());
    }
    if pass != results.len() {
        bail!("{} of {} models do not pass", results.len() - pass, results.len());
    }
    Ok(())
}

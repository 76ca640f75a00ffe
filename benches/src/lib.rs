//! zkinfer benchmarks: criterion benches of the hot parts (`benches/`), the `evm_call`,
//! `profile_prove` and `scaling` tools, and the side-by-side comparison with EZKL
//! (`compare/compare.py`).

pub mod gen;

use std::path::PathBuf;

use anyhow::Result;
use zkinfer_circuits::Plan;
use zkinfer_compiler::{CompileInput, CompileOptions, Silent};
use zkinfer_models::input_json::InputData;
use zkinfer_models::prepare::{prepare_input, Prepared};
use zkinfer_models::quant::QuantGraph;
use zkinfer_models::QuantOptions;
use zkinfer_verifier_contracts::Solc;

/// The solc these tools compile with, found as the zkinfer binary finds it (without its
/// flags): `ZKINFER_SOLC_DIR`, else `$ZKINFER_HOME/solc` (default `~/.cache/zkinfer/solc`),
/// run by `ZKINFER_NODE` (default `node`).
pub fn solc() -> Solc {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = var("ZKINFER_HOME").unwrap_or_else(|| var("HOME").unwrap_or_default().join(".cache/zkinfer"));
    Solc::in_dir(var("ZKINFER_NODE").unwrap_or_else(|| "node".into()), &var("ZKINFER_SOLC_DIR").unwrap_or_else(|| home.join("solc")))
}

/// A model calibrated on its input, with that input quantized: what the circuit takes,
/// as `zkinfer compile` quantizes it with default options, and the shapes its planner
/// weighs, best first.
pub struct Loaded {
    pub quant: QuantGraph,
    pub qin: Vec<Vec<i64>>,
    pub candidates: Vec<Plan>,
}

/// Calibrates, quantizes and plans `onnx` on the (first) sample of `input_json` through
/// the compiler, with `opts` (the compiler's own choices: calibration search, scale).
pub fn load_with(onnx: &[u8], input_json: &str, opts: &CompileOptions) -> Result<Loaded> {
    let input = InputData::from_json_str(input_json)?;
    let samples = input.samples();
    let ci = CompileInput { onnx, samples: &samples, input_shapes: input.input_shapes.as_deref(), reference: None };
    let p = zkinfer_compiler::halo2::plan(&ci, opts, &Silent)?;
    Ok(Loaded { quant: p.chosen.prepared.quant, qin: p.qin, candidates: p.candidates })
}

/// [`load_with`] default options.
pub fn load(onnx: &[u8], input_json: &str) -> Result<Loaded> {
    load_with(onnx, input_json, &CompileOptions::default())
}

/// A model folder (`network.onnx`, `input.json`) prepared with default options, and its
/// input samples: for tools that look at the float graph and fidelity too.
pub fn prepare_dir(dir: &str) -> Result<(Prepared, Vec<Vec<Vec<f64>>>)> {
    let onnx = std::fs::read(format!("{dir}/network.onnx"))?;
    Ok(prepare_input(&onnx, &InputData::from_path(format!("{dir}/input.json"))?, &QuantOptions::default())?)
}

/// [`load_with`] of a model folder (`network.onnx`, `input.json`).
pub fn load_dir_with(dir: &str, opts: &CompileOptions) -> Result<Loaded> {
    let read = |name: &str| std::fs::read(format!("{dir}/{name}")).map_err(|e| anyhow::anyhow!("cannot read {dir}/{name}: {e}"));
    load_with(&read("network.onnx")?, &String::from_utf8(read("input.json")?)?, opts)
}

/// [`load`] of a model folder (`network.onnx`, `input.json`).
pub fn load_dir(dir: &str) -> Result<Loaded> {
    load_dir_with(dir, &CompileOptions::default())
}

/// Peak resident memory of this process so far, in bytes (Linux `VmHWM`).
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map_or(0, |kb| kb * 1024)
}

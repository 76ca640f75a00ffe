//! zkinfer benchmarks: criterion benches of the hot parts (`benches/`), the `evm_call`,
//! `profile_prove` and `scaling` tools, and the side-by-side comparison with EZKL
//! (`compare/compare.py`).

pub mod gen;

use anyhow::Result;
use zkinfer_models::input_json::InputData;
use zkinfer_models::prepare::{hints_for, prepare, Prepared};
use zkinfer_models::quant::QuantGraph;
use zkinfer_models::{interp, QuantOptions};

/// A model calibrated on its input, with that input quantized: what the circuit takes.
pub struct Loaded {
    pub quant: QuantGraph,
    pub qin: Vec<Vec<i64>>,
}

/// Calibrates and quantizes `onnx` on the (first) sample of `input_json`.
pub fn load(onnx: &[u8], input_json: &str) -> Result<Loaded> {
    let (p, samples) = prepared(onnx, &InputData::from_json_str(input_json)?)?;
    let qin = interp::quantize_inputs(&p.quant, &samples[0])?;
    Ok(Loaded { quant: p.quant, qin })
}

/// A model folder (`network.onnx`, `input.json`) prepared with default options, and its
/// input samples: for tools that look at the float graph and fidelity too.
pub fn prepare_dir(dir: &str) -> Result<(Prepared, Vec<Vec<Vec<f64>>>)> {
    prepared(&std::fs::read(format!("{dir}/network.onnx"))?, &InputData::from_path(format!("{dir}/input.json"))?)
}

fn prepared(onnx: &[u8], input: &InputData) -> Result<(Prepared, Vec<Vec<Vec<f64>>>)> {
    let samples = input.samples();
    let p = prepare(onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), &QuantOptions::default())?;
    Ok((p, samples))
}

/// [`load`] of a model folder (`network.onnx`, `input.json`).
pub fn load_dir(dir: &str) -> Result<Loaded> {
    let read = |name: &str| std::fs::read(format!("{dir}/{name}")).map_err(|e| anyhow::anyhow!("cannot read {dir}/{name}: {e}"));
    load(&read("network.onnx")?, &String::from_utf8(read("input.json")?)?)
}

/// Peak resident memory of this process so far, in bytes (Linux `VmHWM`).
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map_or(0, |kb| kb * 1024)
}

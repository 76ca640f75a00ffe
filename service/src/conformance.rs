//! The conformance runner: every model folder under a directory (`network.onnx` +
//! `input.json`, compared with `expected_output.json` when present) goes through
//! compile, prove and verify; the result is one [`ModelResult`] per folder.
//!
//! A model *passes* when its proof verifies and every output is within tolerance of
//! the reference: max absolute error over the output's range at most
//! [`ConformanceOptions::max_rel_error`] (1%), and the same argmax for outputs with
//! more than one element. Without `expected_output.json` the reference is zkinfer's
//! f64 evaluator.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zkinfer_circuits::Visibility;
use zkinfer_models::fidelity::compare;
use zkinfer_models::input_json::{ExpectedOutput, InputData};
use zkinfer_models::ModelError;

use zkinfer_compiler::{CompileError, CompileInput, CompileOptions, Environment, KeyCache, Silent};

use crate::error::ServiceError;

/// How models are run and judged.
#[derive(Clone, Debug)]
pub struct ConformanceOptions {
    pub compile: CompileOptions,
    /// Largest accepted max-abs-error / output range.
    pub max_rel_error: f64,
    /// Also verify in the EVM (revm) with the generated Solidity verifier.
    pub evm: bool,
}

impl Default for ConformanceOptions {
    fn default() -> Self {
        ConformanceOptions { compile: CompileOptions::default(), max_rel_error: 0.01, evm: false }
    }
}

/// What happened to one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum Status {
    Pass,
    /// Failed at a stage, with the reason.
    Fail(String),
    /// The importer or quantizer has no lowering for an op (named).
    Unsupported(String),
}

/// One row of the conformance report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelResult {
    pub model: String,
    #[serde(flatten)]
    pub status: Status,
    pub k: Option<u32>,
    pub rows: Option<usize>,
    pub prove_seconds: Option<f64>,
    pub max_abs_error: Option<f64>,
    pub rel_error: Option<f64>,
    pub argmax_agrees: Option<bool>,
    /// How the run deviated from the defaults (e.g. inputs made private).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ModelResult {
    fn new(model: &str) -> ModelResult {
        ModelResult {
            model: model.to_string(),
            status: Status::Fail("not run".into()),
            k: None,
            rows: None,
            prove_seconds: None,
            max_abs_error: None,
            rel_error: None,
            argmax_agrees: None,
            note: None,
        }
    }

    /// True for a pass.
    pub fn passed(&self) -> bool {
        self.status == Status::Pass
    }
}

/// Model folders under `dir` (those with a `network.onnx`), sorted by name.
pub fn model_dirs(dir: &Path) -> Result<Vec<PathBuf>, ServiceError> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ServiceError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("network.onnx").is_file())
        .collect();
    out.sort();
    Ok(out)
}

fn classify(stage: &str, e: CompileError) -> Status {
    match e {
        CompileError::Model(ModelError::UnsupportedOp { op_type, detail, .. }) => {
            Status::Unsupported(format!("unsupported op {op_type}{detail}"))
        }
        other => Status::Fail(format!("{stage}: {other}")),
    }
}

/// Runs one model folder through compile (with `env`'s SRS and solc), prove and verify.
pub fn run_model(dir: &Path, opts: &ConformanceOptions, env: &Environment, cache: &dyn KeyCache) -> ModelResult {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut r = ModelResult::new(&name);
    let input = match InputData::from_path(dir.join("input.json")) {
        Ok(i) => i,
        Err(e) => {
            r.status = Status::Fail(format!("no usable input.json: {e}"));
            return r;
        }
    };
    let expected = ExpectedOutput::from_path(dir.join("expected_output.json")).ok();
    let onnx = match std::fs::read(dir.join("network.onnx")) {
        Ok(b) => b,
        Err(e) => {
            r.status = Status::Fail(format!("network.onnx: {e}"));
            return r;
        }
    };
    let samples = input.samples();
    let reference = expected.as_ref().map(|e| e.output_data.as_slice());
    let mut compile_opts = opts.compile.clone();
    let compile_input = CompileInput { onnx: &onnx, samples: &samples, input_shapes: input.input_shapes.as_deref(), reference };
    let mut compiled = zkinfer_compiler::compile(&compile_input, &compile_opts, env, cache, &Silent);
    // Many public inputs can make the circuit too large (or the verifier fail to
    // compile): prove with private inputs and public outputs instead, and say why.
    let too_big = match &compiled {
        Err(CompileError::Contract(e)) => Some(format!("the verifier: {e}")),
        Err(CompileError::Circuit(e @ zkinfer_circuits::CircuitError::TooLarge { .. })) => Some(e.to_string()),
        _ => None,
    };
    if let (Some(why), Visibility::Public) = (too_big, compile_opts.input_visibility) {
        compile_opts.input_visibility = Visibility::Private;
        r.note = Some(format!("inputs private: with public inputs, {why}"));
        compiled = zkinfer_compiler::compile(&compile_input, &compile_opts, env, cache, &Silent);
    }
    let compiled = match compiled {
        Ok(c) => c,
        Err(e) => {
            r.status = classify("compile", e);
            return r;
        }
    };
    r.k = compiled.settings().k();
    r.rows = compiled.settings().stats().map(|s| s.rows);
    let bundle = match compiled.model.prove(&samples[0]) {
        Ok(b) => b,
        Err(e) => {
            r.status = classify("prove", e);
            return r;
        }
    };
    r.prove_seconds = Some(bundle.prove_seconds);
    if let Err(e) = compiled.model.verify(&bundle.proof, Some(&bundle.outputs)) {
        r.status = Status::Fail(format!("verify: {e}"));
        return r;
    }
    if opts.evm {
        match compiled.prover().verify_on_evm(&compiled.verifier.code(), &bundle.proof) {
            Ok(v) if v.accepted => {}
            Ok(v) => {
                r.status = Status::Fail(format!("verify-evm: rejected (gas {})", v.gas_used));
                return r;
            }
            Err(e) => {
                r.status = classify("verify-evm", e.into());
                return r;
            }
        }
    }
    // The reference: onnxruntime's outputs, else zkinfer's f64 evaluator.
    let want: Vec<Vec<f64>> = match &expected {
        Some(e) => e.output_data.clone(),
        None => match zkinfer_models::prepare::prepare(
            &onnx,
            &samples,
            &zkinfer_models::prepare::hints_for(&samples, input.input_shapes.clone()),
            &opts.compile.quant_options(),
        )
        .and_then(|p| p.float_outputs(&samples[0]))
        {
            Ok(o) => o,
            Err(e) => {
                r.status = classify("reference", e.into());
                return r;
            }
        },
    };
    let (mut abs, mut rel, mut argmax) = (0.0f64, 0.0f64, true);
    for (got, w) in bundle.outputs.iter().zip(&want) {
        let f = compare(w, got);
        abs = abs.max(f.max_abs_error);
        rel = rel.max(f.max_rel_error);
        if w.len() > 1 {
            argmax &= f.argmax_agrees;
        }
    }
    (r.max_abs_error, r.rel_error, r.argmax_agrees) = (Some(abs), Some(rel), Some(argmax));
    r.status = if bundle.outputs.len() != want.len() {
        Status::Fail(format!("{} outputs, the reference has {}", bundle.outputs.len(), want.len()))
    } else if rel > opts.max_rel_error {
        Status::Fail(format!("accuracy: relative error {rel:.2e} over the {:.0e} tolerance", opts.max_rel_error))
    } else if !argmax {
        Status::Fail("accuracy: argmax differs from the reference".into())
    } else {
        Status::Pass
    };
    r
}

/// Runs every model folder under `dir` whose name passes `filter`.
pub fn run_dir(
    dir: &Path,
    filter: &dyn Fn(&str) -> bool,
    opts: &ConformanceOptions,
    env: &Environment,
    cache: &dyn KeyCache,
    mut on_result: impl FnMut(&ModelResult),
) -> Result<Vec<ModelResult>, ServiceError> {
    let mut out = Vec::new();
    for d in model_dirs(dir)? {
        let name = d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !filter(&name) {
            continue;
        }
        let r = run_model(&d, opts, env, cache);
        on_result(&r);
        out.push(r);
    }
    Ok(out)
}

/// One line of the table.
pub fn table_row(r: &ModelResult) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let status = match &r.status {
        Status::Pass => "pass".to_string(),
        Status::Fail(why) => format!("FAIL {why}"),
        Status::Unsupported(why) => why.clone(),
    };
    let status = match &r.note {
        Some(n) => format!("{status} ({n})"),
        None => status,
    };
    format!(
        "{:28} {:>3} {:>8} {:>8} {:>10} {:>10}  {}",
        r.model,
        opt(r.k.map(|k| k.to_string())),
        opt(r.rows.map(|v| v.to_string())),
        opt(r.prove_seconds.map(|v| format!("{v:.2}"))),
        opt(r.max_abs_error.map(|v| format!("{v:.2e}"))),
        opt(r.rel_error.map(|v| format!("{v:.2e}"))),
        status
    )
}

/// The table header matching [`table_row`].
pub fn table_header() -> String {
    format!("{:28} {:>3} {:>8} {:>8} {:>10} {:>10}  {}", "model", "k", "rows", "prove s", "max abs", "rel err", "status")
}

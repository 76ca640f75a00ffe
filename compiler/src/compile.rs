//! The compiler's entry point: model + calibration data + options in, a compiled model
//! out. Calibration is the same for every backend; each backend module (`halo2`,
//! `groth16`) then builds its circuit, keys (through the [`KeyCache`]) and verifier.
//!
//! The settings hash names a compiled circuit and its keys. halo2: SHA-256 over the
//! quantized graph's JSON (with private parameters: the architecture, every parameter
//! 0), the circuit parameters, the SRS's hash, [`zkinfer_circuits::CIRCUIT_VERSION`] and
//! the visibility when it is not all public. Groth16: the quantized graph, `groth16` and
//! the verifying key.

use zkinfer_models::prepare::hints_for;
use zkinfer_models::QuantGraph;
use zkinfer_prover::{Backend, Prover};
use zkinfer_verifier_contracts::{Solc, VerifierContracts};

use crate::calibration::{self, Chosen};
use crate::error::CompileError;
use crate::keycache::KeyCache;
use crate::model::Model;
use crate::options::CompileOptions;
use crate::progress::{step, Progress};
use crate::settings::Settings;
use crate::srs::SrsSource;

/// The model and its calibration data.
#[derive(Clone, Copy, Debug)]
pub struct CompileInput<'a> {
    /// The ONNX file's bytes.
    pub onnx: &'a [u8],
    /// Calibration samples, each one flat list per graph input; the first is also the
    /// sample fidelity is reported on and keys are generated with.
    pub samples: &'a [Vec<Vec<f64>>],
    /// Input shapes where the ONNX file leaves dimensions symbolic.
    pub input_shapes: Option<&'a [Vec<usize>]>,
    /// The float model's outputs on the first sample (ONNX Runtime's), the fidelity
    /// reference; `None`: zkinfer's f64 evaluator.
    pub reference: Option<&'a [Vec<f64>]>,
}

/// What the caller provides besides the model and options: where the SRS and imported
/// keys come from, and the Solidity compiler.
#[derive(Clone, Debug)]
pub struct Environment {
    /// The KZG SRS (halo2).
    pub srs: SrsSource,
    /// A Groth16 proving key from a ceremony, checked against the circuit, instead of a
    /// local setup.
    pub groth16_pk: Option<Vec<u8>>,
    /// The Solidity compiler the verifier is compiled with.
    pub solc: Solc,
}

impl Environment {
    /// The insecure test SRS, no imported key, and `solc`.
    pub fn new(solc: Solc) -> Environment {
        Environment { srs: SrsSource::default(), groth16_pk: None, solc }
    }
}

/// A compiled model: its settings and prover (keys in memory), and the verifier.
pub struct CompiledModel {
    pub model: Model,
    pub verifier: VerifierContracts,
    /// Whether the keys came from the key cache.
    pub keys_cached: bool,
}

impl CompiledModel {
    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.model.settings
    }

    /// The quantized graph the circuit constrains.
    pub fn quant(&self) -> &QuantGraph {
        self.model.prover.graph()
    }

    /// The prover.
    pub fn prover(&self) -> &dyn Prover {
        self.model.prover.as_ref()
    }
}

/// Validates the options, calibrates on the samples, quantizes, and builds the chosen
/// backend's circuit, keys (reused from `cache` when it has them) and verifier.
pub fn compile(
    input: &CompileInput<'_>,
    opts: &CompileOptions,
    env: &Environment,
    cache: &dyn KeyCache,
    progress: &dyn Progress,
) -> Result<CompiledModel, CompileError> {
    opts.validate()?;
    if input.samples.is_empty() {
        return Err(CompileError::Input("no calibration sample".into()));
    }
    if opts.backend != Backend::Groth16 && env.groth16_pk.is_some() {
        return Err(CompileError::Input("an imported Groth16 proving key needs backend groth16".into()));
    }
    match opts.backend {
        Backend::Halo2 => crate::halo2::compile(input, opts, env, cache, progress),
        Backend::Groth16 => crate::groth16::compile(input, opts, env, cache, progress),
    }
}

/// Calibrates and quantizes with `quant_opts` (the calibration search for the options'
/// target and error bound), and checks the first sample runs through the interpreter;
/// returns the chosen setting with that sample's quantized inputs. `note` follows the
/// progress step's name.
pub(crate) fn calibrate(
    input: &CompileInput<'_>,
    opts: &CompileOptions,
    quant_opts: &zkinfer_models::QuantOptions,
    note: &str,
    progress: &dyn Progress,
) -> Result<(Chosen, Vec<Vec<i64>>), CompileError> {
    let hints = hints_for(input.samples, input.input_shapes.map(|s| s.to_vec()));
    let chosen = step(
        progress,
        &format!("calibrate and quantize{note}"),
        || calibration::search(input.onnx, input.samples, &hints, quant_opts, input.reference, opts.target, opts.max_error()),
        |c| {
            let p = &c.prepared;
            format!(
                "scale 2^{} (params 2^{}), {} bits, {} setting(s) tried",
                p.calibration.scale,
                p.calibration.param_scale,
                p.calibration.bits,
                c.tried.len()
            )
        },
    )?;
    let qin = zkinfer_models::interp::quantize_inputs(&chosen.prepared.quant, &input.samples[0])?;
    zkinfer_models::interp::run(&chosen.prepared.quant, &qin)?;
    Ok((chosen, qin))
}

/// Notes every front end shows with a compiled model.
pub(crate) fn notes(opts: &CompileOptions, chosen: &Chosen) -> Vec<String> {
    let mut notes = Vec::new();
    let c = &chosen.prepared.calibration;
    if opts.private_params() && (opts.scale.is_none() || opts.param_scale.is_none()) {
        notes.push(format!(
            "the key serves weight sets of this architecture quantized at these calibrated scales (activations 2^{}, weights 2^{}); \
             pin scale and param_scale to share one key across weight sets that calibrate differently",
            c.scale, c.param_scale
        ));
    }
    notes
}

//! The subcommands.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use zkinfer_compiler::progress::{step, Progress};
use zkinfer_compiler::{CircuitSettings, CompileInput, Environment, Model, SrsSource};
use zkinfer_models::float::{Device, FloatModel, OrtLibrary};
use zkinfer_models::input_json::InputData;
use zkinfer_models::onnx::resolve_shape;
use zkinfer_models::Tensor;
use zkinfer_prover::{Backend, Expected, ModelProof, VerifyError};

use super::progress::TermProgress;
use super::CompileFlags;
use crate::artifacts::ModelDir;
use crate::environment::Tools;
use crate::fsio::{read, read_json, write_atomic};
use crate::keycache::DiskKeyCache;
use crate::proof_file::{fr_to_hex, ProofFile};

fn read_input(path: &Path) -> Result<InputData> {
    Ok(InputData::from_path(path)?)
}

/// Runs ONNX Runtime (loaded from `ort`) on the first sample of `input`.
pub fn float_inference(ort: &OrtLibrary, onnx: &[u8], input: &InputData, device: Device) -> Result<Vec<Tensor>> {
    let mut model = FloatModel::load(ort, onnx, device)?;
    let specs = model.input_specs().to_vec();
    let sample = input.samples().into_iter().next().unwrap_or_default();
    let tensors = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let data = sample.get(i).cloned().unwrap_or_default();
            let shape = resolve_shape(&spec.name, &spec.dims, input.shape_for(i).map(|s| s.to_vec()).as_ref(), Some(data.len()))?;
            Ok(Tensor::new(shape, data, spec.dtype.unwrap_or(zkinfer_models::DType::F32)))
        })
        .collect::<Result<Vec<_>, zkinfer_models::ModelError>>()?;
    Ok(model.run(&tensors)?)
}

/// `zkinfer run`.
pub fn run(model: &Path, input: &Path, device: &str, tools: &Tools) -> Result<()> {
    let onnx = read(model)?;
    let input = read_input(input)?;
    let device: Device = device.parse().map_err(|e| anyhow::anyhow!("--device: {e}"))?;
    let outs = float_inference(tools.ort()?, &onnx, &input, device)?;
    let json = serde_json::json!({
        "output_data": outs.iter().map(|t| &t.data).collect::<Vec<_>>(),
        "output_shapes": outs.iter().map(|t| &t.shape).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}

/// Maps an options error to the flag it concerns.
fn flag_error(e: &zkinfer_compiler::OptionsError) -> anyhow::Error {
    anyhow::anyhow!("--{}: {}", e.field.replace('_', "-"), e.message)
}

/// `zkinfer compile`.
pub fn compile(model: &Path, input: &Path, out: &Path, flags: &CompileFlags, json: bool, tools: &Tools) -> Result<()> {
    let progress = TermProgress::default();
    let opts = flags.options.options();
    opts.validate().map_err(|e| flag_error(&e))?;
    if opts.backend == Backend::Groth16 && flags.srs.is_some() {
        bail!("--srs: applies to the halo2 backend only (Groth16 keys come from a circuit-specific setup)");
    }
    if opts.backend != Backend::Groth16 && flags.groth16_pk.is_some() {
        bail!("--groth16-pk needs --backend groth16");
    }
    let onnx = read(model)?;
    let input_data = read_input(input)?;
    let calibration = match &flags.calibration {
        Some(p) => read_input(p)?,
        None => input_data.clone(),
    };
    let mut samples = calibration.samples();
    let first = input_data.samples().into_iter().next().unwrap_or_default();
    if flags.calibration.is_some() {
        samples.insert(0, first.clone());
    }
    let reference = step(
        &progress as &dyn Progress,
        "float inference (ONNX Runtime)",
        || Ok::<_, anyhow::Error>(tools.ort().ok().and_then(|ort| float_inference(ort, &onnx, &input_data, Device::Cpu).ok())),
        |r| {
            if r.is_some() {
                "reference outputs".into()
            } else {
                "ONNX Runtime unavailable: using zkinfer's f64 evaluator as reference".into()
            }
        },
    )?;
    let reference: Option<Vec<Vec<f64>>> = reference.map(|ts| ts.into_iter().map(|t| t.data).collect());
    let env = Environment {
        srs: match &flags.srs {
            Some(p) => SrsSource::File { path: p.display().to_string(), bytes: Arc::new(read(p)?) },
            None => SrsSource::InsecureTest,
        },
        groth16_pk: flags.groth16_pk.as_deref().map(read).transpose()?,
        solc: tools.solc.clone(),
    };
    let compile_input =
        CompileInput { onnx: &onnx, samples: &samples, input_shapes: input_data.input_shapes.as_deref(), reference: reference.as_deref() };
    let compiled = zkinfer_compiler::compile(&compile_input, &opts, &env, &DiskKeyCache::default_location(), &progress).map_err(|e| match e {
        zkinfer_compiler::CompileError::Options(o) => flag_error(&o),
        zkinfer_compiler::CompileError::MaxError { max_error, best, samples, tried } => anyhow::anyhow!(
            "no quantization setting meets --max-error {max_error}: the best relative error over {samples} calibration sample(s) was {best:.3e} (tried {tried}); raise --max-error or --bits"
        ),
        other => other.into(),
    })?;
    step(&progress as &dyn Progress, "write artifacts", || ModelDir::new(out).write(&onnx, &compiled), |_| out.display().to_string())?;
    let s = compiled.settings();
    if json {
        println!("{}", serde_json::to_string_pretty(s)?);
        return Ok(());
    }
    println!("model     {}", s.model_hash);
    println!("settings  {}", s.settings_hash);
    match &s.circuit {
        CircuitSettings::Halo2 { .. } => println!("backend   halo2 (KZG over BN254)"),
        CircuitSettings::Groth16 { setup, .. } => println!("backend   groth16 ({setup} setup)"),
    }
    println!(
        "scales    activations 2^{}, weights 2^{}, {} bits (calibrated max |x| = {:.4})",
        s.calibration.scale, s.calibration.param_scale, s.calibration.bits, s.calibration.max_abs
    );
    for (i, o) in s.fidelity.outputs.iter().enumerate() {
        println!(
            "fidelity  output {i}: max abs error {:.3e}, max relative error {:.3e}, argmax {}",
            o.max_abs_error,
            o.max_rel_error,
            if o.argmax_agrees { "agrees" } else { "DIFFERS" }
        );
    }
    match &s.circuit {
        CircuitSettings::Halo2 { stats, .. } => println!(
            "circuit   k = {}, {} rows used, {} advice + {} lookup advice + {} fixed columns, lookup bits {}",
            stats.k, stats.rows, stats.num_advice, stats.num_lookup_advice, stats.num_fixed, stats.lookup_bits
        ),
        CircuitSettings::Groth16 { num_constraints, .. } => println!("circuit   R1CS, {num_constraints} constraints"),
    }
    println!("keys      {}", if compiled.keys_cached { "reused from the key cache" } else { "generated" });
    match s.verifier_contracts {
        1 => println!("verifier  {} bytes of runtime code (EIP-170 limit 24576)", s.verifier_runtime_bytes),
        n => println!(
            "verifier  split into {} parts and an entry contract, the largest {} bytes of runtime code (EIP-170 limit 24576 each); deploy as verifier.json says",
            n - 1,
            s.verifier_runtime_bytes
        ),
    }
    for note in &s.notes {
        eprintln!("note: {note}");
    }
    if s.srs().is_some_and(|i| i.is_insecure()) {
        eprintln!("warning: INSECURE test SRS; pass --srs FILE with a ceremony SRS for production");
    }
    if s.backend() == Backend::Groth16 {
        eprintln!("note: Groth16 keys come from a circuit-specific setup; whoever ran it could forge proofs for this model. Import ceremony keys with --groth16-pk.");
    }
    Ok(())
}

/// `zkinfer prove`.
pub fn prove(dir: &Path, input: &Path, out: &Path) -> Result<()> {
    let progress = TermProgress::default();
    let input = read_input(input)?;
    let sample = input.samples().into_iter().next().unwrap_or_default();
    let model = step(
        &progress as &dyn Progress,
        "load keys",
        || ModelDir::new(dir).model(),
        |m| match m.settings.k() {
            Some(k) => format!("k = {k}"),
            None => m.settings.backend().to_string(),
        },
    )?;
    let proved =
        step(&progress as &dyn Progress, "witness and proof", || model.prove(&sample), |p| format!("{} bytes", p.proof.proof.len()))?;
    let pf = ProofFile::new(&model, &proved);
    write_atomic(out, &serde_json::to_vec_pretty(&pf)?)?;
    println!("{}", serde_json::to_string(&serde_json::json!({ "outputs": proved.outputs }))?);
    eprintln!("proof written to {} ({:.2} s to prove)", out.display(), proved.prove_seconds);
    Ok(())
}

/// Reads a proof file for the folder's model and checks its statement (outputs,
/// parameter hash, instance layout); the proof itself is checked by the caller's
/// verifier. Notes what a proof of private values attests.
pub(crate) fn load_proof(model: &Model, proof: &Path) -> Result<(ProofFile, ModelProof)> {
    let pf: ProofFile = read_json(proof)?;
    let mp = pf.proof_for(model)?;
    let vis = model.settings.visibility();
    if vis.outputs == zkinfer_circuits::Visibility::Private {
        eprintln!("note: this model's outputs are private; the proof attests that a valid run exists, not its outputs");
    }
    if vis.params == zkinfer_circuits::ParamVisibility::Private {
        eprintln!(
            "note: this model's parameters are private; the proof holds for some weights of this architecture, not necessarily these"
        );
    }
    Ok((pf, mp))
}

/// Explains a rejected statement, naming the proof file.
pub(crate) fn rejected(e: VerifyError, proof: &Path) -> anyhow::Error {
    match e {
        VerifyError::OutputMismatch => anyhow::anyhow!("the outputs in {} do not match its public instances", proof.display()),
        VerifyError::OutputHashMismatch | VerifyError::OutputShape => {
            anyhow::anyhow!("the outputs in {} do not hash to its output-hash instance", proof.display())
        }
        VerifyError::ParamHashMismatch => {
            anyhow::anyhow!("the parameter hash in {} is not this folder's model: the proof is for other weights", proof.display())
        }
        VerifyError::InvalidProof => anyhow::anyhow!("proof rejected: it is not valid for these public inputs and outputs"),
        other => anyhow::anyhow!("{}: {other}", proof.display()),
    }
}

/// `zkinfer hash`: prints the Poseidon hash of the quantized first sample of `input`,
/// the instance a proof with `--input-visibility hashed` carries first; or, with `input`
/// `None`, the hash of the folder's quantized parameters (`--param-visibility hashed`).
pub fn hash(dir: &Path, input: Option<&Path>) -> Result<()> {
    let md = ModelDir::new(dir);
    let quant = md.quant()?;
    let h = match input {
        Some(input) => {
            let sample = read_input(input)?.samples().into_iter().next().unwrap_or_default();
            let qin = zkinfer_models::interp::quantize_inputs(&quant, &sample)?;
            zkinfer_circuits::hash::hash_packed(&qin.iter().flatten().map(|v| *v as i128).collect::<Vec<_>>(), quant.bits)
        }
        None if !quant.private_params => bail!(
            "this model was compiled with fixed parameters (--param-visibility fixed): the verifying key binds them, there is no parameter hash"
        ),
        None => zkinfer_prover::statement::param_hash(&quant),
    };
    println!("{}", fr_to_hex(&h));
    Ok(())
}

/// `zkinfer verify`.
pub fn verify(dir: &Path, proof: &Path) -> Result<()> {
    let model = ModelDir::new(dir).model()?;
    let (pf, mp) = load_proof(&model, proof)?;
    let t0 = std::time::Instant::now();
    model.verify(&mp, Some(&pf.outputs)).map_err(|e| rejected(e, proof))?;
    println!("proof valid ({:.1} ms, {})", t0.elapsed().as_secs_f64() * 1e3, model.settings.backend());
    Ok(())
}

/// `zkinfer verify-evm`: the statement is checked natively (outputs, parameter hash),
/// the proof by the verifier contract in revm.
pub fn verify_evm(dir: &Path, proof: &Path) -> Result<()> {
    let md = ModelDir::new(dir);
    let model = md.model()?;
    let (pf, mp) = load_proof(&model, proof)?;
    zkinfer_prover::statement::check(
        model.quant(),
        &model.settings.visibility(),
        &mp.instances,
        &Expected { outputs: Some(&pf.outputs), param_hash: None },
    )
    .map_err(|e| rejected(e, proof))?;
    let code = md.verifier_code().context("the verifier bytecode")?;
    let r = model.prover.verify_on_evm(&code, &mp)?;
    if !r.accepted {
        bail!("the EVM verifier rejected the proof (gas used {})", r.gas_used);
    }
    println!("accepted by the EVM verifier: gas used {}", r.gas_used);
    Ok(())
}

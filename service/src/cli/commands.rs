//! The subcommands.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use zkinfer_circuits::{PlanOptions, VisibilityConfig};
use zkinfer_models::float::{Device, FloatModel};
use zkinfer_models::input_json::InputData;
use zkinfer_models::onnx::resolve_shape;
use zkinfer_models::{QuantOptions, Tensor};

use super::progress::TermProgress;
use super::CompileFlags;
use crate::artifacts::ModelDir;
use crate::fsio::{read, read_json, write_atomic};
use crate::keycache::DiskKeyCache;
use crate::pipeline::{self, CompileOptions, SrsSource};
use crate::progress::{step, Progress};
use crate::proof_file::{fr_to_hex, ProofFile};

fn read_input(path: &Path) -> Result<InputData> {
    Ok(InputData::from_path(path)?)
}

/// Runs ONNX Runtime on the first sample of `input`.
pub fn float_inference(onnx: &[u8], input: &InputData, device: Device) -> Result<Vec<Tensor>> {
    let mut model = FloatModel::load(onnx, device)?;
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
pub fn run(model: &Path, input: &Path, device: &str) -> Result<()> {
    let onnx = read(model)?;
    let input = read_input(input)?;
    let device: Device = device.parse().map_err(|e| anyhow::anyhow!("--device: {e}"))?;
    let outs = float_inference(&onnx, &input, device)?;
    let json = serde_json::json!({
        "output_data": outs.iter().map(|t| &t.data).collect::<Vec<_>>(),
        "output_shapes": outs.iter().map(|t| &t.shape).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}

/// `zkinfer compile`.
pub fn compile(model: &Path, input: &Path, out: &Path, flags: &CompileFlags, json: bool) -> Result<()> {
    let progress = TermProgress::default();
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
        || Ok::<_, anyhow::Error>(float_inference(&onnx, &input_data, Device::Cpu).ok()),
        |r| if r.is_some() { "reference outputs".into() } else { "ONNX Runtime unavailable: using zkinfer's f64 evaluator as reference".into() },
    )?;
    let reference: Option<Vec<Vec<f64>>> = reference.map(|ts| ts.into_iter().map(|t| t.data).collect());
    let backend: zkinfer_prover::Backend = flags.backend.parse().map_err(|e| anyhow::anyhow!("--backend: {e}"))?;
    if backend == zkinfer_prover::Backend::Groth16 {
        if !flags.param_visibility.is_fixed() {
            bail!("--param-visibility private|hashed needs --backend halo2 (Groth16's setup is per circuit)");
        }
        let quant = QuantOptions { bits: flags.bits, scale: flags.scale, param_scale: flags.param_scale, ..Default::default() };
        let s = step(
            &progress as &dyn Progress,
            "calibrate, quantize, R1CS, Groth16 setup and verifier",
            || {
                super::groth16::compile(&onnx, &samples, input_data.input_shapes.clone(), reference.as_deref(), &quant, flags.groth16_pk.as_deref(), out)
            },
            |s| format!("{} setup", s.setup),
        )?;
        if json {
            println!("{}", serde_json::to_string_pretty(&s)?);
            return Ok(());
        }
        println!("model     {}", s.model_hash);
        println!("backend   groth16 ({} setup)", s.setup);
        println!("scales    activations 2^{}, weights 2^{}, {} bits", s.calibration.scale, s.calibration.param_scale, s.calibration.bits);
        for (i, o) in s.fidelity.outputs.iter().enumerate() {
            println!("fidelity  output {i}: max abs error {:.3e}, max relative error {:.3e}", o.max_abs_error, o.max_rel_error);
        }
        println!("verifier  {} bytes of runtime code", s.verifier_runtime_bytes);
        eprintln!("note: Groth16 keys come from a circuit-specific setup; whoever ran it could forge proofs for this model. Import ceremony keys with --groth16-pk.");
        return Ok(());
    }
    if flags.groth16_pk.is_some() {
        bail!("--groth16-pk needs --backend groth16");
    }
    let srs = match &flags.srs {
        Some(p) => Some(SrsSource::File { path: p.display().to_string(), bytes: Arc::new(read(p)?) }),
        None => None,
    };
    let opts = CompileOptions {
        quant: QuantOptions { bits: flags.bits, scale: flags.scale, param_scale: flags.param_scale, ..Default::default() },
        plan: PlanOptions {
            max_k: flags.max_k,
            k: flags.k,
            visibility: VisibilityConfig { inputs: flags.input_visibility, outputs: flags.output_visibility, params: flags.param_visibility },
            mac_width: flags.mac_width,
            optimize: flags.optimize,
            ..Default::default()
        }
        .with_max_advice(flags.max_advice),
        srs,
        target: flags.target,
        max_error: flags.max_error,
    };
    let compiled = pipeline::compile(
        &onnx,
        &samples,
        input_data.input_shapes.clone(),
        reference.as_deref(),
        &opts,
        &DiskKeyCache::default_location(),
        &progress,
    )?;
    step(&progress as &dyn Progress, "write artifacts", || ModelDir::new(out).write(&onnx, &compiled), |_| out.display().to_string())?;
    let s = &compiled.settings;
    if json {
        println!("{}", serde_json::to_string_pretty(s)?);
        return Ok(());
    }
    println!("model     {}", s.model_hash);
    println!("settings  {}", s.settings_hash);
    println!(
        "scales    activations 2^{}, weights 2^{}, {} bits (calibrated max |x| = {:.4})",
        s.calibration.scale, s.calibration.param_scale, s.calibration.bits, s.calibration.max_abs
    );
    if let Some(f) = &s.fidelity {
        for (i, o) in f.outputs.iter().enumerate() {
            println!(
                "fidelity  output {i}: max abs error {:.3e}, max relative error {:.3e}, argmax {}",
                o.max_abs_error,
                o.max_rel_error,
                if o.argmax_agrees { "agrees" } else { "DIFFERS" }
            );
        }
    }
    println!(
        "circuit   k = {}, {} rows used, {} advice + {} lookup advice + {} fixed columns, lookup bits {}",
        s.stats.k, s.stats.rows, s.stats.num_advice, s.stats.num_lookup_advice, s.stats.num_fixed, s.stats.lookup_bits
    );
    println!("keys      {}", if compiled.keys_cached { "reused from the key cache" } else { "generated" });
    match s.verifier_contracts {
        1 => println!("verifier  {} bytes of runtime code (EIP-170 limit 24576)", s.verifier_runtime_bytes),
        n => println!(
            "verifier  split into {} parts and an entry contract, the largest {} bytes of runtime code (EIP-170 limit 24576 each); deploy as verifier.json says",
            n - 1,
            s.verifier_runtime_bytes
        ),
    }
    if s.srs.kind == "insecure-test" {
        eprintln!("warning: INSECURE test SRS; pass --srs FILE with a ceremony SRS for production");
    }
    Ok(())
}

/// `zkinfer prove`.
pub fn prove(dir: &Path, input: &Path, out: &Path) -> Result<()> {
    if super::groth16::folder_backend(dir) == zkinfer_prover::Backend::Groth16 {
        let sample = read_input(input)?.samples().into_iter().next().unwrap_or_default();
        return super::groth16::prove(dir, &sample, out);
    }
    let progress = TermProgress::default();
    let md = ModelDir::new(dir);
    let settings = md.settings()?;
    let input = read_input(input)?;
    let sample = input.samples().into_iter().next().unwrap_or_default();
    let (quant, params, keys) = step(
        &progress as &dyn Progress,
        "load keys",
        || Ok::<_, anyhow::Error>((md.quant()?, md.params(&settings)?, md.keys(&settings)?)),
        |_| format!("k = {}", settings.shape.k()),
    )?;
    let bundle = step(
        &progress as &dyn Progress,
        "witness and proof",
        || pipeline::prove(&quant, &params, &keys, &sample),
        |b| format!("{} bytes", b.proof.len()),
    )?;
    let pf = ProofFile::new(&settings, &quant, &bundle);
    write_atomic(out, &serde_json::to_vec_pretty(&pf)?)?;
    println!("{}", serde_json::to_string(&serde_json::json!({ "outputs": bundle.outputs }))?);
    eprintln!("proof written to {} ({:.2} s to prove)", out.display(), bundle.prove_seconds);
    Ok(())
}

/// Checks a proof file against the model folder; returns instances and proof bytes.
fn load_proof(md: &ModelDir, settings: &pipeline::Settings, proof: &Path) -> Result<(Vec<zkinfer_circuits::Fr>, Vec<u8>)> {
    let pf: ProofFile = read_json(proof)?;
    if pf.settings_hash != settings.settings_hash {
        bail!("proof is for settings {}, this model folder is {}", pf.settings_hash, settings.settings_hash);
    }
    let instances = pf.instances()?;
    if instances.len() != settings.num_instances {
        bail!("proof has {} public instances, the circuit has {}", instances.len(), settings.num_instances);
    }
    // The outputs in the file must be exactly those the public instances stand for.
    let quant = md.quant()?;
    let vis = &settings.shape.visibility;
    match pipeline::outputs_from_instances(&quant, vis, &instances)? {
        Some(attested) if !pipeline::same_outputs(&quant, &attested, &pf.outputs) => {
            bail!("the outputs in {} do not match its public instances", proof.display())
        }
        Some(_) => {}
        None => match pipeline::check_output_hash(&quant, vis, &instances, &pf.outputs)? {
            Some(false) => bail!("the outputs in {} do not hash to its output-hash instance", proof.display()),
            Some(true) => {}
            None => eprintln!("note: this model's outputs are private; the proof attests that a valid run exists, not its outputs"),
        },
    }
    check_params(&quant, vis, &instances, proof)?;
    Ok((instances, pf.proof_bytes()?))
}

/// Keys of private or hashed parameters serve every weight set of the architecture: a
/// proof is for this folder's model only if its parameter hash is this model's.
fn check_params(quant: &zkinfer_models::QuantGraph, vis: &VisibilityConfig, instances: &[zkinfer_circuits::Fr], proof: &Path) -> Result<()> {
    match zkinfer_circuits::InstanceLayout::new(quant, vis).param_hash_index() {
        Some(at) if instances[at] != pipeline::param_hash(quant)? => {
            bail!("the parameter hash in {} is not this folder's model: the proof is for other weights", proof.display())
        }
        Some(_) => {}
        None if !vis.params.is_fixed() => {
            eprintln!("note: this model's parameters are private; the proof holds for some weights of this architecture, not necessarily these")
        }
        None => {}
    }
    Ok(())
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
            pipeline::input_hash(&quant, &sample)?
        }
        None => pipeline::param_hash(&quant)?,
    };
    println!("{}", fr_to_hex(&h));
    Ok(())
}

/// `zkinfer verify`.
pub fn verify(dir: &Path, proof: &Path) -> Result<()> {
    if super::groth16::folder_backend(dir) == zkinfer_prover::Backend::Groth16 {
        return super::groth16::verify(dir, proof);
    }
    let md = ModelDir::new(dir);
    let settings = md.settings()?;
    let (instances, bytes) = load_proof(&md, &settings, proof)?;
    let params = md.params(&settings)?;
    let vk = md.vk(&settings)?;
    let t0 = std::time::Instant::now();
    if !pipeline::verify(&params, &vk, &instances, &bytes) {
        bail!("proof rejected: it is not valid for these public inputs and outputs");
    }
    println!("proof valid ({:.1} ms)", t0.elapsed().as_secs_f64() * 1e3);
    Ok(())
}

/// `zkinfer verify-evm`.
pub fn verify_evm(dir: &Path, proof: &Path) -> Result<()> {
    if super::groth16::folder_backend(dir) == zkinfer_prover::Backend::Groth16 {
        return super::groth16::verify_evm(dir, proof);
    }
    let md = ModelDir::new(dir);
    let settings = md.settings()?;
    let (instances, bytes) = load_proof(&md, &settings, proof)?;
    let code = md.verifier_code().context("the verifier bytecode")?;
    let (accepted, gas) = pipeline::verify_evm(&code, &instances, &bytes)?;
    if !accepted {
        bail!("the EVM verifier rejected the proof (gas used {gas})");
    }
    println!("accepted by the EVM verifier: gas used {gas}");
    Ok(())
}

//! The Groth16 backend's compile step: the quantized graph lowered to R1CS, a
//! circuit-specific setup (or a key imported from a ceremony, or cached for the same
//! quantized graph), and the Solidity verifier.
//!
//! Trust: Groth16 keys come from a circuit-specific setup. Whoever ran it can forge
//! proofs for this model, so locally generated keys are as trustworthy as the machine
//! that made them.

use rand::rngs::OsRng;
use zkinfer_circuits::InstanceLayout;
use zkinfer_prover::{Groth16Prover, Prover};

use crate::compile::{calibrate, notes, CompileInput, CompiledModel, Environment};
use crate::error::CompileError;
use crate::hash::{sha256_hex, sha256_parts};
use crate::keycache::{files, KeyCache};
use crate::model::Model;
use crate::options::CompileOptions;
use crate::progress::{step, Progress};
use crate::settings::{CircuitSettings, Settings, SETTINGS_FORMAT};

/// The key-cache id of a quantized graph's Groth16 keys (known before setup).
pub fn key_id(quant_json: &[u8]) -> String {
    sha256_parts(&[quant_json, b"groth16 keys"])
}

pub(crate) fn compile(
    input: &CompileInput<'_>,
    opts: &CompileOptions,
    env: &Environment,
    cache: &dyn KeyCache,
    progress: &dyn Progress,
) -> Result<CompiledModel, CompileError> {
    let (chosen, _) = calibrate(input, opts, &opts.quant_options(), "", progress)?;
    let notes = notes(opts, &chosen);
    let quant = chosen.prepared.quant;
    let quant_json = serde_json::to_vec(&quant).expect("quantized graphs serialize");
    let id = key_id(&quant_json);
    // An imported key is checked against the circuit; a cached one was made for it.
    let existing = match &env.groth16_pk {
        Some(pk) => Some((pk.clone(), "imported")),
        None => cache.get(&id, files::GROTH16_PK).map(|pk| (pk, "cached")),
    };
    let (prover, setup) = step(
        progress,
        "R1CS and Groth16 setup",
        || match existing {
            Some((pk, how)) => Ok::<_, CompileError>((Groth16Prover::import(quant.clone(), &pk)?, how)),
            None => Ok((Groth16Prover::setup(quant.clone(), &mut OsRng)?, "local")),
        },
        |(p, how)| format!("{} constraints, {how} keys", p.keys().shape.num_constraints),
    )?;
    if setup != "cached" {
        cache.put(&id, files::GROTH16_PK, &prover.proving_key_bytes());
    }
    let verifier = step(
        progress,
        "generate and compile the Solidity verifier",
        || prover.verifier(&env.solc).map_err(CompileError::from),
        |v| format!("{} bytes of runtime code", v.entry.runtime_code.len()),
    )?;
    let settings = Settings {
        format_version: SETTINGS_FORMAT,
        model_hash: sha256_hex(input.onnx),
        settings_hash: sha256_parts(&[&quant_json, b"groth16", &prover.verifying_key_bytes()]),
        options: opts.clone(),
        input_shapes: quant.inputs.iter().map(|x| x.shape.clone()).collect(),
        output_shapes: quant.outputs.iter().map(|x| x.shape.clone()).collect(),
        calibration: chosen.prepared.calibration.clone(),
        fidelity: chosen.fidelity,
        tried: chosen.tried,
        num_instances: InstanceLayout::new(&quant, &prover.visibility()).len(),
        verifier_runtime_bytes: verifier.largest_runtime(),
        verifier_contracts: verifier.contracts(),
        notes,
        circuit: CircuitSettings::Groth16 { setup: setup.into(), key_id: id, num_constraints: prover.keys().shape.num_constraints },
    };
    Ok(CompiledModel { model: Model { settings, prover: Box::new(prover) }, verifier, keys_cached: setup == "cached" })
}

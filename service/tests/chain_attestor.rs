//! The generated attestor decodes what proofs state: for zoo models with public inputs
//! and outputs, hashed inputs and parameters, and hashed outputs, `verifyAndDecode`
//! returns every public value exactly as the proof's outputs (proof.json) state them
//! (value = integer / 2^scale), and the hashes as the instances carry them; tampered
//! proofs and instances revert with named errors. (The split MNIST verifier's attestor is
//! checked in split_verifier.rs, which already proves that model.)

mod chain_support;

use alloy_primitives::U256;
use chain_support::{deploy_attestor, int, verify_and_decode, ZOO};
use zkinfer_circuits::{ParamVisibility, Visibility};
use zkinfer_compiler::{compile, CompileInput, CompileOptions, Environment, NoCache, Silent};
use zkinfer_models::input_json::InputData;
use zkinfer_service::chain::attestor_spec;
use zkinfer_service::proof_file::fr_to_hex;
use zkinfer_verifier_contracts::{build_attestor, Evm};

const FIELD_ORDER: &str = "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";

fn check(name: &str, opts: CompileOptions) {
    let dir = format!("{ZOO}/{name}");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    let samples = input.samples();
    let ci = CompileInput { onnx: &onnx, samples: &samples, input_shapes: input.input_shapes.as_deref(), reference: None };
    let c = compile(&ci, &opts, &Environment::new(chain_support::solc()), &NoCache, &Silent).unwrap_or_else(|e| panic!("{name}: {e}"));
    let model = &c.model;
    let proved = model.prove(&samples[0]).unwrap();
    let quant = model.quant();
    let spec = attestor_spec(quant, &model.settings.visibility());
    let attestor = build_attestor(&chain_support::solc(), &spec).unwrap();

    let mut evm = Evm::new();
    let (verifier, _) = c.verifier.code().deploy(&mut evm).unwrap();
    let at = deploy_attestor(&mut evm, &attestor.deployment_code, verifier.address);
    let hex_words: Vec<String> = proved.proof.instances.iter().map(fr_to_hex).collect();
    let words = chain_support::words(&hex_words);
    let (d, gas) = verify_and_decode(&mut evm, at, &proved.proof.proof, &words).unwrap_or_else(|e| panic!("{name}: honest proof: {e}"));
    eprintln!("{name} {:?}: verifyAndDecode gas {gas} ({} instances)", model.settings.visibility(), words.len());

    assert_eq!(d.scale, U256::from(quant.scale));
    let unit = 2f64.powi(quant.scale as i32);
    let vis = model.settings.visibility();
    // Outputs: exactly proof.json's numbers, or the output hash.
    let flat: Vec<f64> = proved.outputs.iter().flatten().copied().collect();
    match vis.outputs {
        Visibility::Public => {
            assert_eq!(d.outputs.len(), flat.len(), "{name}");
            for (q, x) in d.outputs.iter().zip(&flat) {
                assert_eq!(int(q) as f64 / unit, *x, "{name}: decoded output");
            }
            assert_eq!(d.outputHash, U256::ZERO);
        }
        Visibility::Hashed => {
            assert!(d.outputs.is_empty());
            assert_eq!(d.outputHash, *words.last().unwrap());
        }
        Visibility::Private => assert!(d.outputs.is_empty()),
    }
    // Inputs: the quantized sample, or its hash.
    let qin = zkinfer_models::interp::quantize_inputs(quant, &samples[0]).unwrap();
    match vis.inputs {
        Visibility::Public => {
            assert_eq!(
                d.inputs.iter().map(int).collect::<Vec<_>>(),
                qin.iter().flatten().map(|v| *v as i128).collect::<Vec<_>>(),
                "{name}"
            );
            assert_eq!(d.inputHash, U256::ZERO);
        }
        Visibility::Hashed => {
            assert!(d.inputs.is_empty());
            assert_eq!(d.inputHash, words[0]);
        }
        Visibility::Private => assert!(d.inputs.is_empty()),
    }
    if vis.params == ParamVisibility::Hashed {
        assert_eq!(d.paramHash, words[vis.inputs.eq(&Visibility::Hashed) as usize]);
        assert_ne!(d.paramHash, U256::ZERO);
    }

    // Tampering: each way fails with its named error.
    let mut bad_proof = proved.proof.proof.clone();
    bad_proof[40] ^= 1;
    let e = verify_and_decode(&mut evm, at, &bad_proof, &words).unwrap_err();
    assert!(e.contains("ProofRejected"), "{name}: {e}");
    let e = verify_and_decode(&mut evm, at, &proved.proof.proof, &words[1..]).unwrap_err();
    assert!(e.contains("InstanceCount"), "{name}: {e}");
    let mut big = words.clone();
    big[0] += U256::from_str_radix(FIELD_ORDER, 16).unwrap();
    let e = verify_and_decode(&mut evm, at, &proved.proof.proof, &big).unwrap_err();
    assert!(e.contains("NonCanonicalInstance"), "{name}: {e}");
    let mut changed = words.clone();
    let last = changed.len() - 1;
    changed[last] ^= U256::from(1u8);
    let e = verify_and_decode(&mut evm, at, &proved.proof.proof, &changed).unwrap_err();
    assert!(e.contains("ProofRejected") || e.contains("BadPacking"), "{name}: {e}");
    // A bit above the last packed word's digits (all these models leave some unused).
    let last_packed = words.len() - 1 - (vis.outputs == Visibility::Hashed) as usize;
    let mut high = words.clone();
    high[last_packed] |= U256::from(1u8) << 250;
    let e = verify_and_decode(&mut evm, at, &proved.proof.proof, &high).unwrap_err();
    assert!(e.contains("BadPacking"), "{name}: {e}");
    if vis.params == ParamVisibility::Hashed {
        let mut other = words.clone();
        other[vis.inputs.eq(&Visibility::Hashed) as usize] += U256::from(1u8);
        let e = verify_and_decode(&mut evm, at, &proved.proof.proof, &other).unwrap_err();
        assert!(e.contains("ParamHashMismatch"), "{name}: {e}");
    }
}

#[test]
fn attestor_decodes_public_inputs_and_outputs() {
    check("mlp_4_8_2", CompileOptions::default());
}

#[test]
fn attestor_decodes_hashed_inputs_and_parameters() {
    check(
        "credit_mlp",
        CompileOptions { input_visibility: Visibility::Hashed, param_visibility: ParamVisibility::Hashed, ..Default::default() },
    );
}

#[test]
fn attestor_decodes_hashed_outputs() {
    check("credit_mlp", CompileOptions { output_visibility: Visibility::Hashed, ..Default::default() });
}

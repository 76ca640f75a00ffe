//! `proof.json`: the dequantized outputs, the public instances and the proof.

use ff::PrimeField;
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use serde::{Deserialize, Serialize};

use zkinfer_circuits::InstanceLayout;
use zkinfer_compiler::{Model, Proved};
use zkinfer_prover::ModelProof;

use crate::error::ServiceError;

/// What `zkinfer prove` writes and `verify` / `verify-evm` read.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ProofFile {
    /// SHA-256 of the ONNX model.
    pub model_hash: String,
    /// Names the circuit and keys the proof is for.
    pub settings_hash: String,
    /// Dequantized outputs per graph output (these are what the proof attests).
    pub outputs: Vec<Vec<f64>>,
    pub output_shapes: Vec<Vec<usize>>,
    /// Public instances as 32-byte big-endian hex, in the order of
    /// `zkinfer_circuits::instances`: input hash, parameter hash, packed public inputs
    /// then outputs, output hash (each only where the model has it).
    pub instances: Vec<String>,
    /// What each instance stands for, index by index: `input hash`, `param hash`,
    /// `packed input[a..b]` / `packed output[a..b]` (flat value ranges), `output hash`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance_meanings: Vec<String>,
    /// The backend's proof (halo2: SHPLONK with a Keccak transcript; Groth16: compressed), hex.
    pub proof: String,
    pub prove_seconds: f64,
}

/// A field element as 0x-prefixed big-endian hex (the EVM's word order).
pub fn fr_to_hex(f: &Fr) -> String {
    let mut b = f.to_repr();
    b.as_mut().reverse();
    format!("0x{}", hex::encode(b.as_ref()))
}

/// Parses [`fr_to_hex`]'s format; rejects non-canonical values.
pub fn fr_from_hex(s: &str) -> Result<Fr, ServiceError> {
    let raw = hex::decode(s.trim_start_matches("0x")).map_err(|e| ServiceError::Input(format!("instance `{s}`: {e}")))?;
    if raw.len() != 32 {
        return Err(ServiceError::Input(format!("instance `{s}` is not 32 bytes")));
    }
    let mut repr = <Fr as PrimeField>::Repr::default();
    repr.as_mut().copy_from_slice(&raw);
    repr.as_mut().reverse();
    Option::from(Fr::from_repr(repr)).ok_or_else(|| ServiceError::Input(format!("instance `{s}` is not a field element")))
}

impl ProofFile {
    /// The proof file of `proved`, a proof of `model`.
    pub fn new(model: &Model, proved: &Proved) -> ProofFile {
        let quant = model.quant();
        ProofFile {
            model_hash: model.settings.model_hash.clone(),
            settings_hash: model.settings.settings_hash.clone(),
            outputs: proved.outputs.clone(),
            output_shapes: model.settings.output_shapes.clone(),
            instances: proved.proof.instances.iter().map(fr_to_hex).collect(),
            instance_meanings: InstanceLayout::new(quant, &model.settings.visibility()).meanings(quant.bits),
            proof: format!("0x{}", hex::encode(&proved.proof.proof)),
            prove_seconds: proved.prove_seconds,
        }
    }

    /// The proof for `model`, after checking the file names its settings.
    pub fn proof_for(&self, model: &Model) -> Result<ModelProof, ServiceError> {
        if self.settings_hash != model.settings.settings_hash {
            return Err(ServiceError::Input(format!(
                "the proof is for settings {}, this model is {}",
                self.settings_hash, model.settings.settings_hash
            )));
        }
        Ok(ModelProof { backend: model.settings.backend(), instances: self.instances()?, proof: self.proof_bytes()? })
    }

    /// Parses the instances.
    pub fn instances(&self) -> Result<Vec<Fr>, ServiceError> {
        self.instances.iter().map(|s| fr_from_hex(s)).collect()
    }

    /// Parses the proof bytes.
    pub fn proof_bytes(&self) -> Result<Vec<u8>, ServiceError> {
        hex::decode(self.proof.trim_start_matches("0x")).map_err(|e| ServiceError::Input(format!("proof hex: {e}")))
    }
}

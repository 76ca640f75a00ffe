//! The compiled-model folder written by `zkinfer compile`.
//!
//! | file | content |
//! |---|---|
//! | `settings.json` | [`Settings`]: hashes, scales, circuit shape, statistics, SRS identity, fidelity |
//! | `model.onnx` | the ONNX file compiled |
//! | `quant.json` | the quantized graph (what the circuit constrains) |
//! | `pk.bin`, `vk.bin` | halo2 proving and verifying keys |
//! | `srs.bin` | the SRS downsized to the circuit's k (halo2 KZG format) |
//! | `Verifier.sol`, `verifier.bin` | Solidity verifier source and deployment bytecode (of the entry contract, when split) |
//! | `verifier.json` | creation code of every verifier contract and how to deploy them |

use std::path::PathBuf;

use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, G1Affine};
use halo2_base::halo2_proofs::plonk::VerifyingKey;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use zkinfer_models::quant::QuantGraph;
use zkinfer_prover::halo2::{self as h2, Halo2Keys};
use zkinfer_prover::srs;
use zkinfer_verifier_contracts::VerifierCode;

use crate::error::ServiceError;
use crate::fsio::{read, read_json, write_atomic};
use crate::pipeline::{Compiled, Settings};

/// A compiled-model folder.
pub struct ModelDir {
    pub root: PathBuf,
}

impl ModelDir {
    /// Names a folder (nothing is read yet).
    pub fn new(root: impl Into<PathBuf>) -> ModelDir {
        ModelDir { root: root.into() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Writes every artifact; `settings.json` last, so a folder with settings is complete.
    pub fn write(&self, onnx: &[u8], c: &Compiled) -> Result<(), ServiceError> {
        write_atomic(&self.path("model.onnx"), onnx)?;
        write_atomic(&self.path("quant.json"), &serde_json::to_vec(&c.quant).expect("serializable"))?;
        write_atomic(&self.path("pk.bin"), &h2::write_pk(&c.keys.pk))?;
        write_atomic(&self.path("vk.bin"), &h2::write_vk(c.keys.vk()))?;
        write_atomic(&self.path("srs.bin"), &srs::write_srs(&c.params))?;
        write_atomic(&self.path("Verifier.sol"), c.verifier.source.as_bytes())?;
        write_atomic(&self.path("verifier.bin"), &c.verifier.entry.deployment_code)?;
        write_atomic(&self.path("verifier.json"), c.verifier.code().to_json().as_bytes())?;
        write_atomic(&self.path("settings.json"), &serde_json::to_vec_pretty(&c.settings).expect("serializable"))?;
        Ok(())
    }

    /// The settings; a clear error when the folder is not a compiled model.
    pub fn settings(&self) -> Result<Settings, ServiceError> {
        let p = self.path("settings.json");
        if !p.exists() {
            return Err(ServiceError::Artifact {
                path: self.root.display().to_string(),
                message: "not a compiled model folder (no settings.json); run `zkinfer compile` first".into(),
            });
        }
        read_json(&p)
    }

    /// The quantized graph.
    pub fn quant(&self) -> Result<QuantGraph, ServiceError> {
        read_json(&self.path("quant.json"))
    }

    /// The SRS at the circuit's k.
    pub fn params(&self, settings: &Settings) -> Result<ParamsKZG<Bn256>, ServiceError> {
        let bytes = read(&self.path("srs.bin"))?;
        Ok(srs::read_srs(&bytes, settings.shape.k())?)
    }

    /// The proving key.
    pub fn keys(&self, settings: &Settings) -> Result<Halo2Keys, ServiceError> {
        let bytes = read(&self.path("pk.bin"))?;
        let pk = h2::read_pk(&bytes, &settings.shape)?;
        Ok(Halo2Keys { pk, shape: settings.shape.clone() })
    }

    /// The verifying key.
    pub fn vk(&self, settings: &Settings) -> Result<VerifyingKey<G1Affine>, ServiceError> {
        let bytes = read(&self.path("vk.bin"))?;
        Ok(h2::read_vk(&bytes, &settings.shape)?)
    }

    /// The verifier's creation code: `verifier.json` (every contract of a split
    /// verifier), else `verifier.bin` (folders written before verifiers were split).
    pub fn verifier_code(&self) -> Result<VerifierCode, ServiceError> {
        let manifest = self.path("verifier.json");
        if manifest.exists() {
            let text = read(&manifest)?;
            return Ok(VerifierCode::from_json(&String::from_utf8_lossy(&text))?);
        }
        Ok(VerifierCode::single(read(&self.path("verifier.bin"))?))
    }
}


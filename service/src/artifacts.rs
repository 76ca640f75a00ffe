//! The compiled-model folder written by `zkinfer compile`.
//!
//! | file | content |
//! |---|---|
//! | `settings.json` | [`Settings`]: backend, hashes, options, scales, circuit, fidelity |
//! | `model.onnx` | the ONNX file compiled |
//! | `quant.json` | the quantized graph (what the circuit constrains) |
//! | `pk.bin`, `vk.bin` | proving and verifying keys |
//! | `srs.bin` | halo2: the SRS downsized to the circuit's k (halo2 KZG format) |
//! | `Verifier.sol`, `verifier.bin` | Solidity verifier source and deployment bytecode (of the entry contract, when split) |
//! | `verifier.json` | creation code of every verifier contract and how to deploy them |
//! | `Attestor.sol` | halo2: the attestor (`verifyAndDecode`: proven values as numbers), deployed by `zkinfer deploy` |
//! | `deployment.json` | written by `zkinfer deploy`: chain id, addresses, transaction and code hashes |

use std::path::PathBuf;

use zkinfer_compiler::{CompiledModel, Model, Settings};
use zkinfer_models::quant::QuantGraph;
use zkinfer_verifier_contracts::VerifierCode;

use crate::error::ServiceError;
use crate::fsio::{read, read_json, write_atomic};

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
    pub fn write(&self, onnx: &[u8], c: &CompiledModel) -> Result<(), ServiceError> {
        let prover = c.prover();
        write_atomic(&self.path("model.onnx"), onnx)?;
        write_atomic(&self.path("quant.json"), &serde_json::to_vec(prover.graph()).expect("serializable"))?;
        write_atomic(&self.path("pk.bin"), &prover.proving_key_bytes())?;
        write_atomic(&self.path("vk.bin"), &prover.verifying_key_bytes())?;
        if let Some(srs) = prover.srs_bytes() {
            write_atomic(&self.path("srs.bin"), &srs)?;
        }
        write_atomic(&self.path("Verifier.sol"), c.verifier.source.as_bytes())?;
        write_atomic(&self.path("verifier.bin"), &c.verifier.entry.deployment_code)?;
        write_atomic(&self.path("verifier.json"), c.verifier.code().to_json().as_bytes())?;
        if c.settings().backend() == zkinfer_prover::Backend::Halo2 {
            let spec = crate::chain::attestor_spec(prover.graph(), &prover.visibility());
            write_atomic(&self.path("Attestor.sol"), zkinfer_verifier_contracts::attestor_source(&spec).as_bytes())?;
        }
        write_atomic(&self.path("settings.json"), &serde_json::to_vec_pretty(c.settings()).expect("serializable"))?;
        Ok(())
    }

    /// The settings; a clear error when the folder is not a compiled model, or one of an
    /// earlier settings format.
    pub fn settings(&self) -> Result<Settings, ServiceError> {
        let p = self.path("settings.json");
        if !p.exists() {
            return Err(ServiceError::Artifact {
                path: self.root.display().to_string(),
                message: "not a compiled model folder (no settings.json); run `zkinfer compile` first".into(),
            });
        }
        Settings::from_json(&read(&p)?).map_err(|message| ServiceError::Artifact { path: p.display().to_string(), message })
    }

    /// The quantized graph.
    pub fn quant(&self) -> Result<QuantGraph, ServiceError> {
        read_json(&self.path("quant.json"))
    }

    /// The model with its prover (keys in memory).
    pub fn model(&self) -> Result<Model, ServiceError> {
        let settings = self.settings()?;
        let srs = match settings.k() {
            Some(_) => Some(read(&self.path("srs.bin"))?),
            None => None,
        };
        Ok(Model::load(settings, self.quant()?, &read(&self.path("pk.bin"))?, srs.as_deref())?)
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

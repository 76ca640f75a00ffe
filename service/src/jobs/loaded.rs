//! A compiled model loaded for proving: settings, quantized graph, SRS and keys, read
//! from the blob store and the key cache.

use halo2_base::halo2_proofs::halo2curves::bn256::Bn256;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use zkinfer_models::quant::QuantGraph;
use zkinfer_prover::halo2::{self as h2, Halo2Keys};
use zkinfer_prover::{srs, Groth16Prover};

use crate::error::ServiceError;
use crate::keycache::DiskKeyCache;
use crate::pipeline::{KeyCache, Settings};
use crate::pipeline_groth16::{key_id, Groth16Settings};
use crate::store::{ArtifactName, BlobStore, ModelRecord, StoreError};

/// Everything a proof of one model needs, per backend.
// Held once per model behind an `Arc` in the LRU: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum LoadedModel {
    Halo2 { settings: Settings, quant: QuantGraph, params: ParamsKZG<Bn256>, keys: Halo2Keys },
    Groth16 { settings: Groth16Settings, prover: Groth16Prover },
}

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("model {0} is not compiled")]
    NotReady(String),
    #[error("model {id}: artifact {name} is not recorded")]
    NoArtifact { id: String, name: &'static str },
    #[error("the proving key {settings_hash} is missing from the key cache")]
    NoKey { settings_hash: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

fn blob(blobs: &BlobStore, m: &ModelRecord, name: &'static str) -> Result<Vec<u8>, LoadError> {
    let sha = m.artifacts.get(name).ok_or_else(|| LoadError::NoArtifact { id: m.id.clone(), name })?;
    Ok(blobs.get(sha)?)
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, ServiceError> {
    serde_json::from_slice(bytes).map_err(|e| ServiceError::Artifact { path: what.into(), message: e.to_string() })
}

impl LoadedModel {
    /// Loads a ready model.
    pub fn load(m: &ModelRecord, blobs: &BlobStore, keys: &DiskKeyCache) -> Result<LoadedModel, LoadError> {
        let settings_json = m.settings_json.as_deref().ok_or_else(|| LoadError::NotReady(m.id.clone()))?;
        if m.options.backend == "groth16" {
            let settings: Groth16Settings = parse(ArtifactName::SETTINGS, settings_json.as_bytes())?;
            let quant_json = blob(blobs, m, ArtifactName::QUANT)?;
            let quant: QuantGraph = parse(ArtifactName::QUANT, &quant_json)?;
            let id = key_id(&quant_json);
            let pk = keys.get_groth16(&id).ok_or(LoadError::NoKey { settings_hash: id })?;
            let prover = Groth16Prover::import(quant, &pk).map_err(ServiceError::from)?;
            return Ok(LoadedModel::Groth16 { settings, prover });
        }
        let settings: Settings = parse(ArtifactName::SETTINGS, settings_json.as_bytes())?;
        let quant: QuantGraph = parse(ArtifactName::QUANT, &blob(blobs, m, ArtifactName::QUANT)?)?;
        let srs_bytes = blob(blobs, m, ArtifactName::SRS)?;
        let params = srs::read_srs(&srs_bytes, settings.shape.k()).map_err(ServiceError::from)?;
        let (pk, _) = keys
            .get(&settings.settings_hash)
            .ok_or_else(|| LoadError::NoKey { settings_hash: settings.settings_hash.clone() })?;
        let pk = h2::read_pk(&pk, &settings.shape).map_err(ServiceError::from)?;
        let keys = Halo2Keys { pk, shape: settings.shape.clone() };
        Ok(LoadedModel::Halo2 { settings, quant, params, keys })
    }
}

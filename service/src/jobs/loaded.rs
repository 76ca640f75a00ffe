//! A compiled model loaded for proving: settings, quantized graph, SRS and keys, read
//! from the blob store and the key cache into the compiler's [`Model`].

use zkinfer_compiler::{KeyCache, Model, Settings};
use zkinfer_models::quant::QuantGraph;

use crate::error::ServiceError;
use crate::keycache::DiskKeyCache;
use crate::store::{ArtifactName, BlobStore, ModelRecord, StoreError};

/// Everything a proof of one model needs, whatever its backend.
pub type LoadedModel = Model;

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("model {0} is not compiled")]
    NotReady(String),
    #[error("model {id}: artifact {name} is not recorded")]
    NoArtifact { id: String, name: &'static str },
    #[error("the proving key {key_id} is missing from the key cache")]
    NoKey { key_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

fn blob(blobs: &BlobStore, m: &ModelRecord, name: &'static str) -> Result<Vec<u8>, LoadError> {
    let sha = m.artifacts.get(name).ok_or_else(|| LoadError::NoArtifact { id: m.id.clone(), name })?;
    Ok(blobs.get(sha)?)
}

fn artifact(what: &str, message: impl ToString) -> ServiceError {
    ServiceError::Artifact { path: what.into(), message: message.to_string() }
}

/// Loads a ready model.
pub fn load(m: &ModelRecord, blobs: &BlobStore, keys: &DiskKeyCache) -> Result<LoadedModel, LoadError> {
    let settings_json = m.settings_json.as_deref().ok_or_else(|| LoadError::NotReady(m.id.clone()))?;
    let settings = Settings::from_json(settings_json.as_bytes()).map_err(|e| artifact(ArtifactName::SETTINGS, e))?;
    let quant: QuantGraph = serde_json::from_slice(&blob(blobs, m, ArtifactName::QUANT)?).map_err(|e| artifact(ArtifactName::QUANT, e))?;
    let srs = match settings.k() {
        Some(_) => Some(blob(blobs, m, ArtifactName::SRS)?),
        None => None,
    };
    let (key_id, file) = settings.proving_key();
    let pk = match keys.get(key_id, file) {
        Some(pk) => pk,
        // Compiled by another worker: the key is in the artifact store, cached here from now on.
        None if m.artifacts.contains_key(ArtifactName::PROVING_KEY) => {
            let pk = blob(blobs, m, ArtifactName::PROVING_KEY)?;
            if !keys.put(key_id, file, &pk) {
                tracing::warn!(key = key_id, "cannot cache the proving key under {}", keys.root.display());
            }
            pk
        }
        None => return Err(LoadError::NoKey { key_id: key_id.to_string() }),
    };
    Ok(Model::load(settings, quant, &pk, srs.as_deref()).map_err(ServiceError::from)?)
}

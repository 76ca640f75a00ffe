//! Where the KZG SRS comes from, and its identity in a model's settings.

use std::sync::Arc;

use halo2_base::halo2_proofs::halo2curves::bn256::Bn256;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use serde::{Deserialize, Serialize};
use zkinfer_prover::srs;

use crate::error::CompileError;
use crate::hash::sha256_hex;
use crate::keycache::KeyCache;

/// Where the SRS comes from.
#[derive(Clone, Debug, Default)]
pub enum SrsSource {
    /// Generated locally from a fixed seed: for tests and trials only.
    #[default]
    InsecureTest,
    /// A ceremony file in halo2's KZG format (its path, for the record, and content).
    File { path: String, bytes: Arc<Vec<u8>> },
}

/// Identifies the SRS a model was compiled with.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SrsInfo {
    /// `insecure-test` or `file`.
    pub kind: String,
    pub path: Option<String>,
    /// SHA-256 of the SRS bytes at the circuit's k.
    pub sha256: String,
}

impl SrsInfo {
    /// Whether anyone can forge proofs for keys made with this SRS.
    pub fn is_insecure(&self) -> bool {
        self.kind == "insecure-test"
    }
}

/// The SRS at exactly `k`, with its identity. The insecure test SRS is deterministic,
/// so a cached copy (of any size at least `k`) is the same SRS.
pub fn srs_for(source: &SrsSource, k: u32, cache: &dyn KeyCache) -> Result<(ParamsKZG<Bn256>, SrsInfo), CompileError> {
    let (params, kind, path) = match source {
        SrsSource::InsecureTest => {
            let params = match cache.test_srs(k).and_then(|b| srs::read_srs(&b, k).ok()) {
                Some(p) => p,
                None => {
                    let p = srs::insecure_test_srs(k);
                    cache.put_test_srs(k, &srs::write_srs(&p));
                    p
                }
            };
            (params, "insecure-test", None)
        }
        SrsSource::File { path, bytes } => (srs::read_srs(bytes, k)?, "file", Some(path.clone())),
    };
    let sha256 = sha256_hex(&srs::write_srs(&params));
    Ok((params, SrsInfo { kind: kind.into(), path, sha256 }))
}

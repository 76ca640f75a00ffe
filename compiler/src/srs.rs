//! Where the KZG SRS comes from, and its identity in a model's settings.

use std::sync::Arc;

use halo2_base::halo2_proofs::halo2curves::bn256::Bn256;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use serde::{Deserialize, Serialize};
use zkinfer_prover::{srs, ProverError};

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
/// so a cached copy at `k` is the same SRS (one at a larger k is not used: generating takes
/// seconds, downsizing minutes). A ceremony file larger than `k` is downsized once and the
/// result cached under the file's content and `k`.
pub fn srs_for(source: &SrsSource, k: u32, cache: &dyn KeyCache) -> Result<(ParamsKZG<Bn256>, SrsInfo), CompileError> {
    let (params, kind, path) = match source {
        SrsSource::InsecureTest => {
            let params = cached_srs(cache, &format!("insecure-test-srs-k{k}"), k, || Ok(srs::insecure_test_srs(k)))?;
            (params, "insecure-test", None)
        }
        SrsSource::File { path, bytes } => {
            let params = match header_k(bytes) {
                Some(file_k) if file_k > k => {
                    let name = format!("srs-{}-k{k}", &sha256_hex(bytes)[..32]);
                    cached_srs(cache, &name, k, || srs::read_srs(bytes, k))?
                }
                _ => srs::read_srs(bytes, k)?,
            };
            (params, "file", Some(path.clone()))
        }
    };
    let sha256 = sha256_hex(&srs::write_srs(&params));
    Ok((params, SrsInfo { kind: kind.into(), path, sha256 }))
}

/// The SRS cached as `name` when it is one at exactly `k`; otherwise `make`'s, cached.
fn cached_srs(
    cache: &dyn KeyCache,
    name: &str,
    k: u32,
    make: impl FnOnce() -> Result<ParamsKZG<Bn256>, ProverError>,
) -> Result<ParamsKZG<Bn256>, CompileError> {
    if let Some(p) = cache.srs(name).filter(|b| header_k(b) == Some(k)).and_then(|b| srs::read_srs(&b, k).ok()) {
        return Ok(p);
    }
    let p = make()?;
    cache.put_srs(name, &srs::write_srs(&p));
    Ok(p)
}

/// The `k` an SRS file in halo2's KZG format declares (its first four bytes).
fn header_k(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use rand::SeedableRng;

    use super::*;

    /// Records the SRS files it is given.
    #[derive(Default)]
    struct Derived(RefCell<HashMap<String, Vec<u8>>>);

    impl KeyCache for Derived {
        fn get(&self, _: &str, _: &str) -> Option<Vec<u8>> {
            None
        }
        fn put(&self, _: &str, _: &str, _: &[u8]) -> bool {
            false
        }
        fn srs(&self, name: &str) -> Option<Vec<u8>> {
            self.0.borrow().get(name).cloned()
        }
        fn put_srs(&self, name: &str, bytes: &[u8]) {
            self.0.borrow_mut().insert(name.to_string(), bytes.to_vec());
        }
    }

    #[test]
    fn a_larger_ceremony_file_is_downsized_once_then_read_from_the_cache() {
        let file = srs::write_srs(&srs::insecure_test_srs(5));
        let source = SrsSource::File { path: "ceremony.srs".into(), bytes: Arc::new(file.clone()) };
        let cache = Derived::default();
        let (first, info) = srs_for(&source, 3, &cache).unwrap();
        let want = srs::read_srs(&file, 3).unwrap();
        assert_eq!(srs::write_srs(&first), srs::write_srs(&want));
        assert_eq!(info.kind, "file");
        assert_eq!(cache.0.borrow().len(), 1, "the downsized SRS is cached");
        let id = cache.0.borrow().keys().next().unwrap().clone();
        assert!(id.ends_with("-k3"), "{id}");

        // The cached copy is what the next compile gets (another SRS put in its place shows it).
        let (again, again_info) = srs_for(&source, 3, &cache).unwrap();
        assert_eq!(srs::write_srs(&again), srs::write_srs(&want));
        assert_eq!(again_info, info);
        let other = ParamsKZG::<Bn256>::setup(3, rand::rngs::StdRng::seed_from_u64(7));
        cache.0.borrow_mut().insert(id.clone(), srs::write_srs(&other));
        let (from_cache, _) = srs_for(&source, 3, &cache).unwrap();
        assert_eq!(srs::write_srs(&from_cache), srs::write_srs(&other));
        // A cached entry of the wrong size is not trusted: downsized again and replaced.
        cache.0.borrow_mut().insert(id.clone(), srs::write_srs(&srs::insecure_test_srs(4)));
        let (fixed, _) = srs_for(&source, 3, &cache).unwrap();
        assert_eq!(srs::write_srs(&fixed), srs::write_srs(&want));
        assert_eq!(header_k(&cache.0.borrow()[&id]), Some(3));

        // A file at exactly k is read as it is, nothing cached; a smaller one is refused.
        let exact = Derived::default();
        srs_for(&SrsSource::File { path: "k3".into(), bytes: Arc::new(srs::write_srs(&want)) }, 3, &exact).unwrap();
        assert!(exact.0.borrow().is_empty());
        assert!(srs_for(&source, 6, &cache).is_err());
    }
}

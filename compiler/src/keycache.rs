//! Where compiled keys are looked up and stored. The compiler only names files; the
//! caller decides where they live (the service: a folder per key id on disk).

/// Key files by key id: a halo2 model's `pk.bin` and `shape.json` under its settings
/// hash, a Groth16 model's `groth16-pk.bin` under its quantized graph's key id.
pub trait KeyCache {
    /// A cached file of the key set `id`, if present.
    fn get(&self, id: &str, file: &str) -> Option<Vec<u8>>;
    /// Stores a file of the key set `id`; `false` when it could not be stored (which
    /// costs a later key generation, nothing else).
    fn put(&self, id: &str, file: &str, bytes: &[u8]) -> bool;
    /// A cached SRS file by name: `insecure-test-srs-k<k>` (generating one at k = 19 takes
    /// about 5 s) or `srs-<digest>-k<k>`, a ceremony file cut down to `k` (downsizing
    /// recomputes the Lagrange basis, an inverse FFT over `2^k` points that takes minutes at
    /// k = 19). See [`crate::srs::srs_for`].
    fn srs(&self, _name: &str) -> Option<Vec<u8>> {
        None
    }
    /// Caches an SRS file under its name.
    fn put_srs(&self, _name: &str, _bytes: &[u8]) {}
}

/// A cache that never hits and stores nothing.
pub struct NoCache;

impl KeyCache for NoCache {
    fn get(&self, _: &str, _: &str) -> Option<Vec<u8>> {
        None
    }
    fn put(&self, _: &str, _: &str, _: &[u8]) -> bool {
        false
    }
}

/// File names in a key set.
pub mod files {
    /// A halo2 proving key.
    pub const HALO2_PK: &str = "pk.bin";
    /// The circuit shape (with keygen's break points) a halo2 proving key was made for.
    pub const HALO2_SHAPE: &str = "shape.json";
    /// A Groth16 proving key.
    pub const GROTH16_PK: &str = "groth16-pk.bin";
}

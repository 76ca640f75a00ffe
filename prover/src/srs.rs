//! Structured reference strings: a ceremony file in halo2's KZG format, or a locally
//! generated one for tests, which is insecure (its toxic waste comes from a fixed seed).

use halo2_base::halo2_proofs::{
    halo2curves::bn256::Bn256,
    poly::{commitment::Params, kzg::commitment::ParamsKZG},
};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

use crate::error::ProverError;

/// Reads an SRS in halo2's KZG format (`ParamsKZG::write`) and downsizes it to `k`.
pub fn read_srs(bytes: &[u8], k: u32) -> Result<ParamsKZG<Bn256>, ProverError> {
    let mut params = ParamsKZG::<Bn256>::read(&mut &bytes[..]).map_err(|e| ProverError::Srs(format!("not a halo2 KZG SRS: {e}")))?;
    if params.k() < k {
        return Err(ProverError::SrsTooSmall { have: params.k(), need: k });
    }
    if params.k() > k {
        params.downsize(k);
    }
    Ok(params)
}

/// An insecure SRS for tests and local use: anyone can recompute its secret from the seed.
pub fn insecure_test_srs(k: u32) -> ParamsKZG<Bn256> {
    ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::from_seed(*b"zkinfer insecure test srs, k-ind"))
}

/// Serializes an SRS in halo2's KZG format.
pub fn write_srs(params: &ParamsKZG<Bn256>) -> Vec<u8> {
    let mut out = Vec::new();
    params.write(&mut out).expect("writing to a Vec cannot fail");
    out
}

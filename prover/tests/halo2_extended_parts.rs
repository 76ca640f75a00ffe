//! The proving key's cache of its polynomials on the extended domain (the patched
//! halo2-axiom, `vendor/halo2-axiom/PATCHES.md`) and the degree-5 shapes: proofs made with
//! and without the cache verify, keys round-trip with it, keys written without it (by an
//! earlier zkinfer) still load and gain it, and bytes after a key are refused.

mod groth16_common;

use groth16_common::load;
use halo2_base::halo2_proofs::{halo2curves::bn256::G1Affine, plonk::ProvingKey, SerdeFormat};
use zkinfer_circuits::{plan, Fr, ModelCircuit, PlanOptions};
use zkinfer_prover::halo2::{self as h2, Halo2Keys};
use zkinfer_prover::srs;

#[test]
fn cached_and_uncached_keys_prove_the_same_statement() {
    let m = load("2l_relu_fc");
    // 4 gate columns, the MAC group's x and acc_0, lookup, constant and instance
    // columns: 9 in the permutation, a degree-5 shape.
    let opts = PlanOptions { mac_width: Some(4), ..Default::default() };
    let planned = plan::<Fr>(&m.graph, &m.inputs, &opts).unwrap();
    assert_eq!(planned.shape.params.degree, 5, "{:?}", planned.stats);
    let params = srs::insecure_test_srs(planned.stats.k);
    let keys = h2::keygen(&params, &m.graph, &m.inputs, &planned.shape).unwrap();
    assert_eq!(keys.vk().cs().degree(), 5);
    assert!(keys.pk.has_extended_parts(), "a small key carries its extended parts");
    assert!(keys.pk.extended_parts_bytes() > 0);

    let cached = h2::prove(&params, &keys, &m.graph, &m.inputs).unwrap();
    assert!(h2::verify(&params, keys.vk(), &cached.instances, &cached.proof));

    // The cache travels with the key.
    let bytes = h2::write_pk(&keys.pk);
    let read = h2::read_pk(&bytes, &keys.shape).unwrap();
    assert!(read.has_extended_parts());

    // Without the cache the prover computes the parts itself; the proof is as valid.
    let mut plain = keys.pk.clone();
    plain.drop_extended_parts();
    let old_bytes = h2::write_pk(&plain);
    assert!(bytes.len() - old_bytes.len() >= keys.pk.extended_parts_bytes());
    let raw =
        ProvingKey::<G1Affine>::read::<_, ModelCircuit<Fr>>(&mut &old_bytes[..], SerdeFormat::RawBytesUnchecked, keys.shape.params.clone())
            .unwrap();
    assert!(!raw.has_extended_parts(), "a key written without the cache reads without it");
    let uncached_keys = Halo2Keys { pk: raw, shape: keys.shape.clone() };
    let uncached = h2::prove(&params, &uncached_keys, &m.graph, &m.inputs).unwrap();
    assert_eq!(uncached.instances, cached.instances);
    assert!(h2::verify(&params, keys.vk(), &uncached.instances, &uncached.proof));

    // zkinfer's reader gives an old key the cache; a tampered proof still fails.
    assert!(h2::read_pk(&old_bytes, &keys.shape).unwrap().has_extended_parts());
    let mut bad = cached.proof.clone();
    bad[100] ^= 1;
    assert!(!h2::verify(&params, keys.vk(), &cached.instances, &bad));

    // Bytes after a key that are not the cache are an error, not ignored.
    let mut junk = old_bytes.clone();
    junk.extend_from_slice(b"junk");
    let err = h2::read_pk(&junk, &keys.shape).expect_err("trailing junk is refused").to_string();
    assert!(err.contains("unknown data after the proving key"), "{err}");

    // A corrupt polynomial length (l0's, right after the verifying key) is refused
    // before anything is allocated for it.
    let mut vk_bytes = Vec::new();
    keys.vk().write(&mut vk_bytes, SerdeFormat::RawBytesUnchecked).unwrap();
    let mut huge = bytes.clone();
    huge[vk_bytes.len()..vk_bytes.len() + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    let err = h2::read_pk(&huge, &keys.shape).expect_err("a corrupt length is refused").to_string();
    assert!(err.contains("truncated or corrupt") && err.contains("4294967295 values"), "{err}");

    // A truncated key (cut inside the cache or inside the key) is an error, not a crash.
    for cut in [bytes.len() - 1000, old_bytes.len() / 2] {
        let err = h2::read_pk(&bytes[..cut], &keys.shape).expect_err("a truncated key is refused").to_string();
        assert!(err.contains("truncated or corrupt"), "{err}");
    }
}

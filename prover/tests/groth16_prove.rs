//! Setup, proving and native verification on corpus models; tampered proofs, changed
//! public values and keys of other circuits are rejected; keys round-trip through bytes.

mod groth16_common;

use std::time::Instant;

use ark_bn254::G1Affine;
use ark_ec::AffineRepr;
use groth16_common::{expected_public, load};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use zkinfer_models::quant::QOp;
use zkinfer_prover::groth16::{
    prove, read_pk, read_proof, read_vk, setup, verify, write_pk, write_proof, write_vk, Groth16Error, PublicLayout, PROOF_BYTES,
};

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

#[test]
fn honest_proofs_verify_and_tampering_is_rejected() {
    for name in ["1l_linear", "1l_mlp", "2l_relu_fc", "1l_relu"] {
        let m = load(name);
        let layout = PublicLayout::of(&m.graph);
        let t0 = Instant::now();
        let keys = setup(&m.graph, &mut rng(1)).unwrap();
        let t_setup = t0.elapsed();
        let t0 = Instant::now();
        let p = prove(&keys, &m.graph, &m.inputs, &mut rng(2)).unwrap();
        let t_prove = t0.elapsed();
        assert_eq!(p.public, expected_public(&m), "{name}");
        let bytes = write_proof(&p.proof);
        assert_eq!(bytes.len(), PROOF_BYTES);
        println!(
            "{name}: setup {:.3}s, prove {:.3}s, {} constraints, proof {} bytes, {} public",
            t_setup.as_secs_f64(),
            t_prove.as_secs_f64(),
            keys.shape.num_constraints,
            bytes.len(),
            p.public.len()
        );
        let proof = read_proof(&bytes).unwrap();
        assert!(verify(keys.vk(), &layout, &p.public, &proof).unwrap(), "{name}: honest proof rejected");

        // Every changed public value is rejected.
        for i in 0..p.public.len() {
            let mut wrong = p.public.clone();
            wrong[i] += if wrong[i] + 1 < layout.offset() { 1 } else { -1 };
            assert!(!verify(keys.vk(), &layout, &wrong, &proof).unwrap(), "{name}: public value {i} changed and accepted");
        }
        // A value outside the checked range has no packing and is rejected, not wrapped.
        let mut wrong = p.public.clone();
        wrong[0] = layout.offset();
        assert!(!verify(keys.vk(), &layout, &wrong, &proof).unwrap());
        // Tampered proofs: swapped elements, a negated A, a proof for other values.
        let mut t = proof.clone();
        std::mem::swap(&mut t.a, &mut t.c);
        assert!(!verify(keys.vk(), &layout, &p.public, &t).unwrap());
        let mut t = proof.clone();
        t.a = (-t.a.into_group()).into();
        assert!(!verify(keys.vk(), &layout, &p.public, &t).unwrap());
        let mut t = proof.clone();
        t.c = (t.c + G1Affine::generator()).into();
        assert!(!verify(keys.vk(), &layout, &p.public, &t).unwrap());
        // Flipped bytes either fail to decode (off-curve) or fail to verify.
        for pos in [0, 40, 100, PROOF_BYTES - 1] {
            let mut b = bytes.clone();
            b[pos] ^= 1;
            match read_proof(&b) {
                Ok(t) => assert!(!verify(keys.vk(), &layout, &p.public, &t).unwrap(), "{name}: byte {pos} flipped and accepted"),
                Err(Groth16Error::Serialization(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert!(matches!(read_proof(&bytes[1..]), Err(Groth16Error::Serialization(_))));
        assert!(matches!(verify(keys.vk(), &layout, &p.public[1..], &proof), Err(Groth16Error::PublicCount { .. })));
    }
}

#[test]
fn keys_round_trip_and_foreign_keys_are_refused() {
    let m = load("1l_mlp");
    let layout = PublicLayout::of(&m.graph);
    let keys = setup(&m.graph, &mut rng(3)).unwrap();
    // Keys made elsewhere are imported from bytes and prove as the originals do.
    let pk_bytes = write_pk(&keys.pk);
    let vk_bytes = write_vk(keys.vk());
    let imported = read_pk(&pk_bytes, &m.graph).unwrap();
    assert_eq!(imported.pk, keys.pk);
    assert_eq!(imported.shape, keys.shape);
    let vk = read_vk(&vk_bytes, &m.graph).unwrap();
    assert_eq!(&vk, keys.vk());
    let p = prove(&imported, &m.graph, &m.inputs, &mut rng(4)).unwrap();
    assert!(verify(&vk, &layout, &p.public, &p.proof).unwrap());

    // Another setup of the same circuit: its verifying key rejects our proof.
    let other = setup(&m.graph, &mut rng(5)).unwrap();
    assert!(!verify(other.vk(), &layout, &p.public, &p.proof).unwrap());

    // Keys of another model are refused on import by shape (the verifying key only
    // knows its number of packed public words: 1 here, 6 for 1l_flatten).
    let small = load("1l_linear");
    assert!(matches!(read_pk(&pk_bytes, &small.graph), Err(Groth16Error::KeyMismatch { .. })));
    let wide = load("1l_flatten");
    assert!(matches!(read_vk(&vk_bytes, &wide.graph), Err(Groth16Error::KeyMismatch { expected: 7, got: 2, .. })));
    // Truncated or corrupted key bytes are refused.
    assert!(matches!(read_pk(&pk_bytes[..pk_bytes.len() - 1], &m.graph), Err(Groth16Error::Serialization(_))));
    assert!(matches!(read_vk(&vk_bytes[..vk_bytes.len() - 1], &m.graph), Err(Groth16Error::Serialization(_))));

    // Same shape, other weights: the proving key's own check catches it before a proof
    // leaves the prover.
    let mut changed = m.graph.clone();
    let node = changed.nodes.iter_mut().find(|n| matches!(n.op, QOp::Linear { .. })).unwrap();
    if let QOp::Linear { coeff, .. } = &mut node.op {
        coeff[0] += 1;
    }
    match prove(&keys, &changed, &m.inputs, &mut rng(6)) {
        Err(Groth16Error::KeysForAnotherCircuit) => {}
        other => panic!("expected KeysForAnotherCircuit, got {:?}", other.map(|p| p.public)),
    }
}

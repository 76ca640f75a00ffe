//! Key generation synthesizes the circuit once for both keys (the patched halo2-axiom's
//! `keygen_vk_with_parts` / `keygen_pk_from_parts`, `vendor/halo2-axiom/PATCHES.md`): the
//! keys are byte for byte halo2's own `keygen_vk` + `keygen_pk` (two syntheses), and so is
//! the proving key of a verifying key whose parts were released and `keygen_pk2`'s; parts
//! that do not belong to the verifying key are refused.

mod groth16_common;

use groth16_common::load;
use halo2_base::halo2_proofs::plonk::{keygen_pk, keygen_pk2, keygen_pk_from_parts, keygen_vk, keygen_vk_with_parts};
use zkinfer_circuits::{plan, CircuitBuilderStage, Fr, ModelCircuit, PlanOptions};
use zkinfer_prover::halo2 as h2;
use zkinfer_prover::srs;

#[test]
fn one_synthesis_gives_halo2s_keys() {
    // Convolutions, a MAC group, lookups and constants: copies in every kind of column.
    let m = load("1l_conv");
    let planned = plan::<Fr>(&m.graph, &m.inputs, &PlanOptions::default()).unwrap();
    let params = srs::insecure_test_srs(planned.stats.k);

    let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Keygen, &m.graph, &m.inputs, &planned.shape).unwrap();
    let vk = keygen_vk(&params, &circuit).unwrap();
    let mut reference = keygen_pk(&params, vk.clone(), &circuit).unwrap();
    reference.cache_extended_parts();

    let keys = h2::keygen(&params, &m.graph, &m.inputs, &planned.shape).unwrap();
    assert_eq!(h2::write_vk(keys.vk()), h2::write_vk(&vk), "the verifying keys differ");
    assert!(h2::write_pk(&keys.pk) == h2::write_pk(&reference), "the proving keys differ");
    assert_eq!(keys.shape.break_points, circuit.builder.break_points());

    // halo2's keygen_pk2 (both keys without a verifying key first) is the same keys too.
    let mut both = keygen_pk2(&params, &circuit, false).unwrap();
    both.cache_extended_parts();
    assert!(h2::write_pk(&both) == h2::write_pk(&reference), "keygen_pk2's proving key differs");

    // A verifying key kept without its parts: the proving key synthesizes again.
    let mut stage = h2::keygen_vk_stage(&params, &m.graph, &m.inputs, &planned.shape).unwrap();
    stage.release_parts();
    let again = h2::keygen_pk_from(&params, stage, &m.graph, &m.inputs).unwrap();
    assert!(h2::write_pk(&again.pk) == h2::write_pk(&reference), "the re-synthesized proving key differs");

    let proof = h2::prove(&params, &keys, &m.graph, &m.inputs).unwrap();
    assert!(h2::verify(&params, &vk, &proof.instances, &proof.proof));

    // Parts of a circuit at another size do not make a proving key for this one.
    let bigger = PlanOptions { k: Some(planned.stats.k + 1), ..Default::default() };
    let big_plan = plan::<Fr>(&m.graph, &m.inputs, &bigger).unwrap();
    let big_params = srs::insecure_test_srs(big_plan.stats.k);
    let big_circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Keygen, &m.graph, &m.inputs, &big_plan.shape).unwrap();
    let (_, big_parts) = keygen_vk_with_parts(&big_params, &big_circuit, false).unwrap();
    let (this_vk, _) = keygen_vk_with_parts(&params, &circuit, false).unwrap();
    assert!(keygen_pk_from_parts(&params, this_vk, big_parts).is_err(), "parts of another size were accepted");
}

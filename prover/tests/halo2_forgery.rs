//! Issue 19.1 end to end: the lookup-key forgery of a free (private) bias, proved with
//! the honest circuit's keys, fails native verification; the honest proof verifies.

use halo2_base::gates::circuit::BaseCircuitParams;
use halo2_base::gates::circuit::{builder::BaseCircuitBuilder, CircuitBuilderStage};
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::{create_proof, keygen_pk, keygen_vk, Circuit, ProvingKey},
    poly::kzg::{
        commitment::{KZGCommitmentScheme, ParamsKZG},
        multiopen::ProverSHPLONK,
    },
    transcript::TranscriptWriterBuffer,
};
use halo2_base::QuantumCell::{Constant, Existing};
use rand::rngs::OsRng;
use snark_verifier::system::halo2::transcript::evm::EvmTranscript;
use zkinfer_circuits::chips::table::{self, Tables};
use zkinfer_circuits::chips::{io, linear, Chips};
use zkinfer_circuits::layout::BLINDING_ROWS;
use zkinfer_circuits::ModelCircuit;
use zkinfer_models::quant::table::TableOp;

const K: usize = 10;
const BITS: u32 = 16;

/// `1 + bias` (the bias a free witness) looked up in table 1, a shift-0 table with no
/// clamped side, claiming `claim`; range checks in the table (`range_in_table`). With
/// `params`, the layout of an earlier build (the keys'). Built at the mock stage: known
/// witness values with the copy constraints, for key generation and proving alike.
fn circuit(bias: Fr, claim: (i128, i128), params: Option<BaseCircuitParams>) -> ModelCircuit<Fr> {
    let t =
        TableOp { shift: 0, lo: -4, clamp_lo: false, clamp_hi: false, values: vec![-12, -9, -6, -3, 0, 3, 6, 9, 12], interpolate: false };
    let mut builder =
        BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock).use_k(K).use_lookup_bits(K - 1).use_instance_columns(1);
    let range = builder.range_chip();
    let chips = Chips::new(&range, BITS);
    let mut tables = Tables::new(false, builder.core().copy_manager.clone());
    tables.add_table(1, &t);
    let ctx = builder.main(0);
    let x = io::checked_input(ctx, &chips, 1);
    let b = ctx.load_witness(bias);
    let sum = linear::linear_cells(ctx, &chips, vec![(x, Constant(Fr::ONE))], Existing(b), 0);
    let (u, _) = table::clamped_index(ctx, &chips, &t, sum);
    let out = table::lookup_with(ctx, &chips, &tables, 1, u, claim.0, claim.1)[0];
    let instances = vec![*out.value()];
    builder.assigned_instances = vec![vec![out]];
    let params = params.unwrap_or_else(|| {
        let mut p = builder.calculate_params(Some(BLINDING_ROWS));
        p.num_lookup_advice_per_phase = vec![0];
        p.num_fixed += 1;
        p
    });
    builder = builder.use_params(params);
    ModelCircuit {
        builder,
        instances,
        public_values: vec![],
        tables,
        table_sets: 1,
        macs: None,
        mac_width: 0,
        mac_sets: 0,
        degree: 0,
        range_in_table: true,
    }
}

fn prove(params: &ParamsKZG<Bn256>, pk: &ProvingKey<G1Affine>, c: ModelCircuit<Fr>) -> (Vec<Fr>, Vec<u8>) {
    let instances = c.instances.clone();
    let mut transcript = TranscriptWriterBuffer::<_, G1Affine, _>::init(Vec::new());
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, EvmTranscript<G1Affine, _, _, _>, _>(
        params,
        pk,
        &[c],
        &[&[&instances]],
        OsRng,
        &mut transcript,
    )
    .unwrap();
    (instances, transcript.finalize())
}

#[test]
fn the_range_row_forgery_of_a_free_bias_fails_native_verification() {
    let honest = circuit(Fr::from(2), (9, 3), None);
    let shape = honest.builder.params();
    let params = zkinfer_prover::srs::insecure_test_srs(K as u32);
    let vk = keygen_vk(&params, &honest).unwrap();
    let pk = keygen_pk(&params, vk, &honest).unwrap();
    let (inst, proof) = prove(&params, &pk, circuit(Fr::from(2), (9, 3), Some(shape.clone())));
    assert_eq!(inst, vec![Fr::from(9)]);
    assert!(zkinfer_prover::halo2::verify(&params, pk.get_vk(), &inst, &proof), "the honest proof");
    // x = 5 - key(1, 0): the key is 5, the range row (5, 0, 2^100), and the output 0.
    let forged = circuit(Fr::from(4) - table::key::<Fr>(1, 0), (0, 1i128 << 100), Some(shape));
    let (inst, proof) = prove(&params, &pk, forged);
    assert_eq!(inst, vec![Fr::ZERO]);
    assert!(!zkinfer_prover::halo2::verify(&params, pk.get_vk(), &inst, &proof), "the forged proof verified");
}

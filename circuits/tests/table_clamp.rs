//! The table chip's clamp (`table::clamp`: a sign decomposition laid out around the
//! edge) and a clamped table's rescale that leaves its quotient's range to the clamp
//! (`TableSpec::clamp_bounds_quotient`): honest witnesses give the interpreter's values,
//! forged ones fail MockProver with the constraint that catches them.

mod common;

use halo2_base::halo2_proofs::dev::VerifyFailure;
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::QuantumCell::{Constant, Existing, Witness};
use zkinfer_circuits::chips::io;
use zkinfer_circuits::chips::table::{self, TableSpec};
use zkinfer_circuits::field::fe;
use zkinfer_circuits::Fr;
use zkinfer_models::quant::table::TableOp;
use zkinfer_models::quant::{QNode, QOp, QPort, QuantGraph};
use zkinfer_models::{interp, DType};

use common::{base_test, Expect};

/// The harness's activation bits ([`common::base_test`]).
const BITS: u32 = 16;

/// `clamp(u)` over a witness `u` (an unchecked cell), with the sign bit forged to `b`
/// when given.
fn clamped(u: i128, edge: i64, lower: bool, b: Option<Fr>) -> (Vec<i128>, Result<(), Vec<VerifyFailure>>) {
    base_test().run(|ctx, chips, _| {
        let c = ctx.load_witness(fe(u));
        vec![match b {
            Some(b) => table::clamp_with(ctx, chips, c, edge, lower, b),
            None => table::clamp(ctx, chips, c, edge, lower),
        }]
    })
}

#[test]
fn clamp_is_max_or_min_over_the_sign_bit_range() {
    let off = 1i128 << BITS;
    for edge in [-4i64, 0, 9] {
        let e = edge as i128;
        // d = u - edge (lower) or edge - u (upper) from -2^bits to 2^bits - 1.
        for d in [-off, -off + 1, -5, -1, 0, 1, 7, off - 1] {
            let (out, r) = clamped(e + d, edge, true, None);
            r.unwrap();
            assert_eq!(out, vec![(e + d).max(e)], "lower, edge {edge}, d {d}");
            let (out, r) = clamped(e - d, edge, false, None);
            r.unwrap();
            assert_eq!(out, vec![(e - d).min(e)], "upper, edge {edge}, d {d}");
        }
        // Outside it, as the interpreter's sign bit, no witness.
        for d in [-off - 1, off] {
            let (_, r) = clamped(e + d, edge, true, None);
            assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "lower, d {d}: {r:?}");
            let (_, r) = clamped(e - d, edge, false, None);
            assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "upper, d {d}: {r:?}");
        }
    }
}

#[test]
fn a_forged_clamp_bit_fails() {
    for lower in [true, false] {
        let at = |d: i128| if lower { -4 + d } else { -4 - d };
        // The wrong bit leaves `low` outside `bits` bits (its limbs do not recompose it,
        // or leave the range table).
        let (_, r) = clamped(at(5), -4, lower, Some(Fr::ZERO));
        assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "lower {lower}: {r:?}");
        let (_, r) = clamped(at(-5), -4, lower, Some(Fr::ONE));
        assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "lower {lower}: {r:?}");
        // A half bit keeps `low = d + 2^(bits-1)` in range: only the bit check refuses it.
        let (_, r) = clamped(at(-5), -4, lower, Some(Fr::from(2).invert().unwrap()));
        assert!(Expect::Gate.seen_in(&r) && !Expect::Lookup.seen_in(&r), "lower {lower}: {r:?}");
    }
}

/// A clamped table's rescale without its quotient's own range check: the honest split
/// `x = u * 2^shift + r` passes, and another (`r' = r + 1`, `u' = (x - r') / 2^shift`, a
/// field element far from every integer) meets the rescale's gate and remainder check
/// but not the clamp's decomposition.
#[test]
fn the_clamp_bounds_an_unchecked_quotient() {
    let shift = 2u32;
    let x = 13i128;
    let two_s = Fr::from(1u64 << shift);
    for forged in [false, true] {
        let (out, r) = base_test().run(|ctx, chips, _| {
            let xc = io::checked_input(ctx, chips, x as i64);
            let r = if forged { x.rem_euclid(1 << shift) + 1 } else { x.rem_euclid(1 << shift) };
            let q = (fe::<Fr>(x) - fe::<Fr>(r)) * two_s.invert().unwrap();
            // The rescale cells [x, u, -2^shift, r] of `linear::rescale_parts_with`.
            ctx.assign_region([Existing(xc), Witness(q), Constant(-two_s), Witness(fe(r))], [0]);
            let (u, rc) = (ctx.get(-3), ctx.get(-1));
            chips.range_check(ctx, rc, shift as usize);
            vec![table::clamp(ctx, chips, u, -4, true)]
        });
        if forged {
            assert!((Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r)) && !Expect::Gate.seen_in(&r), "{r:?}");
        } else {
            r.unwrap();
            assert_eq!(out, vec![3]);
        }
    }
}

/// When the static bound lets a clamped table skip its quotient's check: a clamped side,
/// a rescale, and inputs `|x| < 2^shift * (2^(bits-1) - 2)`.
#[test]
fn the_quotient_check_is_skipped_only_for_bounded_inputs_of_clamped_rescaling_tables() {
    let t = TableOp { shift: 2, lo: -4, clamp_lo: true, clamp_hi: false, values: vec![0; 9], interpolate: true };
    let limit = 4 * ((1u128 << (BITS - 1)) - 2);
    assert!(TableSpec::new(1, &t).input_below(limit - 1).clamp_bounds_quotient(BITS));
    assert!(!TableSpec::new(1, &t).input_below(limit).clamp_bounds_quotient(BITS));
    assert!(!TableSpec::new(1, &t).clamp_bounds_quotient(BITS), "no bound known");
    assert!(!TableSpec::new(1, &t).input_below(u128::MAX).clamp_bounds_quotient(BITS));
    let open = TableOp { clamp_lo: false, ..t.clone() };
    assert!(!TableSpec::new(1, &open).input_below(1).clamp_bounds_quotient(BITS), "no clamp");
    let exact = TableOp { shift: 0, interpolate: false, ..t.clone() };
    assert!(!TableSpec::new(1, &exact).input_below(1).clamp_bounds_quotient(BITS), "no rescale");
}

/// A soft-max-like exp table (interpolating, clamped below, open above 0) through the
/// lowering, fed by a shift-0 difference of two checked values, as soft-max's `x - max`:
/// MockProver against the interpreter at the extremes of the input range.
#[test]
fn a_clamped_table_of_a_difference_matches_the_interpreter() {
    let port = |name: &str, value, n| QPort { name: name.into(), value, shape: vec![n], dtype: DType::F32 };
    let lo = -40i64;
    let values: Vec<i64> = (lo..=0).map(|u| ((u as f64 / 4.0).exp() * 256.0).round() as i64).collect();
    let mut values = values;
    values[0] = values[1];
    let t = TableOp { shift: 2, lo, clamp_lo: true, clamp_hi: false, values, interpolate: true };
    let hi = (1i64 << (BITS - 1)) - 1;
    let xs = vec![0, -1, -3, -160, -161, -1000, -hi, 5, -hi, -hi];
    let ms = vec![0, 0, 0, 0, 0, 0, hi, 5, 0, -hi];
    let n = xs.len();
    let diff = QOp::Linear {
        offsets: (0..=n).map(|o| 2 * o).collect(),
        slot: (0..n).flat_map(|_| [0u8, 1]).collect(),
        idx: (0..n as u32).flat_map(|o| [o, o]).collect(),
        coeff: (0..n).flat_map(|_| [1i64, -1]).collect(),
        bias: vec![0; n],
        shift: 0,
    };
    let g = QuantGraph {
        scale: 8,
        param_scale: 0,
        bits: BITS,
        num_values: 4,
        inputs: vec![port("x", 0, n), port("m", 1, n)],
        outputs: vec![port("y", 3, n)],
        nodes: vec![
            QNode { name: "d".into(), op: diff, inputs: vec![0, 1], output: 2, len: n },
            QNode { name: "exp".into(), op: QOp::Table(t), inputs: vec![2], output: 3, len: n },
        ],
        params: vec![],
        private_params: false,
    };
    let inputs = vec![xs, ms];
    let trace = interp::run(&g, &inputs).unwrap();
    let bounds = zkinfer_circuits::lower::value_bounds(&g, zkinfer_circuits::ParamVisibility::Fixed);
    let QOp::Table(t) = &g.nodes[1].op else { unreachable!() };
    assert!(TableSpec::new(2, t).input_below(bounds[2]).clamp_bounds_quotient(BITS), "the check is skipped here");
    let planned = zkinfer_circuits::plan::<Fr>(&g, &inputs, &zkinfer_circuits::PlanOptions::default()).unwrap();
    let circuit =
        zkinfer_circuits::ModelCircuit::<Fr>::build(zkinfer_circuits::CircuitBuilderStage::Mock, &g, &inputs, &planned.shape).unwrap();
    let expected: Vec<i128> = inputs.iter().flatten().chain(trace.outputs(&g).iter().flatten()).map(|&v| v as i128).collect();
    assert_eq!(circuit.instance_ints(), expected);
    halo2_base::halo2_proofs::dev::MockProver::run(planned.stats.k, &circuit, vec![circuit.instances.clone()]).unwrap().assert_satisfied();
}

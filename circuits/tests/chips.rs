//! Chip tests: MockProver accepts honest witnesses, and rejects tampered or forged ones
//! with the failure of the constraint that catches them.

mod common;

use common::{base_test, Expect};

use halo2_base::halo2_proofs::dev::VerifyFailure;
use halo2_base::{AssignedValue, Context};
use zkinfer_circuits::chips::linear::Quotient;
use zkinfer_circuits::chips::{io, linear, relu, Chips};
use zkinfer_circuits::field::fe;
use zkinfer_circuits::Fr;
use zkinfer_models::quant::rescale;

const K: usize = 9;
const BITS: u32 = 16;

/// The harness ([`common::base_test`]) at `k = 9`, without tables: the closure gets the
/// context and chips, the tamper changes the instances handed to the verifier.
fn run(
    f: impl FnOnce(&mut Context<Fr>, &Chips<Fr>) -> Vec<AssignedValue<Fr>>,
    tamper_instances: impl FnOnce(&mut Vec<Fr>) + 'static,
) -> (Vec<i128>, Result<(), Vec<VerifyFailure>>) {
    base_test().k(K).tamper_instances(tamper_instances).run(|ctx, chips, _| f(ctx, chips))
}

#[test]
fn linear_matches_reference_rescale() {
    let xs = [3i64, -5, 7, 0, -120];
    let ws = [2i64, -1, 4, 9, 3];
    for (bias, shift) in [(10i64, 2u32), (-7, 3), (0, 0), (123, 5)] {
        let (out, r) = run(
            |ctx, chips| {
                let cells: Vec<_> = xs.iter().map(|&x| io::checked_input(ctx, chips, x)).collect();
                let terms: Vec<_> = cells.into_iter().zip(ws).collect();
                vec![linear::linear(ctx, chips, &terms, bias, shift)]
            },
            |_| {},
        );
        r.unwrap();
        let acc: i128 = xs.iter().zip(ws).map(|(x, w)| (*x as i128) * w as i128).sum::<i128>() + bias as i128;
        assert_eq!(out[0], rescale(acc, shift), "bias {bias} shift {shift}");
    }
}

#[test]
fn bilinear_matches_reference_rescale() {
    let (out, r) = run(
        |ctx, chips| {
            let a: Vec<_> = [40i64, -30, 25].iter().map(|&x| io::checked_input(ctx, chips, x)).collect();
            let b: Vec<_> = [-11i64, 17, 5].iter().map(|&x| io::checked_input(ctx, chips, x)).collect();
            let pairs: Vec<_> = a.into_iter().zip(b).collect();
            vec![linear::bilinear(ctx, chips, &pairs, 4)]
        },
        |_| {},
    );
    r.unwrap();
    assert_eq!(out[0], rescale(40 * -11 + -30 * 17 + 25 * 5, 4));
}

#[test]
fn forged_rescale_quotient_fails_the_remainder_lookup() {
    // q + 1 with r - 2^shift satisfies the gate acc - q * 2^shift = r, but r < 0
    // (a huge field element) fails the range lookup.
    let (_, r) = run(
        |ctx, chips| {
            let x = io::checked_input(ctx, chips, 1000);
            let acc = linear::linear(ctx, chips, &[(x, 3)], 0, 0);
            let v = 3000i128 + 4; // acc plus the rounding constant of shift 3
            let acc = linear::linear(ctx, chips, &[(acc, 1)], 4, 0);
            let (q, rem) = (v.div_euclid(8), v.rem_euclid(8));
            vec![linear::rescale_parts_with(ctx, chips, acc, 3, q + 1, rem - 8, Quotient::Signed).0]
        },
        |_| {},
    );
    assert!(Expect::Lookup.seen_in(&r), "{r:?}");
}

#[test]
fn tampered_remainder_fails_the_gate() {
    let (_, r) = run(
        |ctx, chips| {
            let x = io::checked_input(ctx, chips, 1001);
            let acc = linear::linear(ctx, chips, &[(x, 1)], 0, 0);
            let v = 1001i128;
            vec![linear::rescale_parts_with(ctx, chips, acc, 3, v.div_euclid(8), v.rem_euclid(8) + 1, Quotient::Signed).0]
        },
        |_| {},
    );
    assert!(Expect::Gate.seen_in(&r), "{r:?}");
}

#[test]
fn relu_matches_reference() {
    let xs = [-32768i64, -5, -1, 0, 1, 77, 32767];
    let (out, r) = run(
        |ctx, chips| {
            xs.iter()
                .map(|&x| {
                    let c = io::checked_input(ctx, chips, x);
                    relu::relu(ctx, chips, c)
                })
                .collect()
        },
        |_| {},
    );
    r.unwrap();
    assert_eq!(out, xs.iter().map(|x| (*x).max(0) as i128).collect::<Vec<_>>());
}

#[test]
fn forged_relu_sign_fails_the_lookup() {
    // Claim relu(77) = 0: sign bit 0 and low = x + 2^(bits-1) satisfy the decomposition
    // gate, but low then needs `bits` bits and fails the (bits-1)-bit range lookup.
    let off = 1i128 << (BITS - 1);
    let (out, r) = run(
        |ctx, chips| {
            let x = io::checked_input(ctx, chips, 77);
            vec![relu::relu_with(ctx, chips, x, 0, 77 + off)]
        },
        |_| {},
    );
    assert_eq!(out, vec![0]);
    assert!(Expect::Lookup.seen_in(&r), "{r:?}");
}

#[test]
fn flipped_relu_bit_fails_the_gate() {
    let off = 1i128 << (BITS - 1);
    let (_, r) = run(
        |ctx, chips| {
            let x = io::checked_input(ctx, chips, -9);
            // honest low for x = -9 is -9 + off; claim bit 1 with the same low
            vec![relu::relu_with(ctx, chips, x, 1, -9 + off)]
        },
        |_| {},
    );
    assert!(Expect::Gate.seen_in(&r), "{r:?}");
}

/// Issue 19.4: a sign bit of 1/2 satisfies both ReLU rows for `x = 10`: `out + n x = x`
/// gives `out = 5`, and `x + n 2^w = low` gives `low = 10 + 2^(w-1)`, inside the low
/// part's range. Only the bit check of `n` refuses it.
#[test]
fn a_half_relu_sign_fails_the_bit_check() {
    let w = BITS - 1;
    let half = Fr::from(2).invert().unwrap();
    let (out, r) = run(
        |ctx, chips| {
            let x = io::checked_input(ctx, chips, 10);
            let out = relu::relu_forged(ctx, chips, x, Fr::from(5), [0, 0], 10 + (1 << (w - 1)));
            // The sign bit sits right after the output: [out, n, x, x, n, 2^w, low].
            let n = ctx.get(out.cell.unwrap().offset as isize + 1);
            common::prank_copies(ctx, n, half);
            vec![out]
        },
        |_| {},
    );
    assert_eq!(out, vec![5]);
    assert!(Expect::Gate.seen_in(&r) && !Expect::Lookup.seen_in(&r) && !Expect::Permutation.seen_in(&r), "{r:?}");
}

/// Each of several instances, changed at once, fails its own copy constraint.
#[test]
fn every_changed_instance_fails_its_copy() {
    let (_, r) = run(
        |ctx, chips| [4i64, -9, 300].iter().map(|&x| io::checked_input(ctx, chips, x)).collect(),
        |inst| inst.iter_mut().for_each(|v| *v += fe::<Fr>(1)),
    );
    assert_eq!(common::instance_rows_failing_their_copy(&r), vec![0, 1, 2], "{r:?}");
}

#[test]
fn relu_rows_that_disagree_on_the_sign_fail_the_copy() {
    // relu(-9) = -9: the product row takes n = 0 (out = x), the decomposition row n = 1
    // (an honest low for a negative x); both gates hold, only their shared n does not.
    let off = 1i128 << (BITS - 1);
    let (out, r) = run(
        |ctx, chips| {
            let x = io::checked_input(ctx, chips, -9);
            vec![relu::relu_forged(ctx, chips, x, -Fr::from(9), [0, 1], -9 + off)]
        },
        |_| {},
    );
    assert_eq!(out, vec![-9]);
    assert!(Expect::Permutation.seen_in(&r) && !Expect::Gate.seen_in(&r), "{r:?}");
}

#[test]
fn out_of_range_input_fails_the_lookup() {
    // x + 2^(bits-1) = 2^bits: its limbs recompose to 0, so the range check's
    // recomposition equality (a copy constraint) rejects it.
    let (_, r) = run(|ctx, chips| vec![io::checked_input(ctx, chips, 1 << (BITS - 1))], |_| {});
    assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "{r:?}");
    let (_, r) = run(|ctx, chips| vec![io::checked_input(ctx, chips, -(1 << (BITS - 1)) - 1)], |_| {});
    assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "{r:?}");
    let (_, r) = run(|ctx, chips| vec![io::checked_input(ctx, chips, (1 << (BITS - 1)) - 1)], |_| {});
    r.unwrap();
}

#[test]
fn changed_public_output_fails_the_instance_copy() {
    let (_, r) = run(
        |ctx, chips| {
            let x = io::checked_input(ctx, chips, 12);
            vec![relu::relu(ctx, chips, x)]
        },
        |inst| inst[0] += fe::<Fr>(1),
    );
    assert!(Expect::Permutation.seen_in(&r), "{r:?}");
}

/// A rescale whose output feeds a ReLU leaves the quotient's range check to the ReLU's
/// sign decomposition. The only quotients the gate and the remainder check let through
/// besides the honest one are field elements `q - t/2^shift`, far outside any range:
/// the ReLU must reject such a quotient, and accept the honest one.
#[test]
fn rescale_quotient_left_to_relu_is_still_unique() {
    use halo2_base::gates::{GateInstructions, RangeInstructions};
    use halo2_base::QuantumCell::{Constant, Existing, Witness};
    for forged in [false, true] {
        let (out, r) = run(
            |ctx, chips| {
                let chips = Chips { q_checked_by_relu: true, ..*chips };
                let x = io::checked_input(ctx, &chips, 1001);
                // Honest: 1001 + 4 = 125 * 8 + 5. Forged: remainder 6 and q = (1005 - 6) / 8.
                let acc = chips.gate().add(ctx, x, Constant(fe(4)));
                let (q, rem) = if forged { (Fr::from(999u64) * Fr::from(8u64).invert().unwrap(), 6) } else { (Fr::from(125u64), 5) };
                ctx.assign_region([Existing(acc), Witness(q), Constant(fe(-8)), Witness(fe(rem))], [0]);
                let (q_cell, r_cell) = (ctx.get(-3), ctx.get(-1));
                chips.range.range_check(ctx, r_cell, 3);
                let y = relu::relu(ctx, &chips, q_cell);
                // A forged output is no small integer: keep it out of the instances.
                if forged {
                    vec![]
                } else {
                    vec![y]
                }
            },
            |_| {},
        );
        if forged {
            // Its sign decomposition has no in-range low part: the decomposition gate or
            // the low part's range lookup fails, whichever the witness breaks.
            assert!(Expect::Lookup.seen_in(&r) || Expect::Gate.seen_in(&r), "forged quotient accepted: {r:?}");
        } else {
            r.unwrap();
            assert_eq!(out, vec![rescale(1001, 3)]);
        }
    }
}

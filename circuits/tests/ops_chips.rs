//! Tests of the chips for the tier-2 ops (tables, sign-bit comparisons, reductions,
//! division): honest witnesses equal the reference semantics of `zkinfer-models`, and
//! forged ones fail MockProver with the constraint that catches them.

mod common;

use halo2_base::gates::GateInstructions;
use halo2_base::halo2_proofs::dev::{MockProver, VerifyFailure};
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::QuantumCell::{Constant, Existing};
use halo2_base::{AssignedValue, Context};
use zkinfer_circuits::chips::linear::{self, Quotient};
use zkinfer_circuits::chips::table::{self, TableSpec, Tables};
use zkinfer_circuits::chips::{compare, div, io, sqrt, Chips};
use zkinfer_circuits::field::{fe, to_i128};
use zkinfer_circuits::public;
use zkinfer_circuits::{Fr, ModelCircuit};
use zkinfer_models::quant::table::TableOp;
use zkinfer_models::quant::{QNode, QOp, QPort, QuantGraph};
use zkinfer_models::{interp, DType};

use common::{base_test, prank_copies, Expect};

/// The harness's defaults ([`common::base_test`]).
const K: usize = 10;
const BITS: u32 = 16;

type Outcome = (Vec<i128>, Result<(), Vec<VerifyFailure>>);

/// A clamped table of `x -> 3x` on inputs -4..=4 at shift 2 (input scale / 4).
const VALUES: [i64; 9] = [-12, -9, -6, -3, 0, 3, 6, 9, 12];

fn op(clamp: bool) -> TableOp {
    TableOp { shift: 2, lo: -4, clamp_lo: clamp, clamp_hi: clamp, values: VALUES.to_vec(), interpolate: false }
}

/// An interpolating table of a bowl on -4..=4 at shift 2, flat at both clamped edges.
fn bowl() -> TableOp {
    TableOp { shift: 2, lo: -4, clamp_lo: true, clamp_hi: true, values: vec![9, 9, 4, 1, 0, 1, 4, 9, 9], interpolate: true }
}

/// The interpreter's table semantics.
fn reference(t: &TableOp, x: i64) -> Option<i64> {
    let (u, r) = t.split(x as i128);
    t.index(u).map(|i| t.output(i, r))
}

fn lookups(t: &TableOp, xs: &[i64]) -> Outcome {
    lookups_in(false, t, xs)
}

fn lookups_in(range_in_table: bool, t: &TableOp, xs: &[i64]) -> Outcome {
    base_test().range_in_table(range_in_table).run(|ctx, chips, tables| {
        tables.add_table(1, t);
        let spec = TableSpec::new(1, t);
        xs.iter()
            .map(|&x| {
                let c = io::checked_input(ctx, chips, x);
                table::lookup(ctx, chips, tables, &spec, c)
            })
            .collect()
    })
}

#[test]
fn table_lookup_matches_the_interpreter_and_clamps_saturated_sides() {
    let xs = [-100i64, -17, -9, -2, 0, 1, 2, 6, 15, 16, 99];
    for (t, merged) in [(op(true), false), (bowl(), false), (op(true), true), (bowl(), true)] {
        let (out, r) = lookups_in(merged, &t, &xs);
        r.unwrap();
        let want: Vec<i128> = xs.iter().map(|&x| reference(&t, x).unwrap() as i128).collect();
        assert_eq!(out, want, "interpolate = {}, range_in_table = {merged}", t.interpolate);
    }
}

/// With the range checks in the function table's lookup, a limb must be a range row:
/// neither a value past the range table nor a function key (even of an entry whose value
/// and slope are 0, as the range rows' are but for their slope mark) passes.
#[test]
fn range_rows_in_the_function_table_take_only_range_limbs() {
    let flat = TableOp { values: vec![0; 9], ..op(true) };
    let limb = |v: Fr| {
        base_test()
            .range_in_table(true)
            .run(|ctx, chips, tables| {
                tables.add_table(1, &flat);
                let x = io::checked_input(ctx, chips, 3);
                let _ = table::lookup(ctx, chips, tables, &TableSpec::new(1, &flat), x);
                let c = ctx.load_witness(v);
                chips.range.lookup_manager()[0].add_lookup(ctx.tag(), [c]);
                vec![x]
            })
            .1
    };
    limb(Fr::from((1u64 << (K - 1)) - 1)).unwrap();
    let r = limb(Fr::from(1u64 << (K - 1)));
    assert!(Expect::Lookup.seen_in(&r), "{r:?}");
    let r = limb(table::key::<Fr>(1, 0));
    assert!(Expect::Lookup.seen_in(&r), "{r:?}");
}

#[test]
fn interpolated_lookup_moves_along_the_line_between_entries() {
    let t = bowl();
    let xs: Vec<i64> = (-20..=20).collect();
    let (out, r) = lookups(&t, &xs);
    r.unwrap();
    let want: Vec<i128> = xs.iter().map(|&x| reference(&t, x).unwrap() as i128).collect();
    assert_eq!(out, want);
    // Between entries 1 (u = -1) and 0 (u = 0) at x = -4..0: 1, 0.75, 0.5, 0.25 rounded.
    assert_eq!(&out[16..20], &[1, 1, 1, 0]);
    assert_eq!(reference(&t, -3), Some(1) /* 1 + rescale(-1 * 1, 2) */);
    assert_eq!(reference(&t, -2), Some(1) /* 1 + rescale(-1 * 2, 2) = 1 + round(-0.5) */);
}

/// The interpolating chain with caller-supplied floor, slope and step, for `x` inside
/// the bowl table (no clamping needed).
fn forged_chain(x: i64, u: i128, r: i128, slope: Option<i128>, step: Option<i128>) -> Result<(), Vec<VerifyFailure>> {
    let t = bowl();
    base_test()
        .run(|ctx, chips, tables| {
            tables.add_table(1, &t);
            let xc = io::checked_input(ctx, chips, x);
            let (uc, rc) = linear::rescale_parts_with(ctx, chips, xc, t.shift, u, r, Quotient::Signed);
            let i = t.index(u).unwrap();
            let [v, s] = table::lookup_with(ctx, chips, tables, 1, uc, t.values[i] as i128, slope.unwrap_or(t.slope(i) as i128));
            let q = table::interpolation_step(ctx, chips, &TableSpec::new(1, &t), s, rc, step.unwrap_or(t.step(i, r)));
            vec![chips.gate().add(ctx, v, q)]
        })
        .1
}

#[test]
fn forged_interpolation_fails() {
    // x = 5: u = 1, r = 1 honestly.
    forged_chain(5, 1, 1, None, None).unwrap();
    // Another split of x with the remainder out of range.
    assert!(Expect::Lookup.seen_in(&forged_chain(5, 2, -3, None, None)), "floor forged");
    // A slope that is not the table's.
    assert!(Expect::Lookup.seen_in(&forged_chain(5, 1, 1, Some(7), None)), "slope forged");
    // A step one off: its remainder leaves [0, 2^shift).
    let honest = bowl().step(5, 1);
    assert!(Expect::Lookup.seen_in(&forged_chain(5, 1, 1, None, Some(honest + 1))), "step forged");
    assert!(Expect::Lookup.seen_in(&forged_chain(5, 1, 1, None, Some(honest - 1))), "step forged");
}

#[test]
fn forged_table_output_fails_the_table_lookup() {
    let t = op(true);
    let (_, r) = base_test().run(|ctx, chips, tables| {
        tables.add_table(1, &t);
        let x = io::checked_input(ctx, chips, 8);
        let (u, _) = table::clamped_index(ctx, chips, &t, x);
        vec![table::lookup_with(ctx, chips, tables, 1, u, 7, t.slope(6) as i128)[0]]
    });
    assert!(Expect::Lookup.seen_in(&r), "{r:?}");
}

#[test]
fn input_outside_an_unclamped_table_has_no_row() {
    for t in [op(false), TableOp { clamp_lo: false, clamp_hi: false, ..bowl() }] {
        assert_eq!(reference(&t, 40), None, "the interpreter rejects it too");
        let (_, r) = lookups(&t, &[40]);
        assert!(Expect::Lookup.seen_in(&r), "{r:?}");
    }
}

#[test]
fn an_entry_of_another_table_is_not_accepted() {
    let t = op(true);
    let (_, r) = base_test().run(|ctx, chips, tables| {
        tables.add_table(1, &t);
        tables.add_table(2, &TableOp { values: vec![100; 9], ..op(true) });
        let x = io::checked_input(ctx, chips, 0);
        let (u, _) = table::clamped_index(ctx, chips, &t, x);
        vec![table::lookup_with(ctx, chips, tables, 1, u, 100, 0)[0]]
    });
    assert!(Expect::Lookup.seen_in(&r), "{r:?}");
}

#[test]
fn square_root_is_exact_and_a_forged_root_fails() {
    // x at scale 4 (BITS = 16): y = floor(sqrt((x + 1) * 2^4)).
    let xs = [0i64, 1, 2, 15, 16, 100, 1000, 32000];
    let (out, r) = base_test().run(|ctx, chips, _| {
        xs.iter()
            .map(|&x| {
                let c = io::checked_input(ctx, chips, x);
                sqrt::sqrt(ctx, chips, c, 4, 1)
            })
            .collect()
    });
    r.unwrap();
    let want: Vec<i128> = xs.iter().map(|&x| zkinfer_models::quant::isqrt((x as i128 + 1) << 4).unwrap()).collect();
    assert_eq!(out, want);
    for forged in [want[5] - 1, want[5] + 1] {
        let (_, r) = base_test().run(|ctx, chips, _| {
            let c = io::checked_input(ctx, chips, xs[5]);
            vec![sqrt::sqrt_with(ctx, chips, c, 4, 1, forged)]
        });
        assert!(Expect::Lookup.seen_in(&r), "root {forged} for {} accepted: {r:?}", want[5]);
    }
    // A negative radicand has no root.
    let (_, r) = base_test().run(|ctx, chips, _| {
        let c = io::checked_input(ctx, chips, -5);
        vec![sqrt::sqrt(ctx, chips, c, 4, 1)]
    });
    assert!(Expect::Lookup.seen_in(&r), "{r:?}");
}

#[test]
fn forged_sign_bit_fails() {
    let off = 1i128 << BITS;
    // d = 5 claimed negative: low = 5 + 2^bits needs bits + 1 bits.
    let (_, r) = base_test().run(|ctx, chips, _| {
        let d = io::checked_input(ctx, chips, 5);
        vec![compare::sign_bit_with(ctx, chips, d, 0, 5 + off)]
    });
    assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "{r:?}");
    // A bit that does not match the decomposition breaks the gate.
    let (_, r) = base_test().run(|ctx, chips, _| {
        let d = io::checked_input(ctx, chips, -3);
        vec![compare::sign_bit_with(ctx, chips, d, 1, -3 + off)]
    });
    assert!(Expect::Gate.seen_in(&r), "{r:?}");
}

#[test]
fn reductions_and_comparisons_match_the_reference() {
    let xs = [3i64, -7, 9, 9, -20, 4];
    let (out, r) = base_test().run(|ctx, chips, _| {
        let c: Vec<_> = xs.iter().map(|&x| io::checked_input(ctx, chips, x)).collect();
        vec![
            compare::reduce(ctx, chips, &c, true, false, false, 256),
            compare::reduce(ctx, chips, &c, false, false, false, 256),
            compare::reduce(ctx, chips, &c, true, true, true, 256),
            compare::reduce(ctx, chips, &c, true, true, false, 256),
            compare::reduce(ctx, chips, &c, false, true, true, 256),
            compare::less(ctx, chips, c[0], c[1], 256),
            compare::less(ctx, chips, c[1], c[0], 256),
            compare::equal(ctx, chips, c[2], c[3], 256),
            compare::equal(ctx, chips, c[0], c[3], 256),
        ]
    });
    r.unwrap();
    // max, min, first argmax (2), last argmax (3), argmin (4), then 3<-7, -7<3, 9==9, 3==9
    assert_eq!(out, vec![9, -20, 2 * 256, 3 * 256, 4 * 256, 0, 256, 256, 0]);
}

/// The interpreter's division: `sign(b) * floor((2a 2^s + |b|) / 2|b|)`.
fn div_ref(a: i128, b: i128, s: u32) -> i128 {
    b.signum() * (2 * a * (1 << s) + b.abs()).div_euclid(2 * b.abs())
}

#[test]
fn division_matches_the_reference() {
    let pairs = [(100i64, 7i64), (-100, 7), (100, -7), (-5, -3), (0, 9), (255, 256), (1, 2)];
    let (out, r) = base_test().run(|ctx, chips, _| {
        pairs
            .iter()
            .map(|&(a, b)| {
                let (a, b) = (io::checked_input(ctx, chips, a), io::checked_input(ctx, chips, b));
                div::div(ctx, chips, a, b, 4)
            })
            .collect()
    });
    r.unwrap();
    assert_eq!(out, pairs.iter().map(|&(a, b)| div_ref(a as i128, b as i128, 4)).collect::<Vec<_>>());
}

#[test]
fn forged_quotient_fails_the_remainder_range_check() {
    // q + 1 with r - 2|b| satisfies num = q * den + r but r < 0.
    let (a, b, s) = (100i128, 7i128, 4u32);
    let (n, den) = (2 * a * (1 << s) + b, 2 * b);
    let (_, r) = base_test().run(|ctx, chips, _| {
        let (ac, bc) = (io::checked_input(ctx, chips, a as i64), io::checked_input(ctx, chips, b as i64));
        vec![div::div_with(ctx, chips, ac, bc, s, n.div_euclid(den) + 1, n.rem_euclid(den) - den)]
    });
    assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "{r:?}");
    // q - 1 with r + 2|b|: r is non-negative but not below 2|b|.
    let (_, r) = base_test().run(|ctx, chips, _| {
        let (ac, bc) = (io::checked_input(ctx, chips, a as i64), io::checked_input(ctx, chips, b as i64));
        vec![div::div_with(ctx, chips, ac, bc, s, n.div_euclid(den) - 1, n.rem_euclid(den) + den)]
    });
    assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "{r:?}");
}

#[test]
fn division_by_zero_has_no_witness() {
    let (_, r) = base_test().run(|ctx, chips, _| {
        let (a, b) = (io::checked_input(ctx, chips, 5), io::checked_input(ctx, chips, 0));
        vec![div::div_with(ctx, chips, a, b, 4, 0, 0)]
    });
    assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "{r:?}");
}

#[test]
fn tampered_division_remainder_fails_the_gate() {
    let (_, r) = base_test().run(|ctx, chips, _| {
        let (a, b) = (io::checked_input(ctx, chips, 100), io::checked_input(ctx, chips, 7));
        let (n, den) = (2 * 100 * 16 + 7, 14i128);
        vec![div::div_with(ctx, chips, a, b, 4, n / den, n % den + 1)]
    });
    assert!(Expect::Gate.seen_in(&r), "{r:?}");
}

#[test]
fn positive_division_matches_the_reference_for_positive_divisors() {
    let pairs = [(100i64, 7i64), (-100, 7), (0, 9), (255, 256), (1, 2), (-1, 1), (32000, 32001)];
    let (out, r) = base_test().run(|ctx, chips, _| {
        pairs
            .iter()
            .map(|&(a, b)| {
                let (a, b) = (io::checked_input(ctx, chips, a), io::checked_input(ctx, chips, b));
                div::div_positive(ctx, chips, a, b, 4)
            })
            .collect()
    });
    r.unwrap();
    assert_eq!(out, pairs.iter().map(|&(a, b)| div_ref(a as i128, b as i128, 4)).collect::<Vec<_>>());
}

#[test]
fn positive_division_rejects_forged_quotients_and_non_positive_divisors() {
    let (a, b, s) = (100i128, 7i128, 4u32);
    let (n, den) = (2 * a * (1 << s) + b, 2 * b);
    for (q, rem) in [(n.div_euclid(den) + 1, n.rem_euclid(den) - den), (n.div_euclid(den) - 1, n.rem_euclid(den) + den)] {
        let (_, r) = base_test().run(|ctx, chips, _| {
            let (ac, bc) = (io::checked_input(ctx, chips, a as i64), io::checked_input(ctx, chips, b as i64));
            vec![div::div_positive_with(ctx, chips, ac, bc, s, q, rem)]
        });
        assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "{r:?}");
    }
    // b = -7: q and r that satisfy the gate (num = q * 2b + r with 0 <= r) exist, but
    // then 2b - 1 - r < 0 fails its range check; b = 0 likewise.
    for bv in [-7i128, 0] {
        let n = 2 * a * (1 << s) + bv;
        let (q, rem) = if bv == 0 { (0, n) } else { (n.div_euclid(2 * bv), n.rem_euclid(2 * bv)) };
        let (_, r) = base_test().run(|ctx, chips, _| {
            let (ac, bc) = (io::checked_input(ctx, chips, a as i64), io::checked_input(ctx, chips, bv as i64));
            vec![div::div_positive_with(ctx, chips, ac, bc, s, q, rem)]
        });
        assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "b = {bv}: {r:?}");
    }
}

/// A shift-0 table with neither side clamped: nothing before it bounds its input, so
/// the chip bounds the index itself.
fn open_table() -> TableOp {
    TableOp { shift: 0, lo: -4, clamp_lo: false, clamp_hi: false, values: VALUES.to_vec(), interpolate: false }
}

/// `1 + bias` through a shift-0 Linear whose bias is a witness cell (private parameters
/// make it one; `checked`: with their i64 range check), looked up in the open table 1
/// with the claimed value and slope; table 2 (`other`) beside it.
fn steered_lookup(
    range_in_table: bool,
    bias: Fr,
    checked: bool,
    other: Option<&TableOp>,
    claim: (i128, i128),
) -> Result<(), Vec<VerifyFailure>> {
    let t = open_table();
    base_test()
        .range_in_table(range_in_table)
        .run(|ctx, chips, tables| {
            tables.add_table(1, &t);
            if let Some(t2) = other {
                tables.add_table(2, t2);
            }
            let x = io::checked_input(ctx, chips, 1);
            let b = if checked { io::checked_param(ctx, chips, bias) } else { ctx.load_witness(bias) };
            let sum = linear::linear_cells(ctx, chips, vec![(x, Constant(Fr::ONE))], Existing(b), 0);
            let (u, _) = table::clamped_index(ctx, chips, &t, sum);
            vec![table::lookup_with(ctx, chips, tables, 1, u, claim.0, claim.1)[0]]
        })
        .1
}

/// Issue 19.1: with a free bias a shift-0 sum is any field element, and its key
/// `tag * 2^72 + x` any key: `x = key(2, u) - key(1, 0)` reads table 2 through table 1's
/// lookup, and with the range checks in the table `x = 5 - key(1, 0)` lands on the range
/// row `(5, 0, 2^100)`. Both passed MockProver before the open table's index check;
/// now the range check of `x - lo` refuses them (the bias unchecked, as a shape with
/// some other unbounded sum would have it).
#[test]
fn a_free_bias_cannot_steer_an_open_table_to_another_table_or_a_range_row() {
    let t1 = open_table();
    let t2 = TableOp { values: (1..=9).map(|v| 100 * v).collect(), ..open_table() };
    for checked in [false, true] {
        // Honest: 1 + 2 = 3, entry 7 of table 1.
        steered_lookup(false, Fr::from(2), checked, Some(&t2), (VALUES[7] as i128, t1.slope(7) as i128)).unwrap();
        steered_lookup(true, Fr::from(2), checked, None, (VALUES[7] as i128, t1.slope(7) as i128)).unwrap();
    }
    let bias = table::key::<Fr>(2, 1) - table::key::<Fr>(1, 0) - Fr::ONE;
    let r = steered_lookup(false, bias, false, Some(&t2), (t2.values[5] as i128, t2.slope(5) as i128));
    assert!(Expect::Lookup.seen_in(&r), "table 2 read through table 1: {r:?}");
    let bias = Fr::from(4) - table::key::<Fr>(1, 0);
    let r = steered_lookup(true, bias, false, None, (0, 1i128 << 100));
    assert!(Expect::Lookup.seen_in(&r), "range row read through table 1: {r:?}");
    // With the private parameters' own range check the bias is refused as well.
    let r = steered_lookup(true, bias, true, None, (0, 1i128 << 100));
    assert!(Expect::Lookup.seen_in(&r), "{r:?}");
}

/// Private parameters are integers of 64 bits, as the quantized graph stores them: the
/// i64 bounds pass, anything else (one past them, a fraction, a key) fails the range check.
#[test]
fn a_private_parameter_outside_i64_fails_its_range_check() {
    let half = Fr::from(2).invert().unwrap();
    let cases = [
        (fe::<Fr>(-(1i128 << 63)), true),
        (fe((1i128 << 63) - 1), true),
        (Fr::ZERO, true),
        (fe(1i128 << 63), false),
        (fe(-(1i128 << 63) - 1), false),
        (half, false),
        (table::key::<Fr>(2, 1), false),
    ];
    for (p, ok) in cases {
        let (_, r) = base_test().run(|ctx, chips, _| {
            io::checked_param(ctx, chips, p);
            vec![]
        });
        if ok {
            r.unwrap();
        } else {
            // A value past 64 bits leaves limbs that recompose to something else (the
            // decomposition's gate), a fraction limbs outside the table (the lookup).
            assert!(
                Expect::Lookup.seen_in(&r) || Expect::Gate.seen_in(&r) || Expect::Permutation.seen_in(&r),
                "parameter {p:?} accepted: {r:?}"
            );
        }
    }
}

/// Issue 19.4: a sign bit of 1/2 in a clamp's decomposition, `d + 2^bits = b * 2^bits +
/// low` with `low = d + 2^(bits-1)` in range, turns the clamp's select into the average
/// of the input and the edge: entry -2 instead of 0. Only the bit check of `b` refuses it.
#[test]
fn a_half_sign_bit_cannot_average_a_clamp() {
    let t = TableOp { shift: 0, lo: -4, clamp_lo: true, clamp_hi: false, values: VALUES.to_vec(), interpolate: false };
    let half = Fr::from(2).invert().unwrap();
    for forged in [false, true] {
        let (out, r) = base_test().run(|ctx, chips, tables| {
            tables.add_table(1, &t);
            let gate = chips.gate();
            let x = io::checked_input(ctx, chips, 0);
            let d = gate.sub(ctx, x, Constant(fe(t.lo as i128)));
            let keep = if forged {
                let keep = compare::sign_bit_with(ctx, chips, d, 0, 4 + (1 << (BITS - 1)));
                prank_copies(ctx, keep, half)
            } else {
                compare::sign_bit(ctx, chips, d)
            };
            let u = gate.select(ctx, x, Constant(fe(t.lo as i128)), keep);
            let j = (to_i128(u.value()).unwrap() - t.lo as i128) as usize;
            vec![table::lookup_with(ctx, chips, tables, 1, u, t.values[j] as i128, t.slope(j) as i128)[0]]
        });
        if forged {
            assert_eq!(out, vec![VALUES[2] as i128]);
            assert!(Expect::Gate.seen_in(&r) && !Expect::Lookup.seen_in(&r) && !Expect::Permutation.seen_in(&r), "{r:?}");
        } else {
            r.unwrap();
            assert_eq!(out, vec![VALUES[4] as i128]);
        }
    }
}

/// The limb `key(1, 0)` of a flat table (value 0, slope 0) in a merged range row whose
/// slope cell holds 0 instead of the mark: the function row `(key(1, 0), 0, 0)` matches,
/// so only the slope cell's copy from the constant [`table::range_mark`] refuses it.
fn forged_range_slope(ctx: &mut Context<Fr>, chips: &Chips<Fr>, tables: &mut Tables<Fr>) -> Vec<AssignedValue<Fr>> {
    let flat = TableOp { values: vec![0; 9], ..op(true) };
    tables.add_table(1, &flat);
    let x = io::checked_input(ctx, chips, 3);
    let c = ctx.load_witness(table::key::<Fr>(1, 0));
    let limbs = &chips.range.lookup_manager()[0];
    limbs.add_lookup(ctx.tag(), [c]);
    tables.forged_range_slope = Some((limbs.total_rows() - 1, Fr::ZERO));
    vec![x]
}

#[test]
fn a_tampered_range_row_slope_fails_the_copy_from_the_mark() {
    let (_, r) = base_test().range_in_table(true).run(forged_range_slope);
    assert!(Expect::Permutation.seen_in(&r) && !Expect::Lookup.seen_in(&r) && !Expect::Gate.seen_in(&r), "{r:?}");
}

/// The copy from the mark does not hang on state of the `Tables`: synthesized again
/// after the copy manager lost its constant equalities (as a cleared builder's does), the
/// tampered slope still fails.
#[test]
fn the_range_row_slope_copy_survives_a_cleared_copy_manager() {
    let (_, circuit) = base_test().range_in_table(true).build(forged_range_slope);
    let instances = circuit.instances.clone();
    for _ in 0..2 {
        let r = MockProver::run(K as u32, &circuit, vec![instances.clone()]).unwrap().verify();
        assert!(Expect::Permutation.seen_in(&r), "{r:?}");
        circuit.builder.core().copy_manager.lock().unwrap().constant_equalities.clear();
    }
}

/// Issue 19.4: packed public values are range-checked first. Without that check the
/// outputs `(7 + 2^bits, -4)` pack, with the carry into the next digit, to the instance
/// of `(7, -3)`: two value lists for one instance.
#[test]
fn an_output_outside_the_range_cannot_pack_to_another_outputs_instance() {
    let pack = |values: [i128; 2]| {
        base_test().run(|ctx, chips, _| {
            let cells: Vec<_> = values.iter().map(|v| ctx.load_witness(fe(*v))).collect();
            public::pack_cells(ctx, chips, &cells, &[false, false])
        })
    };
    let (honest, r) = pack([7, -3]);
    r.unwrap();
    assert_eq!(public::unpack::<Fr>(&[fe(honest[0])], 2, BITS), Some(vec![7, -3]));
    let (carried, r) = pack([7 + (1 << BITS), -4]);
    assert_eq!(carried, honest, "both pairs pack to one instance");
    assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "{r:?}");
}

/// A graph of one division `a / b` at `scale`, for the interpreter.
fn div_graph(positive: bool, scale: u32) -> QuantGraph {
    let port = |name: &str, value| QPort { name: name.into(), value, shape: vec![1], dtype: DType::F32 };
    QuantGraph {
        scale: 0,
        param_scale: 0,
        bits: BITS,
        num_values: 3,
        inputs: vec![port("a", 0), port("b", 1)],
        outputs: vec![port("q", 2)],
        nodes: vec![QNode { name: "div".into(), op: QOp::Div { scale, positive }, inputs: vec![0, 1], output: 2, len: 1 }],
        params: vec![],
        private_params: false,
    }
}

/// Issue 19.2: a positive divisor of `3 * 32767` at 16 bits: the interpreter (and the
/// Groth16 gadget, `prover/tests/groth16_gadgets.rs`) refuse it, and so does the chip:
/// `b` is range-checked below `2^bits` (before, `r, 2b - 1 - r < 2^(bits+2)` let every
/// `b <= 2^(bits+1)` through). The largest divisor the interpreter takes still passes.
#[test]
fn a_positive_divisor_of_2_to_the_bits_or_more_is_refused_as_by_the_interpreter() {
    assert_eq!(BITS, 16);
    let (a, s) = (30000i64, 4u32);
    for (b, ok) in [(3 * 32767i64, false), (1 << BITS, false), ((1 << BITS) - 1, true)] {
        let reference = interp::run(&div_graph(true, s), &[vec![a], vec![b]]);
        assert_eq!(reference.is_ok(), ok, "interpreter, b = {b}: {reference:?}");
        let (out, r) = base_test().run(|ctx, chips, _| {
            let ac = io::checked_input(ctx, chips, a);
            // The divisor is an unchecked sum (a shift-0 Linear's), not a checked input.
            let bc = ctx.load_witness(fe(b as i128));
            vec![div::div_positive(ctx, chips, ac, bc, s)]
        });
        if ok {
            r.unwrap();
            assert_eq!(out[0], reference.unwrap().values[2][0] as i128);
        } else {
            assert_eq!(out[0], div_ref(a as i128, b as i128, s), "the witness is the honest quotient");
            assert!(Expect::Lookup.seen_in(&r) || Expect::Permutation.seen_in(&r), "b = {b} accepted: {r:?}");
        }
    }
}

/// Division ties with a negative divisor, pinned: `sign(b) * round_half_up(a / |b|)`, so
/// `1 / -2 = -1` and `-1 / -2 = 0` (ties toward -inf when `b < 0`, toward +inf when
/// `b > 0`). The interpreter, this chip and the Groth16 gadget
/// (`prover/tests/groth16_gadgets.rs`) all give these values.
pub const DIV_TIES: [(i64, i64, u32, i64); 9] = [
    (1, -2, 0, -1),
    (-1, -2, 0, 0),
    (3, -2, 0, -2),
    (-3, -2, 0, 1),
    (5, -2, 0, -3),
    (1, 2, 0, 1),
    (-1, 2, 0, 0),
    (1, -32, 4, -1),
    (-1, -32, 4, 0),
];

#[test]
fn division_ties_with_a_negative_divisor_are_pinned() {
    for (a, b, s, want) in DIV_TIES {
        let trace = interp::run(&div_graph(false, s), &[vec![a], vec![b]]).unwrap();
        assert_eq!(trace.values[2], vec![want], "interpreter: {a} / {b} at scale {s}");
        let (out, r) = base_test().run(|ctx, chips, _| {
            let (ac, bc) = (io::checked_input(ctx, chips, a), io::checked_input(ctx, chips, b));
            vec![div::div(ctx, chips, ac, bc, s)]
        });
        r.unwrap();
        assert_eq!(out, vec![want as i128], "chip: {a} / {b} at scale {s}");
    }
}

/// Every instance of the model circuit (its own synthesize, with the function tables)
/// is copied from its cell: changed at once, each fails its copy.
#[test]
fn every_changed_instance_of_the_model_circuit_fails_its_copy() {
    let (_, circuit) = base_test().range_in_table(false).build(|ctx, chips, tables| {
        let t = op(true);
        tables.add_table(1, &t);
        let spec = TableSpec::new(1, &t);
        [5i64, -3, 17]
            .iter()
            .map(|&x| {
                let c = io::checked_input(ctx, chips, x);
                table::lookup(ctx, chips, tables, &spec, c)
            })
            .collect()
    });
    let good = circuit.instances.clone();
    MockProver::run(K as u32, &circuit, vec![good.clone()]).unwrap().assert_satisfied();
    let bad: Vec<Fr> = good.iter().map(|v| *v + Fr::ONE).collect();
    let r = MockProver::run(K as u32, &circuit, vec![bad]).unwrap().verify();
    assert_eq!(common::instance_rows_failing_their_copy(&r), vec![0, 1, 2], "{r:?}");
}

/// Issue 19.3: a shape with lookup bits, function tables, no range-check lookup column
/// and `range_in_table` false configures no range check at all. `validate` refuses it
/// (as every reader of a stored shape calls it), `ModelCircuit::build` refuses it and
/// any shape whose queued range checks have no lookup, and synthesizing such a circuit
/// anyway panics, as halo2-base's own synthesize does.
#[test]
fn a_shape_that_configures_no_range_check_is_refused() {
    use zkinfer_circuits::{plan, CircuitBuilderStage as Stage, CircuitError, PlanOptions, ShapeError};
    let graph = div_graph(false, 4);
    let inputs = vec![vec![100], vec![-7]];
    let planned = plan::<Fr>(&graph, &inputs, &PlanOptions::default()).unwrap().shape;
    planned.validate().unwrap();
    ModelCircuit::<Fr>::build(Stage::Mock, &graph, &inputs, &planned).unwrap();
    let mut degenerate = planned.clone();
    degenerate.params.base.num_lookup_advice_per_phase = vec![0];
    degenerate.params.range_in_table = false;
    degenerate.params.table_sets = 1;
    assert_eq!(degenerate.validate(), Err(ShapeError::RangeChecksNowhere));
    let shape_json = serde_json::to_string(&degenerate).unwrap();
    let read_back: zkinfer_circuits::CircuitShape = serde_json::from_str(&shape_json).unwrap();
    assert_eq!(read_back.validate(), Err(ShapeError::RangeChecksNowhere), "a stored shape is refused on load");
    let err = ModelCircuit::<Fr>::build(Stage::Mock, &graph, &inputs, &degenerate).err();
    assert!(matches!(err, Some(CircuitError::Shape(ShapeError::RangeChecksNowhere))), "{err:?}");
    // Without tables the shape itself is consistent, but this model's range checks
    // would have no lookup: build refuses it.
    degenerate.params.table_sets = 0;
    degenerate.validate().unwrap();
    let err = ModelCircuit::<Fr>::build(Stage::Mock, &graph, &inputs, &degenerate).err();
    assert!(matches!(err, Some(CircuitError::Shape(ShapeError::RangeChecksNowhere))), "{err:?}");
    // Other inconsistent shapes.
    let mut s = planned.clone();
    s.params.range_in_table = true;
    assert_eq!(s.validate(), Err(ShapeError::RangeInTable), "range_in_table without table columns");
    let mut s = planned.clone();
    s.params.base.lookup_bits = None;
    assert_eq!(s.validate(), Err(ShapeError::LookupColumnsWithoutBits));
    let mut s = planned.clone();
    s.params.base.lookup_bits = Some(s.params.base.k);
    assert!(matches!(s.validate(), Err(ShapeError::LookupBits { .. })));
    // A chip circuit with function tables whose range checks lose their lookup columns:
    // synthesize panics rather than leave them vacuous.
    use halo2_base::halo2_proofs::plonk::Circuit as _;
    let (_, mut circuit) = base_test().range_in_table(false).build(|ctx, chips, _| vec![io::checked_input(ctx, chips, 3)]);
    let mut params = circuit.builder.params();
    params.num_lookup_advice_per_phase = vec![0];
    circuit.builder = circuit.builder.use_params(params);
    let instances = circuit.instances.clone();
    let panicked =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| MockProver::run(K as u32, &circuit, vec![instances]).map(|p| p.verify())));
    let message =
        panicked.err().and_then(|e| e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())));
    assert!(message.as_deref().is_some_and(|m| m.contains("range lookups were queued")), "{message:?}");
}

/// The lowering's static bounds, which let a shift-0 table with no clamped side skip its
/// index check: a fixed-weight shift-0 sum of two inputs is bounded by its weights, so
/// its open table needs no check; the same sum with a private bias (any 64-bit integer)
/// and a shift-0 product of activations are not bounded below 2^64 at 64 bits, and
/// their tables check their indices.
#[test]
fn static_bounds_follow_the_constraints_and_decide_the_index_check() {
    use zkinfer_circuits::lower::value_bounds;
    use zkinfer_circuits::ParamVisibility;
    use zkinfer_models::quant::{ParamRef, ParamSlot};
    let port = |name: &str, value, n| QPort { name: name.into(), value, shape: vec![n], dtype: DType::F32 };
    let node = |op, inputs: Vec<usize>, output, len| QNode { name: format!("n{output}"), op, inputs, output, len };
    let mut g = QuantGraph {
        scale: 0,
        param_scale: 0,
        bits: BITS,
        num_values: 5,
        inputs: vec![port("x", 0, 2)],
        outputs: vec![port("y", 4, 1)],
        nodes: vec![
            node(
                QOp::Linear { offsets: vec![0, 2], slot: vec![0, 0], idx: vec![0, 1], coeff: vec![3, -2], bias: vec![5], shift: 0 },
                vec![0],
                1,
                1,
            ),
            node(QOp::Bilinear { offsets: vec![0, 2], left: vec![0, 1], right: vec![0, 1], shift: 0 }, vec![0, 0], 2, 1),
            node(QOp::Relu, vec![2], 3, 1),
            node(QOp::Table(open_table()), vec![1], 4, 1),
        ],
        params: vec![],
        private_params: false,
    };
    let half = 1u128 << (BITS - 1);
    let b = value_bounds(&g, ParamVisibility::Fixed);
    assert_eq!(b[0], half);
    assert_eq!(b[1], 5 * half + 5);
    assert_eq!(b[2], 2 * half * half);
    assert_eq!(b[3], half, "a ReLU output is range-checked");
    assert_eq!(b[4], 12, "a table output is one of its values");
    g.params = vec![ParamRef { node: 0, slot: ParamSlot::Bias(0) }];
    g.private_params = true;
    let b = value_bounds(&g, ParamVisibility::Private);
    assert!(b[1] > 1 << 64, "a private bias may be any i64: {}", b[1]);
    assert_eq!(value_bounds(&g, ParamVisibility::Fixed)[1], 5 * half + 5);
    // The chip: an input bounded below 2^64 adds no index check, one that is not does.
    let cells = |bound: u128| {
        let t = open_table();
        let (_, circuit) = base_test().range_in_table(false).build(|ctx, chips, tables| {
            tables.add_table(1, &t);
            let x = io::checked_input(ctx, chips, 2);
            vec![table::lookup(ctx, chips, tables, &TableSpec::new(1, &t).input_below(bound), x)]
        });
        circuit.builder.statistics().gate.total_advice_per_phase[0]
    };
    assert_eq!(cells(1 << 64), cells(half));
    assert!(cells((1 << 64) + 1) > cells(1 << 64));
}

//! Negative tests of the Table, Div and Cmp gadgets on a bare constraint system: a
//! forged one-hot index, a changed table output, a shifted remainder and a flipped
//! comparison bit each leave the R1CS unsatisfied, while the honest witness satisfies it.

use ark_bn254::Fr;
use ark_relations::r1cs::{ConstraintSystem, ConstraintSystemRef, Variable};
use zkinfer_models::interp;
use zkinfer_models::quant::table::TableOp;
use zkinfer_models::quant::{QNode, QOp, QPort, QuantGraph};
use zkinfer_models::DType;
use zkinfer_prover::groth16::builder::{Builder, Wire};
use zkinfer_prover::groth16::field::fr;
use zkinfer_prover::groth16::table::{lookup, lookup_at, row_width, TableSpec};
use zkinfer_prover::groth16::{compare, div, Groth16Error};

const BITS: u32 = 12;

fn builder() -> (ConstraintSystemRef<Fr>, Builder) {
    let cs = ConstraintSystem::<Fr>::new_ref();
    (cs.clone(), Builder::new(cs, BITS))
}

fn input(b: &mut Builder, v: i128) -> Wire {
    let var = b.witness(v).unwrap();
    b.checked("x", Wire { lc: var.into(), value: v, sign: None }).unwrap()
}

fn witness_index(v: Variable) -> usize {
    match v {
        Variable::Witness(i) => i,
        other => panic!("not a witness: {other:?}"),
    }
}

fn bump(cs: &ConstraintSystemRef<Fr>, i: usize, by: Fr) {
    cs.borrow_mut().unwrap().witness_assignment[i] += by;
}

const VALUES: [i64; 11] = [5, -3, 8, 0, 13, 21, -34, 55, 0, 89, 7];

fn table(shift: u32, lo: i64, clamp: bool, interpolate: bool) -> TableOp {
    TableOp { shift, lo, clamp_lo: clamp, clamp_hi: clamp, values: VALUES.to_vec(), interpolate }
}

/// The interpreter's semantics of `t` at `x`.
fn reference(t: &TableOp, x: i128) -> Option<i128> {
    let (u, r) = t.split(x);
    t.index(u).map(|i| t.output(i, r) as i128)
}

#[test]
fn table_lookup_matches_the_table_and_clamps() {
    for interpolate in [false, true] {
        let spec = table(2, -4, true, interpolate);
        for x in [-100i128, -17, -16, -9, -1, 0, 3, 13, 22, 23, 24, 500] {
            let (cs, mut b) = builder();
            let w = input(&mut b, x);
            let out = lookup(&mut b, "t", &TableSpec::new(&spec), &w).unwrap();
            assert_eq!(Some(out.value), reference(&spec, x), "x = {x}, interpolate = {interpolate}");
            assert!(cs.is_satisfied().unwrap(), "x = {x}");
        }
        // Without clamping, an input beyond the edge has no witness.
        let spec = TableOp { clamp_hi: false, ..spec };
        let (_, mut b) = builder();
        let w = input(&mut b, 100);
        assert!(matches!(lookup(&mut b, "t", &TableSpec::new(&spec), &w), Err(Groth16Error::OutsideTable { node, .. }) if node == "t"));
    }
}

#[test]
fn changed_interpolation_is_rejected() {
    let spec = table(2, -4, true, true);
    // x = 5: u = 1 (entry 5), r = 1, between 21 and -34: 21 + rescale(-55, 2) = 7.
    let (cs, mut b) = builder();
    let w = input(&mut b, 5);
    let out = lookup(&mut b, "t", &TableSpec::new(&spec), &w).unwrap();
    assert_eq!(out.value, 7);
    assert_eq!(reference(&spec, 5), Some(7));
    assert!(cs.is_satisfied().unwrap());
    let vars: Vec<usize> = out.lc.iter().filter(|(_, v)| v.is_witness()).map(|(_, v)| witness_index(*v)).collect();
    assert!(vars.len() >= 2, "the value and the step are separate witnesses");
    for i in vars {
        for by in [Fr::from(1u8), -Fr::from(1u8)] {
            bump(&cs, i, by);
            assert!(!cs.is_satisfied().unwrap(), "output wire {i} changed and accepted");
            bump(&cs, i, -by);
        }
    }
}

#[test]
fn forged_one_hot_index_is_rejected() {
    let spec = table(0, 0, false, false);
    let m = row_width(VALUES.len());
    assert!(m > 1 && m < VALUES.len());
    for (u, a, c) in [(3usize, 3 / m, 3 % m), (3, 7 / m, 7 % m), (3, 3 / m, (3 % m + 1) % m)] {
        let (cs, mut b) = builder();
        let w = input(&mut b, u as i128);
        let out = lookup_at(&mut b, &w, &TableSpec::new(&spec), m, a, c).unwrap().swap_remove(0);
        let honest = a * m + c == u;
        assert_eq!(cs.is_satisfied().unwrap(), honest, "u = {u}, forged index {}", a * m + c);
        if honest {
            assert_eq!(out.value, VALUES[u] as i128);
        }
    }
    // Entries past the end of the table (the last row is partial) cannot be selected,
    // even with an input that points there.
    let na = VALUES.len().div_ceil(m);
    assert!(na * m > VALUES.len());
    let past = na * m - 1;
    let (cs, mut b) = builder();
    let w = input(&mut b, past as i128);
    lookup_at(&mut b, &w, &TableSpec::new(&spec), m, past / m, past % m).unwrap();
    assert!(!cs.is_satisfied().unwrap(), "index {past} past the table was selected");
}

#[test]
fn changed_table_output_is_rejected() {
    let spec = table(0, 0, false, false);
    let (cs, mut b) = builder();
    let w = input(&mut b, 7);
    let out = lookup(&mut b, "t", &TableSpec::new(&spec), &w).unwrap();
    assert_eq!(out.value, 55);
    assert!(cs.is_satisfied().unwrap());
    let vars: Vec<usize> = out.lc.iter().filter(|(_, v)| v.is_witness()).map(|(_, v)| witness_index(*v)).collect();
    assert!(!vars.is_empty());
    for i in vars {
        bump(&cs, i, Fr::from(1u8));
        assert!(!cs.is_satisfied().unwrap(), "table output wire {i} changed and accepted");
        bump(&cs, i, -Fr::from(1u8));
    }
}

#[test]
fn division_matches_the_interpreter_and_a_shifted_remainder_is_rejected() {
    for (a, bv) in [(7i128, 3i128), (-7, 3), (7, -3), (0, 5), (100, -1), (-1, 2047)] {
        let (cs, mut b) = builder();
        let (x, y) = (input(&mut b, a), input(&mut b, bv));
        let before = cs.num_witness_variables();
        let out = div::div(&mut b, "d", &x, &y, 4).unwrap();
        let n = 2 * a * 16 + bv.abs();
        let den = 2 * bv.abs();
        let (q, r) = (n.div_euclid(den), n.rem_euclid(den));
        assert_eq!(out.value, if bv >= 0 { q } else { -q }, "{a} / {bv}");
        assert!(cs.is_satisfied().unwrap());
        // Allocation order: sign bits of b (BITS + 1), |b|, q, q's range bits (BITS), r.
        let q_at = before + BITS as usize + 2;
        let r_at = q_at + 1 + BITS as usize;
        {
            let asg = &cs.borrow().unwrap().witness_assignment;
            assert_eq!((asg[q_at], asg[r_at]), (fr(q), fr(r)), "allocation order changed");
        }
        // q - 1 and r + 2|b| satisfy the division equation but not r < 2|b|.
        bump(&cs, q_at, -Fr::from(1u8));
        bump(&cs, r_at, fr(den));
        assert!(!cs.is_satisfied().unwrap(), "{a} / {bv}: shifted remainder accepted");
    }
    let (_, mut b) = builder();
    let (x, y) = (input(&mut b, 3), input(&mut b, 0));
    assert!(matches!(div::div(&mut b, "d", &x, &y, 4), Err(Groth16Error::DivisionByZero { node }) if node == "d"));
}

#[test]
fn comparisons_match_and_a_flipped_bit_is_rejected() {
    for (a, bv) in [(1i128, 2i128), (2, 1), (2, 2), (-2047, 2047), (2047, -2047)] {
        for eq in [false, true] {
            let (cs, mut b) = builder();
            let (x, y) = (input(&mut b, a), input(&mut b, bv));
            let out = if eq { compare::equal(&mut b, &x, &y, 16) } else { compare::less(&mut b, "c", &x, &y, 16) }.unwrap();
            let want = if eq { a == bv } else { a < bv };
            assert_eq!(out.value, want as i128 * 16, "{a} {bv} eq={eq}");
            assert!(cs.is_satisfied().unwrap());
            let bit = witness_index(out.lc.0[0].1);
            // Flip the bit: 0 <-> 1.
            let flip = if want { -Fr::from(1u8) } else { Fr::from(1u8) };
            bump(&cs, bit, flip);
            assert!(!cs.is_satisfied().unwrap(), "{a} {bv} eq={eq}: flipped comparison bit accepted");
        }
    }
}

#[test]
fn running_max_and_argmax_take_the_first_best() {
    let xs = [3i128, 9, -4, 9, 1];
    for (max, arg, strict, want) in [(true, false, true, 9), (true, true, true, 16), (true, true, false, 48), (false, true, true, 32)] {
        let (cs, mut b) = builder();
        let ws: Vec<Wire> = xs.iter().map(|&v| input(&mut b, v)).collect();
        let refs: Vec<&Wire> = ws.iter().collect();
        let out = compare::reduce(&mut b, "r", &refs, max, arg, strict, 16).unwrap();
        assert_eq!(out.value, want, "max={max} arg={arg} strict={strict}");
        assert!(cs.is_satisfied().unwrap());
    }
}

#[test]
fn lowering_stops_at_the_constraint_limit_with_a_clear_error() {
    let cs = ConstraintSystem::<Fr>::new_ref();
    // A checked input takes BITS + 1 constraints; the limit admits one, not two.
    let mut b = Builder::with_limit(cs.clone(), BITS, BITS as usize + 2);
    let x = input(&mut b, 5);
    let var = b.witness(-7).unwrap();
    let err = b.checked("y", Wire { lc: var.into(), value: -7, sign: None }).unwrap_err();
    assert!(matches!(err, Groth16Error::TooLarge { limit } if limit == BITS as usize + 2), "{err:?}");
    assert!(err.to_string().contains("R1CS constraints"));
    assert!(cs.num_constraints() <= BITS as usize + 2, "the builder stopped adding constraints");
    assert!(x.sign.is_some());
}

#[test]
fn positive_division_matches_and_a_negative_divisor_is_rejected() {
    for (a, bv) in [(7i128, 3i128), (-7, 3), (0, 5), (-1, 2047)] {
        let (cs, mut b) = builder();
        let (x, y) = (input(&mut b, a), input(&mut b, bv));
        let out = div::div_positive(&mut b, "d", &x, &y, 4).unwrap();
        let (cs2, mut b2) = builder();
        let (x2, y2) = (input(&mut b2, a), input(&mut b2, bv));
        assert_eq!(out.value, div::div(&mut b2, "d", &x2, &y2, 4).unwrap().value, "{a} / {bv}");
        assert!(cs.is_satisfied().unwrap() && cs2.is_satisfied().unwrap());
        assert!(cs.num_constraints() == cs2.num_constraints() + 1, "one constraint more: sign(b) = 1");
    }
    for bv in [-3i128, 0] {
        let (_, mut b) = builder();
        let (x, y) = (input(&mut b, 7), input(&mut b, bv));
        assert!(
            matches!(div::div_positive(&mut b, "d", &x, &y, 4), Err(Groth16Error::NonPositiveDivisor { node, value }) if node == "d" && value == bv)
        );
    }
    // A negative divisor forced through with the honest quotient of |b|: every division
    // constraint holds but the sign bit, so the system is unsatisfied.
    let (cs, mut b) = builder();
    let (x, y) = (input(&mut b, 7), input(&mut b, -3));
    let n = 2 * 7 * 16 + 3;
    div::div_positive_with(&mut b, "d", &x, &y, 4, n / 6, n % 6).unwrap();
    assert!(!cs.is_satisfied().unwrap(), "a negative divisor was accepted");
}

#[test]
fn square_root_matches_and_a_forged_root_is_rejected() {
    use zkinfer_prover::groth16::sqrt::{sqrt, sqrt_with};
    for x in [0i128, 1, 7, 100, 2000] {
        let (cs, mut b) = builder();
        let w = input(&mut b, x);
        let y = sqrt(&mut b, "s", &w, 6, 3).unwrap();
        assert_eq!(Some(y.value), zkinfer_models::quant::isqrt((x + 3) << 6), "x = {x}");
        assert!(cs.is_satisfied().unwrap(), "x = {x}");
    }
    // A forged root: its remainder leaves [0, 2y], which the bit decompositions reject
    // (the builder refuses it outside setup; the constraints refuse it when forced).
    let honest = zkinfer_models::quant::isqrt(103 << 6).unwrap();
    for forged in [honest - 1, honest + 1] {
        let (_, mut b) = builder();
        let w = input(&mut b, 100);
        assert!(matches!(sqrt_with(&mut b, "s", &w, 6, 3, forged), Err(Groth16Error::OutOfRange { node, .. }) if node == "s"));
    }
    let (cs, mut b) = builder();
    let w = input(&mut b, 100);
    let y = sqrt(&mut b, "s", &w, 6, 3).unwrap();
    assert!(cs.is_satisfied().unwrap());
    let i = y.lc.iter().find(|(_, v)| v.is_witness()).map(|(_, v)| witness_index(*v)).unwrap();
    bump(&cs, i, Fr::from(1u8));
    assert!(!cs.is_satisfied().unwrap(), "a root one larger was accepted");
    // A negative radicand has no witness.
    let (_, mut b) = builder();
    let w = input(&mut b, -10);
    assert!(matches!(sqrt(&mut b, "s", &w, 6, 3), Err(Groth16Error::OutOfRange { .. })));
}

/// Issue 19.4: a one-hot column vector that is not boolean, `C[c-1] = C[c+1] = 1` and
/// `C[c] = -1`, still sums to 1 and still points at `c` (`(c-1) + (c+1) - c = c`); with
/// the row's product patched to the new `sum_c C_c T[a m + c]` it selects
/// `T[c-1] + T[c+1] - T[c]`. Only the booleanity of `C[c]` refuses it.
#[test]
fn a_non_boolean_one_hot_vector_is_rejected() {
    let spec = table(0, 0, false, false);
    let m = row_width(VALUES.len());
    let na = VALUES.len().div_ceil(m);
    let u = m + 1; // row a = 1, column c = 1: both neighbours in the row
    let (a, c) = (u / m, u % m);
    assert!(c >= 1 && c + 1 < m && (a + 1) * m <= VALUES.len());
    let (cs, mut b) = builder();
    let w = input(&mut b, u as i128);
    let before = cs.num_witness_variables();
    let out = lookup_at(&mut b, &w, &TableSpec::new(&spec), m, a, c).unwrap().swap_remove(0);
    assert_eq!(out.value, VALUES[u] as i128);
    assert!(cs.is_satisfied().unwrap());
    // Allocation order: the row vector A (na), the column vector C (m), then one product
    // per row with a non-zero entry; the output sums the products.
    let col = |k: usize| before + na + k;
    let product = out
        .lc
        .iter()
        .map(|(_, v)| witness_index(*v))
        .find(|&i| cs.borrow().unwrap().witness_assignment[i] == fr(VALUES[u] as i128))
        .expect("the selected row's product");
    assert!(product >= before + na + m, "a product, not a one-hot bit");
    let t = |k: usize| VALUES[a * m + k] as i128;
    bump(&cs, col(c - 1), Fr::from(1u8));
    bump(&cs, col(c), -Fr::from(2u8));
    bump(&cs, col(c + 1), Fr::from(1u8));
    bump(&cs, product, fr(t(c - 1) + t(c + 1) - 2 * t(c)));
    let forged: Fr = out.lc.iter().map(|(k, v)| *k * cs.borrow().unwrap().witness_assignment[witness_index(*v)]).sum();
    assert_eq!(forged, fr(t(c - 1) + t(c + 1) - t(c)), "the forged vector selects another value");
    assert!(!cs.is_satisfied().unwrap(), "a non-boolean one-hot vector was accepted");
}

/// A graph of one division `a / b` at `scale` over `bits`-bit activations, for the
/// interpreter.
fn div_graph(bits: u32, positive: bool, scale: u32) -> QuantGraph {
    let port = |name: &str, value| QPort { name: name.into(), value, shape: vec![1], dtype: DType::F32 };
    QuantGraph {
        scale: 0,
        param_scale: 0,
        bits,
        num_values: 3,
        inputs: vec![port("a", 0), port("b", 1)],
        outputs: vec![port("q", 2)],
        nodes: vec![QNode { name: "d".into(), op: QOp::Div { scale, positive }, inputs: vec![0, 1], output: 2, len: 1 }],
        params: vec![],
        private_params: false,
    }
}

/// Issue 19.2: a positive divisor of `3 * 32767` at 16 bits is refused here as by the
/// interpreter and the halo2 chip (`circuits/tests/ops_chips.rs`): the sign bit of `b`
/// admits only `b < 2^bits`. The largest admitted divisor still divides.
#[test]
fn a_positive_divisor_of_2_to_the_bits_or_more_is_refused() {
    let (a, s) = (30000i128, 4u32);
    for (bv, ok) in [(3 * 32767i128, false), (1 << 16, false), ((1 << 16) - 1, true)] {
        let reference = interp::run(&div_graph(16, true, s), &[vec![a as i64], vec![bv as i64]]);
        assert_eq!(reference.is_ok(), ok, "interpreter, b = {bv}");
        let cs = ConstraintSystem::<Fr>::new_ref();
        let mut b = Builder::new(cs.clone(), 16);
        let x = input(&mut b, a);
        // The divisor is an unchecked sum (a shift-0 Linear's), not a checked input.
        let var = b.witness(bv).unwrap();
        let y = Wire { lc: var.into(), value: bv, sign: None };
        let out = div::div_positive(&mut b, "d", &x, &y, s);
        if ok {
            assert_eq!(out.unwrap().value, reference.unwrap().values[2][0] as i128);
            assert!(cs.is_satisfied().unwrap());
        } else {
            assert!(matches!(out, Err(Groth16Error::OutOfRange { ref node, .. }) if node == "d"), "b = {bv}: {out:?}");
        }
    }
}

/// Division ties with a negative divisor, pinned as in the interpreter and the halo2
/// chip (`circuits/tests/ops_chips.rs`): `sign(b) * round_half_up(a / |b|)`.
const DIV_TIES: [(i64, i64, u32, i64); 9] = [
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
    for (a, bv, s, want) in DIV_TIES {
        let trace = interp::run(&div_graph(BITS, false, s), &[vec![a], vec![bv]]).unwrap();
        assert_eq!(trace.values[2], vec![want], "interpreter: {a} / {bv} at scale {s}");
        let (cs, mut b) = builder();
        let (x, y) = (input(&mut b, a as i128), input(&mut b, bv as i128));
        let out = div::div(&mut b, "d", &x, &y, s).unwrap();
        assert_eq!(out.value, want as i128, "gadget: {a} / {bv} at scale {s}");
        assert!(cs.is_satisfied().unwrap());
    }
}

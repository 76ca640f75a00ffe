//! The multiply-accumulate gate: whole models with their dense layers in it equal the
//! interpreter and pass MockProver at several widths; a MAC copy that differs from its
//! activation, or an accumulator that is off, is rejected with the failure that catches it.

mod common;

use halo2_base::halo2_proofs::dev::{MockProver, VerifyFailure};
use zkinfer_circuits::chips::mac::{block_rows, sets_needed};
use zkinfer_circuits::cost::prove_cost;
use zkinfer_circuits::{plan, CircuitBuilderStage, Fr, ModelCircuit, PlanOptions};

fn with_width(w: usize) -> PlanOptions {
    PlanOptions { mac_width: Some(w), ..Default::default() }
}

#[test]
fn mac_models_equal_the_interpreter_at_several_widths() {
    for (name, w) in [("1l_mlp", 1), ("1l_mlp", 3), ("2l_relu_fc", 4), ("1l_linear", 8), ("1l_conv", 16)] {
        let stats = common::mock_check_with(name, &with_width(w));
        assert_eq!(stats.mac_width, w, "{name}: the MAC gate was not used");
        assert!(stats.mac_sets >= 1 && stats.mac_rows > 0, "{name}: {stats:?}");
    }
}

/// 1l_mlp with its dense layer in a 3-wide MAC gate, as a Mock circuit.
fn mac_circuit() -> (ModelCircuit<Fr>, u32) {
    let (quant, qin) = common::quantized("1l_mlp");
    let p = plan::<Fr>(&quant, &qin, &with_width(3)).unwrap();
    let c = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &quant, &qin, &p.shape).unwrap();
    (c, p.stats.k)
}

fn failures(c: &ModelCircuit<Fr>, k: u32) -> Vec<VerifyFailure> {
    MockProver::run(k, c, vec![c.instances.clone()]).unwrap().verify().err().unwrap_or_default()
}

#[test]
fn mac_copy_that_differs_from_its_activation_fails_the_permutation() {
    let (c, k) = mac_circuit();
    assert!(failures(&c, k).is_empty(), "honest MAC circuit rejected");
    let macs = c.macs.as_ref().unwrap();
    assert!(!macs.is_empty());
    // The gate's own arithmetic stays consistent (it accumulates the tampered value), so
    // only the copy constraint to the activation cell (and to the output) can catch it.
    macs.tamper_term(0, 1, Fr::from(12345));
    let fs = failures(&c, k);
    assert!(fs.iter().any(|f| matches!(f, VerifyFailure::Permutation { .. })), "tampered MAC input accepted: {fs:?}");
    assert!(!fs.iter().any(|f| matches!(f, VerifyFailure::ConstraintNotSatisfied { .. })), "{fs:?}");
}

#[test]
fn mac_accumulator_off_by_one_fails_the_gate() {
    let (c, k) = mac_circuit();
    c.macs.as_ref().unwrap().tamper_acc(0, Fr::from(1));
    let fs = failures(&c, k);
    assert!(
        fs.iter()
            .any(|f| matches!(f, VerifyFailure::ConstraintNotSatisfied { constraint, .. } if format!("{constraint:?}").contains("mac"))),
        "tampered accumulator accepted: {fs:?}"
    );
}

#[test]
fn mac_placement_never_splits_a_block() {
    // One row per term (at least one), one shift row per dot product after the first.
    assert_eq!(block_rows(0, 1), 1);
    assert_eq!(block_rows(9, 1), 9);
    assert_eq!(block_rows(9, 4), 12);
    // Row 0 stays free: 3 + 3 rows fit one column of 7; a third needs a second group.
    assert_eq!(sets_needed(&[3, 3], 7), Some(1));
    assert_eq!(sets_needed(&[3, 3, 3], 7), Some(2));
    // 4 + 3 rows do not share 7 rows: the second goes to a new group.
    assert_eq!(sets_needed(&[4, 3], 7), Some(2));
    assert_eq!(sets_needed(&[7], 7), None);
    assert_eq!(sets_needed(&[6], 7), Some(1));
}

#[test]
fn dot_products_over_the_same_cells_share_a_block() {
    // 1l_mlp's dense layer: every output weighs the same inputs, so at width 3 they
    // go three to a block; rows are terms plus shifts, not terms times outputs.
    let (quant, qin) = common::quantized("1l_mlp");
    let p = plan::<Fr>(&quant, &qin, &with_width(3)).unwrap();
    let c = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &quant, &qin, &p.shape).unwrap();
    let macs = c.macs.as_ref().unwrap();
    let (dots, blocks) = (macs.len(), macs.block_rows());
    assert_eq!(blocks.len(), dots.div_ceil(3), "{blocks:?}");
    let terms = macs.lengths()[0];
    assert!(macs.lengths().iter().all(|&n| n == terms));
    assert_eq!(blocks.iter().sum::<usize>(), blocks.len() * terms + dots - blocks.len());
}

#[test]
fn mac_shift_off_by_one_fails_the_shift_gate() {
    let (c, k) = mac_circuit();
    c.macs.as_ref().unwrap().tamper_shift(0, Fr::from(1));
    let fs = failures(&c, k);
    assert!(
        fs.iter().any(
            |f| matches!(f, VerifyFailure::ConstraintNotSatisfied { constraint, .. } if format!("{constraint:?}").contains("mac shift"))
        ),
        "tampered shift accepted: {fs:?}"
    );
}

#[test]
fn planner_uses_the_mac_gate_only_where_proving_time_dominates() {
    let (quant, qin) = common::quantized("1l_mlp");
    let p = plan::<Fr>(&quant, &qin, &PlanOptions::default()).unwrap();
    assert_eq!(p.stats.mac_width, 0, "a small model keeps the cheapest verifier");
    // With no threshold the planner weighs the MAC gate by proving cost, and never picks
    // a shape dearer than the plain one.
    let auto = plan::<Fr>(&quant, &qin, &PlanOptions { mac_min_k: 0, ..Default::default() }).unwrap();
    assert!(prove_cost(&auto.stats) <= prove_cost(&p.stats), "{:?} vs {:?}", auto.stats, p.stats);
}

#[test]
fn plain_layout_may_widen_to_save_a_k_where_proving_time_dominates() {
    use zkinfer_circuits::plan_candidates;
    let (quant, qin) = common::quantized("1l_mlp");
    let narrow = plan::<Fr>(&quant, &qin, &PlanOptions { mac_width: Some(0), ..Default::default() }).unwrap();
    let columns = |p: &zkinfer_circuits::Plan| p.stats.num_advice + p.stats.num_lookup_advice;
    assert!(columns(&narrow) <= PlanOptions::default().max_advice);
    // With no threshold proving time matters at every k: a wider plain shape one k down
    // joins the candidates, inside the large budget (whatever gas it adds, here).
    let all = plan_candidates::<Fr>(&quant, &qin, &PlanOptions { mac_min_k: 0, wide_gas_slack: 100.0, ..Default::default() }).unwrap();
    let wide: Vec<_> = all.iter().filter(|p| p.stats.mac_width == 0 && p.stats.k < narrow.stats.k).collect();
    assert!(!wide.is_empty(), "no wider plain shape below k = {}", narrow.stats.k);
    for p in wide {
        assert!(columns(p) > columns(&narrow) && columns(p) <= PlanOptions::default().max_advice_large, "{:?}", p.stats);
    }
}

#[test]
fn from_large_k_the_plain_layout_is_weighed_at_every_k_the_wide_budget_saves() {
    use zkinfer_circuits::cost::gas_estimate;
    use zkinfer_circuits::plan_candidates;
    let (quant, qin) = common::quantized("4l_relu_conv_fc");
    // Every k counts as large here, so the wide budget applies; any gas is accepted.
    let opts = PlanOptions { mac_min_k: 0, large_k: 0, wide_gas_slack: 100.0, ..Default::default() };
    let narrow = plan::<Fr>(&quant, &qin, &PlanOptions { mac_width: Some(0), ..opts.clone() }).unwrap();
    let columns = |p: &zkinfer_circuits::Plan| p.stats.num_advice + p.stats.num_lookup_advice;
    let all = plan_candidates::<Fr>(&quant, &qin, &opts).unwrap();
    let mut ks: Vec<u32> = all.iter().filter(|p| p.stats.mac_width == 0).map(|p| p.stats.k).collect();
    ks.sort();
    let lo = ks[0];
    assert!(lo < narrow.stats.k, "no wider plain shape below k = {}", narrow.stats.k);
    assert_eq!(ks, (lo..=narrow.stats.k).collect::<Vec<_>>(), "one plain shape per k");
    for p in all.iter().filter(|p| p.stats.mac_width == 0) {
        assert!(columns(p) <= opts.max_advice_wide, "{:?}", p.stats);
    }
    // With the default slack a wider shape may add at most 10% to the estimated gas:
    // this model's verifier is mostly commitments, so the widest shapes drop out.
    let slack = PlanOptions { wide_gas_slack: 1.1, ..opts.clone() };
    let kept: Vec<_> = plan_candidates::<Fr>(&quant, &qin, &slack).unwrap().into_iter().filter(|p| p.stats.mac_width == 0).collect();
    assert!(kept.len() < ks.len(), "{} of {} plain shapes kept", kept.len(), ks.len());
    for p in &kept {
        assert!(gas_estimate(&p.stats) as f64 <= 1.1 * gas_estimate(&narrow.stats) as f64, "{:?}", p.stats);
    }
    // An explicit budget (the CLI's --max-advice sets all three) caps the wide shapes too.
    let capped = PlanOptions { max_advice: 4, max_advice_large: 4, max_advice_wide: 4, ..opts };
    for p in plan_candidates::<Fr>(&quant, &qin, &capped).unwrap().iter().filter(|p| p.stats.mac_width == 0) {
        assert!(columns(p) <= 4, "{:?}", p.stats);
    }
}

#[test]
fn planner_ranks_shapes_by_proving_time_or_by_gas() {
    use zkinfer_circuits::cost::verifier_cost;
    use zkinfer_circuits::layout::Optimize;
    use zkinfer_circuits::plan_candidates;
    let (quant, qin) = common::quantized("2l_relu_fc");
    let opts = |optimize| PlanOptions { mac_min_k: 0, optimize, ..Default::default() };
    // Every shape counts: no proving cost is fast enough to trade for gas.
    let fastest = PlanOptions { fast_enough: 0, ..opts(Optimize::Prove) };
    let fast = plan_candidates::<Fr>(&quant, &qin, &fastest).unwrap();
    let lean = plan_candidates::<Fr>(&quant, &qin, &opts(Optimize::Gas)).unwrap();
    assert!(fast.len() > 1 && fast.len() == lean.len(), "{} vs {} candidates", fast.len(), lean.len());
    assert!(fast.iter().all(|p| prove_cost(&fast[0].stats) <= prove_cost(&p.stats)));
    assert!(lean.iter().all(|p| verifier_cost(&lean[0].stats) <= verifier_cost(&p.stats)));
    // Gas favours fewer columns: the leanest shape commits to no more columns than the fastest.
    assert!(verifier_cost(&lean[0].stats) <= verifier_cost(&fast[0].stats));
    let mid = plan_candidates::<Fr>(&quant, &qin, &opts(Optimize::Balanced)).unwrap();
    let product = |p: &zkinfer_circuits::Plan| prove_cost(&p.stats) * verifier_cost(&p.stats);
    assert!(mid.iter().all(|p| product(&mid[0]) <= product(p)));
    assert!(product(&mid[0]) <= product(&fast[0]) && product(&mid[0]) <= product(&lean[0]));
}

#[test]
fn speed_takes_a_smaller_k_at_any_gas_and_keeps_a_budget_the_user_set() {
    use zkinfer_circuits::cost::verifier_cost;
    use zkinfer_circuits::layout::Optimize;
    use zkinfer_circuits::plan_candidates;
    let (quant, qin) = common::quantized("multihead_attention");
    let opts = |optimize| PlanOptions { optimize, ..Default::default() };
    let prove = plan_candidates::<Fr>(&quant, &qin, &opts(Optimize::Prove)).unwrap().remove(0);
    let speed = plan_candidates::<Fr>(&quant, &qin, &opts(Optimize::Speed)).unwrap();
    let (fast, p) = (&speed[0].stats, &prove.stats);
    // A smaller k with many more columns: a cheaper proof by the estimate, a dearer verifier
    // (the default's gas guard refuses it).
    assert!(fast.k < p.k && prove_cost(fast) < prove_cost(p), "{fast:?} vs {p:?}");
    assert!(verifier_cost(fast) > verifier_cost(p) && fast.budgeted_columns() > 6, "{fast:?}");
    // Within 5% of the fastest estimate the cheapest verifier comes first.
    let fastest = speed.iter().map(|c| prove_cost(&c.stats)).min().unwrap();
    let near = speed.iter().filter(|c| prove_cost(&c.stats) <= fastest + fastest / 20);
    assert_eq!(near.map(|c| verifier_cost(&c.stats)).min(), Some(verifier_cost(fast)));
    // --max-advice caps every budget, speed's too.
    let capped = opts(Optimize::Speed).with_max_advice(Some(6));
    let capped = plan_candidates::<Fr>(&quant, &qin, &capped).unwrap().remove(0);
    assert!(capped.stats.budgeted_columns() <= 6, "{:?}", capped.stats);
    assert_eq!("speed".parse::<Optimize>(), Ok(Optimize::Speed));
}

#[test]
fn under_fast_enough_the_planner_takes_the_cheapest_verifier() {
    use zkinfer_circuits::cost::verifier_cost;
    use zkinfer_circuits::layout::Optimize;
    use zkinfer_circuits::plan_candidates;
    let (quant, qin) = common::quantized("2l_relu_fc");
    let opts = PlanOptions { mac_min_k: 0, optimize: Optimize::Prove, ..Default::default() };
    let all = plan_candidates::<Fr>(&quant, &qin, &opts).unwrap();
    // Narrow MAC groups at a larger k are among the candidates, fewer columns each.
    assert!(all.iter().any(|p| p.stats.mac_width <= 2 && p.stats.mac_width > 0), "{:?}", all.iter().map(|p| &p.stats).collect::<Vec<_>>());
    let fastest = all.iter().map(|p| prove_cost(&p.stats)).min().unwrap();
    // Between the fastest shape's cost and a bound above it, proving time no longer counts:
    // the first shape has the fewest commitments of those within the bound ...
    let bound = fastest * 3;
    let within = PlanOptions { fast_enough: bound, ..opts.clone() };
    let picked = plan_candidates::<Fr>(&quant, &qin, &within).unwrap().remove(0);
    assert!(prove_cost(&picked.stats) <= bound, "{:?}", picked.stats);
    let leanest = all.iter().filter(|p| prove_cost(&p.stats) <= bound).map(|p| verifier_cost(&p.stats)).min().unwrap();
    assert_eq!(verifier_cost(&picked.stats), leanest, "{:?}", picked.stats);
    // ... and fewer than the fastest shape's, which it trades for.
    let quick = plan_candidates::<Fr>(&quant, &qin, &PlanOptions { fast_enough: 0, ..opts }).unwrap().remove(0);
    assert!(verifier_cost(&picked.stats) < verifier_cost(&quick.stats), "{:?} vs {:?}", picked.stats, quick.stats);
}

#[test]
fn wide_shapes_raise_the_degree_and_still_pass_mock_prover() {
    // 2l_relu_fc at MAC width 4: the MAC group's x and acc_0 join 4 gate columns and
    // the lookup, constant and instance columns: 9, from which degree 5 saves
    // permutation products.
    let (quant, qin) = common::quantized("2l_relu_fc");
    let p = plan::<Fr>(&quant, &qin, &with_width(4)).unwrap();
    assert_eq!(p.stats.permutation_columns(), 9, "{:?}", p.stats);
    assert_eq!(p.stats.degree(), 5);
    assert_eq!(p.shape.params.degree, 5);
    let c = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &quant, &qin, &p.shape).unwrap();
    assert!(failures(&c, p.stats.k).is_empty(), "honest degree-5 circuit rejected");
    c.macs.as_ref().unwrap().tamper_acc(0, Fr::from(1));
    assert!(!failures(&c, p.stats.k).is_empty(), "tampered accumulator accepted at degree 5");
    // A narrow shape keeps its gates' own degree.
    let narrow = plan::<Fr>(&quant, &qin, &PlanOptions::default()).unwrap();
    assert!(narrow.stats.permutation_columns() < 9 && narrow.shape.params.degree == 0, "{:?}", narrow.stats);
}

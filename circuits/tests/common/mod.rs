//! The whole-model MockProver check shared by the corpus tests, and the witness prank
//! the chip tests share.

use halo2_base::halo2_proofs::dev::{FailureLocation, MockProver, VerifyFailure};
use halo2_base::halo2_proofs::plonk::{Any, Assigned};
use halo2_base::{AssignedValue, Context};
use zkinfer_circuits::{plan, CircuitBuilderStage, Fr, LayoutStats, ModelCircuit, PlanOptions};
use zkinfer_models::input_json::InputData;
use zkinfer_models::interp;
use zkinfer_models::prepare::{hints_for, prepare};
use zkinfer_models::{QuantGraph, QuantOptions};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// Corpus model `name` quantized with default options, and its quantized input.json.
#[allow(dead_code)]
pub fn quantized(name: &str) -> (QuantGraph, Vec<Vec<i64>>) {
    let dir = format!("{CORPUS}/{name}");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    let samples = input.samples();
    let p = prepare(&onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), &QuantOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let qin = interp::quantize_inputs(&p.quant, &samples[0]).unwrap();
    (p.quant, qin)
}

/// Builds corpus model `name` on its input.json and checks that the public values equal
/// the reference interpreter exactly (and unpack from the instances), that MockProver
/// accepts the honest witness, and that a changed public output fails the instance copy.
/// Returns the planned layout.
#[allow(dead_code)]
pub fn mock_check(name: &str) -> LayoutStats {
    mock_check_with(name, &PlanOptions::default())
}

/// [`mock_check`] with the given planner options.
pub fn mock_check_with(name: &str, opts: &PlanOptions) -> LayoutStats {
    let (quant, qin) = quantized(name);
    let trace = interp::run(&quant, &qin).unwrap_or_else(|e| panic!("{name}: {e}"));
    let plan = plan::<Fr>(&quant, &qin, opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let circuit = ModelCircuit::<Fr>::build(CircuitBuilderStage::Mock, &quant, &qin, &plan.shape).unwrap();
    // Public instances are the quantized inputs then the outputs of the interpreter.
    let expected: Vec<i128> =
        qin.iter().flatten().chain(trace.outputs(&quant).iter().flatten()).map(|v| *v as i128).collect();
    assert_eq!(circuit.instance_ints(), expected, "{name}: witness differs from the interpreter");
    let k = plan.stats.k;
    let instances = circuit.instances.clone();
    assert_eq!(
        zkinfer_circuits::public::unpack(&instances, expected.len(), quant.bits),
        Some(expected),
        "{name}: instances do not unpack to the public values"
    );
    MockProver::run(k, &circuit, vec![instances.clone()]).unwrap().assert_satisfied();
    // Every instance changed at once: each must fail its own copy constraint.
    let bad: Vec<Fr> = instances.iter().map(|v| *v + Fr::from(1)).collect();
    let r = MockProver::run(k, &circuit, vec![bad]).unwrap().verify();
    let failed = instance_rows_failing_their_copy(&r);
    assert_eq!(failed, (0..instances.len()).collect::<Vec<_>>(), "{name}: changed instances accepted: {r:?}");
    plan.stats
}

/// The instance rows whose copy constraint fails, ascending.
pub fn instance_rows_failing_their_copy(r: &Result<(), Vec<VerifyFailure>>) -> Vec<usize> {
    let mut rows: Vec<usize> = match r {
        Ok(()) => Vec::new(),
        Err(fs) => fs
            .iter()
            .filter_map(|f| match f {
                VerifyFailure::Permutation { column, location: FailureLocation::OutsideRegion { row } } if column.column_type() == Any::Instance => Some(*row),
                _ => None,
            })
            .collect(),
    };
    rows.sort_unstable();
    rows.dedup();
    rows
}

/// Sets `cell` and every cell of `ctx` copy-constrained to it (transitively) to `v`, as
/// a prover who changes one witness everywhere it is copied would (halo2-lib's
/// `debug_prank`, followed through the copies): only gates and lookups can notice.
/// Cells assigned later from the returned value carry `v`.
#[allow(dead_code)]
pub fn prank_copies<F: zkinfer_circuits::field::ScalarField>(ctx: &mut Context<F>, cell: AssignedValue<F>, v: F) -> AssignedValue<F> {
    let equalities = ctx.copy_manager.lock().unwrap().advice_equalities.clone();
    let mut class = vec![cell.cell.expect("a cell of a keygen or mock context")];
    let mut i = 0;
    while i < class.len() {
        let c = class[i];
        for (a, b) in &equalities {
            let other = if *a == c { *b } else if *b == c { *a } else { continue };
            if !class.contains(&other) {
                class.push(other);
            }
        }
        i += 1;
    }
    let (type_id, id) = (ctx.type_id(), ctx.id());
    for c in class.iter().filter(|c| c.type_id == type_id && c.context_id == id) {
        ctx.advice[c.offset] = Assigned::Trivial(v);
    }
    AssignedValue { value: Assigned::Trivial(v), cell: cell.cell }
}

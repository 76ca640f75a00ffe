//! The whole-model MockProver check shared by the corpus tests, and the witness prank
//! the chip tests share.

use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::halo2_proofs::dev::{FailureLocation, MockProver, VerifyFailure};
use halo2_base::halo2_proofs::plonk::{Any, Assigned};
use halo2_base::{AssignedValue, Context};
use zkinfer_circuits::chips::table::Tables;
use zkinfer_circuits::chips::Chips;
use zkinfer_circuits::field::to_i128;
use zkinfer_circuits::layout::BLINDING_ROWS;
use zkinfer_circuits::{plan, CircuitBuilderStage, Fr, LayoutStats, ModelCircuit, PlanOptions};
use zkinfer_models::input_json::InputData;
use zkinfer_models::interp;
use zkinfer_models::prepare::prepare_input;
use zkinfer_models::{QuantGraph, QuantOptions};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// Corpus model `name` quantized with default options, and its quantized input.json.
#[allow(dead_code)]
pub fn quantized(name: &str) -> (QuantGraph, Vec<Vec<i64>>) {
    let dir = format!("{CORPUS}/{name}");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    let (p, samples) = prepare_input(&onnx, &input, &QuantOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let qin = interp::quantize_inputs(&p.quant, &samples[0]).unwrap();
    (p.quant, qin)
}

/// [`quantized`], or `None` when the model does not import or quantize.
#[allow(dead_code)]
pub fn try_quantized(name: &str) -> Option<(QuantGraph, Vec<Vec<i64>>)> {
    let dir = format!("{CORPUS}/{name}");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).ok()?;
    let input = InputData::from_path(format!("{dir}/input.json")).ok()?;
    let (p, samples) = prepare_input(&onnx, &input, &QuantOptions::default()).ok()?;
    let qin = interp::quantize_inputs(&p.quant, &samples[0]).ok()?;
    Some((p.quant, qin))
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
    let expected: Vec<i128> = qin.iter().flatten().chain(trace.outputs(&quant).iter().flatten()).map(|v| *v as i128).collect();
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
                VerifyFailure::Permutation { column, location: FailureLocation::OutsideRegion { row } }
                    if column.column_type() == Any::Instance =>
                {
                    Some(*row)
                }
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
            let other = if *a == c {
                *b
            } else if *b == c {
                *a
            } else {
                continue;
            };
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

/// What MockProver must say about a chip test's circuit: accept it, or report (among its
/// failures) one of this kind.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Ok,
    /// A custom gate's constraint (halo2-base's flex gate: a bit check, a decomposition).
    Gate,
    /// A lookup: a range-check limb or a function-table row.
    Lookup,
    /// A copy constraint: between cells, from a constant, or to an instance.
    Permutation,
}

#[allow(dead_code)]
impl Expect {
    /// Whether MockProver's verdict `r` is this one.
    pub fn seen_in(self, r: &Result<(), Vec<VerifyFailure>>) -> bool {
        match (self, r) {
            (Expect::Ok, r) => r.is_ok(),
            (_, Ok(())) => false,
            (e, Err(fs)) => fs.iter().any(|f| match f {
                VerifyFailure::ConstraintNotSatisfied { .. } => e == Expect::Gate,
                VerifyFailure::Lookup { .. } => e == Expect::Lookup,
                VerifyFailure::Permutation { .. } => e == Expect::Permutation,
                _ => false,
            }),
        }
    }
}

/// Changes the instances handed to the verifier.
type Tamper = Box<dyn FnOnce(&mut Vec<Fr>)>;

/// The chip-test harness (halo2-lib's `base_test()` style): one context of a model
/// circuit with a function-table column set, `bits`-bit activations, range checks in
/// halo2-base's lookup or (`range_in_table`) in the table's; what the test's closure
/// returns is public, and `tamper` may change the instances handed to the verifier.
#[allow(dead_code)]
pub struct ChipTest {
    k: usize,
    bits: u32,
    range_in_table: bool,
    tamper: Option<Tamper>,
}

/// A [`ChipTest`] at `k = 10`, 16-bit activations, halo2-base's range lookup.
#[allow(dead_code)]
pub fn base_test() -> ChipTest {
    ChipTest { k: 10, bits: 16, range_in_table: false, tamper: None }
}

#[allow(dead_code)]
impl ChipTest {
    pub fn k(self, k: usize) -> ChipTest {
        ChipTest { k, ..self }
    }

    pub fn range_in_table(self, on: bool) -> ChipTest {
        ChipTest { range_in_table: on, ..self }
    }

    pub fn tamper_instances(self, f: impl FnOnce(&mut Vec<Fr>) + 'static) -> ChipTest {
        ChipTest { tamper: Some(Box::new(f)), ..self }
    }

    /// The circuit and its public values, without running MockProver.
    pub fn build(
        &self,
        f: impl FnOnce(&mut Context<Fr>, &Chips<Fr>, &mut Tables<Fr>) -> Vec<AssignedValue<Fr>>,
    ) -> (Vec<i128>, ModelCircuit<Fr>) {
        let mut builder = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock)
            .use_k(self.k)
            .use_lookup_bits(self.k - 1)
            .use_instance_columns(1);
        let range = builder.range_chip();
        let chips = Chips::new(&range, self.bits);
        let mut tables = Tables::new(false, builder.core().copy_manager.clone());
        let out = f(builder.main(0), &chips, &mut tables);
        let instances: Vec<Fr> = out.iter().map(|c| *c.value()).collect();
        let values = instances.iter().map(|v| to_i128(v).unwrap_or(i128::MAX)).collect();
        builder.assigned_instances = vec![out];
        let mut params = builder.calculate_params(Some(BLINDING_ROWS));
        if self.range_in_table {
            // The range table joins the function table, its mark one more constant.
            params.num_lookup_advice_per_phase = vec![0];
            params.num_fixed += 1;
            builder = builder.use_params(params);
        }
        let range_in_table = self.range_in_table;
        let circuit = ModelCircuit {
            builder,
            instances,
            public_values: vec![],
            tables,
            table_sets: 1,
            macs: None,
            mac_width: 0,
            mac_sets: 0,
            degree: 0,
            range_in_table,
        };
        (values, circuit)
    }

    /// Builds the circuit and runs MockProver on it: the public values (the instances as
    /// integers, `i128::MAX` for a large one) and the verdict.
    pub fn run(
        self,
        f: impl FnOnce(&mut Context<Fr>, &Chips<Fr>, &mut Tables<Fr>) -> Vec<AssignedValue<Fr>>,
    ) -> (Vec<i128>, Result<(), Vec<VerifyFailure>>) {
        let (values, circuit) = self.build(f);
        let mut instances = circuit.instances.clone();
        if let Some(t) = self.tamper {
            t(&mut instances);
        }
        (values, MockProver::run(self.k as u32, &circuit, vec![instances]).unwrap().verify())
    }
}

//! The model as an arkworks circuit: one synthesis path for setup, proving and tests.

use std::cell::RefCell;

use ark_bn254::Fr;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, OptimizationGoal, SynthesisError, SynthesisMode};
use serde::{Deserialize, Serialize};
use zkinfer_models::quant::QuantGraph;

use super::builder::Builder;
use super::error::Groth16Error;
use super::lower::{lower, placeholder_inputs, Lowered};

/// The size of a model's R1CS: what keys made for it must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct R1csShape {
    /// Public inputs plus the constant one.
    pub num_instance: usize,
    pub num_witness: usize,
    pub num_constraints: usize,
}

impl R1csShape {
    /// Number of public values (graph inputs then outputs).
    pub fn num_public(&self) -> usize {
        self.num_instance - 1
    }
}

/// A constraint system synthesized with a full witness.
pub struct Synthesized {
    pub cs: ConstraintSystemRef<Fr>,
    pub lowered: Lowered,
}

impl Synthesized {
    /// Its shape.
    pub fn shape(&self) -> R1csShape {
        shape_of(&self.cs)
    }
}

fn shape_of(cs: &ConstraintSystemRef<Fr>) -> R1csShape {
    R1csShape { num_instance: cs.num_instance_variables(), num_witness: cs.num_witness_variables(), num_constraints: cs.num_constraints() }
}

/// Lowers `graph` on `inputs` into a fresh constraint system in prove mode (matrices
/// included, linear combinations inlined), ready for the Groth16 prover.
pub fn synthesize(graph: &QuantGraph, inputs: &[Vec<i64>]) -> Result<Synthesized, Groth16Error> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    let mut b = Builder::new(cs.clone(), graph.bits);
    let lowered = lower(&mut b, graph, inputs)?;
    cs.finalize();
    Ok(Synthesized { cs, lowered })
}

/// The shape of `graph`'s R1CS, from a synthesis in setup mode (no witness).
pub fn shape(graph: &QuantGraph) -> Result<R1csShape, Groth16Error> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    let mut b = Builder::new(cs.clone(), graph.bits);
    lower(&mut b, graph, &placeholder_inputs(graph))?;
    Ok(shape_of(&cs))
}

/// `graph` as an arkworks [`ConstraintSynthesizer`] for setup.
///
/// arkworks' error type cannot carry ours: a lowering error is stored in `error` and
/// reported to arkworks as `Unsatisfiable`; callers read `error` when synthesis fails.
pub struct ModelCircuit<'a> {
    pub graph: &'a QuantGraph,
    pub inputs: Vec<Vec<i64>>,
    pub error: &'a RefCell<Option<Groth16Error>>,
}

impl ConstraintSynthesizer<Fr> for ModelCircuit<'_> {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let mut b = Builder::new(cs, self.graph.bits);
        match lower(&mut b, self.graph, &self.inputs) {
            Ok(_) => Ok(()),
            Err(Groth16Error::Synthesis(e)) => Err(e),
            Err(e) => {
                *self.error.borrow_mut() = Some(e);
                Err(SynthesisError::Unsatisfiable)
            }
        }
    }
}

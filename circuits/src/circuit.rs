//! The model circuit: a halo2-base builder with the model lowered into it.

use halo2_base::gates::circuit::{builder::BaseCircuitBuilder, BaseCircuitParams, BaseConfig, CircuitBuilderStage};
use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use halo2_base::halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner},
    plonk::{Circuit, ConstraintSystem, Error},
};
use serde::{Deserialize, Serialize};
use snark_verifier_sdk::CircuitExt;
use zkinfer_models::quant::QuantGraph;

use crate::error::CircuitError;
use crate::field::{to_i128, ScalarField};
use crate::lower::lower;

/// Everything that fixes the circuit's shape: stored with the keys.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CircuitShape {
    pub params: BaseCircuitParams,
    pub break_points: MultiPhaseThreadBreakPoints,
}

impl CircuitShape {
    /// log2 of the number of rows.
    pub fn k(&self) -> u32 {
        self.params.k as u32
    }
}

/// A model lowered into halo2-base, ready for MockProver, key generation or proving.
pub struct ModelCircuit<F: ScalarField> {
    pub builder: BaseCircuitBuilder<F>,
    /// Public instances: quantized inputs, then quantized outputs.
    pub instances: Vec<F>,
}

impl<F: ScalarField> ModelCircuit<F> {
    /// Builds the circuit at `stage`. `Keygen` and `Mock` take `k`/`lookup_bits` from
    /// `shape` (or `config` when planning); `Prover` needs the break points from keygen.
    pub fn build(
        stage: CircuitBuilderStage,
        graph: &QuantGraph,
        inputs: &[Vec<i64>],
        shape: &CircuitShape,
    ) -> Result<Self, CircuitError> {
        let mut builder = match stage {
            CircuitBuilderStage::Prover => {
                BaseCircuitBuilder::prover(shape.params.clone(), shape.break_points.clone())
            }
            _ => BaseCircuitBuilder::from_stage(stage).use_params(shape.params.clone()),
        };
        let lowered = lower(&mut builder, graph, inputs)?;
        let instances = lowered.public.iter().map(|c| *c.value()).collect();
        Ok(ModelCircuit { builder, instances })
    }

    /// Integer values of the public instances.
    pub fn instance_ints(&self) -> Vec<i128> {
        self.instances.iter().map(|f| to_i128(f).unwrap_or(i128::MAX)).collect()
    }
}

impl<F: ScalarField> Circuit<F> for ModelCircuit<F> {
    type Config = BaseConfig<F>;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = BaseCircuitParams;

    fn params(&self) -> Self::Params {
        self.builder.params()
    }

    fn without_witnesses(&self) -> Self {
        unimplemented!("halo2-base builders are built per stage")
    }

    fn configure_with_params(meta: &mut ConstraintSystem<F>, params: Self::Params) -> Self::Config {
        BaseCircuitBuilder::configure_with_params(meta, params)
    }

    fn configure(_: &mut ConstraintSystem<F>) -> Self::Config {
        unreachable!("configured with params")
    }

    fn synthesize(&self, config: Self::Config, layouter: impl Layouter<F>) -> Result<(), Error> {
        self.builder.synthesize(config, layouter)
    }
}

impl<F: ScalarField> CircuitExt<F> for ModelCircuit<F> {
    fn num_instance(&self) -> Vec<usize> {
        vec![self.instances.len()]
    }

    fn instances(&self) -> Vec<Vec<F>> {
        vec![self.instances.clone()]
    }
}

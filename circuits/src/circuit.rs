//! The model circuit: a halo2-base builder with the model lowered into it.

use halo2_base::gates::circuit::MaybeRangeConfig;
use halo2_base::gates::circuit::{builder::BaseCircuitBuilder, BaseConfig, CircuitBuilderStage};
use halo2_base::gates::RangeInstructions;
use halo2_base::halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner},
    plonk::{Circuit, ConstraintSystem, Error},
};
use halo2_base::virtual_region::manager::VirtualRegionManager;
use snark_verifier_sdk::CircuitExt;
use zkinfer_models::quant::QuantGraph;

use crate::chips::mac::{self, MacConfig, Macs};
use crate::chips::table::{RangeRows, TableConfig, Tables};
use crate::chips::{Chips, Tally};
use crate::error::CircuitError;
use crate::field::{to_i128, ScalarField};
use crate::hash;
use crate::instances::{port_len, InstanceLayout};
use crate::lower::lower_tallied;
use crate::public;
use crate::visibility::VisibilityConfig;

use crate::shape::usable_rows;
use crate::shape::ShapeError;
pub use crate::shape::{mac_layout_for, CircuitShape, ModelParams, MAC_LAYOUT};

/// The columns of the model circuit.
#[derive(Clone, Debug)]
pub struct ModelConfig<F: ScalarField> {
    pub base: BaseConfig<F>,
    pub tables: Option<TableConfig>,
    pub macs: Option<MacConfig>,
}

/// A model lowered into halo2-base, ready for MockProver, key generation or proving.
pub struct ModelCircuit<F: ScalarField> {
    pub builder: BaseCircuitBuilder<F>,
    /// Public instances, laid out as [`crate::instances`] says.
    pub instances: Vec<F>,
    /// The packed public values (public inputs, then public outputs), unpacked.
    pub public_values: Vec<i128>,
    /// Function tables and the cells looked up in them.
    pub tables: Tables<F>,
    /// Lookup column triples the shape provides for the tables.
    pub table_sets: usize,
    /// Dot products in the MAC gate, when the shape has one.
    pub macs: Option<Macs<F>>,
    /// MAC width and column groups of the shape.
    pub mac_width: usize,
    pub mac_sets: usize,
    /// The constraint degree of the shape ([`ModelParams::degree`]).
    pub degree: usize,
    /// Range checks looked up in the function table ([`ModelParams::range_in_table`]).
    pub range_in_table: bool,
}

/// What lowering adds next to halo2-base: function tables and MAC dot products.
pub struct Gadgets<F: ScalarField> {
    pub tables: Tables<F>,
    pub macs: Option<Macs<F>>,
}

/// Lowers the model and exposes its public values as [`crate::instances`] lays them out
/// (input hash, parameter hash, packed public inputs and outputs, output hash, as
/// `visibility` says);
/// returns the packed values. Planning, keygen and proving all go through here, so they
/// see the same circuit.
pub fn synthesize_model<F: ScalarField>(
    builder: &mut BaseCircuitBuilder<F>,
    graph: &QuantGraph,
    inputs: &[Vec<i64>],
    visibility: &VisibilityConfig,
    mac_width: usize,
) -> Result<(Vec<i128>, Gadgets<F>), CircuitError> {
    synthesize_tallied(builder, graph, inputs, visibility, mac_width, None)
}

/// [`synthesize_model`], with the range checks tallied in `tally` instead of laid out
/// when it is given ([`crate::count`]).
pub(crate) fn synthesize_tallied<F: ScalarField>(
    builder: &mut BaseCircuitBuilder<F>,
    graph: &QuantGraph,
    inputs: &[Vec<i64>],
    visibility: &VisibilityConfig,
    mac_width: usize,
    tally: Option<&Tally>,
) -> Result<(Vec<i128>, Gadgets<F>), CircuitError> {
    let lowered = lower_tallied(builder, graph, inputs, mac_width, visibility.params, tally)?;
    let n_in_all = port_len(&graph.inputs);
    let (in_cells, out_cells) = lowered.public.split_at(n_in_all);
    let layout = InstanceLayout::new(graph, visibility);
    let mut cells = Vec::with_capacity(layout.n_in + layout.n_out);
    cells.extend_from_slice(&in_cells[..layout.n_in]);
    cells.extend_from_slice(&out_cells[..layout.n_out]);
    // Inputs are range-checked where they enter; outputs are checked here.
    let checked: Vec<bool> = (0..cells.len()).map(|i| i < layout.n_in).collect();
    let values = cells.iter().map(|c| to_i128(c.value()).unwrap_or(i128::MAX)).collect();
    let range = builder.range_chip();
    let chips = Chips { tally, ..Chips::new(&range, graph.bits) };
    let ctx = builder.main(0);
    let mut exposed = Vec::with_capacity(layout.len());
    // Hashed inputs and outputs are packed as public values are, then hashed.
    if layout.input_hash {
        exposed.push(hash::hash_packed_cells(ctx, &chips, in_cells, &vec![true; in_cells.len()]));
    }
    if layout.param_hash {
        exposed.push(hash::hash_cells(ctx, range.gate(), &lowered.params));
    }
    exposed.extend(public::pack_cells(ctx, &chips, &cells, &checked));
    if layout.output_hash {
        exposed.push(hash::hash_packed_cells(ctx, &chips, out_cells, &vec![false; out_cells.len()]));
    }
    builder.assigned_instances = vec![exposed];
    Ok((values, Gadgets { tables: lowered.tables, macs: lowered.macs }))
}

impl<F: ScalarField> ModelCircuit<F> {
    /// Builds the circuit at `stage`. `Keygen` and `Mock` take `k`/`lookup_bits` from
    /// `shape` (or `config` when planning); `Prover` needs the break points from keygen.
    pub fn build(stage: CircuitBuilderStage, graph: &QuantGraph, inputs: &[Vec<i64>], shape: &CircuitShape) -> Result<Self, CircuitError> {
        shape.validate()?;
        let mut builder = match stage {
            CircuitBuilderStage::Prover => BaseCircuitBuilder::prover(shape.params.base.clone(), shape.break_points.clone()),
            _ => BaseCircuitBuilder::from_stage(stage).use_params(shape.params.base.clone()),
        };
        let p = &shape.params;
        let (public_values, Gadgets { tables, macs }) = synthesize_model(&mut builder, graph, inputs, &shape.visibility, p.mac_width)?;
        if tables.num_lookups() > 0 && p.table_sets == 0 {
            return Err(CircuitError::Layout("the model has table lookups but the shape has no table columns".into()));
        }
        let range_columns = p.base.lookup_bits.is_some() && p.base.num_lookup_advice_per_phase.iter().sum::<usize>() > 0;
        if !range_columns && !p.range_in_table && builder.statistics().total_lookup_advice_per_phase.iter().any(|n| *n > 0) {
            return Err(ShapeError::RangeChecksNowhere.into());
        }
        if let Some(m) = &macs {
            if mac::sets_needed(&m.block_rows(), usable_rows(p.base.k as u32)).is_none_or(|n| n > p.mac_sets) {
                return Err(CircuitError::Layout("the model's dot products do not fit the shape's MAC columns".into()));
            }
        }
        let instances = builder.assigned_instances[0].iter().map(|c| *c.value()).collect();
        Ok(ModelCircuit {
            builder,
            instances,
            public_values,
            tables,
            table_sets: p.table_sets,
            macs,
            mac_width: p.mac_width,
            mac_sets: p.mac_sets,
            degree: p.degree,
            range_in_table: p.range_in_table,
        })
    }

    /// The public values (quantized inputs, then outputs) the instances pack.
    pub fn instance_ints(&self) -> Vec<i128> {
        self.public_values.clone()
    }
}

impl<F: ScalarField> Circuit<F> for ModelCircuit<F> {
    type Config = ModelConfig<F>;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ModelParams;

    fn params(&self) -> Self::Params {
        ModelParams {
            base: self.builder.params(),
            table_sets: self.table_sets,
            mac_width: self.mac_width,
            mac_sets: self.mac_sets,
            mac_layout: mac_layout_for(self.mac_sets),
            degree: self.degree,
            range_in_table: self.range_in_table,
        }
    }

    fn without_witnesses(&self) -> Self {
        unimplemented!("halo2-base builders are built per stage")
    }

    fn configure_with_params(meta: &mut ConstraintSystem<F>, params: Self::Params) -> Self::Config {
        let base = BaseCircuitBuilder::configure_with_params(meta, params.base);
        let tables = (params.table_sets > 0).then(|| TableConfig::configure(meta, params.table_sets));
        let macs = (params.mac_sets > 0).then(|| MacConfig::configure(meta, params.mac_width, params.mac_sets));
        if params.degree > 0 {
            meta.set_minimum_degree(params.degree);
        }
        ModelConfig { base, tables, macs }
    }

    fn configure(_: &mut ConstraintSystem<F>) -> Self::Config {
        unreachable!("configured with params")
    }

    fn synthesize(&self, config: Self::Config, mut layouter: impl Layouter<F>) -> Result<(), Error> {
        if config.tables.is_none() && config.macs.is_none() {
            return self.builder.synthesize(config.base, layouter);
        }
        // BaseCircuitBuilder::synthesize, with the function tables and their lookups and
        // the MAC rows assigned in the same region, before the copy constraints are imposed.
        let base = &config.base;
        if let MaybeRangeConfig::WithRange(range) = &base.base {
            range.load_lookup_table(&mut layouter)?;
        } else {
            // halo2-base's own guard, and ours: range checks land in the function table
            // only with range_in_table and table columns.
            assert!(
                (self.range_in_table && config.tables.is_some())
                    || self.builder.statistics().total_lookup_advice_per_phase.iter().all(|n| *n == 0),
                "range lookups were queued but the circuit was configured without a RangeConfig"
            );
        }
        let builder = &self.builder;
        layouter.assign_region(
            || "model",
            |mut region| {
                let usable_rows = base.gate().max_rows;
                builder.core().phase_manager[0].assign_raw(&(base.gate().basic_gates[0].clone(), usable_rows), &mut region);
                if let MaybeRangeConfig::WithRange(range) = &base.base {
                    builder.assign_lookups_in_phase(range, &mut region, 0);
                }
                if let Some(tables) = &config.tables {
                    // Shares the builder's lookup managers: its range checks.
                    let chip = self.range_in_table.then(|| builder.range_chip());
                    let range = chip.as_ref().map(|c| RangeRows { cells: &c.lookup_manager()[0], lookup_bits: c.lookup_bits() });
                    self.tables.assign(tables, &mut region, range);
                }
                if let (Some(cfg), Some(macs)) = (&config.macs, &self.macs) {
                    macs.assign(cfg, crate::shape::usable_rows(builder.params().k as u32), &mut region);
                }
                if !builder.witness_gen_only() {
                    builder.core().copy_manager.assign_raw(base.constants(), &mut region);
                }
                Ok(())
            },
        )?;
        builder.assign_instances(&base.instance, layouter.namespace(|| "expose"));
        Ok(())
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

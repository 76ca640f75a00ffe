//! Compiling a model too large for one circuit as segments ([`zkinfer_circuits::segment`]):
//! calibrated and quantized once, as [`crate::compile`] does, then cut into segments that
//! each plan within `max_k`; each segment gets its own keys and Solidity verifier, handed
//! to the caller one at a time so that only one segment's proving key is in memory.
//! Proofs of the segments chain through the Poseidon hashes of the values crossing the
//! cuts ([`zkinfer_prover::segments`], `ZkinferSegmentChain.sol` on-chain).

use std::ops::Range;

use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr};
use halo2_base::halo2_proofs::poly::commitment::Params;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use zkinfer_circuits::segment::{plan_segments, PlannedSegment};
use zkinfer_circuits::{InstanceLayout, LayoutStats, PlanOptions, VisibilityConfig};
use zkinfer_models::quant::QuantGraph;
use zkinfer_prover::halo2::{self as h2, Halo2Keys};
use zkinfer_prover::Backend;
use zkinfer_verifier_contracts::{compile_halo2_verifier, halo2_verifier_source, VerifierContracts};

use crate::calibration::Chosen;
use crate::compile::{calibrate, CompileInput, Environment};
use crate::error::CompileError;
use crate::keycache::KeyCache;
use crate::options::CompileOptions;
use crate::progress::{step, Progress};
use crate::srs::{srs_for, SrsInfo};

/// How to cut a model into segments.
#[derive(Clone, Copy, Debug)]
pub struct SegmentOptions {
    /// Largest `k` of any segment.
    pub max_k: u32,
    /// Segments to start with (0: as many as the model's cells need); a segment that
    /// does not fit `max_k` is cut again.
    pub parts: usize,
}

/// A model quantized once and cut into planned segments.
pub struct SegmentedPlan {
    pub chosen: Chosen,
    /// The first sample's quantized inputs.
    pub qin: Vec<Vec<i64>>,
    pub segments: Vec<PlannedSegment>,
}

impl SegmentedPlan {
    /// The whole model's quantized graph.
    pub fn quant(&self) -> &QuantGraph {
        &self.chosen.prepared.quant
    }
}

/// Calibrates and quantizes as [`crate::compile`] does (at the options' own scale: the
/// fine/coarse comparison is made per whole circuit and does not apply to segments),
/// then cuts the model into segments that plan within `seg.max_k`.
pub fn plan_segmented(
    input: &CompileInput<'_>,
    opts: &CompileOptions,
    seg: &SegmentOptions,
    progress: &dyn Progress,
) -> Result<SegmentedPlan, CompileError> {
    opts.validate()?;
    if opts.backend != Backend::Halo2 {
        return Err(CompileError::Input("segments are proved with the halo2 backend only".into()));
    }
    if opts.private_params() {
        return Err(CompileError::Input(
            "segments need fixed parameters (private or hashed parameters name nodes of the whole graph)".into(),
        ));
    }
    let (chosen, qin) = calibrate(input, opts, &opts.quant_options(), "", progress)?;
    let plan_opts = PlanOptions { max_k: seg.max_k, ..opts.plan_options() };
    let segments = step(
        progress,
        "cut into segments and plan each",
        || plan_segments::<Fr>(&chosen.prepared.quant, &qin, &plan_opts, seg.parts).map_err(CompileError::from),
        |s| {
            let ks: Vec<String> = s.iter().map(|p| p.candidates[0].stats.k.to_string()).collect();
            format!("{} segments, k = {}", s.len(), ks.join(", "))
        },
    )?;
    Ok(SegmentedPlan { chosen, qin, segments })
}

/// One compiled segment: its graph, keys, SRS and verifier.
pub struct CompiledSegment {
    pub index: usize,
    pub graph: QuantGraph,
    /// Node range of the whole graph it runs.
    pub nodes: Range<usize>,
    pub visibility: VisibilityConfig,
    pub stats: LayoutStats,
    pub params: ParamsKZG<Bn256>,
    pub srs: SrsInfo,
    pub keys: Halo2Keys,
    pub verifier: VerifierContracts,
    /// Public instances of its proofs (what `ZkinferSegmentChain` is told).
    pub num_instances: usize,
}

/// Key generation and the Solidity verifier for every segment of `plan`, in order; each
/// segment is handed to `sink` before the next is made (the caller stores and drops it).
pub fn compile_segments(
    plan: &SegmentedPlan,
    env: &Environment,
    cache: &dyn KeyCache,
    progress: &dyn Progress,
    sink: &mut dyn FnMut(CompiledSegment) -> Result<(), CompileError>,
) -> Result<(), CompileError> {
    let n = plan.segments.len();
    // Segments mostly share a k: the SRS is loaded (or downsized) once per k.
    let mut last_srs: Option<(ParamsKZG<Bn256>, SrsInfo)> = None;
    for (index, s) in plan.segments.iter().enumerate() {
        let planned = &s.candidates[0];
        let k = planned.stats.k;
        let (params, srs) = match last_srs.take() {
            Some((params, srs)) if params.k() == k => (params, srs),
            _ => srs_for(&env.srs, k, cache)?,
        };
        last_srs = Some((params.clone(), srs.clone()));
        let keys = step(
            progress,
            &format!("segment {}/{n}: key generation (k = {k})", index + 1),
            || h2::keygen(&params, &s.graph, &s.sample, &planned.shape).map_err(CompileError::from),
            |_| format!("{} advice columns, {} rows", planned.stats.num_advice, planned.stats.rows),
        )?;
        let num_instances = InstanceLayout::new(&s.graph, &s.visibility).len();
        let verifier = step(
            progress,
            &format!("segment {}/{n}: Solidity verifier", index + 1),
            || compile_halo2_verifier(&env.solc, halo2_verifier_source(&params, keys.vk(), num_instances)).map_err(CompileError::from),
            |v| format!("{} bytes of runtime code", v.largest_runtime()),
        )?;
        sink(CompiledSegment {
            index,
            graph: s.graph.clone(),
            nodes: s.nodes.clone(),
            visibility: s.visibility,
            stats: planned.stats.clone(),
            params,
            srs,
            keys,
            verifier,
            num_instances,
        })?;
    }
    Ok(())
}

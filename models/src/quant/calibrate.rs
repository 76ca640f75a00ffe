//! Choosing the fixed-point scales from calibration samples.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::eval::eval_all;
use crate::ir::{Graph, ValueId};
use crate::ops::{Arith, Op};
use crate::tensor::Tensor;

/// Knobs of the quantizer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QuantOptions {
    /// Activations satisfy `|q| < 2^(bits-1)`; range checks cost `bits / lookup_bits` limbs.
    pub bits: u32,
    /// Upper bound for the activation scale.
    pub max_scale: u32,
    /// Upper bound for the weight scale.
    pub max_param_scale: u32,
    /// Integer weights are kept below `2^param_bits`.
    pub param_bits: u32,
    /// Fixed activation scale instead of the calibrated one.
    pub scale: Option<u32>,
    /// Fixed weight scale instead of the calibrated one.
    pub param_scale: Option<u32>,
    /// Head-room factor over the calibrated maximum (2 = one spare bit).
    pub headroom: f64,
    /// Lookup tables hold at most `2^table_bits` entries (their input resolution is
    /// lowered until the calibrated range fits).
    #[serde(default = "default_table_bits")]
    pub table_bits: u32,
    /// Weights and biases will be private witnesses (`--param-visibility private|hashed`):
    /// the quantized graph's structure (which terms exist, every shift) must then not
    /// depend on their values, and [`super::QuantGraph::params`] lists them.
    #[serde(default)]
    pub private_params: bool,
}

fn default_table_bits() -> u32 {
    12
}

impl Default for QuantOptions {
    fn default() -> Self {
        QuantOptions {
            bits: 32,
            max_scale: 20,
            max_param_scale: 20,
            param_bits: 24,
            scale: None,
            param_scale: None,
            headroom: 2.0,
            table_bits: default_table_bits(),
            private_params: false,
        }
    }
}

/// What calibration saw and chose.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Calibration {
    /// Largest absolute activation over all samples.
    pub max_abs: f64,
    /// Largest absolute weight (multiplicative constant).
    pub max_weight: f64,
    pub scale: u32,
    pub param_scale: u32,
    pub bits: u32,
    pub samples: usize,
    /// Float `(min, max)` of every non-constant value over all samples (tables are
    /// generated over these ranges).
    #[serde(default)]
    pub ranges: BTreeMap<ValueId, (f64, f64)>,
    /// Table size bound and head-room used when quantizing.
    #[serde(default = "default_table_bits")]
    pub table_bits: u32,
    #[serde(default = "default_headroom")]
    pub headroom: f64,
    /// From [`QuantOptions::private_params`].
    #[serde(default)]
    pub private_params: bool,
}

fn default_headroom() -> f64 {
    2.0
}

/// Runs the float graph on every sample and chooses power-of-two scales so that all
/// activations, with head-room, fit `bits` and weights fit `param_bits`.
pub fn calibrate(graph: &Graph, samples: &[Vec<Tensor>], opts: &QuantOptions) -> Result<Calibration> {
    if !(8..=64).contains(&opts.bits) {
        return Err(ModelError::Quantization(format!("bits must be within 8..=64, got {}", opts.bits)));
    }
    let mut max_abs: f64 = 0.0;
    let mut ranges: BTreeMap<ValueId, (f64, f64)> = BTreeMap::new();
    let mut constants_used_as_activations = Vec::new();
    for sample in samples {
        let vals = eval_all(graph, sample)?;
        for id in graph.inputs.iter().copied().chain(graph.nodes.iter().map(|n| n.output)) {
            if let Some(t) = &vals[id] {
                max_abs = t.data.iter().fold(max_abs, |m, v| m.max(v.abs()));
                let r = ranges.entry(id).or_insert((f64::INFINITY, f64::NEG_INFINITY));
                for &v in &t.data {
                    *r = (r.0.min(v), r.1.max(v));
                }
            }
        }
    }
    for &o in &graph.outputs {
        if let Some(t) = graph.constant(o) {
            constants_used_as_activations.push(t);
        }
    }
    for t in constants_used_as_activations {
        max_abs = t.data.iter().fold(max_abs, |m, v| m.max(v.abs()));
    }
    if !max_abs.is_finite() {
        return Err(ModelError::Quantization("the float model produces non-finite values on the calibration input".into()));
    }
    let mut max_weight: f64 = 0.0;
    for node in &graph.nodes {
        let multiplicative = matches!(node.op, Op::Linear(_) | Op::Conv(_) | Op::Arith(Arith::Mul));
        if multiplicative {
            for &i in &node.inputs {
                if let Some(t) = graph.constant(i) {
                    max_weight = t.data.iter().fold(max_weight, |m, v| m.max(v.abs()));
                }
            }
        }
    }
    let log2 = |x: f64| if x > 0.0 { x.log2() } else { f64::NEG_INFINITY };
    let fit = |budget: f64, max: f64, cap: u32| -> u32 {
        let s = (budget - log2(max)).floor();
        if s.is_finite() {
            s.clamp(0.0, cap as f64) as u32
        } else {
            cap
        }
    };
    let scale = opts.scale.unwrap_or_else(|| fit(opts.bits as f64 - 1.0 - log2(opts.headroom).max(0.0), max_abs, opts.max_scale));
    let param_scale = opts.param_scale.unwrap_or_else(|| fit(opts.param_bits as f64 - 1.0, max_weight, opts.max_param_scale));
    let needed = max_abs * opts.headroom * 2f64.powi(scale as i32);
    if needed >= 2f64.powi(opts.bits as i32 - 1) {
        return Err(ModelError::Quantization(format!(
            "activations up to {max_abs:.4e} do not fit {} bits at scale 2^{scale}; raise the activation bits (`bits`) or lower the activation scale (`scale`)",
            opts.bits
        )));
    }
    Ok(Calibration {
        max_abs,
        max_weight,
        scale,
        param_scale,
        bits: opts.bits,
        samples: samples.len(),
        ranges,
        table_bits: opts.table_bits,
        headroom: opts.headroom,
        private_params: opts.private_params,
    })
}

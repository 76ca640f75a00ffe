//! The calibration search behind the `target` and `max_error` options.
//!
//! Candidates are quantization settings (activation scale, table resolution). Each is
//! quantized and run through the integer interpreter on every calibration sample; its
//! error is the worst relative error (over the output's range) against the float model.
//! `accuracy` takes the most precise setting, `resources` the cheapest one that still
//! meets `max_error`; when none does, compile refuses and says how close it got.

use serde::{Deserialize, Serialize};
use zkinfer_models::onnx::ShapeHints;
use zkinfer_models::prepare::{prepare, FidelityReport, Prepared};
use zkinfer_models::quant::{Calibration, QuantOptions};

use crate::error::CompileError;

/// What the search optimizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The most precise setting (largest scales, finest tables).
    #[default]
    Accuracy,
    /// The cheapest setting (smaller scales and tables) within `max_error`.
    Resources,
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "accuracy" => Ok(Target::Accuracy),
            "resources" => Ok(Target::Resources),
            other => Err(format!("unknown target `{other}` (accuracy or resources)")),
        }
    }
}

/// One setting tried, with its worst error over the calibration samples.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tried {
    pub scale: u32,
    pub table_bits: u32,
    pub max_rel_error: f64,
    pub max_abs_error: f64,
}

/// The chosen setting and its fidelity on the first sample.
pub struct Chosen {
    pub prepared: Prepared,
    pub fidelity: FidelityReport,
    pub tried: Vec<Tried>,
}

fn evaluate(p: &Prepared, samples: &[Vec<Vec<f64>>], reference0: Option<&[Vec<f64>]>) -> Result<(FidelityReport, f64, f64), CompileError> {
    let mut first = None;
    let (mut rel, mut abs) = (0.0f64, 0.0f64);
    for (i, s) in samples.iter().enumerate() {
        let reference = match (i, reference0) {
            (0, Some(r)) => r.to_vec(),
            _ => p.float_outputs(s)?,
        };
        let f = p.fidelity(s, &reference)?;
        rel = rel.max(f.max_rel_error());
        abs = abs.max(f.max_abs_error());
        first.get_or_insert(f);
    }
    Ok((first.expect("at least one sample"), rel, abs))
}

/// The finest scale calibration chose before it could go to `QuantOptions::max_scale`
/// (2^20): the fallback when a finer scale widens the circuit.
pub const COARSE_SCALE: u32 = 16;

/// For `accuracy`, when calibration chose a scale finer than [`COARSE_SCALE`] by itself,
/// the same options capped at it: compile plans both and keeps the finer one only when
/// it is nearly as cheap and more precise.
pub fn coarser(base: &QuantOptions, target: Target, chosen: &Calibration) -> Option<QuantOptions> {
    let calibrated =
        (base.scale.is_none() && chosen.scale > COARSE_SCALE) || (base.param_scale.is_none() && chosen.param_scale > COARSE_SCALE);
    (target == Target::Accuracy && calibrated).then(|| QuantOptions {
        max_scale: base.max_scale.min(COARSE_SCALE),
        max_param_scale: base.max_param_scale.min(COARSE_SCALE),
        ..base.clone()
    })
}

/// Searches quantization settings for `target` within `max_error` (relative).
pub fn search(
    onnx: &[u8],
    samples: &[Vec<Vec<f64>>],
    hints: &ShapeHints,
    base: &QuantOptions,
    reference0: Option<&[Vec<f64>]>,
    target: Target,
    max_error: f64,
) -> Result<Chosen, CompileError> {
    let calibrated = prepare(onnx, samples, hints, base)?;
    let s0 = match target {
        Target::Accuracy => calibrated.calibration.scale,
        // The cheap end of the ladder stays where it was before scales above 2^16.
        Target::Resources => calibrated.calibration.scale.min(COARSE_SCALE),
    };
    let tb0 = base.table_bits;
    // Explicit scales are a single candidate; otherwise from most to least precise.
    let mut candidates: Vec<(u32, u32)> = if base.scale.is_some() {
        vec![(s0, tb0)]
    } else {
        (0..=4u32).map(|d| (s0.saturating_sub(2 * d).max(2), tb0.saturating_sub(d).max(6))).collect()
    };
    candidates.dedup();
    if target == Target::Resources {
        candidates.reverse();
    }
    let mut tried = Vec::new();
    for (scale, table_bits) in candidates {
        let opts = QuantOptions { scale: Some(scale), table_bits, ..base.clone() };
        let p = match prepare(onnx, samples, hints, &opts) {
            Ok(p) => p,
            Err(_) => continue,
        };
        let (fidelity, rel, abs) = match evaluate(&p, samples, reference0) {
            Ok(x) => x,
            Err(_) => continue,
        };
        tried.push(Tried { scale, table_bits, max_rel_error: rel, max_abs_error: abs });
        if rel <= max_error {
            return Ok(Chosen { prepared: p, fidelity, tried });
        }
        if target == Target::Accuracy {
            // Less precise settings will not do better.
            break;
        }
    }
    let best = tried.iter().map(|t| t.max_rel_error).fold(f64::INFINITY, f64::min);
    Err(CompileError::MaxError {
        max_error,
        best,
        samples: samples.len(),
        tried: tried.iter().map(|t| format!("scale 2^{} tables 2^{}", t.scale, t.table_bits)).collect::<Vec<_>>().join(", "),
    })
}

//! How far the quantized model is from the float model.

use serde::{Deserialize, Serialize};

/// Fidelity of one output tensor.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Fidelity {
    pub max_abs_error: f64,
    /// Max absolute error over the range (max - min) of the float output (or its max |x|).
    pub max_rel_error: f64,
    /// Whether argmax of both agrees (meaningful for classifiers).
    pub argmax_agrees: bool,
}

fn argmax(v: &[f64]) -> Option<usize> {
    v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i)
}

/// Compares a quantized (dequantized) output with the float reference.
pub fn compare(reference: &[f64], got: &[f64]) -> Fidelity {
    let max_abs_error = reference.iter().zip(got).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let lo = reference.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = reference.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mag = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let range = if hi - lo > 0.0 { hi - lo } else { mag };
    let max_rel_error = if range > 0.0 { max_abs_error / range } else { max_abs_error };
    Fidelity { max_abs_error, max_rel_error, argmax_agrees: argmax(reference) == argmax(got) }
}

//! From ONNX bytes and calibration samples to a quantized graph, with its fidelity.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::eval::{eval, shape_inputs};
use crate::fidelity::{compare, Fidelity};
use crate::input_json::InputData;
use crate::interp;
use crate::ir::Graph;
use crate::onnx::{load_model, ShapeHints};
use crate::quant::{calibrate, quantize, Calibration, QuantGraph, QuantOptions};

/// A model ready for circuits.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub graph: Graph,
    pub calibration: Calibration,
    pub quant: QuantGraph,
}

/// Fidelity of the quantized model against the float graph on one sample, per output.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FidelityReport {
    pub outputs: Vec<Fidelity>,
}

impl FidelityReport {
    /// The worst absolute error over all outputs.
    pub fn max_abs_error(&self) -> f64 {
        self.outputs.iter().map(|f| f.max_abs_error).fold(0.0, f64::max)
    }

    /// The worst relative error over all outputs.
    pub fn max_rel_error(&self) -> f64 {
        self.outputs.iter().map(|f| f.max_rel_error).fold(0.0, f64::max)
    }
}

/// Static shapes for the graph inputs from the first sample (and explicit shapes).
pub fn hints_for(samples: &[Vec<Vec<f64>>], shapes: Option<Vec<Vec<usize>>>) -> ShapeHints {
    ShapeHints { shapes, lengths: samples.first().map(|s| s.iter().map(|v| v.len()).collect()) }
}

/// [`prepare`] calibrated on every sample of an `input.json` (its shapes as hints);
/// returns the samples too.
pub fn prepare_input(onnx: &[u8], input: &InputData, opts: &QuantOptions) -> Result<(Prepared, Vec<Vec<Vec<f64>>>)> {
    let samples = input.samples();
    let p = prepare(onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), opts)?;
    Ok((p, samples))
}

/// Loads, calibrates on `samples` (flat inputs in graph order) and quantizes.
pub fn prepare(onnx: &[u8], samples: &[Vec<Vec<f64>>], hints: &ShapeHints, opts: &QuantOptions) -> Result<Prepared> {
    let graph = crate::passes::optimize(load_model(onnx, hints)?);
    let tensors = samples.iter().map(|s| shape_inputs(&graph, s)).collect::<Result<Vec<_>>>()?;
    let calibration = calibrate(&graph, &tensors, opts)?;
    let quant = quantize(&graph, &calibration)?;
    Ok(Prepared { graph, calibration, quant })
}

impl Prepared {
    /// Float outputs (f64 graph evaluation) for one sample.
    pub fn float_outputs(&self, sample: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
        let t = shape_inputs(&self.graph, sample)?;
        Ok(eval(&self.graph, &t)?.into_iter().map(|t| t.data).collect())
    }

    /// Dequantized outputs of the integer interpreter for one sample.
    pub fn quantized_outputs(&self, sample: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
        let qin = interp::quantize_inputs(&self.quant, sample)?;
        let trace = interp::run(&self.quant, &qin)?;
        Ok(trace.outputs(&self.quant).iter().map(|o| o.iter().map(|q| self.quant.dequantize(*q)).collect()).collect())
    }

    /// Fidelity against a float reference (ONNX Runtime's, or [`Self::float_outputs`]).
    pub fn fidelity(&self, sample: &[Vec<f64>], reference: &[Vec<f64>]) -> Result<FidelityReport> {
        let got = self.quantized_outputs(sample)?;
        Ok(FidelityReport { outputs: reference.iter().zip(&got).map(|(r, g)| compare(r, g)).collect() })
    }
}

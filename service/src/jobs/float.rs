//! The optimistic float answer of a job: ONNX Runtime when it is installed and accepts
//! the model, otherwise zkinfer's f64 evaluator of the imported graph (flagged as such).
//!
//! The imported graph, with input shapes resolved from the model's calibration data,
//! also validates inputs: a sample must have one flat list per graph input, each of
//! exactly the input's element count.

use std::sync::Mutex;

use zkinfer_models::eval::{eval, shape_inputs};
use zkinfer_models::float::{Device, FloatError, FloatModel, OrtLibrary};
use zkinfer_models::onnx::load_model;
use zkinfer_models::prepare::hints_for;
use zkinfer_models::{Graph, ModelError, Tensor};

use crate::store::{FloatSource, TensorValue};

/// A model ready for float inference.
pub struct FloatRuntime {
    graph: Graph,
    /// `None` when ONNX Runtime is missing or rejected the model.
    ort: Option<Mutex<FloatModel>>,
}

impl FloatRuntime {
    /// Imports the model (shapes resolved from the first calibration sample and
    /// `input_shapes`) and opens an ONNX Runtime session if `ort` names a library that
    /// loads it.
    pub fn load(
        ort: Result<&OrtLibrary, FloatError>,
        onnx: &[u8],
        calibration: &[Vec<Vec<f64>>],
        input_shapes: Option<Vec<Vec<usize>>>,
    ) -> Result<FloatRuntime, ModelError> {
        let graph = load_model(onnx, &hints_for(calibration, input_shapes))?;
        let ort = match ort.and_then(|library| FloatModel::load(library, onnx, Device::Cpu)) {
            Ok(m) => Some(Mutex::new(m)),
            Err(e) => {
                tracing::info!("float answers from the f64 evaluator: {e}");
                None
            }
        };
        Ok(FloatRuntime { graph, ort })
    }

    /// Shapes of the graph inputs.
    pub fn input_shapes(&self) -> Vec<Vec<usize>> {
        self.graph.inputs.iter().map(|&id| self.graph.shape(id).to_vec()).collect()
    }

    /// Checks a sample against the graph inputs and shapes it.
    pub fn validate(&self, sample: &[Vec<f64>]) -> Result<Vec<Tensor>, String> {
        if sample.len() != self.graph.inputs.len() {
            return Err(format!("the model has {} input(s), got {}", self.graph.inputs.len(), sample.len()));
        }
        if let Some((i, j)) = sample.iter().enumerate().find_map(|(i, v)| v.iter().position(|x| !x.is_finite()).map(|j| (i, j))) {
            return Err(format!("inputs[{i}][{j}] is not a finite number"));
        }
        shape_inputs(&self.graph, sample).map_err(|e| e.to_string())
    }

    /// Float outputs for a sample validated by [`Self::validate`].
    pub fn answer(&self, inputs: &[Tensor]) -> Result<(Vec<TensorValue>, FloatSource), ModelError> {
        if let Some(ort) = &self.ort {
            let mut m = ort.lock().unwrap_or_else(|p| p.into_inner());
            match m.run(inputs) {
                Ok(outs) => return Ok((values(outs), FloatSource::OnnxRuntime)),
                Err(e) => tracing::warn!("ONNX Runtime failed, answering with the f64 evaluator: {e}"),
            }
        }
        Ok((values(eval(&self.graph, inputs)?), FloatSource::F64Evaluator))
    }
}

fn values(ts: Vec<Tensor>) -> Vec<TensorValue> {
    ts.into_iter().map(|t| TensorValue { shape: t.shape, data: t.data }).collect()
}

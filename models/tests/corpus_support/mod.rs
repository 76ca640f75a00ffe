//! Corpus models for the models crate's tests.

use zkinfer_models::input_json::InputData;
use zkinfer_models::prepare::{prepare_input, Prepared};
use zkinfer_models::QuantOptions;

pub const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");

/// Corpus model `name` calibrated on its input.json with default options, and the
/// samples in that file.
pub fn prepared(name: &str) -> (Prepared, Vec<Vec<Vec<f64>>>) {
    let dir = format!("{CORPUS}/{name}");
    let onnx = std::fs::read(format!("{dir}/network.onnx")).unwrap();
    let input = InputData::from_path(format!("{dir}/input.json")).unwrap();
    prepare_input(&onnx, &input, &QuantOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

//! Compiling corpus and zoo models in tests.

#![allow(dead_code)]

use zkinfer_compiler::{compile, CompileInput, CompileOptions, CompiledModel, Environment, NoCache, Silent};
use zkinfer_models::input_json::{ExpectedOutput, InputData};

pub const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");
pub const ZOO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/zoo");

/// A model folder's files: `network.onnx`, `input.json` and, when present,
/// `expected_output.json` (onnxruntime's outputs: the fidelity reference).
pub struct Folder {
    pub onnx: Vec<u8>,
    pub input: InputData,
    pub expected: Option<ExpectedOutput>,
}

impl Folder {
    pub fn read(dir: &str) -> Folder {
        Folder {
            onnx: std::fs::read(format!("{dir}/network.onnx")).unwrap_or_else(|e| panic!("{dir}: {e}")),
            input: InputData::from_path(format!("{dir}/input.json")).unwrap_or_else(|e| panic!("{dir}: {e}")),
            expected: ExpectedOutput::from_path(format!("{dir}/expected_output.json")).ok(),
        }
    }

    /// Compiles with `opts`, the insecure test SRS and no key cache.
    pub fn compile(&self, opts: &CompileOptions) -> Result<CompiledModel, zkinfer_compiler::CompileError> {
        let samples = self.input.samples();
        let input = CompileInput {
            onnx: &self.onnx,
            samples: &samples,
            input_shapes: self.input.input_shapes.as_deref(),
            reference: self.expected.as_ref().map(|e| e.output_data.as_slice()),
        };
        compile(&input, opts, &Environment::default(), &NoCache, &Silent)
    }
}

/// A corpus model compiled with `opts`; panics naming the model on failure.
pub fn compile_corpus(name: &str, opts: &CompileOptions) -> (Folder, CompiledModel) {
    let f = Folder::read(&format!("{CORPUS}/{name}"));
    let c = f.compile(opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    (f, c)
}

//! Compiling corpus and zoo models in tests.

#![allow(dead_code)]

use std::path::PathBuf;

use zkinfer_compiler::{compile, CompileInput, CompileOptions, CompiledModel, Environment, NoCache, Silent};
use zkinfer_models::input_json::{ExpectedOutput, InputData};
use zkinfer_verifier_contracts::Solc;

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
        compile(&input, opts, &Environment::new(solc()), &NoCache, &Silent)
    }
}

/// The solc that scripts/setup.sh installs (the compiler reads no environment; the zkinfer
/// binary finds it in `zkinfer_service::environment`): `ZKINFER_SOLC_DIR`, else
/// `$ZKINFER_HOME/solc` (default `~/.cache/zkinfer/solc`), run by `ZKINFER_NODE` (default `node`).
pub fn solc() -> Solc {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = var("ZKINFER_HOME").unwrap_or_else(|| var("HOME").unwrap_or_default().join(".cache/zkinfer"));
    Solc::in_dir(var("ZKINFER_NODE").unwrap_or_else(|| "node".into()), &var("ZKINFER_SOLC_DIR").unwrap_or_else(|| home.join("solc")))
}

/// A corpus model compiled with `opts`; panics naming the model on failure.
pub fn compile_corpus(name: &str, opts: &CompileOptions) -> (Folder, CompiledModel) {
    let f = Folder::read(&format!("{CORPUS}/{name}"));
    let c = f.compile(opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    (f, c)
}

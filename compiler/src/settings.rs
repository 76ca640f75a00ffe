//! Everything about a compiled model that is not a key: written as `settings.json`,
//! stored by the service, and enough (with the quantized graph and the keys) to load
//! the model's [`zkinfer_prover::Prover`] again.

use serde::{Deserialize, Serialize};
use zkinfer_circuits::{CircuitShape, LayoutStats, VisibilityConfig};
use zkinfer_models::prepare::FidelityReport;
use zkinfer_models::quant::Calibration;
use zkinfer_prover::Backend;

use crate::calibration::Tried;
use crate::keycache::files;
use crate::options::CompileOptions;
use crate::srs::SrsInfo;

/// The settings format this version writes; older ones are refused with a request to
/// compile again.
pub const SETTINGS_FORMAT: u32 = 2;

/// A compiled model's settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    pub format_version: u32,
    /// SHA-256 of the ONNX file.
    pub model_hash: String,
    /// Names the circuit and its keys (see [`crate::compile`] for the recipe).
    pub settings_hash: String,
    /// The options compiled with.
    pub options: CompileOptions,
    pub input_shapes: Vec<Vec<usize>>,
    pub output_shapes: Vec<Vec<usize>>,
    pub calibration: Calibration,
    /// The calibration settings tried, and the chosen one's error on the first sample.
    pub fidelity: FidelityReport,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<Tried>,
    /// Public instances of a proof.
    pub num_instances: usize,
    /// Runtime code of the verifier's largest contract (EIP-170 limits each).
    pub verifier_runtime_bytes: usize,
    /// Contracts to deploy: 1, or the parts of a split verifier and its entry.
    pub verifier_contracts: usize,
    /// What a user should know about this compilation (e.g. what a key serves).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The backend's circuit.
    #[serde(flatten)]
    pub circuit: CircuitSettings,
}

/// The backend's part of the settings, tagged by `backend`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
// One per compiled model, never in bulk: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum CircuitSettings {
    /// A halo2 circuit: its shape (with keygen's break points), statistics and SRS.
    Halo2 { shape: CircuitShape, stats: LayoutStats, srs: SrsInfo },
    /// An R1CS circuit with a circuit-specific setup: `local` (generated on the machine
    /// that compiled), `imported` or `cached`; its proving key is cached under `key_id`.
    Groth16 { setup: String, key_id: String, num_constraints: usize },
}

impl Settings {
    /// The backend.
    pub fn backend(&self) -> Backend {
        match self.circuit {
            CircuitSettings::Halo2 { .. } => Backend::Halo2,
            CircuitSettings::Groth16 { .. } => Backend::Groth16,
        }
    }

    /// Which values are public, private or hashed.
    pub fn visibility(&self) -> VisibilityConfig {
        match &self.circuit {
            CircuitSettings::Halo2 { shape, .. } => shape.visibility,
            CircuitSettings::Groth16 { .. } => VisibilityConfig::default(),
        }
    }

    /// The circuit's `k` (halo2), `None` for Groth16.
    pub fn k(&self) -> Option<u32> {
        match &self.circuit {
            CircuitSettings::Halo2 { stats, .. } => Some(stats.k),
            CircuitSettings::Groth16 { .. } => None,
        }
    }

    /// The halo2 layout statistics, `None` for Groth16.
    pub fn stats(&self) -> Option<&LayoutStats> {
        match &self.circuit {
            CircuitSettings::Halo2 { stats, .. } => Some(stats),
            CircuitSettings::Groth16 { .. } => None,
        }
    }

    /// The SRS the model was compiled with (halo2).
    pub fn srs(&self) -> Option<&SrsInfo> {
        match &self.circuit {
            CircuitSettings::Halo2 { srs, .. } => Some(srs),
            CircuitSettings::Groth16 { .. } => None,
        }
    }

    /// Where the proving key is cached: the key id and the file name.
    pub fn proving_key(&self) -> (&str, &'static str) {
        match &self.circuit {
            CircuitSettings::Halo2 { .. } => (&self.settings_hash, files::HALO2_PK),
            CircuitSettings::Groth16 { key_id, .. } => (key_id, files::GROTH16_PK),
        }
    }

    /// Parses `settings.json`; settings of another format are refused, naming it.
    pub fn from_json(bytes: &[u8]) -> Result<Settings, String> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let format = v.get("format_version").and_then(|f| f.as_u64()).unwrap_or(0);
        if format != u64::from(SETTINGS_FORMAT) {
            return Err(format!("settings of format {format}, this zkinfer reads format {SETTINGS_FORMAT}: compile the model again"));
        }
        serde_json::from_value(v).map_err(|e| e.to_string())
    }
}

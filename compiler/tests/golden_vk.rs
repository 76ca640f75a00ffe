//! Golden verifying keys: every tier-1 corpus model (those with an input.json) and every
//! zoo model is quantized, planned and given a verifying key by one fixed recipe, and
//! the SHA-256 of each key is compared with `tests/golden/vk_digests.json`.
//!
//! The recipe: the compiler's own calibration, quantization and planning with default
//! options (`zkinfer_compiler::halo2::plan`, as `zkinfer compile` does, the fine/coarse
//! scale choice included) on the model's input.json, the best shape, `keygen_vk_only` on
//! `insecure_test_srs(k)`. (`compile` takes another candidate only when one within 10% of
//! the best fits one contract and the best does not: no tier-1 or zoo model.) The file pins
//! these circuits, which calibration, the lowering, the planner and the key format all feed.
//!
//! A key that changes while its quantized graph and circuit parameters do not means the
//! circuit changed: keys cached under the same settings hash, and verifiers already
//! deployed, would stop matching. So:
//! - any change fails, naming the model and both digests;
//! - `ZKINFER_BLESS=1` rewrites the file, but refuses while such a change sits under an
//!   unchanged `CIRCUIT_VERSION` (bump it first, in circuits/src/lib.rs);
//! - a `CIRCUIT_VERSION` other than the file's fails until the file is blessed again, so
//!   the version and the digests change together.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use halo2_base::halo2_proofs::halo2curves::bn256::Bn256;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zkinfer_circuits::CIRCUIT_VERSION;
use zkinfer_compiler::{CompileInput, CompileOptions, Silent};
use zkinfer_models::input_json::InputData;
use zkinfer_prover::halo2::{keygen_vk_only, write_vk};
use zkinfer_prover::srs::insecure_test_srs;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus");
const ZOO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/zoo");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/vk_digests.json");

const RECIPE: &str = "zkinfer_compiler::halo2::plan(input.json, CompileOptions::default()).candidates[0]; keygen_vk_only(insecure_test_srs(k)); sha256(write_vk)";

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Golden {
    circuit_version: String,
    recipe: String,
    models: BTreeMap<String, Entry>,
}

/// One model's key, with what it was made from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Entry {
    k: u32,
    /// SHA-256 of the quantized graph (JSON) and of the circuit parameters and visibility.
    graph_sha256: String,
    params_sha256: String,
    vk_sha256: String,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Tier-1 corpus models with an input, then the zoo models: name and folder.
fn models() -> Vec<(String, PathBuf)> {
    let catalog: serde_json::Value = serde_json::from_slice(&std::fs::read(format!("{CORPUS}/catalog.json")).unwrap()).unwrap();
    let mut out: Vec<(String, PathBuf)> = catalog["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["tier"] == 1)
        .map(|m| m["name"].as_str().unwrap().to_string())
        .map(|name| (name.clone(), Path::new(CORPUS).join(name)))
        .filter(|(_, dir)| dir.join("input.json").exists())
        .collect();
    let mut zoo: Vec<(String, PathBuf)> = std::fs::read_dir(ZOO)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|dir| dir.join("network.onnx").exists())
        .map(|dir| (format!("zoo/{}", dir.file_name().unwrap().to_string_lossy()), dir))
        .collect();
    zoo.sort();
    out.sort();
    out.extend(zoo);
    out
}

/// The recipe's key for the model in `dir`.
fn entry(name: &str, dir: &Path, srs: &mut HashMap<u32, ParamsKZG<Bn256>>) -> Entry {
    let onnx = std::fs::read(dir.join("network.onnx")).unwrap();
    let input = InputData::from_path(dir.join("input.json")).unwrap();
    let samples = input.samples();
    let ci = CompileInput { onnx: &onnx, samples: &samples, input_shapes: input.input_shapes.as_deref(), reference: None };
    let p = zkinfer_compiler::halo2::plan(&ci, &CompileOptions::default(), &Silent).unwrap_or_else(|e| panic!("{name}: plan: {e}"));
    let (quant, qin, planned) = (&p.chosen.prepared.quant, &p.qin, &p.candidates[0]);
    let k = planned.stats.k;
    let params = srs.entry(k).or_insert_with(|| insecure_test_srs(k));
    let vk = keygen_vk_only(params, quant, qin, &planned.shape).unwrap_or_else(|e| panic!("{name}: keygen: {e}"));
    let params_json = serde_json::to_vec(&(&planned.shape.params, &planned.shape.visibility)).unwrap();
    Entry {
        k,
        graph_sha256: sha256_hex(&serde_json::to_vec(quant).unwrap()),
        params_sha256: sha256_hex(&params_json),
        vk_sha256: sha256_hex(&write_vk(&vk)),
    }
}

#[test]
fn verifying_keys_match_the_golden_digests() {
    let start = std::time::Instant::now();
    let mut srs = HashMap::new();
    let now = Golden {
        circuit_version: CIRCUIT_VERSION.to_string(),
        recipe: RECIPE.to_string(),
        models: models().iter().map(|(name, dir)| (name.clone(), entry(name, dir, &mut srs))).collect(),
    };
    println!("{} verifying keys in {:.1} s", now.models.len(), start.elapsed().as_secs_f64());
    let old: Option<Golden> = std::fs::read(GOLDEN).ok().map(|b| serde_json::from_slice(&b).expect("vk_digests.json parses"));
    let bless = std::env::var("ZKINFER_BLESS").is_ok_and(|v| v == "1");
    let old_models = old.as_ref().map(|g| g.models.clone()).unwrap_or_default();
    let same_version = old.as_ref().is_some_and(|g| g.circuit_version == CIRCUIT_VERSION);

    let mut changes = Vec::new();
    // Keys that changed for the same graph and parameters: the circuit itself changed.
    let mut circuit_changes = Vec::new();
    for (name, new) in &now.models {
        match old_models.get(name) {
            None => changes.push(format!("{name}: not in the golden file (k {}, vk {})", new.k, new.vk_sha256)),
            Some(old) if old == new => {}
            Some(old) => {
                let k = if old.k == new.k { format!("k {}", new.k) } else { format!("k {} -> {}", old.k, new.k) };
                let same_inputs = old.graph_sha256 == new.graph_sha256 && old.params_sha256 == new.params_sha256;
                let why = match (old.graph_sha256 != new.graph_sha256, old.params_sha256 != new.params_sha256) {
                    (false, false) => "same quantized graph and circuit parameters: the circuit itself changed",
                    (true, false) => "the quantized graph changed",
                    (false, true) => "the planned circuit parameters changed",
                    (true, true) => "the quantized graph and the planned circuit parameters changed",
                };
                let line = format!("{name}: {k}, vk sha256 {} -> {} ({why})", old.vk_sha256, new.vk_sha256);
                if old.vk_sha256 != new.vk_sha256 && same_inputs {
                    circuit_changes.push(line.clone());
                }
                changes.push(line);
            }
        }
    }
    changes.extend(
        old_models
            .keys()
            .filter(|n| !now.models.contains_key(*n))
            .map(|n| format!("{n}: in the golden file but no longer a tier-1 or zoo model")),
    );

    if bless {
        assert!(
            !same_version || circuit_changes.is_empty(),
            "ZKINFER_BLESS=1 refused: these verifying keys changed for the same quantized graph and circuit parameters, \
             under the same CIRCUIT_VERSION ({CIRCUIT_VERSION:?}):\n  {}\n\
             Cached keys and deployed verifiers would silently stop matching. Bump CIRCUIT_VERSION in circuits/src/lib.rs, \
             then rerun with ZKINFER_BLESS=1.",
            circuit_changes.join("\n  ")
        );
        if old.as_ref() != Some(&now) {
            let mut text = serde_json::to_string_pretty(&now).unwrap();
            text.push('\n');
            std::fs::create_dir_all(Path::new(GOLDEN).parent().unwrap()).unwrap();
            std::fs::write(GOLDEN, text).unwrap();
            println!("blessed {GOLDEN}:\n  {}", changes.join("\n  "));
        }
        return;
    }
    let old = old.unwrap_or_else(|| panic!("{GOLDEN} is missing: run with ZKINFER_BLESS=1 to write it"));
    let mut problems = Vec::new();
    if old.circuit_version != CIRCUIT_VERSION {
        problems.push(format!(
            "CIRCUIT_VERSION is {CIRCUIT_VERSION:?} but the golden digests were blessed under {:?}: rerun with ZKINFER_BLESS=1 so that they go together",
            old.circuit_version
        ));
    }
    if old.recipe != RECIPE {
        problems.push(format!("the recipe changed from {:?}: rerun with ZKINFER_BLESS=1", old.recipe));
    }
    if !changes.is_empty() {
        problems.push(format!(
            "verifying keys differ from the golden digests:\n  {}\n\
             If the circuit changed (constraints or layout for the same graph and parameters), bump CIRCUIT_VERSION in \
             circuits/src/lib.rs; then rerun with ZKINFER_BLESS=1 to write {GOLDEN}.",
            changes.join("\n  ")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

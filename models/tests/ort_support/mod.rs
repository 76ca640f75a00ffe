//! Test support: the ONNX Runtime library that scripts/setup.sh installs (the library itself
//! reads no environment; the zkinfer binary finds it in `zkinfer_service::environment`).

use std::path::PathBuf;

use zkinfer_models::float::OrtLibrary;

/// `ORT_DYLIB_PATH`, else the newest `libonnxruntime.so*` / `.dylib` in the venv
/// `$ZKINFER_HOME/venv` (default `~/.cache/zkinfer/venv`).
pub fn ort() -> OrtLibrary {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(path) = var("ORT_DYLIB_PATH") {
        return OrtLibrary::new(path);
    }
    let home = var("ZKINFER_HOME").unwrap_or_else(|| var("HOME").unwrap_or_default().join(".cache/zkinfer"));
    let lib = home.join("venv/lib");
    let mut found: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| python.path().join("site-packages/onnxruntime/capi"))
        .flat_map(|capi| std::fs::read_dir(capi).into_iter().flatten().flatten())
        .filter(|f| f.file_name().to_string_lossy().starts_with("libonnxruntime."))
        .map(|f| (f.file_name().to_string_lossy().split('.').filter_map(|p| p.parse().ok()).collect(), f.path()))
        .collect();
    found.sort();
    let (_, path) =
        found.pop().unwrap_or_else(|| panic!("no libonnxruntime under {} (run scripts/setup.sh, or set ORT_DYLIB_PATH)", lib.display()));
    OrtLibrary::new(path)
}

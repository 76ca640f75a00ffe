//! Atomic file writes: a temporary file in the same folder, synced, then renamed.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::ServiceError;

/// Writes `bytes` to `path` atomically: readers see the old file or the new one, never
/// a part, even if the process is killed mid-write.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ServiceError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| ServiceError::io(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(ServiceError::io(path, e));
    }
    Ok(())
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, ServiceError> {
    fs::read(path).map_err(|e| ServiceError::io(path, e))
}

/// Reads and parses a JSON file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ServiceError> {
    let bytes = read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| ServiceError::Artifact { path: path.display().to_string(), message: e.to_string() })
}

//! Test support: the solc that scripts/setup.sh installs (the library itself reads no
//! environment; the zkinfer binary finds it the same way, in `zkinfer_service::environment`).

use std::path::PathBuf;

use zkinfer_verifier_contracts::Solc;

/// `ZKINFER_SOLC_DIR`, else `$ZKINFER_HOME/solc` (default `~/.cache/zkinfer/solc`), run by
/// `ZKINFER_NODE` (default `node`).
pub fn solc() -> Solc {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = var("ZKINFER_HOME").unwrap_or_else(|| var("HOME").unwrap_or_default().join(".cache/zkinfer"));
    Solc::in_dir(var("ZKINFER_NODE").unwrap_or_else(|| "node".into()), &var("ZKINFER_SOLC_DIR").unwrap_or_else(|| home.join("solc")))
}

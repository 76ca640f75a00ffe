//! Running the real `zkinfer` binary in tests, and tampering with proof files.

use std::process::Command;

/// Runs `zkinfer` with a private key/SRS cache (tests leave the user's ~/.cache alone);
/// returns exit code, stdout and stderr.
pub fn zkinfer(args: &[&str]) -> (i32, String, String) {
    let cache = std::env::temp_dir().join(format!("zkinfer-cli-cache-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_zkinfer")).env("ZKINFER_CACHE", cache).args(args).output().expect("runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// The proof file with one hex digit of the proof bytes flipped.
pub fn flip_proof_digit(pf: &serde_json::Value) -> serde_json::Value {
    let mut pf = pf.clone();
    let mut p = pf["proof"].as_str().unwrap().to_string();
    let i = p.len() / 2;
    let c = if &p[i..i + 1] == "0" { "1" } else { "0" };
    p.replace_range(i..i + 1, c);
    pf["proof"] = serde_json::json!(p);
    pf
}

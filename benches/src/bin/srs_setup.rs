//! `srs_setup [K] [OUT]`: generates the insecure test SRS at `K` (default 19), as `zkinfer
//! compile` does when no SRS file is given and none is cached, and prints the time and the
//! SHA-256 of its bytes (the same SRS on every machine and with every setup algorithm);
//! with `OUT`, writes it there in halo2's KZG format (what `--srs FILE` reads), to time a
//! compile as with a ceremony file.

use std::time::Instant;

use zkinfer_compiler::hash::sha256_hex;
use zkinfer_prover::srs;

fn main() {
    let k: u32 = std::env::args().nth(1).map(|s| s.parse().expect("K")).unwrap_or(19);
    let t = Instant::now();
    let params = srs::insecure_test_srs(k);
    let secs = t.elapsed().as_secs_f64();
    let bytes = srs::write_srs(&params);
    println!("k = {k}: setup {secs:.2} s, sha256 {}", sha256_hex(&bytes));
    if let Some(out) = std::env::args().nth(2) {
        std::fs::write(&out, &bytes).unwrap_or_else(|e| panic!("writing {out}: {e}"));
    }
}

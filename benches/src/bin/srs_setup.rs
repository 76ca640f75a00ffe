//! `srs_setup [K]`: generates the insecure test SRS at `K` (default 19), as `zkinfer
//! compile` does when no SRS file is given and none is cached, and prints the time and the
//! SHA-256 of its bytes (the same SRS on every machine and with every setup algorithm).

use std::time::Instant;

use zkinfer_compiler::hash::sha256_hex;
use zkinfer_prover::srs;

fn main() {
    let k: u32 = std::env::args().nth(1).map(|s| s.parse().expect("K")).unwrap_or(19);
    let t = Instant::now();
    let params = srs::insecure_test_srs(k);
    let secs = t.elapsed().as_secs_f64();
    println!("k = {k}: setup {secs:.2} s, sha256 {}", sha256_hex(&srs::write_srs(&params)));
}

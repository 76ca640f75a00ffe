//! `profile_prove MODEL_DIR [CANDIDATE | kK,wW]`: where proving time goes for one model:
//! calibration and planning (as the compiler does them), keygen, witness generation (the
//! lowering into halo2-base in prover mode) and the halo2 prover itself (MSMs, FFTs,
//! lookups, permutation), for the planner's `CANDIDATE`-th shape (0, its pick, by
//! default; `shapes MODEL_DIR` lists them in the same order), or the shape at `k = K`
//! with a `W`-wide MAC gate (`k18,w8`), as `zkinfer compile --k K --mac-width W` plans it.

use std::time::Instant;

use anyhow::Result;
use zkinfer_circuits::{CircuitBuilderStage, Fr, ModelCircuit};
use zkinfer_compiler::CompileOptions;
use zkinfer_prover::{halo2 as h2, srs};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: profile_prove MODEL_DIR [CANDIDATE | kK,wW]");
    let (candidate, opts) = match args.get(2).and_then(|a| a.strip_prefix('k')) {
        Some(forced) => {
            let (k, w) = forced.split_once(",w").ok_or_else(|| anyhow::anyhow!("expected kK,wW"))?;
            (0, CompileOptions { k: Some(k.parse()?), mac_width: Some(w.parse()?), ..Default::default() })
        }
        None => (args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(0), CompileOptions::default()),
    };
    let t = Instant::now();
    let mut m = zkinfer_benches::load_dir_with(dir, &opts)?;
    anyhow::ensure!(candidate < m.candidates.len(), "the planner weighed {} shapes", m.candidates.len());
    let planned = m.candidates.swap_remove(candidate);
    let s = &planned.stats;
    println!(
        "calibrate+quantize+plan {:8.3} s  k={} advice={} lookup={} fixed={} rows={} mac_width={} mac_sets={}",
        t.elapsed().as_secs_f64(),
        s.k,
        s.num_advice,
        s.num_lookup_advice,
        s.num_fixed,
        s.rows,
        s.mac_width,
        s.mac_sets
    );
    let params = srs::insecure_test_srs(planned.stats.k);
    let t = Instant::now();
    let keys = h2::keygen(&params, &m.quant, &m.qin, &planned.shape)?;
    println!("keygen              {:8.3} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let c = ModelCircuit::<Fr>::build(CircuitBuilderStage::Prover, &m.quant, &m.qin, &keys.shape)?;
    println!("witness generation  {:8.3} s", t.elapsed().as_secs_f64());
    drop(c);
    let t = Instant::now();
    let proof = h2::prove(&params, &keys, &m.quant, &m.qin)?;
    let total = t.elapsed().as_secs_f64();
    println!("prove (incl. witness) {:6.3} s, proof {} bytes", total, proof.proof.len());
    let t = Instant::now();
    assert!(h2::verify(&params, keys.vk(), &proof.instances, &proof.proof));
    println!("verify              {:8.3} ms", t.elapsed().as_secs_f64() * 1e3);
    println!("peak memory         {:8.1} MiB", zkinfer_benches::peak_rss() as f64 / (1 << 20) as f64);
    Ok(())
}

//! `scaling [--out DIR] [--max-params N]`: how proving cost grows with model size.
//! `scaling --write mlp|cnn SPEC DIR` writes one such model folder (e.g. for compare.py).
//!
//! Synthetic MLPs from about 10k to 2M parameters and conv nets of growing width
//! ([`zkinfer_benches::gen`]), each planned, key-generated and proved in its own child
//! process (so peak memory is per model), with the default planner. Writes
//! `DIR/scaling.md` and `DIR/scaling.json` (default `target/scaling`).

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use zkinfer_benches::gen;
use zkinfer_circuits::{plan, Fr, PlanOptions};
use zkinfer_prover::{halo2 as h2, srs};

/// MLP widths: input, hidden, hidden, 10.
const MLPS: &[[usize; 4]] =
    &[[64, 128, 16, 10], [256, 160, 64, 10], [512, 256, 128, 10], [1024, 512, 128, 10], [1024, 1024, 512, 10], [2048, 768, 256, 10]];
/// Conv nets: channels, image size, conv layers.
const CNNS: &[[usize; 3]] = &[[4, 16, 2], [8, 16, 2], [16, 16, 2], [32, 16, 2]];

/// The model bytes, its input count, parameters and multiply-accumulates.
fn generate(kind: &str, spec: &[usize]) -> Result<(Vec<u8>, usize, usize, usize)> {
    Ok(match kind {
        "mlp" => (gen::mlp(spec, 7), spec[0], gen::mlp_params(spec), gen::mlp_params(spec)),
        "cnn" => {
            let (p, m) = gen::cnn_size(spec[0], spec[1], spec[2]);
            (gen::cnn(spec[0], spec[1], spec[2], 7), spec[0] * spec[1] * spec[1], p, m)
        }
        _ => bail!("unknown kind {kind}"),
    })
}

fn one(kind: &str, spec: &[usize]) -> Result<Value> {
    let (onnx, n_in, params, macs) = generate(kind, spec)?;
    let m = zkinfer_benches::load(&onnx, &gen::input_json(n_in, 7))?;
    let t = Instant::now();
    let planned = plan::<Fr>(&m.quant, &m.qin, &PlanOptions::default())?;
    let plan_s = t.elapsed().as_secs_f64();
    let params_srs = srs::insecure_test_srs(planned.stats.k);
    let t = Instant::now();
    let keys = h2::keygen(&params_srs, &m.quant, &m.qin, &planned.shape)?;
    let keygen_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let proof = h2::prove(&params_srs, &keys, &m.quant, &m.qin)?;
    let prove_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ok = h2::verify(&params_srs, keys.vk(), &proof.instances, &proof.proof);
    let verify_ms = t.elapsed().as_secs_f64() * 1e3;
    if !ok {
        bail!("{kind} {spec:?}: the proof does not verify");
    }
    let s = &planned.stats;
    Ok(json!({
        "kind": kind, "spec": spec, "params": params, "macs": macs,
        "k": s.k, "rows": s.rows, "advice_columns": s.advice_columns(), "mac_width": s.mac_width,
        "plan_s": plan_s, "keygen_s": keygen_s, "prove_s": prove_s, "verify_ms": verify_ms,
        "proof_bytes": proof.proof.len(), "peak_rss_bytes": zkinfer_benches::peak_rss(),
    }))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str);
    if mode == Some("--one") || mode == Some("--write") {
        let (kind, spec) =
            (args.get(2).context("usage: scaling --one|--write KIND SPEC [DIR]")?, args.get(3).context("a SPEC like 64,128,16,10")?);
        let spec: Vec<usize> = spec.split(',').map(|s| s.parse()).collect::<Result<_, _>>()?;
        if mode == Some("--one") {
            println!("{}", one(kind, &spec)?);
        } else {
            // A model folder for `zkinfer` or compare.py: network.onnx and input.json.
            let dir = args.get(4).context("usage: scaling --write KIND SPEC DIR")?;
            let (onnx, n_in, _, _) = generate(kind, &spec)?;
            std::fs::create_dir_all(dir)?;
            std::fs::write(format!("{dir}/network.onnx"), onnx)?;
            std::fs::write(format!("{dir}/input.json"), gen::input_json(n_in, 7))?;
        }
        return Ok(());
    }
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let out = flag("--out").unwrap_or_else(|| "target/scaling".into());
    let max_params: usize = flag("--max-params").map(|s| s.parse()).transpose()?.unwrap_or(usize::MAX);
    std::fs::create_dir_all(&out)?;
    let mut jobs: Vec<(&str, Vec<usize>)> =
        MLPS.iter().filter(|w| gen::mlp_params(&w[..]) <= max_params).map(|w| ("mlp", w.to_vec())).collect();
    jobs.extend(CNNS.iter().map(|c| ("cnn", c.to_vec())));
    let me = std::env::current_exe()?;
    let mut rows = Vec::new();
    let mut md = String::from(
        "| model | params | MACs | k | rows | advice cols | MAC width | plan s | keygen s | prove s | verify ms | proof B | peak MiB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (kind, spec) in jobs {
        let csv = spec.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",");
        eprintln!("{kind} {csv} ...");
        let o = Command::new(&me).args(["--one", kind, &csv]).output().context("run child")?;
        if !o.status.success() {
            eprintln!("  failed: {}", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or(""));
            continue;
        }
        let stdout = String::from_utf8_lossy(&o.stdout);
        let r: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}"))?;
        let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
        md += &format!(
            "| {kind} {csv} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {:.0} |\n",
            r["params"],
            r["macs"],
            r["k"],
            r["rows"],
            r["advice_columns"],
            r["mac_width"],
            f("plan_s"),
            f("keygen_s"),
            f("prove_s"),
            f("verify_ms"),
            r["proof_bytes"],
            f("peak_rss_bytes") / (1u64 << 20) as f64
        );
        eprintln!("  k={} prove {:.2} s", r["k"], f("prove_s"));
        rows.push(r);
    }
    std::fs::write(format!("{out}/scaling.json"), serde_json::to_string_pretty(&rows)?)?;
    std::fs::write(format!("{out}/scaling.md"), &md)?;
    print!("{md}");
    Ok(())
}

//! `segments MODEL_DIR [MAX_K] [PARTS]`: a model proved as segments of at most `MAX_K`
//! (default 20), `PARTS` to start with (default 0: as many as its cells need). The model
//! is calibrated and quantized as `zkinfer compile` does; then, one segment at a time,
//! keygen and the proof (each segment's proving key is dropped before the next, so peak
//! memory is the largest segment's), and at the end the chain is verified. Prints each
//! segment's nodes, crossing values, shape and times, and the totals.

use std::time::Instant;

use anyhow::Result;
use zkinfer_circuits::cost::gas_estimate;
use zkinfer_circuits::segment::plan_segments;
use zkinfer_circuits::{Fr, InstanceLayout};
use zkinfer_compiler::CompileOptions;
use zkinfer_models::quant::QuantGraph;
use zkinfer_prover::halo2 as h2;
use zkinfer_prover::segments::{segment_inputs, verify_chain, SegmentVerifier};
use zkinfer_prover::srs;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).ok_or_else(|| anyhow::anyhow!("usage: segments MODEL_DIR [MAX_K] [PARTS]"))?;
    let max_k: u32 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(20);
    let parts: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let t = Instant::now();
    let m = zkinfer_benches::load_dir(dir)?;
    println!("calibrate+quantize+plan (whole model) {:.1} s: k = {}", t.elapsed().as_secs_f64(), m.candidates[0].stats.k);
    let opts = zkinfer_circuits::PlanOptions { max_k, ..CompileOptions::default().plan_options() };
    let t = Instant::now();
    let segs = plan_segments::<Fr>(&m.quant, &m.qin, &opts, parts)?;
    let live = m.quant.live_elements();
    println!("plan {} segments {:.1} s", segs.len(), t.elapsed().as_secs_f64());
    let graphs: Vec<QuantGraph> = segs.iter().map(|s| s.graph.clone()).collect();
    let t = Instant::now();
    let inputs = segment_inputs(&m.quant, &graphs, &m.qin)?;
    println!("witness values (interpreter) {:.2} s", t.elapsed().as_secs_f64());
    let (mut keygen_total, mut prove_total, mut proof_bytes, mut gas) = (0.0, 0.0, 0, 0);
    let mut kept = Vec::new();
    for (i, (s, ins)) in segs.iter().zip(&inputs).enumerate() {
        let p = &s.candidates[0];
        let params = srs::insecure_test_srs(p.stats.k);
        let t = Instant::now();
        let keys = h2::keygen(&params, &s.graph, &s.sample, &p.shape)?;
        let keygen = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let proof = h2::prove(&params, &keys, &s.graph, ins)?;
        let prove = t.elapsed().as_secs_f64();
        println!(
            "segment {i}: nodes {:?}, {} values cross in, k = {}, {} advice + MAC {}x{}, rows {}, verifier gas about {}: keygen {keygen:.1} s, prove {prove:.1} s, proof {} B, peak so far {:.1} GiB",
            s.nodes,
            live[s.nodes.start],
            p.stats.k,
            p.stats.num_advice,
            p.stats.mac_width,
            p.stats.mac_sets,
            p.stats.rows,
            gas_estimate(&p.stats),
            proof.proof.len(),
            zkinfer_benches::peak_rss() as f64 / (1u64 << 30) as f64
        );
        keygen_total += keygen;
        prove_total += prove;
        proof_bytes += proof.proof.len();
        gas += gas_estimate(&p.stats);
        let layout = InstanceLayout::new(&s.graph, &s.visibility);
        kept.push((params, keys.pk.get_vk().clone(), layout, proof));
    }
    let t = Instant::now();
    let verifiers: Vec<SegmentVerifier<'_>> =
        kept.iter().map(|(params, vk, layout, _)| SegmentVerifier { params, vk, layout: *layout }).collect();
    let proofs: Vec<_> = kept.iter().map(|k| k.3.clone()).collect();
    verify_chain(&verifiers, &proofs)?;
    println!(
        "total: {} segments, keygen {keygen_total:.1} s, prove {prove_total:.1} s, proofs {proof_bytes} B, verifier gas about {gas} (planner's estimate, all segments), chain verified in {:.1} ms, peak memory {:.1} GiB",
        segs.len(),
        t.elapsed().as_secs_f64() * 1e3,
        zkinfer_benches::peak_rss() as f64 / (1u64 << 30) as f64
    );
    Ok(())
}

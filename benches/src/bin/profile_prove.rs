//! `profile_prove MODEL_DIR [MAX_ADVICE]`: where proving time goes for one model:
//! calibration, planning, keygen, witness generation (the lowering into halo2-base in
//! prover mode) and the halo2 prover itself (MSMs, FFTs, lookups, permutation).

use std::time::Instant;

use anyhow::Result;
use zkinfer_circuits::{plan, CircuitBuilderStage, Fr, ModelCircuit, PlanOptions};
use zkinfer_models::input_json::InputData;
use zkinfer_models::interp;
use zkinfer_models::prepare::{hints_for, prepare};
use zkinfer_models::QuantOptions;
use zkinfer_prover::{halo2 as h2, srs};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: profile_prove MODEL_DIR [MAX_ADVICE]");
    let max_advice = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(PlanOptions::default().max_advice);
    let onnx = std::fs::read(format!("{dir}/network.onnx"))?;
    let input = InputData::from_path(format!("{dir}/input.json"))?;
    let samples = input.samples();
    let t = Instant::now();
    let p = prepare(&onnx, &samples, &hints_for(&samples, input.input_shapes.clone()), &QuantOptions::default())?;
    let qin = interp::quantize_inputs(&p.quant, &samples[0])?;
    println!("calibrate+quantize  {:8.3} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let planned = plan::<Fr>(&p.quant, &qin, &PlanOptions { max_advice, ..Default::default() })?;
    println!("plan                {:8.3} s  k={} advice={} lookup={} fixed={} rows={}", t.elapsed().as_secs_f64(),
        planned.stats.k, planned.stats.num_advice, planned.stats.num_lookup_advice, planned.stats.num_fixed, planned.stats.rows);
    let params = srs::insecure_test_srs(planned.stats.k);
    let t = Instant::now();
    let keys = h2::keygen(&params, &p.quant, &qin, &planned.shape)?;
    println!("keygen              {:8.3} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let c = ModelCircuit::<Fr>::build(CircuitBuilderStage::Prover, &p.quant, &qin, &keys.shape)?;
    println!("witness generation  {:8.3} s", t.elapsed().as_secs_f64());
    drop(c);
    let t = Instant::now();
    let proof = h2::prove(&params, &keys, &p.quant, &qin)?;
    let total = t.elapsed().as_secs_f64();
    println!("prove (incl. witness) {:6.3} s, proof {} bytes", total, proof.proof.len());
    let t = Instant::now();
    assert!(h2::verify(&params, keys.vk(), &proof.instances, &proof.proof));
    println!("verify              {:8.3} ms", t.elapsed().as_secs_f64() * 1e3);
    Ok(())
}

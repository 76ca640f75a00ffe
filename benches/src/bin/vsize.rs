//! `vsize MODEL_DIR K MAC_WIDTH MAX_ADVICE OUT.sol [private]`: the Solidity verifier of one
//! planned shape: its constraint system (degree and column counts), the unsplit source
//! (`OUT.sol`) with its runtime size and source-length estimate, and the verifier
//! `compile` would deploy (`OUT.sol.split.sol` when split), for verifier-size experiments.

use anyhow::Result;
use zkinfer_circuits::layout::{plan_candidates, PlanOptions};
use zkinfer_circuits::{Fr, InstanceLayout, Visibility};

fn main() -> Result<()> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 6 {
        anyhow::bail!("usage: vsize MODEL_DIR K MAC_WIDTH MAX_ADVICE OUT.sol [private]");
    }
    let m = zkinfer_benches::load_dir(&a[1])?;
    let mut o = PlanOptions { k: Some(a[2].parse()?), mac_width: Some(a[3].parse()?), ..Default::default() };
    o.max_advice = a[4].parse()?;
    o.max_advice_large = o.max_advice;
    if a.get(6).map(String::as_str) == Some("private") {
        o.visibility.inputs = Visibility::Private;
    }
    let plan = plan_candidates::<Fr>(&m.quant, &m.qin, &o)?.remove(0);
    println!(
        "k {}, rows {}, planner: {} advice + {} lookup columns",
        plan.stats.k, plan.stats.rows, plan.stats.num_advice, plan.stats.num_lookup_advice
    );
    let params = zkinfer_prover::srs::insecure_test_srs(plan.stats.k);
    let vk = zkinfer_prover::halo2::keygen_vk_only(&params, &m.quant, &m.qin, &plan.shape)?;
    let cs = vk.cs();
    println!(
        "degree {} advice {} fixed {} lookups {} permutation columns {} gates {}",
        cs.degree(),
        cs.num_advice_columns(),
        cs.num_fixed_columns(),
        cs.lookups().len(),
        cs.permutation().get_columns().len(),
        cs.gates().len()
    );
    let n = InstanceLayout::new(&m.quant, &plan.shape.visibility).len();
    let src = zkinfer_verifier_contracts::halo2_verifier_source(&params, &vk, n);
    std::fs::write(&a[5], &src)?;
    let c = zkinfer_verifier_contracts::compile_solidity(&zkinfer_benches::solc(), &src, None)?;
    println!(
        "instances {n}, unsplit runtime {} bytes (estimated {})",
        c.runtime_code.len(),
        zkinfer_verifier_contracts::estimated_runtime_bytes(&src)
    );
    let t = std::time::Instant::now();
    let v = zkinfer_verifier_contracts::build_halo2_verifier(&zkinfer_benches::solc(), &params, &vk, n)?;
    std::fs::write(format!("{}.split.sol", a[5]), &v.source)?;
    println!(
        "built in {:.1} s: {} contracts, largest {} bytes, parts {:?}",
        t.elapsed().as_secs_f64(),
        v.contracts(),
        v.largest_runtime(),
        v.parts.iter().map(|p| p.runtime_code.len()).collect::<Vec<_>>()
    );
    Ok(())
}

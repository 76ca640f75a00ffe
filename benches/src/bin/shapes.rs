//! `shapes MODEL_DIR [OPTIMIZE]`: every shape the layout planner weighs for a model, best
//! first, with its cost estimates ([`prove_cost`], [`verifier_cost`], [`gas_estimate`]):
//! what to check when a default pick proves slowly or verifies dearly.

use anyhow::Result;
use zkinfer_circuits::cost::{gas_estimate, prove_cost, verifier_cost};
use zkinfer_circuits::layout::{plan_candidates, PlanOptions};
use zkinfer_circuits::Fr;

fn main() -> Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let dir = a.get(1).ok_or_else(|| anyhow::anyhow!("usage: shapes MODEL_DIR [prove|gas|balanced]"))?;
    let m = zkinfer_benches::load_dir(dir)?;
    let mut o = PlanOptions::default();
    if let Some(s) = a.get(2) {
        o.optimize = s.parse().map_err(anyhow::Error::msg)?;
    }
    println!("{:>3} {:>6} {:>5} {:>6} {:>6} {:>6} {:>9} {:>10} {:>8} {:>9}", "k", "rows", "limbs", "advice", "lookup", "table", "mac w x n", "prove", "commits", "gas est");
    for p in plan_candidates::<Fr>(&m.quant, &m.qin, &o)? {
        let s = &p.stats;
        println!(
            "{:>3} {:>6} {:>5} {:>6} {:>6} {:>6} {:>5} x {:<1} {:>10} {:>8} {:>9}",
            s.k,
            s.rows,
            s.lookup_bits,
            s.num_advice,
            s.num_lookup_advice,
            // Function-table lookup column triples; `+r`: the range checks share them.
            format!("{}{}", s.table_sets, if s.range_in_table { "+r" } else { "" }),
            s.mac_width, s.mac_sets, prove_cost(s) / 1000, verifier_cost(s), gas_estimate(s)
        );
    }
    Ok(())
}

//! `shapes MODEL_DIR [OPTIMIZE]`: every shape the layout planner weighs for a model, best
//! first, with its cost estimates ([`prove_cost`], [`verifier_cost`], [`gas_estimate`]):
//! what to check when a default pick proves slowly or verifies dearly. The model is
//! quantized and planned by the compiler, as `zkinfer compile` does with these options.

use anyhow::Result;
use zkinfer_circuits::cost::{gas_estimate, prove_cost, verifier_cost};
use zkinfer_compiler::CompileOptions;

fn main() -> Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let dir = a.get(1).ok_or_else(|| anyhow::anyhow!("usage: shapes MODEL_DIR [prove|gas|balanced|speed]"))?;
    let optimize = a.get(2).map(|s| s.parse()).transpose().map_err(anyhow::Error::msg)?;
    let m = zkinfer_benches::load_dir_with(dir, &CompileOptions { optimize, ..Default::default() })?;
    println!(
        "{:>3} {:>6} {:>5} {:>6} {:>6} {:>6} {:>9} {:>10} {:>8} {:>9}",
        "k", "rows", "limbs", "advice", "lookup", "table", "mac w x n", "prove", "commits", "gas est"
    );
    for p in &m.candidates {
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
            s.mac_width,
            s.mac_sets,
            prove_cost(s) / 1000,
            verifier_cost(s),
            gas_estimate(s)
        );
    }
    Ok(())
}

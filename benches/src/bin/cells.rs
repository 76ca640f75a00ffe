//! `cells MODEL_DIR [K] [MAC_WIDTH]`: one synthesis of a model at `k` (default 20) and
//! where its advice cells go, by quantized op kind (and the ten dearest nodes), with
//! the MAC gate's terms and the function-table lookups. What to optimize first.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use zkinfer_circuits::lower::lower;
use zkinfer_circuits::{CircuitBuilderStage, Fr, ParamVisibility};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).ok_or_else(|| anyhow::anyhow!("usage: cells MODEL_DIR [K] [MAC_WIDTH]"))?;
    let k: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(20);
    let w: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(16);
    let m = zkinfer_benches::load_dir(dir)?;
    let t = Instant::now();
    let mut builder =
        BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Keygen).use_k(k).use_lookup_bits(k - 1).use_instance_columns(1);
    let lowered = lower(&mut builder, &m.quant, &m.qin, w, ParamVisibility::Fixed)?;
    println!("synthesis {:.2} s at k={k}, mac width {w}", t.elapsed().as_secs_f64());
    let stats = builder.statistics();
    let advice: usize = stats.gate.total_advice_per_phase.iter().sum();
    let lookup: usize = stats.total_lookup_advice_per_phase.iter().sum();
    let mac_terms: usize = lowered.macs.as_ref().map_or(0, |m| m.lengths().iter().sum());
    let blocks = lowered.macs.as_ref().map_or(Vec::new(), |m| m.block_rows());
    let mac_rows: usize = blocks.iter().sum();
    println!(
        "advice cells {advice}, range-lookup cells {lookup}, table lookups {}, mac dots {}, terms {mac_terms}, blocks {}, rows {mac_rows}",
        lowered.tables.num_lookups(),
        lowered.macs.as_ref().map_or(0, |m| m.len()),
        blocks.len()
    );
    let mut by: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (node, &c) in m.quant.nodes.iter().zip(&lowered.node_cells) {
        let e = by.entry(node.op.name()).or_default();
        e.0 += c;
        e.1 += node.len;
    }
    println!("{:<10} {:>12} {:>10} {:>10}", "op", "cells", "elements", "per elem");
    for (k, (c, e)) in &by {
        println!("{k:<10} {c:>12} {e:>10} {:>10.1}", *c as f64 / (*e).max(1) as f64);
    }
    let mut nodes: Vec<_> = m.quant.nodes.iter().zip(&lowered.node_cells).collect();
    nodes.sort_by_key(|(_, c)| std::cmp::Reverse(**c));
    for (n, c) in nodes.iter().take(12) {
        println!("  {:>10} {:<9} {:>7} {}", c, n.op.name(), n.len, n.name);
    }
    Ok(())
}

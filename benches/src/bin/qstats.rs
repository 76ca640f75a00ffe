//! `qstats MODEL_DIR`: what a model quantizes to, before any circuit: scales, the
//! fidelity of the integer interpreter against `expected_output.json` (or the f64
//! evaluator), and per quantized op kind the node count, elements and product terms.
//! A first look at a model that is slow or too large.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use zkinfer_models::input_json::ExpectedOutput;
use zkinfer_models::quant::QOp;

fn main() -> Result<()> {
    let dir = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: qstats MODEL_DIR"))?;
    let t = Instant::now();
    let (p, samples) = zkinfer_benches::prepare_dir(&dir)?;
    println!("prepare {:.2} s", t.elapsed().as_secs_f64());
    let q = &p.quant;
    println!("scale {} param_scale {} bits {} nodes {}", q.scale, q.param_scale, q.bits, q.nodes.len());
    let reference = match ExpectedOutput::from_path(format!("{dir}/expected_output.json")) {
        Ok(e) => e.output_data,
        Err(_) => p.float_outputs(&samples[0])?,
    };
    let f = p.fidelity(&samples[0], &reference)?;
    println!("fidelity: max abs {:.3e}, rel {:.3e}", f.max_abs_error(), f.max_rel_error());
    let floats = p.float_outputs(&samples[0])?;
    let fe = p.fidelity(&samples[0], &floats)?;
    println!("vs f64 evaluator: max abs {:.3e}, rel {:.3e}", fe.max_abs_error(), fe.max_rel_error());
    let mut by: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for n in &q.nodes {
        let terms = match &n.op {
            QOp::Linear { offsets, .. } | QOp::Bilinear { offsets, .. } => *offsets.last().unwrap_or(&0),
            QOp::Reduce { idx, .. } => idx.len(),
            QOp::Table(t) => t.values.len(),
            _ => 0,
        };
        let e = by.entry(n.op.name()).or_default();
        e.0 += 1;
        e.1 += n.len;
        e.2 += terms;
    }
    println!("{:<10} {:>6} {:>10} {:>12}", "op", "nodes", "elements", "terms/len");
    for (k, (n, e, t)) in by {
        println!("{k:<10} {n:>6} {e:>10} {t:>12}");
    }
    if std::env::args().any(|a| a == "-v") {
        for n in &q.nodes {
            let terms = match &n.op {
                QOp::Linear { offsets, shift, .. } | QOp::Bilinear { offsets, shift, .. } => {
                    format!("terms {} shift {shift}", offsets.last().unwrap_or(&0))
                }
                QOp::Table(t) => {
                    format!("table {} shift {}{}", t.values.len(), t.shift, if t.interpolates() { " interpolated" } else { "" })
                }
                _ => String::new(),
            };
            println!("  {:<9} {:>7} {} {}", n.op.name(), n.len, n.name, terms);
        }
    }
    Ok(())
}

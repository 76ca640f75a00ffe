//! `plan_times CORPUS_DIR [MODEL...]`: for every model of the corpus (or those named),
//! how long the compiler's halo2 planning takes, step by step as `zkinfer compile`
//! reports them (calibration and quantization, then the layout plan, for the fine and
//! the coarse scales), and the shape it picks. Models that do not quantize are listed
//! with their error. What the planning targets of issue 24 are measured by.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use anyhow::Result;
use zkinfer_compiler::{CompileInput, CompileOptions, Progress};
use zkinfer_models::input_json::InputData;

/// Sums the time of the layout-planning steps and of every other step.
#[derive(Default)]
struct Timer {
    current: RefCell<String>,
    plan: RefCell<Duration>,
    other: RefCell<Duration>,
}

impl Progress for Timer {
    fn start(&self, step: &str) {
        *self.current.borrow_mut() = step.to_string();
    }
    fn done(&self, _: &str, elapsed: Duration) {
        let slot = if self.current.borrow().starts_with("plan the circuit layout") { &self.plan } else { &self.other };
        *slot.borrow_mut() += elapsed;
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let corpus = args.get(1).ok_or_else(|| anyhow::anyhow!("usage: plan_times CORPUS_DIR [MODEL...]"))?;
    let mut names: Vec<String> = if args.len() > 2 {
        args[2..].to_vec()
    } else {
        std::fs::read_dir(corpus)?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("input.json").exists())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    names.sort();
    println!("{:<28} {:>9} {:>9} {:>9} {:>3} {:>9} {:>6}", "model", "total s", "layout s", "other s", "k", "rows", "mac");
    for name in names {
        let dir = format!("{corpus}/{name}");
        let onnx = std::fs::read(format!("{dir}/network.onnx"))?;
        let input = InputData::from_path(format!("{dir}/input.json"))?;
        let samples = input.samples();
        let ci = CompileInput { onnx: &onnx, samples: &samples, input_shapes: input.input_shapes.as_deref(), reference: None };
        let timer = Timer::default();
        let t = Instant::now();
        match zkinfer_compiler::halo2::plan(&ci, &CompileOptions::default(), &timer) {
            Ok(p) => {
                let s = &p.candidates[0].stats;
                println!(
                    "{name:<28} {:>9.2} {:>9.2} {:>9.2} {:>3} {:>9} {:>6}",
                    t.elapsed().as_secs_f64(),
                    timer.plan.borrow().as_secs_f64(),
                    timer.other.borrow().as_secs_f64(),
                    s.k,
                    s.rows,
                    format!("{}x{}", s.mac_width, s.mac_sets)
                );
            }
            Err(e) => println!("{name:<28} not planned: {e}"),
        }
    }
    Ok(())
}

//! Progress reporting for long steps, decoupled from the terminal.

use std::time::{Duration, Instant};

/// Receives the steps of a pipeline.
pub trait Progress {
    /// A step begins.
    fn start(&self, step: &str);
    /// The current step ends, with a short summary.
    fn done(&self, summary: &str, elapsed: Duration);
}

/// Ignores progress (library use, tests).
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str) {}
    fn done(&self, _: &str, _: Duration) {}
}

/// Runs `f` as one reported step; the summary is derived from its result.
pub fn step<T, E>(p: &dyn Progress, name: &str, f: impl FnOnce() -> Result<T, E>, summary: impl FnOnce(&T) -> String) -> Result<T, E> {
    p.start(name);
    let t0 = Instant::now();
    let out = f()?;
    p.done(&summary(&out), t0.elapsed());
    Ok(out)
}

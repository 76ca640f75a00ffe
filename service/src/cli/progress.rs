//! Terminal progress: a spinner per step on stderr, a check mark and timing when done.

use std::cell::RefCell;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use zkinfer_compiler::Progress;

/// Spinners on stderr (hidden automatically when stderr is not a terminal).
#[derive(Default)]
pub struct TermProgress {
    bar: RefCell<Option<ProgressBar>>,
}

impl Progress for TermProgress {
    fn start(&self, step: &str) {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"));
        bar.set_message(step.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        *self.bar.borrow_mut() = Some(bar);
    }

    fn done(&self, summary: &str, elapsed: Duration) {
        let step = self.bar.borrow_mut().take().map(|b| {
            let m = b.message();
            b.finish_and_clear();
            m
        });
        eprintln!("✓ {} — {summary} ({:.2} s)", step.unwrap_or_default(), elapsed.as_secs_f64());
    }
}

//! Prometheus metrics of this process, and the small HTTP endpoint that serves them
//! (`/metrics`, and `/healthz` for load balancers and orchestrators).
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `zkinfer_jobs{state}` | gauge | jobs in the store by state (all processes: the queue depth) |
//! | `zkinfer_job_phase_seconds{kind,phase}` | histogram | time jobs run by this process spent in each phase |
//! | `zkinfer_job_seconds{kind}` | histogram | submission to DONE, of jobs this process finished |
//! | `zkinfer_proofs_total{model}` | counter | proofs this process published, by model |
//! | `zkinfer_leases_held` | gauge | jobs this process holds a lease on |
//! | `zkinfer_leases_claimed_total`, `zkinfer_leases_lost_total` | counter | claims taken, leases lost to expiry |
//!
//! Everything is process-wide (one registry per process): a server with in-process
//! workers and a worker process report the same names.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::store::JobStore;

/// Upper bounds of the histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

#[derive(Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += v;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}", self.counts[i]);
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
struct State {
    /// The phase each running job is in, since when.
    current: BTreeMap<String, (String, String, Instant)>,
    phases: BTreeMap<(String, String), Histogram>,
    totals: BTreeMap<String, Histogram>,
    proofs: BTreeMap<String, u64>,
}

/// The process's metrics.
#[derive(Default)]
pub struct Metrics {
    state: Mutex<State>,
    leases_held: AtomicI64,
    claimed: AtomicU64,
    lost: AtomicU64,
}

static METRICS: std::sync::OnceLock<Metrics> = std::sync::OnceLock::new();

/// The process-wide registry.
pub fn metrics() -> &'static Metrics {
    METRICS.get_or_init(Metrics::default)
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A job of `kind` enters `phase`: the time in its previous phase is recorded.
    pub fn phase(&self, job_id: &str, kind: &str, phase: &str) {
        let now = Instant::now();
        let mut s = self.lock();
        if let Some((k, p, t)) = s.current.insert(job_id.to_string(), (kind.to_string(), phase.to_string(), now)) {
            s.phases.entry((k, p)).or_default().observe(now.duration_since(t).as_secs_f64());
        }
    }

    /// A job left this process (ended, or abandoned): its last phase is recorded (once;
    /// later calls for the same job record nothing), and `done_after` (seconds from
    /// submission to DONE) when it is done.
    pub fn job_ended(&self, job_id: &str, kind: &str, done_after: Option<f64>) {
        let now = Instant::now();
        let mut s = self.lock();
        if let Some((k, p, t)) = s.current.remove(job_id) {
            s.phases.entry((k, p)).or_default().observe(now.duration_since(t).as_secs_f64());
        }
        if let Some(secs) = done_after {
            s.totals.entry(kind.to_string()).or_default().observe(secs);
        }
    }

    /// A proof of `model` was published.
    pub fn proof(&self, model: &str) {
        *self.lock().proofs.entry(model.to_string()).or_default() += 1;
    }

    /// A lease was taken (`+1`) or given up (`-1`).
    pub fn lease(&self, delta: i64) {
        self.leases_held.fetch_add(delta, Ordering::SeqCst);
        if delta > 0 {
            self.claimed.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A lease was lost to expiry or cancellation by another process.
    pub fn lease_lost(&self) {
        self.lost.fetch_add(1, Ordering::SeqCst);
    }

    /// The text exposition format, with queue depths from `store`.
    pub fn render(&self, store: Option<&dyn JobStore>) -> String {
        let mut out = String::new();
        if let Some(store) = store {
            out.push_str("# HELP zkinfer_jobs Jobs in the store by state.\n# TYPE zkinfer_jobs gauge\n");
            match store.count_by_state() {
                Ok(counts) => {
                    for state in ["queued", "running", "done", "failed", "cancelled"] {
                        let n = counts.iter().find(|(s, _)| s.as_str() == state).map(|c| c.1).unwrap_or(0);
                        let _ = writeln!(out, "zkinfer_jobs{{state=\"{state}\"}} {n}");
                    }
                    out.push_str("# TYPE zkinfer_store_up gauge\nzkinfer_store_up 1\n");
                }
                Err(_) => out.push_str("# TYPE zkinfer_store_up gauge\nzkinfer_store_up 0\n"),
            }
        }
        let s = self.lock();
        out.push_str(
            "# HELP zkinfer_job_phase_seconds Time jobs run here spent in each phase.\n# TYPE zkinfer_job_phase_seconds histogram\n",
        );
        for ((kind, phase), h) in &s.phases {
            h.render(&mut out, "zkinfer_job_phase_seconds", &format!("kind=\"{}\",phase=\"{}\"", escape(kind), escape(phase)));
        }
        out.push_str("# HELP zkinfer_job_seconds Submission to DONE, of jobs finished here.\n# TYPE zkinfer_job_seconds histogram\n");
        for (kind, h) in &s.totals {
            h.render(&mut out, "zkinfer_job_seconds", &format!("kind=\"{}\"", escape(kind)));
        }
        out.push_str("# HELP zkinfer_proofs_total Proofs published here, by model.\n# TYPE zkinfer_proofs_total counter\n");
        for (model, n) in &s.proofs {
            let _ = writeln!(out, "zkinfer_proofs_total{{model=\"{}\"}} {n}", escape(model));
        }
        let _ = write!(
            out,
            "# TYPE zkinfer_leases_held gauge\nzkinfer_leases_held {}\n# TYPE zkinfer_leases_claimed_total counter\nzkinfer_leases_claimed_total {}\n\
             # TYPE zkinfer_leases_lost_total counter\nzkinfer_leases_lost_total {}\n",
            self.leases_held.load(Ordering::SeqCst),
            self.claimed.load(Ordering::SeqCst),
            self.lost.load(Ordering::SeqCst)
        );
        out
    }
}

/// Serves `/metrics` and `/healthz` on `addr` (port 0: any free port) until the runtime
/// stops; returns the bound address. One request per connection, answered and closed.
pub async fn serve(addr: SocketAddr, store: Arc<dyn JobStore>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else { continue };
            let store = store.clone();
            tokio::spawn(async move {
                // The request head, however the client's writes split it (up to 4 KiB, 5 s).
                let mut buf = vec![0u8; 4096];
                let mut n = 0;
                let read_head = async {
                    while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf[n..]).await {
                            Ok(0) | Err(_) => break,
                            Ok(k) => n += k,
                        }
                    }
                };
                if tokio::time::timeout(std::time::Duration::from_secs(5), read_head).await.is_err() || n == 0 {
                    return;
                }
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let (status, body) = match path {
                    "/metrics" => {
                        let body = tokio::task::spawn_blocking(move || metrics().render(Some(&*store))).await.unwrap_or_default();
                        ("200 OK", body)
                    }
                    "/healthz" => ("200 OK", "ok\n".to_string()),
                    _ => ("404 Not Found", "not found\n".to_string()),
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_and_counters_render_in_the_text_format() {
        let m = Metrics::default();
        m.phase("j", "prove", "witness");
        m.phase("j", "prove", "proving");
        m.job_ended("j", "prove", Some(0.3));
        m.proof("model\"x");
        m.lease(1);
        m.lease(-1);
        m.lease_lost();
        let text = m.render(None);
        assert!(text.contains(r#"zkinfer_job_phase_seconds_count{kind="prove",phase="witness"} 1"#), "{text}");
        assert!(text.contains(r#"zkinfer_job_phase_seconds_bucket{kind="prove",phase="proving",le="+Inf"} 1"#), "{text}");
        assert!(text.contains(r#"zkinfer_job_seconds_bucket{kind="prove",le="0.25"} 0"#));
        assert!(text.contains(r#"zkinfer_job_seconds_bucket{kind="prove",le="0.5"} 1"#));
        assert!(text.contains(r#"zkinfer_proofs_total{model="model\"x"} 1"#), "{text}");
        assert!(
            text.contains("zkinfer_leases_held 0\n")
                && text.contains("zkinfer_leases_claimed_total 1\n")
                && text.contains("zkinfer_leases_lost_total 1\n")
        );
    }
}

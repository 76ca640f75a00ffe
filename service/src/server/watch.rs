//! `WatchJob`: the job's stored state, then its changes until it ends.
//!
//! The subscription to events is taken before the stored state is read, so no change
//! between the two is lost. Events only wake the watcher: it then reads the job from
//! the store, so what it sends follows the store's order (never an older state after a
//! newer one); changes closer together than a read may be merged, but the final state
//! is always sent. The stream ends after a final state, and its task ends as soon as the
//! client goes away.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::jobs::{Engine, JobEvent, Principal};

use super::convert;
use super::pb;

/// With a shared store, how often a watcher reads its job even without a notification
/// (the fallback when notifications are lost, e.g. while the database restarts).
pub const POLL: Duration = Duration::from_secs(1);

/// Items of a watch stream.
pub type WatchItem = Result<pb::JobEvent, Status>;

async fn stored(engine: &Arc<Engine>, p: &Principal, id: &str) -> Result<JobEvent, Status> {
    let (e, p, id) = (engine.clone(), p.clone(), id.to_string());
    let job = tokio::task::spawn_blocking(move || e.job_as(&p, &id))
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(super::status::status_of)?;
    Ok(JobEvent::of(&job))
}

/// Starts watching a job as `p` sees it; NOT_FOUND for an unknown id or a job `p` may not see.
pub async fn watch(engine: Arc<Engine>, p: Principal, job_id: String) -> Result<ReceiverStream<WatchItem>, Status> {
    let mut events = engine.subscribe();
    let poll = engine.is_shared().then_some(POLL);
    let first = stored(&engine, &p, &job_id).await?;
    let (tx, rx) = mpsc::channel::<WatchItem>(16);
    tokio::spawn(async move {
        let mut last = (first.state, first.phase.clone(), first.progress);
        let mut done = first.state.is_terminal();
        if tx.send(Ok(convert::event(&first))).await.is_err() {
            return;
        }
        while !done {
            let next = tokio::select! {
                r = events.recv() => r,
                _ = tx.closed() => return,
                // Shared stores: changes by other processes arrive as notifications, or are polled for.
                _ = tokio::time::sleep(poll.unwrap_or(POLL)), if poll.is_some() => Err(broadcast::error::RecvError::Lagged(0)),
            };
            match next {
                Ok(ev) if ev.job_id == job_id || ev.job_id.is_empty() => {}
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
            // The event only says that the job changed: the store says how, in order.
            let ev = match stored(&engine, &p, &job_id).await {
                Ok(ev) => ev,
                Err(s) => {
                    let _ = tx.send(Err(s)).await;
                    return;
                }
            };
            let key = (ev.state, ev.phase.clone(), ev.progress);
            if key == last {
                continue;
            }
            last = key;
            done = ev.state.is_terminal();
            if tx.send(Ok(convert::event(&ev))).await.is_err() {
                return;
            }
        }
    });
    Ok(ReceiverStream::new(rx))
}

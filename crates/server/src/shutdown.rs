//! Stopping the server with builds running: each build's `slipway steps` gets one
//! SIGTERM and the server waits for its clean-up before it exits. Exiting at once would
//! not do: the builds would clean up after the kernel's parent-death signal with nobody
//! waiting for them, and nobody would remove their workspaces.

use std::time::{Duration, Instant};

use crate::runner;
use crate::state::{Shared, StopReason};

/// How long the builds may take to remove what they created; past it the server exits
/// anyway, and the next start's `slipway gc` removes what is left.
pub const BUILDS_CLEAN_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// Start no more builds, tell the running ones to stop, and wait (up to `timeout`) until
/// each has cleaned up, removed its workspace and recorded its end (interrupted, queued
/// again for the next start).
pub async fn stop_builds(server: &Shared, timeout: Duration) {
    let to_signal: Vec<(i64, Option<u32>)> = {
        let mut running = server.running();
        server.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        running
            .iter_mut()
            // A cancelled build got its SIGTERM already; another would cut its clean-up short.
            .filter(|(_, r)| r.stop.is_none())
            .map(|(id, r)| {
                r.stop = Some(StopReason::ServerStopping);
                (*id, r.pid)
            })
            .collect()
    };
    if to_signal.is_empty() && server.running().is_empty() {
        return;
    }
    tracing::info!("stopping: waiting up to {}s for the running builds to clean up", timeout.as_secs());
    // A build still checking out has no process yet: it sees the stop before it starts one.
    for (_, pid) in &to_signal {
        runner::terminate(*pid);
    }
    let deadline = Instant::now() + timeout;
    loop {
        let left: Vec<i64> = server.running().keys().copied().collect();
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                "stopping: builds {left:?} did not finish their clean-up within {}s; exiting anyway \
                 (the next start removes their workspaces, and `slipway gc` their containers)",
                timeout.as_secs()
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

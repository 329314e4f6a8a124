//! Waiting for a dependency to be ready: running, healthy, or finished successfully.

use std::time::{Duration, Instant};

use crate::runtime::{Health, Runtime};

pub(crate) enum NotReady {
    /// It exited (or turned unhealthy, or timed out); the message says which.
    Failed(String),
    /// The engine failed us.
    Engine(String),
}

/// A dependency's healthcheck as slipway runs it: its test, how long one probe may take,
/// and how many failures in a row the engine counts before it calls it unhealthy.
#[derive(Clone, Copy)]
pub(crate) struct HealthProbe<'a> {
    pub test: &'a [String],
    pub timeout: Duration,
    pub retries: u64,
}

/// Wait until the container is healthy. Besides reading the engine's health status,
/// slipway runs the test itself every `poll`: the engine's first probe only comes after
/// `interval`, and one passing probe is exactly what makes the engine call it healthy.
pub(crate) async fn wait_healthy(
    runtime: &dyn Runtime,
    id: &str,
    service: &str,
    check: &HealthProbe<'_>,
    poll: Duration,
    timeout: Duration,
) -> Result<(), NotReady> {
    let HealthProbe { test, timeout: probe_timeout, retries } = *check;
    let deadline = Instant::now() + timeout;
    loop {
        let round = Instant::now();
        let state = runtime.container_state(id).await.map_err(|e| NotReady::Engine(e.message))?;
        if !state.running {
            let code = state.exit_code.map_or_else(|| "?".to_string(), |c| c.to_string());
            return Err(NotReady::Failed(format!(
                "dependency `{service}` exited with code {code} before it was healthy"
            )));
        }
        match state.health {
            Health::Healthy => return Ok(()),
            Health::Unhealthy => {
                let said = state.health_output.map(|o| format!("; its last check said: {o}")).unwrap_or_default();
                return Err(NotReady::Failed(format!(
                    "dependency `{service}` is unhealthy: its healthcheck failed {} in a row{said}. If it only needs longer to start, give the healthcheck a `start_period` or more `retries`",
                    if retries == 1 { "once".to_string() } else { format!("{retries} times") }
                )));
            }
            Health::None | Health::Starting => {}
        }
        match runtime.probe(id, test, probe_timeout).await {
            Ok(true) => return Ok(()),
            Err(e) if e.kind == crate::runtime::ErrorKind::CannotRun => {
                // A container that exited while the probe started also makes the engine
                // say "not found" (of its task): that is the exit, told above next round.
                if !runtime.container_state(id).await.map_err(|e| NotReady::Engine(e.message))?.running {
                    continue;
                }
                return Err(NotReady::Failed(format!(
                    "the healthcheck of dependency `{service}` cannot run in its container, so it can never pass: {}. Give it a command the image has (e.g. `pg_isready` for postgres, `redis-cli ping` for redis)",
                    e.message
                )));
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(NotReady::Failed(format!(
                "dependency `{service}` was not healthy after {} (raise it with --health-timeout)",
                humantime(timeout)
            )));
        }
        tokio::time::sleep(poll.saturating_sub(round.elapsed())).await;
    }
}

/// Wait until the container exits with code 0 (`condition: service_completed_successfully`).
pub(crate) async fn wait_completed(
    runtime: &dyn Runtime,
    id: &str,
    service: &str,
    timeout: Duration,
) -> Result<(), NotReady> {
    match tokio::time::timeout(timeout, runtime.wait_exit(id)).await {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(code)) => Err(NotReady::Failed(format!(
            "dependency `{service}` exited with code {code}; it had to complete successfully"
        ))),
        Ok(Err(e)) => Err(NotReady::Engine(e.message)),
        Err(_) => Err(NotReady::Failed(format!(
            "dependency `{service}` had not completed after {} (raise it with --health-timeout)",
            humantime(timeout)
        ))),
    }
}

pub(crate) fn humantime(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{} ms", d.as_millis())
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

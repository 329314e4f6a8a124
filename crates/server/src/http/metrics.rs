//! `/metrics` in Prometheus' text format, and `/healthz`.

use std::fmt::Write;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::access::{error, Access};
use crate::builds::Status;
use crate::state::Shared;

/// Bucket bounds of the step duration histogram, in seconds.
const STEP_BUCKETS: [u64; 10] = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

pub async fn metrics(State(server): State<Shared>, headers: HeaderMap) -> Response {
    if !Access::of(&server, &headers).can_read(&server) {
        return error(StatusCode::UNAUTHORIZED, "send `Authorization: Bearer <viewer token>`");
    }
    let mut out = String::new();
    let counts = server.db.status_counts().unwrap_or_default();
    let _ = writeln!(out, "# HELP slipway_builds Builds in the server's database, by status.");
    let _ = writeln!(out, "# TYPE slipway_builds gauge");
    for status in Status::ALL {
        let n = counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
        let _ = writeln!(out, "slipway_builds{{status=\"{}\"}} {n}", status.as_str());
    }
    let queued = counts.iter().find(|(s, _)| *s == Status::Queued).map_or(0, |(_, n)| *n);
    let _ = writeln!(out, "# HELP slipway_queue_length Builds waiting to run.");
    let _ = writeln!(out, "# TYPE slipway_queue_length gauge");
    let _ = writeln!(out, "slipway_queue_length {queued}");
    let _ = writeln!(out, "# HELP slipway_builds_running Builds running now.");
    let _ = writeln!(out, "# TYPE slipway_builds_running gauge");
    let _ = writeln!(out, "slipway_builds_running {}", server.running().len());

    let bounds: Vec<Duration> = STEP_BUCKETS.iter().map(|s| Duration::from_secs(*s)).collect();
    if let Ok(h) = server.store.step_durations(&bounds) {
        let _ = writeln!(out, "# HELP slipway_step_duration_seconds How long step attempts took.");
        let _ = writeln!(out, "# TYPE slipway_step_duration_seconds histogram");
        for (bound, count) in STEP_BUCKETS.iter().zip(&h.counts) {
            let _ = writeln!(out, "slipway_step_duration_seconds_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "slipway_step_duration_seconds_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "slipway_step_duration_seconds_sum {}", h.sum.as_secs_f64());
        let _ = writeln!(out, "slipway_step_duration_seconds_count {}", h.count);
    }

    // The engine may be down; the other figures are still worth scraping.
    if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), running_containers()).await {
        let _ = writeln!(out, "# HELP slipway_running_containers Running containers of slipway runs on the engine.");
        let _ = writeln!(out, "# TYPE slipway_running_containers gauge");
        let _ = writeln!(out, "slipway_running_containers {n}");
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}

async fn running_containers() -> Result<usize, String> {
    let docker = slipway_docker::DockerRuntime::connect().await.map_err(|e| e.message)?;
    let labels = [(slipway_engine::labels::RUN.to_string(), String::new())].into_iter().collect();
    docker.count_running(&labels).await.map_err(|e| e.message)
}

pub async fn healthz(State(server): State<Shared>) -> Response {
    match server.db.count(None, Status::Queued) {
        Ok(queued) => Json(serde_json::json!({ "status": "ok", "queued": queued, "running": server.running().len() }))
            .into_response(),
        Err(e) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "error", "error": e.to_string() })))
                .into_response()
        }
    }
}

//! The JSON API: everything the pages show, plus triggering, cancelling and re-running.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::{error, Access};
use super::pages::BuildsQuery;
use crate::build_events;
use crate::dispatcher;
use crate::pages::ProjectTile;
use crate::state::Shared;
use crate::view_models::{self, PAGE_SIZE};

fn reader(server: &Shared, headers: &HeaderMap) -> Result<Access, Response> {
    let access = Access::of(server, headers);
    if access.can_read(server) {
        Ok(access)
    } else {
        Err(error(StatusCode::UNAUTHORIZED, "send `Authorization: Bearer <token>`"))
    }
}

fn admin(server: &Shared, headers: &HeaderMap) -> Result<Access, Response> {
    let access = Access::of(server, headers);
    if access.is_admin() {
        Ok(access)
    } else if access.role.is_some() {
        Err(error(StatusCode::FORBIDDEN, "this needs an admin token"))
    } else {
        Err(error(StatusCode::UNAUTHORIZED, "send `Authorization: Bearer <admin token>`"))
    }
}

macro_rules! or_return {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

fn internal(e: impl std::fmt::Display) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}

pub async fn projects(State(server): State<Shared>, headers: HeaderMap) -> Response {
    or_return!(reader(&server, &headers));
    let running = dispatcher::running_by_project(&server);
    let projects: Vec<Value> = server
        .config
        .projects
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "git": p.public_git_url(),
                "branches": p.branches,
                "concurrency": p.concurrency,
                "auto_cancel": p.auto_cancel,
                "queued": server.db.count(Some(&p.name), crate::builds::Status::Queued).unwrap_or(0),
                "running": running.get(&p.name).copied().unwrap_or(0),
            })
        })
        .collect();
    Json(json!({ "projects": projects })).into_response()
}

pub async fn builds(State(server): State<Shared>, Query(q): Query<BuildsQuery>, headers: HeaderMap) -> Response {
    or_return!(reader(&server, &headers));
    match server.db.list(&q.filter(), q.page(), PAGE_SIZE) {
        Ok((builds, has_next)) => {
            Json(json!({ "builds": builds, "page": q.page(), "has_next": has_next })).into_response()
        }
        Err(e) => internal(e),
    }
}

pub async fn trigger(State(server): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    or_return!(admin(&server, &headers));
    match crate::hooks::generic::parse(&body) {
        Ok(request) => super::hooks::queue_response(&server, request),
        Err(e) => error(StatusCode::BAD_REQUEST, &e),
    }
}

pub async fn build(State(server): State<Shared>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    or_return!(reader(&server, &headers));
    let build = match server.db.build(id) {
        Ok(Some(b)) => b,
        Ok(None) => return error(StatusCode::NOT_FOUND, &format!("no build #{id}")),
        Err(e) => return internal(e),
    };
    let events = build_events::read(&server.paths.events(id));
    let failing: Vec<&build_events::TestResult> = events.tests.iter().filter(|t| t.is_failure()).collect();
    Json(json!({
        "build": build,
        "duration_ms": build.duration_ms(),
        "run_id": events.run_id,
        "steps": events.attempts,
        "tests": {
            "total": events.tests.len(),
            "failed": failing.len(),
            "failures": failing,
            "all": events.tests,
        },
        "events": events.count,
        "links": {
            "page": format!("/builds/{id}"),
            "events": format!("/api/builds/{id}/events"),
            "junit": server.paths.junit(id).exists().then(|| format!("/builds/{id}/junit.xml")),
        },
    }))
    .into_response()
}

pub async fn cancel(State(server): State<Shared>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    or_return!(admin(&server, &headers));
    match server.db.build(id) {
        Ok(Some(build)) => match dispatcher::cancel(&server, &build, "cancelled through the API") {
            Ok(true) => (StatusCode::ACCEPTED, Json(json!({ "cancelling": id }))).into_response(),
            Ok(false) => {
                error(StatusCode::CONFLICT, &format!("build #{id} is {}: nothing to cancel", build.status.as_str()))
            }
            Err(e) => internal(e),
        },
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no build #{id}")),
        Err(e) => internal(e),
    }
}

pub async fn rerun(State(server): State<Shared>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    or_return!(admin(&server, &headers));
    match server.db.build(id) {
        Ok(Some(build)) => match dispatcher::rerun(&server, &build) {
            Ok(new) => (StatusCode::CREATED, Json(json!({ "id": new.id, "build": new }))).into_response(),
            Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
        },
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no build #{id}")),
        Err(e) => internal(e),
    }
}

fn tile_json(t: &ProjectTile) -> Value {
    json!({
        "project": t.name,
        "last_build": t.last_build.as_ref().map(|b| json!({
            "id": b.id, "branch": b.branch, "commit": b.commit, "status": b.status.as_str(),
            "duration_ms": b.duration().map(|d| d.as_millis() as u64),
        })),
        "success_rate": t.success_rate,
        "rate_window": t.rate_window,
        "median_duration_ms": t.median_duration.map(|d| d.as_millis() as u64),
        "previous_median_duration_ms": t.previous_median.map(|d| d.as_millis() as u64),
        "builds_per_day": t.builds_per_day.iter().map(|(d, n)| json!({"day": d.to_string(), "builds": n})).collect::<Vec<_>>(),
        "queued": t.queued,
        "running": t.running,
        "slowest_tests": t.slowest_tests.iter().map(|s| json!({"suite": s.suite, "name": s.name, "file": s.file, "median_ms": s.median.as_millis() as u64})).collect::<Vec<_>>(),
        "flaky_tests": t.flaky_tests.iter().map(|f| json!({"suite": f.suite, "name": f.name, "passed": f.passed, "failed": f.failed})).collect::<Vec<_>>(),
    })
}

pub async fn dashboard(State(server): State<Shared>, headers: HeaderMap) -> Response {
    let access = or_return!(reader(&server, &headers));
    match view_models::dashboard_view(&server, access.viewer(&server)) {
        Ok(view) => Json(json!({
            "queue_length": view.queue_length,
            "running": view.running,
            "projects": view.tiles.iter().map(tile_json).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
pub struct TestQuery {
    suite: String,
    name: String,
}

pub async fn test_history(State(server): State<Shared>, Query(q): Query<TestQuery>, headers: HeaderMap) -> Response {
    let access = or_return!(reader(&server, &headers));
    match view_models::test_history_view(&server, access.viewer(&server), &q.suite, &q.name) {
        Ok(view) => Json(json!({
            "suite": view.suite,
            "name": view.name,
            "file": view.file,
            "flaky": view.flaky,
            "runs": view.runs.iter().map(|r| json!({
                "build": r.build_id, "branch": r.branch, "commit": r.commit, "at": r.at.to_rfc3339(),
                "duration_ms": r.duration.as_millis() as u64, "status": r.status,
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => internal(e),
    }
}

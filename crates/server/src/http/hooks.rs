//! `POST /hooks/github`, `/hooks/bitbucket`, `/hooks/generic`: verified triggers.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::access::{error, Access};
use crate::builds::BuildRequest;
use crate::config::ProjectConfig;
use crate::dispatcher::{self, EnqueueError};
use crate::hooks::{self, signature, HookEvent};
use crate::state::Shared;

#[derive(Deserialize)]
pub struct HookQuery {
    /// Names the project when the payload's repository does not (or is ambiguous).
    project: Option<String>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub async fn github(
    State(server): State<Shared>,
    Query(q): Query<HookQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let event = header(&headers, "x-github-event").unwrap_or_default().to_string();
    let signature = header(&headers, "x-hub-signature-256").map(str::to_string);
    signed_hook(&server, "github", q.project, &body, signature.as_deref(), || hooks::github::parse(&event, &body))
}

pub async fn bitbucket(
    State(server): State<Shared>,
    Query(q): Query<HookQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let event = header(&headers, "x-event-key").unwrap_or_default().to_string();
    let signature = header(&headers, "x-hub-signature").map(str::to_string);
    signed_hook(&server, "bitbucket", q.project, &body, signature.as_deref(), || hooks::bitbucket::parse(&event, &body))
}

/// The projects a signed webhook may be for: the one named in `?project=`, else those
/// whose repository the payload names.
fn candidates<'a>(server: &'a Shared, named: Option<&str>, repository: Option<&str>) -> Vec<&'a ProjectConfig> {
    match named {
        Some(name) => server.config.project(name).into_iter().collect(),
        None => {
            let Some(repo) = repository.map(str::to_lowercase) else { return Vec::new() };
            server.config.projects.iter().filter(|p| p.repository_name().as_deref() == Some(repo.as_str())).collect()
        }
    }
}

fn signed_hook(
    server: &Shared,
    source: &str,
    named: Option<String>,
    body: &[u8],
    signature: Option<&str>,
    parse: impl FnOnce() -> Result<HookEvent, String>,
) -> Response {
    // The repository is needed to find the secret, so the payload is read before it is
    // trusted; nothing it says is acted on until the signature checks out.
    let event = parse();
    let repository = match &event {
        Ok(HookEvent::Build { repository, .. }) => repository.clone(),
        _ => repository_of(body),
    };
    let projects = candidates(server, named.as_deref(), repository.as_deref());
    if projects.is_empty() {
        tracing::warn!("{source} webhook for {repository:?}: no project matches; nothing queued");
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "no project is configured for repository {}; add `repository` to its settings or `?project=NAME` to the hook URL",
                repository.as_deref().unwrap_or("(none named)")
            ),
        );
    }
    let verified: Vec<&ProjectConfig> = projects
        .into_iter()
        .filter(|p| match signature::verify(p.webhook_secret.as_deref(), body, signature) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("{source} webhook for project {}: rejected: {e}", p.name);
                false
            }
        })
        .collect();
    if verified.is_empty() {
        let why = match signature {
            None => "the signature header is missing",
            Some(_) => "the signature does not match the project's webhook secret",
        };
        return error(StatusCode::UNAUTHORIZED, &format!("{why}; nothing was queued"));
    }
    match event {
        Err(message) => error(StatusCode::BAD_REQUEST, &message),
        Ok(HookEvent::Ping) => Json(json!({ "pong": true })).into_response(),
        Ok(HookEvent::Ignored(reason)) => Json(json!({ "ignored": reason })).into_response(),
        Ok(HookEvent::Build { requests, .. }) => {
            let mut queued = Vec::new();
            let mut ignored = Vec::new();
            for project in verified {
                for request in &requests {
                    let request = BuildRequest { project: project.name.clone(), ..request.clone() };
                    match dispatcher::enqueue(server, request) {
                        Ok(build) => queued.push(build.id),
                        Err(EnqueueError::BranchFiltered { branch, .. }) => {
                            ignored.push(format!("{}: branch {branch} does not build", project.name))
                        }
                        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
                    }
                }
            }
            let status = if queued.is_empty() { StatusCode::OK } else { StatusCode::ACCEPTED };
            (status, Json(json!({ "queued": queued, "ignored": ignored }))).into_response()
        }
    }
}

/// `repository.full_name` of any payload, for pings and events that do not build.
fn repository_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v["repository"]["full_name"].as_str().map(str::to_string)
}

/// `{project, branch, commit}` with an admin bearer token.
pub async fn generic(State(server): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let access = Access::of(&server, &headers);
    if !access.is_admin() {
        tracing::warn!(
            "generic webhook rejected: {}",
            if access.rejected { "unknown token" } else { "no admin token" }
        );
        return error(StatusCode::UNAUTHORIZED, "send `Authorization: Bearer <admin token>`; nothing was queued");
    }
    let request = match hooks::generic::parse(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    queue_response(&server, request)
}

/// Queue one build and answer with it.
pub fn queue_response(server: &Shared, request: BuildRequest) -> Response {
    match dispatcher::enqueue(server, request) {
        Ok(build) => (
            StatusCode::CREATED,
            Json(json!({ "id": build.id, "url": format!("/builds/{}", build.id), "build": build })),
        )
            .into_response(),
        Err(e @ EnqueueError::UnknownProject(_)) => error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(e @ EnqueueError::BranchFiltered { .. }) => error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

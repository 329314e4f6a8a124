//! The HTML pages and their fragments, the login, and the build actions behind forms.

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::access::{login_redirect, Access};
use crate::builds::{Filter, Status};
use crate::dispatcher;
use crate::pages::{self, ErrorView, LoginView};
use crate::state::Shared;
use crate::view_models;

fn page_error(server: &Shared, access: &Access, status: StatusCode, title: &str, message: &str) -> Response {
    let view = ErrorView {
        viewer: access.viewer(server),
        status: status.as_u16(),
        title: title.into(),
        message: message.into(),
    };
    (status, pages::error_page(&view)).into_response()
}

/// The access of a page request, or the redirect to the login page.
fn reader(server: &Shared, headers: &HeaderMap, here: &str) -> Result<Access, Response> {
    let access = Access::of(server, headers);
    if access.can_read(server) {
        Ok(access)
    } else {
        Err(login_redirect(here))
    }
}

fn internal(server: &Shared, access: &Access, e: impl std::fmt::Display) -> Response {
    page_error(server, access, StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", &e.to_string())
}

/// The dashboard's figures come from several SQLite queries: run them on a
/// blocking thread so a wall screen's refresh never stalls the async workers.
async fn dashboard_view(server: &Shared, viewer: pages::Viewer) -> Result<pages::DashboardView, String> {
    let server = server.clone();
    match tokio::task::spawn_blocking(move || view_models::dashboard_view(&server, viewer)).await {
        Ok(view) => view.map_err(|e| e.to_string()),
        Err(e) => Err(format!("the dashboard query stopped: {e}")),
    }
}

pub async fn dashboard(State(server): State<Shared>, headers: HeaderMap) -> Response {
    let access = match reader(&server, &headers, "/") {
        Ok(a) => a,
        Err(r) => return r,
    };
    match dashboard_view(&server, access.viewer(&server)).await {
        Ok(view) => pages::dashboard(&view).into_response(),
        Err(e) => internal(&server, &access, e),
    }
}

pub async fn dashboard_fragment(State(server): State<Shared>, headers: HeaderMap) -> Response {
    let access = Access::of(&server, &headers);
    if !access.can_read(&server) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match dashboard_view(&server, access.viewer(&server)).await {
        Ok(view) => fresh(pages::dashboard_tiles(&view)),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize, Default)]
pub struct BuildsQuery {
    project: Option<String>,
    branch: Option<String>,
    status: Option<String>,
    page: Option<u32>,
}

impl BuildsQuery {
    pub fn filter(&self) -> Filter {
        let nonempty = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
        Filter {
            project: nonempty(&self.project),
            branch: nonempty(&self.branch),
            status: self.status.as_deref().and_then(Status::parse),
        }
    }

    pub fn page(&self) -> u32 {
        self.page.unwrap_or(1).max(1)
    }
}

pub async fn builds(State(server): State<Shared>, Query(q): Query<BuildsQuery>, headers: HeaderMap) -> Response {
    let access = match reader(&server, &headers, "/builds") {
        Ok(a) => a,
        Err(r) => return r,
    };
    match view_models::builds_view(&server, access.viewer(&server), q.filter(), q.page()) {
        Ok(view) => pages::builds(&view).into_response(),
        Err(e) => internal(&server, &access, e),
    }
}

pub async fn build(State(server): State<Shared>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    let access = match reader(&server, &headers, &format!("/builds/{id}")) {
        Ok(a) => a,
        Err(r) => return r,
    };
    match server.db.build(id) {
        Ok(Some(build)) => {
            pages::build(&view_models::build_view(&server, access.viewer(&server), &build)).into_response()
        }
        Ok(None) => {
            page_error(&server, &access, StatusCode::NOT_FOUND, "No such build", &format!("There is no build #{id}."))
        }
        Err(e) => internal(&server, &access, e),
    }
}

pub async fn timeline_fragment(State(server): State<Shared>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    let access = Access::of(&server, &headers);
    if !access.can_read(&server) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match server.db.build(id) {
        Ok(Some(build)) => fresh(pages::timeline(&view_models::build_view(&server, access.viewer(&server), &build))),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
pub struct EventsQuery {
    after: Option<u64>,
}

/// Server-sent events of a build (pages and API).
pub async fn events(
    State(server): State<Shared>,
    Path(id): Path<i64>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> Response {
    let access = Access::of(&server, &headers);
    if !access.can_read(&server) {
        return super::access::error(StatusCode::UNAUTHORIZED, "send a viewer token");
    }
    if !matches!(server.db.build(id), Ok(Some(_))) {
        return super::access::error(StatusCode::NOT_FOUND, &format!("no build #{id}"));
    }
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let after = crate::live::resume_point(last, q.after);
    Sse::new(crate::live::events(server, id, after)).keep_alive(KeepAlive::default()).into_response()
}

pub async fn junit(State(server): State<Shared>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    let access = Access::of(&server, &headers);
    if !access.can_read(&server) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match tokio::fs::read(server.paths.junit(id)).await {
        Ok(xml) => (
            [
                (header::CONTENT_TYPE, "application/xml".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"build-{id}-junit.xml\"")),
            ],
            xml,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn cancel_form(
    State(server): State<Shared>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    build_form(&server, id, &headers, &form, |server, build| {
        dispatcher::cancel(server, build, "cancelled from the build page")
            .map(|_| build.id)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, "Cannot cancel", e.to_string()))
    })
}

pub async fn rerun_form(
    State(server): State<Shared>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    build_form(&server, id, &headers, &form, |server, build| {
        dispatcher::rerun(server, build)
            .map(|new| new.id)
            .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, "Cannot re-run", e.to_string()))
    })
}

type FormError = (StatusCode, &'static str, String);

/// An admin form on a build page: check it, act, and show the build it leads to.
fn build_form(
    server: &Shared,
    id: i64,
    headers: &HeaderMap,
    form: &CsrfForm,
    act: impl FnOnce(&Shared, &crate::builds::Build) -> Result<i64, FormError>,
) -> Response {
    let access = Access::of(server, headers);
    if let Err(r) = access.check_form(server, headers, &form.csrf) {
        return r;
    }
    match server.db.build(id) {
        Ok(Some(build)) => match act(server, &build) {
            Ok(target) => Redirect::to(&format!("/builds/{target}")).into_response(),
            Err((status, title, message)) => page_error(server, &access, status, title, &message),
        },
        Ok(None) => {
            page_error(server, &access, StatusCode::NOT_FOUND, "No such build", &format!("There is no build #{id}."))
        }
        Err(e) => internal(server, &access, e),
    }
}

#[derive(Deserialize)]
pub struct TestQuery {
    suite: String,
    name: String,
}

pub async fn test_history(State(server): State<Shared>, Query(q): Query<TestQuery>, headers: HeaderMap) -> Response {
    let here = crate::pages::links::test_history(&q.suite, &q.name);
    let access = match reader(&server, &headers, &here) {
        Ok(a) => a,
        Err(r) => return r,
    };
    match view_models::test_history_view(&server, access.viewer(&server), &q.suite, &q.name) {
        Ok(view) => pages::test_history(&view).into_response(),
        Err(e) => internal(&server, &access, e),
    }
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    /// Wall screens without a keyboard: `/login?token=…` (the token lands in the
    /// browser's history, so give them a viewer token).
    token: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: Option<String>,
}

pub async fn login_page(State(server): State<Shared>, Query(q): Query<LoginQuery>) -> Response {
    if let Some(token) = q.token {
        return log_in(&server, &token, q.next);
    }
    pages::login(&LoginView { error: None, next: q.next }).into_response()
}

pub async fn login(State(server): State<Shared>, Form(form): Form<LoginForm>) -> Response {
    log_in(&server, form.token.trim(), form.next)
}

fn log_in(server: &Shared, token: &str, next: Option<String>) -> Response {
    let found = server.db.check_token(token);
    let Ok(Some((token_id, _))) = found else {
        tracing::warn!("login with an unknown token");
        let view = LoginView { error: Some("That token is not known here.".into()), next };
        return (StatusCode::UNAUTHORIZED, pages::login(&view)).into_response();
    };
    let session = match server.db.open_session(token_id) {
        Ok(s) => s,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    // Only paths on this site: `//evil.example` would leave it.
    let next = next.filter(|n| n.starts_with('/') && !n.starts_with("//")).unwrap_or_else(|| "/".into());
    let cookie = format!(
        "{}={session}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        crate::auth::SESSION_COOKIE,
        crate::auth::SESSION_DAYS * 86_400
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}

pub async fn logout(State(server): State<Shared>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    let access = Access::of(&server, &headers);
    if let Some(session) = &access.session {
        let secret = server.db.csrf_secret().unwrap_or_default();
        if crate::auth::csrf_matches(&secret, session, &form.csrf) {
            let _ = server.db.close_session(session);
        }
    }
    let cookie = format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0", crate::auth::SESSION_COOKIE);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

pub async fn css() -> Response {
    asset("text/css; charset=utf-8", pages::assets::CSS)
}

pub async fn js() -> Response {
    asset("text/javascript; charset=utf-8", pages::assets::JS)
}

pub async fn favicon() -> Response {
    asset("image/svg+xml", pages::assets::FAVICON_SVG)
}

/// Fragments are fetched to refresh a page: never from a cache.
fn fresh(markup: maud::Markup) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], markup).into_response()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

//! The HTTP server: routes, security headers, start-up.

mod access;
mod api;
mod hooks;
mod metrics;
mod pages;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::state::Shared;

pub use access::Access;

pub fn router(server: Shared) -> Router {
    Router::new()
        .route("/", get(pages::dashboard))
        .route("/fragments/dashboard", get(pages::dashboard_fragment))
        .route("/builds", get(pages::builds))
        .route("/builds/{id}", get(pages::build))
        .route("/builds/{id}/fragments/timeline", get(pages::timeline_fragment))
        .route("/builds/{id}/events", get(pages::events))
        .route("/builds/{id}/junit.xml", get(pages::junit))
        .route("/builds/{id}/cancel", post(pages::cancel_form))
        .route("/builds/{id}/rerun", post(pages::rerun_form))
        .route("/tests", get(pages::test_history))
        .route("/login", get(pages::login_page).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/assets/slipway.css", get(pages::css))
        .route("/assets/slipway.js", get(pages::js))
        .route("/assets/favicon.svg", get(pages::favicon))
        .route("/hooks/github", post(hooks::github))
        .route("/hooks/bitbucket", post(hooks::bitbucket))
        .route("/hooks/generic", post(hooks::generic))
        .route("/api/projects", get(api::projects))
        .route("/api/dashboard", get(api::dashboard))
        .route("/api/builds", get(api::builds).post(api::trigger))
        .route("/api/builds/{id}", get(api::build))
        .route("/api/builds/{id}/events", get(pages::events))
        .route("/api/builds/{id}/cancel", post(api::cancel))
        .route("/api/builds/{id}/rerun", post(api::rerun))
        .route("/api/tests", get(api::test_history))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(metrics::healthz))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(server)
}

/// Pages run only our own script and cannot be framed; nothing is sniffed.
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

//! Who a request comes from: a bearer token (API, triggers, scrapers) or a browser
//! session cookie; and the checks routes make with it.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::{self, Role};
use crate::pages::Viewer;
use crate::state::Shared;

#[derive(Debug, Clone, Default)]
pub struct Access {
    pub role: Option<Role>,
    /// The browser session, when the request came with one (forms need its CSRF token).
    pub session: Option<String>,
    /// A token or session was presented but is unknown or expired.
    pub rejected: bool,
}

impl Access {
    pub fn of(server: &Shared, headers: &HeaderMap) -> Access {
        if let Some(token) = bearer(headers) {
            return match server.db.check_token(token) {
                Ok(Some((_, role))) => Access { role: Some(role), session: None, rejected: false },
                _ => Access { role: None, session: None, rejected: true },
            };
        }
        if let Some(session) = cookie(headers, auth::SESSION_COOKIE) {
            return match server.db.check_session(session) {
                Ok(Some(role)) => Access { role: Some(role), session: Some(session.to_string()), rejected: false },
                _ => Access { role: None, session: None, rejected: true },
            };
        }
        Access::default()
    }

    pub fn can_read(&self, server: &Shared) -> bool {
        self.role.is_some() || (server.config.public_read && !self.rejected)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Some(Role::Admin)
    }

    /// What the pages need to know about the viewer.
    pub fn viewer(&self, server: &Shared) -> Viewer {
        let csrf =
            self.session.as_ref().and_then(|s| server.db.csrf_secret().ok().map(|secret| auth::csrf_token(&secret, s)));
        Viewer { role: self.role, csrf }
    }

    /// A form post from a page: admin session, its CSRF token, and our own origin.
    pub fn check_form(&self, server: &Shared, headers: &HeaderMap, csrf: &str) -> Result<(), Response> {
        let Some(session) = &self.session else {
            return Err(error(StatusCode::FORBIDDEN, "log in to do this"));
        };
        if !same_origin(headers) {
            return Err(error(StatusCode::FORBIDDEN, "the form came from another site"));
        }
        let secret = server.db.csrf_secret().map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
        if !auth::csrf_matches(&secret, session, csrf) {
            return Err(error(StatusCode::FORBIDDEN, "the form is stale or forged: reload the page and try again"));
        }
        if !self.is_admin() {
            return Err(error(StatusCode::FORBIDDEN, "only admins can do this"));
        }
        Ok(())
    }
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim)
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Origin` (or else `Referer`), when the browser sends one, names this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return true };
    let source = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)).and_then(|v| v.to_str().ok());
    match source {
        None => true,
        Some(url) => url.split_once("://").is_some_and(|(_, rest)| rest.split('/').next() == Some(host)),
    }
}

/// JSON error for the API.
pub fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// Pages send strangers to the login page; the API answers 401.
pub fn login_redirect(next: &str) -> Response {
    let target = crate::pages::links::with_query("/login", &[("next", next)]);
    Redirect::to(&target).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bearer_tokens_and_cookies() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer slw_abc".parse().unwrap());
        h.insert(header::COOKIE, "a=1; slipway_session=xyz; b=2".parse().unwrap());
        assert_eq!(bearer(&h), Some("slw_abc"));
        assert_eq!(cookie(&h, "slipway_session"), Some("xyz"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "ci.example:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://ci.example:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
    }
}

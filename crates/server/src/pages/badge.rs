//! Status badges: one look for a status wherever it appears.

use maud::{html, Markup};

use super::format::{css_token, status_text};
use super::views::BuildStatus;

/// A build's status. The script finds the build page's badge by `id` to update it live.
pub fn build_status(status: BuildStatus) -> Markup {
    html! {
        span class=(format!("badge status-{}", status.as_str())) data-status=(status.as_str()) { (status.as_str()) }
    }
}

/// A step's or a test's status, which comes from the database as text.
pub fn step_status(status: &str) -> Markup {
    let token = css_token(status);
    html! {
        span class=(format!("badge status-{token}")) data-status=(token) { (status_text(status)) }
    }
}

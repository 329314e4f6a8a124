//! Webhooks: what GitHub, Bitbucket and generic callers send, turned into build requests.

pub mod bitbucket;
pub mod generic;
pub mod github;
pub mod signature;

use crate::builds::BuildRequest;

/// What a webhook asks for.
#[derive(Debug, PartialEq)]
pub enum HookEvent {
    /// Build these (the project is still to be found from the repository).
    Build { repository: Option<String>, requests: Vec<BuildRequest> },
    /// A ping: answered, nothing queued.
    Ping,
    /// Understood but not for building (a deleted branch, a closed pull request, a tag).
    Ignored(String),
}

/// `refs/heads/x` → `x`; tags and other refs → None.
fn branch_of_ref(r: &str) -> Option<&str> {
    r.strip_prefix("refs/heads/")
}

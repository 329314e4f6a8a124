//! GitHub's `push`, `pull_request` and `ping` events.

use serde::Deserialize;

use super::{branch_of_ref, HookEvent};
use crate::builds::BuildRequest;

#[derive(Deserialize)]
struct Repository {
    full_name: Option<String>,
}

#[derive(Deserialize, Default)]
struct Person {
    name: Option<String>,
    email: Option<String>,
    username: Option<String>,
}

#[derive(Deserialize)]
struct Commit {
    message: Option<String>,
    #[serde(default)]
    author: Person,
    #[serde(default)]
    committer: Person,
}

#[derive(Deserialize)]
struct Push {
    #[serde(rename = "ref")]
    git_ref: String,
    after: Option<String>,
    #[serde(default)]
    deleted: bool,
    head_commit: Option<Commit>,
    repository: Option<Repository>,
    sender: Option<Sender>,
}

#[derive(Deserialize)]
struct Sender {
    login: Option<String>,
}

#[derive(Deserialize)]
struct PullRequestEvent {
    action: String,
    number: u64,
    pull_request: PullRequest,
    repository: Option<Repository>,
}

#[derive(Deserialize)]
struct PullRequest {
    head: Head,
    title: Option<String>,
    html_url: Option<String>,
    user: Option<Sender>,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "ref")]
    git_ref: String,
    sha: String,
}

/// `event` is the `X-GitHub-Event` header.
pub fn parse(event: &str, body: &[u8]) -> Result<HookEvent, String> {
    match event {
        "ping" => Ok(HookEvent::Ping),
        "push" => {
            let push: Push = serde_json::from_slice(body).map_err(|e| format!("not a GitHub push event: {e}"))?;
            let Some(branch) = branch_of_ref(&push.git_ref) else {
                return Ok(HookEvent::Ignored(format!("{} is not a branch", push.git_ref)));
            };
            if push.deleted {
                return Ok(HookEvent::Ignored(format!("branch {branch} was deleted")));
            }
            let commit = push.head_commit;
            let (message, committer) = match commit {
                Some(c) => {
                    let who = if c.committer.name.is_some() { c.committer } else { c.author };
                    (c.message, who)
                }
                None => (None, Person::default()),
            };
            Ok(HookEvent::Build {
                repository: push.repository.and_then(|r| r.full_name),
                requests: vec![BuildRequest {
                    branch: branch.to_string(),
                    commit: push.after.filter(|s| !s.chars().all(|c| c == '0')),
                    message,
                    committer_name: committer.name,
                    committer_email: committer.email,
                    committer_username: committer.username.or(push.sender.and_then(|s| s.login)),
                    trigger: "github push".into(),
                    ..Default::default()
                }],
            })
        }
        "pull_request" => {
            let pr: PullRequestEvent =
                serde_json::from_slice(body).map_err(|e| format!("not a GitHub pull_request event: {e}"))?;
            if !matches!(pr.action.as_str(), "opened" | "synchronize" | "reopened") {
                return Ok(HookEvent::Ignored(format!("pull request {}", pr.action)));
            }
            Ok(HookEvent::Build {
                repository: pr.repository.and_then(|r| r.full_name),
                requests: vec![BuildRequest {
                    branch: pr.pull_request.head.git_ref,
                    commit: Some(pr.pull_request.head.sha),
                    message: pr.pull_request.title,
                    committer_username: pr.pull_request.user.and_then(|u| u.login),
                    pr_number: Some(pr.number),
                    pr_url: pr.pull_request.html_url,
                    trigger: format!("github pull request #{}", pr.number),
                    ..Default::default()
                }],
            })
        }
        other => Ok(HookEvent::Ignored(format!("GitHub event `{other}` does not build"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_builds_its_branch_and_commit() {
        let body = br#"{"ref":"refs/heads/main","after":"abc123","deleted":false,
            "head_commit":{"id":"abc123","message":"Fix it\n\nlong text","author":{"name":"A","email":"a@x"},
            "committer":{"name":"C","email":"c@x","username":"cc"}},
            "repository":{"full_name":"acme/shop","clone_url":"https://github.com/acme/shop.git"}}"#;
        let HookEvent::Build { repository, requests } = parse("push", body).unwrap() else { panic!() };
        assert_eq!(repository.as_deref(), Some("acme/shop"));
        let r = &requests[0];
        assert_eq!((r.branch.as_str(), r.commit.as_deref()), ("main", Some("abc123")));
        assert_eq!(r.committer_name.as_deref(), Some("C"));
        assert_eq!(r.message.as_deref(), Some("Fix it\n\nlong text"));
    }

    #[test]
    fn tags_deletions_and_closed_prs_do_not_build() {
        let tag = br#"{"ref":"refs/tags/v1","after":"abc"}"#;
        assert!(matches!(parse("push", tag).unwrap(), HookEvent::Ignored(_)));
        let deleted = br#"{"ref":"refs/heads/x","after":"0000000000000000000000000000000000000000","deleted":true}"#;
        assert!(matches!(parse("push", deleted).unwrap(), HookEvent::Ignored(_)));
        let closed = br#"{"action":"closed","number":3,"pull_request":{"head":{"ref":"f","sha":"s"}}}"#;
        assert!(matches!(parse("pull_request", closed).unwrap(), HookEvent::Ignored(_)));
        assert_eq!(parse("ping", b"{}").unwrap(), HookEvent::Ping);
        assert!(parse("push", b"not json").is_err());
    }

    #[test]
    fn a_pull_request_builds_its_head() {
        let body = br#"{"action":"synchronize","number":42,"repository":{"full_name":"acme/shop"},
            "pull_request":{"title":"Add cart","html_url":"https://github.com/acme/shop/pull/42",
            "user":{"login":"dev"},"head":{"ref":"feature/cart","sha":"def456"}}}"#;
        let HookEvent::Build { requests, .. } = parse("pull_request", body).unwrap() else { panic!() };
        assert_eq!(requests[0].branch, "feature/cart");
        assert_eq!(requests[0].pr_number, Some(42));
        assert_eq!(requests[0].commit.as_deref(), Some("def456"));
    }
}

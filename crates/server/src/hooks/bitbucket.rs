//! Bitbucket's push events: Cloud's `repo:push` and Server/Data Center's
//! `repo:refs_changed`, and their pings (`diagnostics:ping`).

use serde::Deserialize;

use super::{branch_of_ref, HookEvent};
use crate::builds::BuildRequest;

#[derive(Deserialize)]
struct CloudPush {
    push: CloudChanges,
    repository: Option<CloudRepository>,
    actor: Option<CloudActor>,
}

#[derive(Deserialize)]
struct CloudRepository {
    full_name: Option<String>,
}

#[derive(Deserialize)]
struct CloudActor {
    nickname: Option<String>,
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct CloudChanges {
    changes: Vec<CloudChange>,
}

#[derive(Deserialize)]
struct CloudChange {
    new: Option<CloudRef>,
}

#[derive(Deserialize)]
struct CloudRef {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    target: Option<CloudTarget>,
}

#[derive(Deserialize)]
struct CloudTarget {
    hash: Option<String>,
    message: Option<String>,
    author: Option<CloudAuthor>,
}

#[derive(Deserialize)]
struct CloudAuthor {
    raw: Option<String>,
}

#[derive(Deserialize)]
struct ServerPush {
    changes: Vec<ServerChange>,
    repository: Option<ServerRepository>,
    actor: Option<ServerActor>,
}

#[derive(Deserialize)]
struct ServerRepository {
    slug: Option<String>,
    project: Option<ServerProject>,
}

#[derive(Deserialize)]
struct ServerProject {
    key: Option<String>,
}

#[derive(Deserialize)]
struct ServerActor {
    name: Option<String>,
    #[serde(rename = "emailAddress")]
    email: Option<String>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct ServerChange {
    #[serde(rename = "refId")]
    ref_id: String,
    #[serde(rename = "toHash")]
    to_hash: String,
    #[serde(rename = "type")]
    kind: String,
}

/// `"Jane Doe <jane@x.org>"` → name and email.
fn split_raw_author(raw: &str) -> (Option<String>, Option<String>) {
    match raw.split_once('<') {
        Some((name, rest)) => (
            Some(name.trim().to_string()).filter(|s| !s.is_empty()),
            rest.strip_suffix('>').map(|e| e.trim().to_string()),
        ),
        None => (Some(raw.trim().to_string()), None),
    }
}

/// `event` is the `X-Event-Key` header.
pub fn parse(event: &str, body: &[u8]) -> Result<HookEvent, String> {
    match event {
        "diagnostics:ping" => Ok(HookEvent::Ping),
        "repo:push" => {
            let push: CloudPush =
                serde_json::from_slice(body).map_err(|e| format!("not a Bitbucket repo:push event: {e}"))?;
            let username = push.actor.and_then(|a| a.nickname.or(a.display_name));
            let requests: Vec<BuildRequest> = push
                .push
                .changes
                .into_iter()
                .filter_map(|c| c.new)
                .filter(|n| n.kind == "branch")
                .map(|n| {
                    let target = n.target;
                    let (name, email) = target
                        .as_ref()
                        .and_then(|t| t.author.as_ref())
                        .and_then(|a| a.raw.as_deref())
                        .map(split_raw_author)
                        .unwrap_or_default();
                    BuildRequest {
                        branch: n.name,
                        commit: target.as_ref().and_then(|t| t.hash.clone()),
                        message: target.and_then(|t| t.message),
                        committer_name: name,
                        committer_email: email,
                        committer_username: username.clone(),
                        trigger: "bitbucket push".into(),
                        ..Default::default()
                    }
                })
                .collect();
            if requests.is_empty() {
                return Ok(HookEvent::Ignored("no branch was updated (tags or deletions only)".into()));
            }
            Ok(HookEvent::Build { repository: push.repository.and_then(|r| r.full_name), requests })
        }
        "repo:refs_changed" => {
            let push: ServerPush =
                serde_json::from_slice(body).map_err(|e| format!("not a Bitbucket repo:refs_changed event: {e}"))?;
            let actor = push.actor;
            let requests: Vec<BuildRequest> = push
                .changes
                .into_iter()
                .filter(|c| c.kind != "DELETE")
                .filter_map(|c| {
                    let branch = branch_of_ref(&c.ref_id)?.to_string();
                    Some(BuildRequest {
                        branch,
                        commit: Some(c.to_hash),
                        committer_name: actor.as_ref().and_then(|a| a.display_name.clone()),
                        committer_email: actor.as_ref().and_then(|a| a.email.clone()),
                        committer_username: actor.as_ref().and_then(|a| a.name.clone()),
                        trigger: "bitbucket push".into(),
                        ..Default::default()
                    })
                })
                .collect();
            if requests.is_empty() {
                return Ok(HookEvent::Ignored("no branch was updated (tags or deletions only)".into()));
            }
            let repository = push.repository.and_then(|r| Some(format!("{}/{}", r.project?.key?, r.slug?)));
            Ok(HookEvent::Build { repository, requests })
        }
        other => Ok(HookEvent::Ignored(format!("Bitbucket event `{other}` does not build"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cloud_push_builds_each_updated_branch() {
        let body = br#"{"actor":{"nickname":"dev"},"repository":{"full_name":"team/app"},
          "push":{"changes":[
            {"new":{"type":"branch","name":"main","target":{"hash":"abc","message":"Ship\n","author":{"raw":"Jane Doe <jane@x.org>"}}}},
            {"new":{"type":"tag","name":"v1","target":{"hash":"abc"}}},
            {"new":null}]}}"#;
        let HookEvent::Build { repository, requests } = parse("repo:push", body).unwrap() else { panic!() };
        assert_eq!(repository.as_deref(), Some("team/app"));
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].branch, "main");
        assert_eq!(requests[0].committer_email.as_deref(), Some("jane@x.org"));
        assert_eq!(requests[0].committer_username.as_deref(), Some("dev"));
    }

    #[test]
    fn a_server_push_builds_branches_not_deletions() {
        let body = br#"{"actor":{"name":"dev","displayName":"Dev"},
          "repository":{"slug":"app","project":{"key":"TEAM"}},
          "changes":[{"refId":"refs/heads/main","toHash":"abc","type":"UPDATE"},
                     {"refId":"refs/heads/old","toHash":"0000","type":"DELETE"}]}"#;
        let HookEvent::Build { repository, requests } = parse("repo:refs_changed", body).unwrap() else { panic!() };
        assert_eq!(repository.as_deref(), Some("TEAM/app"));
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].commit.as_deref(), Some("abc"));
        assert_eq!(parse("diagnostics:ping", b"{}").unwrap(), HookEvent::Ping);
    }
}

//! `POST /hooks/generic` and `slipway trigger`: `{project, branch, commit}` with a bearer
//! token.

use serde::Deserialize;

use crate::builds::BuildRequest;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericTrigger {
    pub project: String,
    pub branch: String,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

pub fn parse(body: &[u8]) -> Result<BuildRequest, String> {
    let t: GenericTrigger = serde_json::from_slice(body)
        .map_err(|e| format!("expected {{\"project\": …, \"branch\": …, \"commit\": … (optional)}}: {e}"))?;
    if t.branch.trim().is_empty() {
        return Err("`branch` is empty".into());
    }
    Ok(BuildRequest {
        project: t.project,
        branch: t.branch,
        commit: t.commit.filter(|c| !c.is_empty()),
        message: t.message,
        trigger: "api".into(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let r = parse(br#"{"project":"shop","branch":"main","commit":"abc"}"#).unwrap();
        assert_eq!((r.project.as_str(), r.commit.as_deref()), ("shop", Some("abc")));
        assert!(parse(br#"{"project":"shop"}"#).is_err());
        assert!(parse(br#"{"project":"shop","branch":"main","extra":1}"#).is_err());
    }
}

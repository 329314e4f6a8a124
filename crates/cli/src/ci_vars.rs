//! The CI_* variables every container gets: from git in the project dir, overridden by
//! `--ci-*` flags, named as Jet named them.

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use slipway_plan::template::TemplateVars;

use crate::cli::CiArgs;

pub struct CiInfo {
    /// `CI=true`, `CI_NAME=slipway`, `CI_BRANCH`, … in Jet's order.
    pub vars: Vec<(String, String)>,
    pub template: TemplateVars,
}

struct Git {
    branch: Option<String>,
    commit: Option<String>,
    message: Option<String>,
    committer_name: Option<String>,
    committer_email: Option<String>,
    describe: Option<String>,
    repo_name: Option<String>,
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|s| !s.is_empty())
}

fn read_git(dir: &Path) -> Git {
    let log = git(dir, &["log", "-1", "--format=%H%x00%cn%x00%ce%x00%B"]);
    let mut fields = log.as_deref().unwrap_or_default().splitn(4, '\0').map(|s| s.trim().to_string());
    let mut next = || fields.next().filter(|s| !s.is_empty());
    let (commit, committer_name, committer_email, message) = (next(), next(), next(), next());
    let repo_name = git(dir, &["remote", "get-url", "origin"]).and_then(|url| {
        let last = url.trim_end_matches('/').rsplit(['/', ':']).next()?.to_string();
        Some(last.strip_suffix(".git").unwrap_or(&last).to_string())
    });
    Git {
        branch: git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD"),
        commit,
        message,
        committer_name,
        committer_email,
        describe: git(dir, &["describe", "--abbrev=1", "--tags", "--always"]),
        repo_name,
    }
}

/// The commit a run's history records: `CI_COMMIT_ID`, marked `-dirty` when it came from
/// git and tracked files have changes not committed (then the run's outcomes do not
/// belong to the commit, and `slipway flaky` leaves them out). Untracked files do not
/// count: reports and the state folder are written into checkouts.
pub fn history_commit(dir: &Path, args: &CiArgs, commit: Option<String>) -> Option<String> {
    let commit = commit?;
    if args.ci_commit_id.is_some() {
        return Some(commit);
    }
    let changed = git(dir, &["status", "--porcelain", "--untracked-files=no"]).is_some();
    Some(if changed { format!("{commit}{}", slipway_store::DIRTY_SUFFIX) } else { commit })
}

pub fn ci_info(dir: &Path, args: &CiArgs, run_id: &str, project: &str, now: DateTime<Utc>) -> CiInfo {
    let g = read_git(dir);
    let pick = |flag: &Option<String>, from_git: Option<String>| flag.clone().or(from_git).unwrap_or_default();
    let branch = pick(&args.ci_branch, g.branch);
    let commit = pick(&args.ci_commit_id, g.commit);
    let message = pick(&args.ci_commit_message, g.message);
    let description = pick(&args.ci_commit_description, g.describe);
    let committer_email = pick(&args.ci_committer_email, g.committer_email);
    let committer_name = pick(&args.ci_committer_name, g.committer_name);
    let username_from_email = committer_email.split('@').next().map(str::to_string).filter(|s| !s.is_empty());
    let committer_username = pick(&args.ci_committer_username, username_from_email);
    let repo_name = pick(&args.ci_repo_name, g.repo_name.or_else(|| Some(project.to_string())));
    let project_id = pick(&args.ci_project_id, Some(project.to_string()));
    let build_id = pick(&args.ci_build_id, Some(run_id.to_string()));
    let pr_number = args.ci_pr_number.clone().unwrap_or_default();
    let timestamp = now.timestamp().to_string();
    let string_time = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);

    let vars = vec![
        ("CI", "true".to_string()),
        ("CI_NAME", "slipway".to_string()),
        ("CI_BRANCH", branch.clone()),
        ("CI_BUILD_ID", build_id.clone()),
        ("CI_PROJECT_ID", project_id.clone()),
        ("CI_REPO_NAME", repo_name.clone()),
        ("CI_COMMIT_ID", commit.clone()),
        ("CI_COMMIT_MESSAGE", message.clone()),
        ("CI_COMMIT_DESCRIPTION", description.clone()),
        ("CI_COMMITTER_NAME", committer_name.clone()),
        ("CI_COMMITTER_EMAIL", committer_email.clone()),
        ("CI_COMMITTER_USERNAME", committer_username.clone()),
        ("CI_TIMESTAMP", timestamp.clone()),
        ("CI_STRING_TIME", string_time.clone()),
        ("CI_PR_NUMBER", pr_number.clone()),
        ("CI_PULL_REQUEST", if pr_number.is_empty() { "false".to_string() } else { "true".to_string() }),
    ];
    let template = [
        ("ProjectID", project_id),
        ("BuildID", build_id),
        ("RepoName", repo_name),
        ("Branch", branch.clone()),
        ("CommitID", commit),
        ("CommitMessage", message),
        ("CommitDescription", description),
        ("CommitterName", committer_name),
        ("CommitterEmail", committer_email),
        ("CommitterUsername", committer_username),
        ("Time", now.format("%Y-%m-%d %H:%M:%S%.f %z UTC").to_string()),
        ("Timestamp", timestamp),
        ("StringTime", string_time),
        ("Ci", "true".to_string()),
        ("CiName", "slipway".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    CiInfo { vars: vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), template }
}

//! Fetching a build's commit into its own workspace with the git command line, which
//! understands every URL a team uses (https, ssh, `file://`, a local bare repository)
//! and its credentials helpers.

use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::config::redact_url;

/// `git init` + fetch of the branch, then check out `commit` (default: the branch's tip).
/// Everything git prints is appended to `log`. Returns the commit checked out.
pub async fn checkout(
    url: &str,
    branch: &str,
    commit: Option<&str>,
    workspace: &Path,
    log: &mut tokio::fs::File,
) -> Result<String, String> {
    tokio::fs::create_dir_all(workspace).await.map_err(|e| format!("cannot create {}: {e}", workspace.display()))?;
    git(workspace, &["init", "-q"], log).await?;
    let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
    git(workspace, &["fetch", "-q", "--no-tags", "--", url, &refspec], log).await?;
    let target = match commit {
        Some(sha) => {
            // The commit may be older than the branch's tip, or not on it at all (a PR
            // head from a fork): fetch it by id if the branch does not have it.
            if git(workspace, &["cat-file", "-e", &format!("{sha}^{{commit}}")], log).await.is_err() {
                git(workspace, &["fetch", "-q", "--no-tags", "--", url, sha], log)
                    .await
                    .map_err(|e| format!("commit {sha} is not on {branch} and cannot be fetched: {e}"))?;
            }
            sha.to_string()
        }
        None => format!("refs/remotes/origin/{branch}"),
    };
    git(workspace, &["-c", "advice.detachedHead=false", "checkout", "-q", "--detach", &target], log).await?;
    let head = output(workspace, &["rev-parse", "HEAD"]).await?;
    Ok(head.trim().to_string())
}

/// A field of the checked-out commit (`%s`, `%cn`, …).
pub async fn commit_field(workspace: &Path, format: &str) -> Option<String> {
    output(workspace, &["log", "-1", &format!("--format={format}")]).await.ok().map(|s| s.trim().to_string())
}

async fn git(dir: &Path, args: &[&str], log: &mut tokio::fs::File) -> Result<(), String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        // A build stopped or timed out mid-fetch drops this: git must not live on.
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run git: {e}"))?;
    // Git may quote the URL, credentials and all, in what it prints.
    let stdout = redact_url(&String::from_utf8_lossy(&out.stdout));
    let stderr = redact_url(&String::from_utf8_lossy(&out.stderr));
    let _ = log.write_all(stdout.as_bytes()).await;
    let _ = log.write_all(stderr.as_bytes()).await;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("git {} failed: {}", args.first().unwrap_or(&""), stderr.trim()))
    }
}

async fn output(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, script: &str) {
        let ok = std::process::Command::new("sh").arg("-c").arg(script).current_dir(dir).status().unwrap().success();
        assert!(ok, "{script}");
    }

    #[tokio::test]
    async fn checks_out_the_tip_or_an_older_commit_of_a_local_repository() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        sh(
            &repo,
            "git init -q -b main && git -c user.name=t -c user.email=t@x commit -q --allow-empty -m one && \
             echo 2 > f && git add f && git -c user.name=t -c user.email=t@x commit -q -m two",
        );
        let first = String::from_utf8(
            std::process::Command::new("git")
                .args(["-C"])
                .arg(&repo)
                .args(["rev-parse", "HEAD~1"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let url = format!("file://{}", repo.display());
        let mut log = tokio::fs::File::create(tmp.path().join("log")).await.unwrap();

        let ws = tmp.path().join("ws1");
        checkout(&url, "main", None, &ws, &mut log).await.unwrap();
        assert!(ws.join("f").exists());
        assert_eq!(commit_field(&ws, "%s").await.as_deref(), Some("two"));

        let ws = tmp.path().join("ws2");
        let head = checkout(&url, "main", Some(first.trim()), &ws, &mut log).await.unwrap();
        assert_eq!(head, first.trim());
        assert!(!ws.join("f").exists());

        let err = checkout(&url, "nope", None, &tmp.path().join("ws3"), &mut log).await.unwrap_err();
        assert!(err.contains("fetch"), "{err}");
    }
}

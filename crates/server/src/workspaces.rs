//! Build workspaces (`workspaces/<id>/`): each build's checkout, removed when the build
//! ends; at start, those a stopped or killed server left behind are removed too.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::builds::Status;
use crate::state::{Paths, Shared};

pub fn path(paths: &Paths, id: i64) -> PathBuf {
    paths.workspaces.join(id.to_string())
}

/// Remove a build's workspace; a missing one is fine.
pub async fn remove(paths: &Paths, id: i64) {
    let workspace = path(paths, id);
    if let Err(e) = tokio::fs::remove_dir_all(&workspace).await {
        warn_unremovable(&workspace, &e);
    }
}

/// At start, before any build runs: remove the workspaces of builds that are not queued
/// or running (finished, cancelled, interrupted, or unknown to the database).
pub async fn remove_stale(server: &Shared) {
    let stale: Vec<PathBuf> = match std::fs::read_dir(&server.paths.workspaces) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|entry| {
                entry
                    .file_name()
                    .to_str()
                    .and_then(|name| name.parse::<i64>().ok())
                    .is_some_and(|id| is_stale(server, id))
            })
            .map(|entry| entry.path())
            .collect(),
        Err(e) if e.kind() == ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!("cannot list {} to remove old workspaces: {e}", server.paths.workspaces.display());
            return;
        }
    };
    for workspace in &stale {
        if let Err(e) = tokio::fs::remove_dir_all(workspace).await {
            warn_unremovable(workspace, &e);
        }
    }
    if !stale.is_empty() {
        tracing::info!("removed {} workspaces of builds that are no longer running", stale.len());
    }
}

fn is_stale(server: &Shared, id: i64) -> bool {
    match server.db.build(id) {
        Ok(Some(build)) => !matches!(build.status, Status::Queued | Status::Running),
        Ok(None) => true,
        // Keep it when in doubt: the next start tries again.
        Err(_) => false,
    }
}

fn warn_unremovable(workspace: &Path, e: &std::io::Error) {
    if e.kind() != ErrorKind::NotFound {
        tracing::warn!(
            "cannot remove the workspace {}: {e} (files a step created as another user? remove it by hand)",
            workspace.display()
        );
    }
}

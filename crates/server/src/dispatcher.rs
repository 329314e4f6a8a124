//! The queue: builds wait in the database until the global and per-project limits let
//! them run; a newer push can cancel older builds of its branch; builds that were
//! running when the server stopped are requeued once.

use std::collections::HashMap;
use std::time::Duration;

use crate::builds::{Build, BuildRequest, Status};
use crate::db::DbError;
use crate::runner;
use crate::state::{Shared, StopReason};

/// Start builds while the limits allow, then wait for a change. Never returns.
pub async fn dispatch(server: Shared) {
    loop {
        if let Err(e) = start_ready(&server) {
            tracing::error!("the build queue: {e}");
        }
        // A timeout too, so that a missed wake-up costs a second, not a stuck queue.
        let _ = tokio::time::timeout(Duration::from_secs(1), server.wake.notified()).await;
    }
}

fn start_ready(server: &Shared) -> Result<(), DbError> {
    if server.is_stopping() {
        return Ok(());
    }
    let queued = server.db.builds_with_status(Status::Queued)?;
    for build in queued {
        let (total, of_project) = {
            let running = server.running();
            (running.len(), running.values().filter(|r| r.project == build.request.project).count())
        };
        if total >= server.config.concurrency {
            break;
        }
        let limit = server.config.project(&build.request.project).map_or(1, |p| p.concurrency);
        if of_project >= limit {
            continue;
        }
        if server.db.mark_running(build.id)? {
            runner::start(server, build);
        }
    }
    Ok(())
}

/// Why a trigger did not queue a build.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("no project `{0}` is configured")]
    UnknownProject(String),
    #[error("branch `{branch}` does not build in project `{project}` (see its `branches`)")]
    BranchFiltered { project: String, branch: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Queue a build (auto-cancelling older ones of its branch when the project says so).
pub fn enqueue(server: &Shared, request: BuildRequest) -> Result<Build, EnqueueError> {
    let project =
        server.config.project(&request.project).ok_or_else(|| EnqueueError::UnknownProject(request.project.clone()))?;
    if !project.builds_branch(&request.branch) {
        return Err(EnqueueError::BranchFiltered { project: project.name.clone(), branch: request.branch.clone() });
    }
    let build = server.db.enqueue(&request, None)?;
    tracing::info!("build #{} queued: {} {} ({})", build.id, request.project, request.branch, request.trigger);
    if project.auto_cancel {
        for older in server.db.older_builds_of_branch(&request.project, &request.branch, build.id)? {
            cancel(server, &older, &format!("superseded by #{}", build.id))?;
        }
    }
    server.announce(build.id, Status::Queued);
    server.wake.notify_one();
    Ok(build)
}

/// Cancel a queued build at once, or a running one through its process.
pub fn cancel(server: &Shared, build: &Build, note: &str) -> Result<bool, DbError> {
    match build.status {
        Status::Queued => {
            if server.db.cancel_queued(build.id, note)? {
                server.announce(build.id, Status::Cancelled);
                return Ok(true);
            }
            // Started meanwhile: cancel the running build instead.
            match server.db.build(build.id)? {
                Some(now) if now.status == Status::Running => cancel(server, &now, note),
                _ => Ok(false),
            }
        }
        Status::Running => {
            let pid = {
                let mut running = server.running();
                let Some(entry) = running.get_mut(&build.id) else { return Ok(false) };
                if entry.stop.is_some() {
                    // Already on its way out (and signalled): keep the first reason.
                    return Ok(false);
                }
                entry.stop = Some(StopReason::Cancelled);
                entry.pid
            };
            server.db.set_note(build.id, note)?;
            runner::terminate(pid);
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// A new build of the same commit.
pub fn rerun(server: &Shared, build: &Build) -> Result<Build, EnqueueError> {
    let request = BuildRequest { trigger: format!("rerun of #{}", build.id), ..build.request.clone() };
    enqueue(server, request)
}

/// At start: builds that were still running when the server died are interrupted.
pub fn recover(server: &Shared) -> Result<Vec<(i64, Option<i64>)>, DbError> {
    let mut recovered = Vec::new();
    for build in server.db.builds_with_status(Status::Running)? {
        recovered.push((build.id, interrupt(server, &build)?));
    }
    Ok(recovered)
}

/// A build the server stopped during: it ends interrupted, and is queued again unless it
/// already was such a second try. The id of the new build, if any.
pub fn interrupt(server: &Shared, build: &Build) -> Result<Option<i64>, DbError> {
    server.db.finish(build.id, Status::Interrupted, None, Some("interrupted: the server stopped during the build"))?;
    if build.recovers.is_some() {
        tracing::warn!("build #{} was interrupted again; not requeued a second time", build.id);
        return Ok(None);
    }
    let request = BuildRequest { trigger: format!("requeued: #{} was interrupted", build.id), ..build.request.clone() };
    let new = server.db.enqueue(&request, Some(build.id))?;
    tracing::warn!("build #{} was interrupted by a server stop; queued again as #{}", build.id, new.id);
    Ok(Some(new.id))
}

/// Running builds per project, for the dashboard.
pub fn running_by_project(server: &Shared) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for r in server.running().values() {
        *out.entry(r.project.clone()).or_default() += 1;
    }
    out
}

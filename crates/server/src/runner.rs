//! Running one build: check its commit out into a workspace of its own, then run the
//! pipeline with `slipway steps` in a child process — the same binary and files as on a
//! laptop; a crashing pipeline cannot take the server down, and a cancel is the SIGTERM
//! a user's Ctrl-C would be. The child records into the shared history store and writes
//! its events (already secret-masked) to the build's folder, which the pages follow.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::watch;

use crate::builds::{Build, CommitDetails, Status};
use crate::config::ProjectConfig;
use crate::state::{Running, Shared, StopReason};
use crate::{dispatcher, git, workspaces};

/// Exit statuses of `slipway steps` after SIGINT and SIGTERM.
const EXIT_CANCELLED: [i32; 2] = [130, 143];

/// Exit status of `slipway steps` cancelled by its `--timeout`.
const EXIT_TIMED_OUT: i32 = 124;

/// Register a build that was just marked running, so that a cancel or a server stop
/// finds it from now on; then run it in the background.
pub fn start(server: &Shared, build: Build) {
    let (events_tx, events_rx) = watch::channel(0u64);
    {
        let mut running = server.running();
        // Checked with `running` locked, as the stop sets it: a build the stop did not
        // see must not start.
        let stop = server.is_stopping().then_some(StopReason::ServerStopping);
        running.insert(
            build.id,
            Running {
                project: build.request.project.clone(),
                branch: build.request.branch.clone(),
                pid: None,
                stop,
                events: events_rx,
            },
        );
    }
    tokio::spawn(run(server.clone(), build, events_tx));
}

/// Run a registered build; removes its workspace, records its end, and only then
/// forgets it, so that a stopping server that waits for it waits for all of that.
async fn run(server: Shared, build: Build, events_tx: watch::Sender<u64>) {
    server.announce(build.id, Status::Running);
    let (status, exit_code, note) = match server.config.project(&build.request.project).cloned() {
        Some(project) => execute(&server, &build, &project, events_tx).await,
        None => (Status::Error, None, Some(format!("project `{}` is no longer configured", build.request.project))),
    };
    workspaces::remove(&server.paths, build.id).await;
    let status = match stop_reason(&server, build.id) {
        Some(_) if status == Status::Passed => status,
        Some(StopReason::Cancelled) => Status::Cancelled,
        Some(StopReason::ServerStopping) => Status::Interrupted,
        None => status,
    };
    let recorded = if status == Status::Interrupted {
        dispatcher::interrupt(&server, &build).map(|_| ())
    } else {
        server.db.finish(build.id, status, exit_code, note.as_deref())
    };
    if let Err(e) = recorded {
        tracing::error!("build #{}: cannot record its end: {e}", build.id);
    }
    server.running().remove(&build.id);
    tracing::info!("build #{} {} {}: {}", build.id, build.request.project, build.request.branch, status.as_str());
    server.announce(build.id, status);
    server.wake.notify_one();
}

fn stop_reason(server: &Shared, id: i64) -> Option<StopReason> {
    server.running().get(&id).and_then(|r| r.stop)
}

async fn execute(
    server: &Shared,
    build: &Build,
    project: &ProjectConfig,
    events_tx: watch::Sender<u64>,
) -> (Status, Option<i64>, Option<String>) {
    let dir = server.paths.build_dir(build.id);
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        return (Status::Error, None, Some(format!("cannot create {}: {e}", dir.display())));
    }
    let output_path = server.paths.output(build.id);
    let mut output = match tokio::fs::File::create(&output_path).await {
        Ok(f) => f,
        Err(e) => return (Status::Error, None, Some(format!("cannot write {}: {e}", output_path.display()))),
    };
    // The folder's name is the project's name in slipway (labels, cache tags, timings).
    let workspace = workspaces::path(&server.paths, build.id).join(&project.name);
    let _ =
        output.write_all(format!("fetching {} {}\n", project.public_git_url(), build.request.branch).as_bytes()).await;
    // The project's timeout bounds the fetch too, and a stop or cancel ends it: a git
    // server that never answers must not hold the build slot.
    let limit = project.build_timeout();
    let fetch_limit = async {
        match limit.and_then(|t| slipway_config::duration::parse_duration(t).ok()) {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    let stopped = async {
        while stop_reason(server, build.id).is_none() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let checkout =
        git::checkout(&project.git, &build.request.branch, build.request.commit.as_deref(), &workspace, &mut output);
    let head = tokio::select! {
        head = checkout => match head {
            Ok(head) => head,
            Err(e) => return (Status::Error, None, Some(crate::config::redact_url(&e))),
        },
        () = stopped => return (Status::Cancelled, None, None),
        () = fetch_limit => {
            let note = format!("fetching the commit took longer than its timeout ({})", limit.unwrap_or_default());
            return (Status::Failed, None, Some(note));
        }
    };
    if stop_reason(server, build.id).is_some() {
        return (Status::Cancelled, None, None);
    }
    // A trigger that named no commit, or a hook that said little of it: the checkout knows.
    let r = &build.request;
    let commit = CommitDetails {
        message: given_or_from_git(&r.message, &workspace, "%B").await,
        committer_name: given_or_from_git(&r.committer_name, &workspace, "%cn").await,
        committer_email: given_or_from_git(&r.committer_email, &workspace, "%ce").await,
    };
    let _ = server.db.set_commit(build.id, &head, &commit);

    let mut command = Command::new(&server.slipway_bin);
    command
        .arg("steps")
        .arg("--dir")
        .arg(&workspace)
        .arg("-T")
        .arg("--events")
        .arg(server.paths.events(build.id))
        .arg("--junit")
        .arg(server.paths.junit(build.id))
        .arg("--state-dir")
        .arg(&server.paths.history)
        .args(["--tag", &build.request.branch, "--ci-branch", &build.request.branch])
        .args(["--ci-commit-id", &head, "--ci-build-id", &build.id.to_string()]);
    for (flag, value) in [
        ("--ci-commit-message", commit.message.as_deref()),
        ("--ci-committer-name", commit.committer_name.as_deref()),
        ("--ci-committer-email", commit.committer_email.as_deref()),
        ("--ci-committer-username", r.committer_username.as_deref()),
        ("--ci-repo-name", project.repository_name().as_deref().and_then(|n| n.rsplit('/').next())),
    ] {
        if let Some(v) = value {
            command.arg(flag).arg(v);
        }
    }
    if let Some(n) = r.pr_number {
        command.arg("--ci-pr-number").arg(n.to_string());
    }
    if let Some(key) = &project.key_file {
        command.arg("--key-path").arg(key);
    }
    if let Some(timeout) = project.build_timeout() {
        command.arg("--timeout").arg(timeout);
    }
    command.args(&project.steps_args);
    let log = match output.into_std().await.try_clone() {
        Ok(f) => f,
        Err(e) => return (Status::Error, None, Some(format!("cannot write the build log: {e}"))),
    };
    let log_err = match log.try_clone() {
        Ok(f) => f,
        Err(e) => return (Status::Error, None, Some(format!("cannot write the build log: {e}"))),
    };
    command
        .current_dir(&workspace)
        .env("NO_COLOR", "1")
        // The project's `timeout` is the build's, not the server's own environment's.
        .env_remove("SLIPWAY_TIMEOUT")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .kill_on_drop(false);
    // If the server dies (even by SIGKILL), the build gets SIGUSR2, which `slipway steps`
    // takes as a Ctrl-C: it cancels its steps and removes its containers; the restarted
    // server requeues it. Not SIGTERM: the kernel sends the signal once per exiting server
    // thread, and a second SIGTERM would cut the clean-up short.
    // SAFETY: only the async-signal-safe prctl call runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGUSR2).map_err(std::io::Error::from)
        });
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return (Status::Error, None, Some(format!("cannot start {}: {e}", server.slipway_bin.display()))),
    };
    let pid = child.id();
    // A stop asked for before the process existed could not signal it: do it now.
    let stopped_before = {
        let mut running = server.running();
        let entry = running.get_mut(&build.id);
        let stopped = entry.as_ref().is_some_and(|r| r.stop.is_some());
        if let Some(r) = entry {
            r.pid = pid;
        }
        stopped
    };
    if stopped_before {
        terminate(pid);
    }
    let follow = follow_events(server.clone(), build.id, events_tx);
    tokio::pin!(follow);
    let exit = tokio::select! {
        exit = child.wait() => exit,
        () = &mut follow => child.wait().await,
    };
    // One last read, so every line the child wrote is counted.
    let saw_run = follow_once(server, build.id).await;
    let code = exit.ok().and_then(|s| s.code());
    match code {
        Some(0) => (Status::Passed, Some(0), None),
        Some(c) if EXIT_CANCELLED.contains(&c) => (Status::Cancelled, code.map(i64::from), None),
        Some(EXIT_TIMED_OUT) if saw_run => (
            Status::Failed,
            code.map(i64::from),
            Some(format!(
                "took longer than its timeout{}: its steps were stopped",
                project.build_timeout().map(|t| format!(" ({t})")).unwrap_or_default()
            )),
        ),
        Some(c) if saw_run => (Status::Failed, Some(i64::from(c)), None),
        other => (
            Status::Error,
            other.map(i64::from),
            Some(last_lines(&server.paths.output(build.id), 5).unwrap_or_else(|| "slipway steps did not start".into())),
        ),
    }
}

/// Follow the events file while the build runs: count complete lines for live viewers,
/// and record the run id once `run_started` appears. Never returns on its own.
/// Reads only what was appended since the last look, so a long log costs no more
/// per tick than a short one.
async fn follow_events(server: Shared, id: i64, events_tx: watch::Sender<u64>) {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let path = server.paths.events(id);
    let mut read_up_to = 0u64;
    let mut lines = 0u64;
    // The start of the file up to its first newline: the `run_started` event.
    let mut first_line: Option<Vec<u8>> = Some(Vec::new());
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Ok(mut file) = tokio::fs::File::open(&path).await else { continue };
        if file.seek(std::io::SeekFrom::Start(read_up_to)).await.is_err() {
            continue;
        }
        let mut appended = Vec::new();
        if file.read_to_end(&mut appended).await.is_err() || appended.is_empty() {
            continue;
        }
        read_up_to += appended.len() as u64;
        lines += appended.iter().filter(|b| **b == b'\n').count() as u64;
        if lines != *events_tx.borrow() {
            events_tx.send_replace(lines);
        }
        if let Some(start) = first_line.as_mut() {
            start.extend_from_slice(&appended);
            if start.contains(&b'\n') {
                if let Some(run_id) = run_id_in(start) {
                    let _ = server.db.set_run_id(id, &run_id);
                }
                first_line = None;
            }
        }
    }
}

/// After the child exited: record the run id if it is still unknown; whether the run
/// started at all.
async fn follow_once(server: &Shared, id: i64) -> bool {
    let Ok(text) = tokio::fs::read(server.paths.events(id)).await else { return false };
    match run_id_in(&text) {
        Some(run_id) => {
            let _ = server.db.set_run_id(id, &run_id);
            true
        }
        None => false,
    }
}

async fn given_or_from_git(given: &Option<String>, workspace: &Path, format: &str) -> Option<String> {
    match given {
        Some(value) => Some(value.clone()),
        None => git::commit_field(workspace, format).await.filter(|v| !v.is_empty()),
    }
}

fn run_id_in(text: &[u8]) -> Option<String> {
    let first = text.split(|b| *b == b'\n').next()?;
    let event: serde_json::Value = serde_json::from_slice(first).ok()?;
    (event["event"] == "run_started").then(|| event["run_id"].as_str().map(str::to_string)).flatten()
}

fn last_lines(path: &Path, n: usize) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    (!lines.is_empty()).then(|| lines[lines.len().saturating_sub(n)..].join("\n"))
}

/// SIGTERM: `slipway steps` cancels its steps and removes what it created. Send it once
/// per build: a second signal makes it exit at once, leaving everything behind.
pub fn terminate(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
    }
}

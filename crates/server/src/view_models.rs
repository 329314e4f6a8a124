//! Filling the pages' views from the server database, the history store and a build's
//! events file.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::build_events::{self, BuildEvents};
use crate::builds::{Build, Filter, Status};
use crate::db::DbError;
use crate::dispatcher::running_by_project;
use crate::pages::{
    assign_lanes, BuildFilter, BuildRow, BuildView, BuildsView, DashboardView, FlakyStat, ProjectTile, StepBar,
    StepLog, TestHistoryView, TestRow, TestRun, TestStat, Viewer, FLAKY_WINDOW,
};
use crate::state::Shared;

pub const PAGE_SIZE: u32 = 50;
/// Finished builds the success rate looks at.
const RATE_WINDOW: usize = 50;
const MEDIAN_WINDOW: usize = 10;
const CHART_DAYS: i64 = 14;

fn time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub fn build_row(b: &Build) -> BuildRow {
    BuildRow {
        id: b.id,
        project: b.request.project.clone(),
        branch: b.request.branch.clone(),
        commit: b.request.commit.clone(),
        message: b.request.message.clone(),
        status: b.status,
        trigger: b.request.trigger.clone(),
        queued_at: time(b.queued_at_ms),
        started_at: b.started_at_ms.map(time),
        finished_at: b.finished_at_ms.map(time),
        note: b.note.clone(),
    }
}

pub fn builds_view(server: &Shared, viewer: Viewer, filter: Filter, page: u32) -> Result<BuildsView, DbError> {
    let (rows, has_next) = server.db.list(&filter, page, PAGE_SIZE)?;
    let mut projects: Vec<String> = server.config.projects.iter().map(|p| p.name.clone()).collect();
    for p in server.db.projects_with_builds()? {
        if !projects.contains(&p) {
            projects.push(p);
        }
    }
    projects.sort();
    Ok(BuildsView {
        viewer,
        rows: rows.iter().map(build_row).collect(),
        filter: BuildFilter { project: filter.project, branch: filter.branch, status: filter.status },
        page: page.max(1),
        has_next,
        projects,
    })
}

pub fn build_view(server: &Shared, viewer: Viewer, build: &Build) -> BuildView {
    let events = build_events::read(&server.paths.events(build.id));
    let mut view = BuildView {
        viewer,
        build: build_row(build),
        steps: step_bars(&events),
        span_ms: events.span_ms.max(1),
        tests: test_rows(&events),
        logs: step_logs(server, build, &events),
        live: !build.status.is_finished(),
        junit_url: server.paths.junit(build.id).exists().then(|| format!("/builds/{}/junit.xml", build.id)),
        last_event_id: events.count,
    };
    if view.live {
        // The axis runs to now while it runs, so running bars grow.
        if let Some(started) = build.started_at_ms {
            view.span_ms = view.span_ms.max((crate::db::now_ms() - started).max(1) as u64);
        }
    }
    view
}

fn step_bars(events: &BuildEvents) -> Vec<StepBar> {
    let mut bars: Vec<StepBar> = events
        .attempts
        .iter()
        .map(|a| StepBar {
            step: a.step,
            label: a.label.clone(),
            service: a.service.clone(),
            services: a.services.clone(),
            status: a.status.clone(),
            attempt: a.attempt,
            start_ms: a.start_ms,
            end_ms: a.end_ms,
            lane: 0,
        })
        .collect();
    assign_lanes(&mut bars);
    bars
}

fn test_rows(events: &BuildEvents) -> Vec<TestRow> {
    events
        .tests
        .iter()
        .map(|t| TestRow {
            step_label: t.step_label.clone(),
            suite: t.suite.clone(),
            name: t.name.clone(),
            file: t.file.clone(),
            duration: t.duration(),
            status: t.status.clone(),
            message: t.message.clone(),
        })
        .collect()
}

/// Step logs; a build that failed before any step ran shows slipway's own output.
fn step_logs(server: &Shared, build: &Build, events: &BuildEvents) -> Vec<StepLog> {
    let status_of = |step: usize| {
        events
            .attempts
            .iter()
            .rev()
            .find(|a| a.step == step)
            .map_or_else(|| "running".to_string(), |a| a.status.clone())
    };
    let mut logs: Vec<StepLog> = events
        .logs
        .iter()
        .map(|(step, lines)| StepLog {
            step: *step,
            label: events.labels.get(step).cloned().unwrap_or_else(|| format!("step {step}")),
            status: status_of(*step),
            lines: lines.clone(),
        })
        .collect();
    if events.run_id.is_none() && build.status.is_finished() {
        if let Ok(text) = std::fs::read_to_string(server.paths.output(build.id)) {
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            let start = lines.len().saturating_sub(200);
            logs.push(StepLog {
                step: SETUP_STEP,
                label: "checkout and start".into(),
                status: build.status.as_str().to_string(),
                lines: lines[start..].to_vec(),
            });
        }
    }
    logs
}

/// The log section of the checkout and slipway's start-up, which is no engine step.
pub const SETUP_STEP: usize = 999_999;

pub fn dashboard_view(server: &Shared, viewer: Viewer) -> Result<DashboardView, DbError> {
    let running = running_by_project(server);
    let mut tiles = Vec::new();
    let mut names: Vec<String> = server.config.projects.iter().map(|p| p.name.clone()).collect();
    names.sort();
    for name in names {
        tiles.push(project_tile(server, &name, &running)?);
    }
    Ok(DashboardView {
        viewer,
        tiles,
        queue_length: server.db.count(None, Status::Queued)?,
        running: running.values().sum(),
        generated_at: Utc::now(),
    })
}

fn median(mut values: Vec<i64>) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(Duration::from_millis(values[values.len() / 2].max(0) as u64))
}

fn project_tile(server: &Shared, name: &str, running: &HashMap<String, usize>) -> Result<ProjectTile, DbError> {
    let finished = server.db.last_finished(name, RATE_WINDOW)?;
    let passed = finished.iter().filter(|b| b.status == Status::Passed).count();
    let durations: Vec<i64> = finished.iter().filter_map(Build::duration_ms).collect();
    let today = Utc::now().date_naive();
    let since = today - chrono::Duration::days(CHART_DAYS - 1);
    let since_ms = since.and_hms_opt(0, 0, 0).map_or(0, |d| d.and_utc().timestamp_millis());
    let counts: HashMap<String, u32> = server.db.builds_per_day(name, since_ms)?.into_iter().collect();
    let builds_per_day: Vec<(NaiveDate, u32)> = (0..CHART_DAYS)
        .map(|i| {
            let day = since + chrono::Duration::days(i);
            (day, counts.get(&day.format("%Y-%m-%d").to_string()).copied().unwrap_or(0))
        })
        .collect();
    // The history store is best effort: a dashboard without test figures beats none.
    let slowest_tests = server
        .store
        .slowest_tests(name, MEDIAN_WINDOW, 5)
        .unwrap_or_default()
        .into_iter()
        .map(|t| TestStat { suite: t.suite, name: t.name, file: t.file, median: t.median })
        .collect();
    let mut flaky: Vec<FlakyStat> = Vec::new();
    for t in server.store.recent_flaky_tests(name, FLAKY_WINDOW).unwrap_or_default() {
        match flaky.iter_mut().find(|f| f.suite == t.suite && f.name == t.name) {
            Some(f) => {
                f.passed += t.passed;
                f.failed += t.failed;
            }
            None => flaky.push(FlakyStat { suite: t.suite, name: t.name, passed: t.passed, failed: t.failed }),
        }
    }
    flaky.truncate(5);
    Ok(ProjectTile {
        name: name.to_string(),
        last_build: server.db.last_build(name)?.as_ref().map(build_row),
        success_rate: (!finished.is_empty()).then(|| passed as f64 / finished.len() as f64),
        rate_window: finished.len(),
        median_duration: median(durations.iter().take(MEDIAN_WINDOW).copied().collect()),
        previous_median: median(durations.iter().skip(MEDIAN_WINDOW).take(MEDIAN_WINDOW).copied().collect()),
        builds_per_day,
        queued: server.db.count(Some(name), Status::Queued)?,
        running: running.get(name).copied().unwrap_or(0),
        slowest_tests,
        flaky_tests: flaky,
    })
}

pub fn test_history_view(server: &Shared, viewer: Viewer, suite: &str, name: &str) -> Result<TestHistoryView, DbError> {
    let history = server.store.test_history(suite, name, 100).unwrap_or_default();
    let mut runs = Vec::new();
    let mut by_commit: HashMap<String, (bool, bool)> = HashMap::new();
    for r in &history {
        if let Some(commit) = &r.commit {
            let e = by_commit.entry(commit.clone()).or_default();
            if r.status.is_failure() {
                e.1 = true;
            } else if r.status == slipway_store::TestStatus::Passed {
                e.0 = true;
            }
        }
        let Some(build) = server.db.build_of_run(&r.run_id)? else { continue };
        runs.push(TestRun {
            build_id: build.id,
            branch: build.request.branch.clone(),
            commit: r.commit.clone(),
            at: DateTime::<Utc>::from(r.started_at),
            duration: r.duration,
            status: r.status.as_str().to_string(),
        });
    }
    Ok(TestHistoryView {
        viewer,
        suite: suite.to_string(),
        name: name.to_string(),
        file: history.iter().find_map(|r| r.file.clone()),
        flaky: by_commit.values().any(|(p, f)| *p && *f),
        runs,
    })
}

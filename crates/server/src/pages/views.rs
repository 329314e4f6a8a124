//! What the pages show: plain data the handlers fill from the database. Rendering never
//! queries anything, so every page is a pure function of one of these.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildStatus {
    Queued,
    Running,
    Passed,
    Failed,
    Cancelled,
    Interrupted,
    Error,
}

impl BuildStatus {
    /// Every status, in the order the builds filter offers them.
    pub const ALL: [BuildStatus; 7] = [
        BuildStatus::Queued,
        BuildStatus::Running,
        BuildStatus::Passed,
        BuildStatus::Failed,
        BuildStatus::Cancelled,
        BuildStatus::Interrupted,
        BuildStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BuildStatus::Queued => "queued",
            BuildStatus::Running => "running",
            BuildStatus::Passed => "passed",
            BuildStatus::Failed => "failed",
            BuildStatus::Cancelled => "cancelled",
            BuildStatus::Interrupted => "interrupted",
            BuildStatus::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, BuildStatus::Queued | BuildStatus::Running)
    }
}

impl std::fmt::Display for BuildStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token's role: viewers read, admins also act.
pub use crate::auth::Role;

/// Who is looking, for the header and for showing admin-only forms.
#[derive(Clone, Debug, Default)]
pub struct Viewer {
    /// None = anonymous with public read.
    pub role: Option<Role>,
    /// Hidden form field value for POST forms; Some when logged in through a session.
    pub csrf: Option<String>,
}

impl Viewer {
    /// The CSRF token to put in admin forms, when this viewer may use them.
    pub fn admin_csrf(&self) -> Option<&str> {
        match self.role {
            Some(Role::Admin) => self.csrf.as_deref(),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct BuildRow {
    pub id: i64,
    pub project: String,
    pub branch: String,
    /// Full sha; pages show the first 8 characters.
    pub commit: Option<String>,
    /// Commit message; pages show its first line.
    pub message: Option<String>,
    pub status: BuildStatus,
    /// "github push", "bitbucket push", "api", "rerun of #12", …
    pub trigger: String,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// E.g. "superseded by #14", "interrupted: server restarted".
    pub note: Option<String>,
}

impl BuildRow {
    /// How long it ran: finished − started, or now − started while running.
    pub fn duration(&self) -> Option<Duration> {
        self.duration_at(Utc::now())
    }

    /// [`BuildRow::duration`] as of `now`, so a page can use one clock for everything.
    pub fn duration_at(&self, now: DateTime<Utc>) -> Option<Duration> {
        let started = self.started_at?;
        let end = match self.finished_at {
            Some(finished) => finished,
            // A finished build without an end time (e.g. interrupted) must not keep growing.
            None if self.status.is_finished() => return None,
            None => now,
        };
        (end - started).to_std().ok()
    }

    /// How long it waited in the queue (until now while still queued).
    pub fn wait_at(&self, now: DateTime<Utc>) -> Option<Duration> {
        let end = match (self.started_at, self.status) {
            (Some(started), _) => started,
            (None, BuildStatus::Queued) => now,
            (None, _) => return None,
        };
        (end - self.queued_at).to_std().ok()
    }
}

#[derive(Clone, Debug)]
pub struct TestStat {
    pub suite: String,
    pub name: String,
    pub file: Option<String>,
    pub median: Duration,
}

#[derive(Clone, Debug)]
pub struct FlakyStat {
    pub suite: String,
    pub name: String,
    pub passed: u32,
    pub failed: u32,
}

/// Runs a tile looks back over for flaky tests; the whole history would make
/// the dashboard's cost grow with it.
pub const FLAKY_WINDOW: usize = 100;

#[derive(Clone, Debug)]
pub struct ProjectTile {
    pub name: String,
    pub last_build: Option<BuildRow>,
    /// 0.0..=1.0 over the last `rate_window` finished builds.
    pub success_rate: Option<f64>,
    /// How many finished builds that rate covers (≤ 50).
    pub rate_window: usize,
    /// Of the last 10 finished builds.
    pub median_duration: Option<Duration>,
    /// Of the 10 before: for a trend arrow (faster/slower).
    pub previous_median: Option<Duration>,
    /// Last 14 days, oldest first, zeros included.
    pub builds_per_day: Vec<(NaiveDate, u32)>,
    pub queued: usize,
    pub running: usize,
    /// Up to 5.
    pub slowest_tests: Vec<TestStat>,
    /// Up to 5, from the last `FLAKY_WINDOW` runs.
    pub flaky_tests: Vec<FlakyStat>,
}

#[derive(Clone, Debug)]
pub struct DashboardView {
    pub viewer: Viewer,
    pub tiles: Vec<ProjectTile>,
    pub queue_length: usize,
    pub running: usize,
    pub generated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default)]
pub struct BuildFilter {
    pub project: Option<String>,
    pub branch: Option<String>,
    pub status: Option<BuildStatus>,
}

#[derive(Clone, Debug)]
pub struct BuildsView {
    pub viewer: Viewer,
    pub rows: Vec<BuildRow>,
    pub filter: BuildFilter,
    /// From 1.
    pub page: u32,
    pub has_next: bool,
    pub projects: Vec<String>,
}

/// One attempt of a step on the timeline.
#[derive(Clone, Debug)]
pub struct StepBar {
    /// The engine's step id.
    pub step: usize,
    /// E.g. "tests [3/8]".
    pub label: String,
    pub service: String,
    /// Every service of its environment (dependencies first, its own last).
    pub services: Vec<String>,
    /// "running", "passed", "failed", "cancelled", "skipped", "not_run".
    pub status: String,
    pub attempt: u32,
    /// Milliseconds since the run started.
    pub start_ms: u64,
    /// None while running.
    pub end_ms: Option<u64>,
    /// Filled by `assign_lanes`.
    pub lane: usize,
}

#[derive(Clone, Debug)]
pub struct TestRow {
    pub step_label: String,
    pub suite: String,
    pub name: String,
    pub file: Option<String>,
    pub duration: Duration,
    /// passed | failed | error | skipped
    pub status: String,
    pub message: Option<String>,
}

#[derive(Clone, Debug)]
pub struct StepLog {
    pub step: usize,
    pub label: String,
    pub status: String,
    /// Raw lines, may contain ANSI SGR escapes; already secret-masked.
    pub lines: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct BuildView {
    pub viewer: Viewer,
    pub build: BuildRow,
    pub steps: Vec<StepBar>,
    /// The time axis: run length so far.
    pub span_ms: u64,
    pub tests: Vec<TestRow>,
    pub logs: Vec<StepLog>,
    /// Running or queued: the page subscribes to live events.
    pub live: bool,
    pub junit_url: Option<String>,
    /// How many events the rendered page already includes (for SSE resume).
    pub last_event_id: u64,
}

#[derive(Clone, Debug)]
pub struct TestRun {
    pub build_id: i64,
    pub branch: String,
    pub commit: Option<String>,
    pub at: DateTime<Utc>,
    pub duration: Duration,
    pub status: String,
}

#[derive(Clone, Debug)]
pub struct TestHistoryView {
    pub viewer: Viewer,
    pub suite: String,
    pub name: String,
    pub file: Option<String>,
    pub flaky: bool,
    /// Newest first.
    pub runs: Vec<TestRun>,
}

#[derive(Clone, Debug)]
pub struct ErrorView {
    pub viewer: Viewer,
    pub status: u16,
    pub title: String,
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct LoginView {
    pub error: Option<String>,
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(status: BuildStatus, started: Option<i64>, finished: Option<i64>) -> BuildRow {
        let at = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).single().expect("valid time");
        BuildRow {
            id: 1,
            project: "p".into(),
            branch: "main".into(),
            commit: None,
            message: None,
            status,
            trigger: "api".into(),
            queued_at: at(0),
            started_at: started.map(at),
            finished_at: finished.map(at),
            note: None,
        }
    }

    #[test]
    fn status_round_trips() {
        for status in BuildStatus::ALL {
            assert_eq!(BuildStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(BuildStatus::parse("nope"), None);
        assert!(!BuildStatus::Running.is_finished());
        assert!(BuildStatus::Interrupted.is_finished());
    }

    #[test]
    fn durations() {
        let now = Utc.timestamp_opt(1_700_000_100, 0).single().expect("valid time");
        assert_eq!(row(BuildStatus::Passed, Some(10), Some(40)).duration_at(now), Some(Duration::from_secs(30)));
        assert_eq!(row(BuildStatus::Running, Some(10), None).duration_at(now), Some(Duration::from_secs(90)));
        assert_eq!(row(BuildStatus::Interrupted, Some(10), None).duration_at(now), None);
        assert_eq!(row(BuildStatus::Queued, None, None).duration_at(now), None);
        assert_eq!(row(BuildStatus::Queued, None, None).wait_at(now), Some(Duration::from_secs(100)));
        assert_eq!(row(BuildStatus::Passed, Some(10), Some(40)).wait_at(now), Some(Duration::from_secs(10)));
    }
}

//! Figures for dashboards and metrics: a project's slowest tests, one test's history,
//! and the distribution of step durations.

use std::time::{Duration, SystemTime};

use rusqlite::params;

use crate::error::StoreError;
use crate::millis;
use crate::store::Store;
use crate::test_cases::TestStatus;

/// A test and its median duration over recent runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowTest {
    pub suite: String,
    pub name: String,
    pub file: Option<String>,
    pub median: Duration,
}

/// One run of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRun {
    pub run_id: String,
    pub project: String,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub started_at: SystemTime,
    pub file: Option<String>,
    pub duration: Duration,
    pub status: TestStatus,
    pub message: Option<String>,
}

/// Step attempts by duration: `counts[i]` finished within `bounds[i]` (cumulative, as
/// Prometheus histograms count), plus the total count and sum.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationHistogram {
    pub bounds: Vec<Duration>,
    pub counts: Vec<u64>,
    pub count: u64,
    pub sum: Duration,
}

impl Store {
    /// The `limit` tests with the longest median duration over the project's last
    /// `runs` runs (tests that ran, not skipped ones).
    pub fn slowest_tests(&self, project: &str, runs: usize, limit: usize) -> Result<Vec<SlowTest>, StoreError> {
        let connection = self.connection();
        let rows: Vec<(String, String, Option<String>, i64)> = connection
            .prepare_cached(
                "SELECT t.suite, t.name, t.file, t.duration_ms FROM test_cases t
                 WHERE t.status != 'skipped' AND t.run_id IN
                   (SELECT id FROM runs WHERE project = ?1 ORDER BY started_at_ms DESC LIMIT ?2)
                 ORDER BY t.suite, t.name",
            )
            .and_then(|mut s| {
                s.query_map(params![project, runs as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect()
            })
            .map_err(self.database_error("finding the slowest tests"))?;
        let mut tests: Vec<SlowTest> = Vec::new();
        let mut durations: Vec<i64> = Vec::new();
        let flush =
            |tests: &mut Vec<SlowTest>, durations: &mut Vec<i64>, key: Option<(String, String, Option<String>)>| {
                if let Some((suite, name, file)) = key {
                    durations.sort_unstable();
                    let median = durations[durations.len() / 2];
                    tests.push(SlowTest { suite, name, file, median: millis::to_duration(median) });
                }
                durations.clear();
            };
        let mut current: Option<(String, String, Option<String>)> = None;
        for (suite, name, file, ms) in rows {
            if current.as_ref().is_none_or(|(s, n, _)| *s != suite || *n != name) {
                flush(&mut tests, &mut durations, current.take());
                current = Some((suite, name, file));
            }
            durations.push(ms);
        }
        flush(&mut tests, &mut durations, current);
        tests.sort_by(|a, b| b.median.cmp(&a.median).then_with(|| a.name.cmp(&b.name)));
        tests.truncate(limit);
        Ok(tests)
    }

    /// The last `limit` runs of the test `suite`/`name`, newest first (the last attempt
    /// of each run's step).
    pub fn test_history(&self, suite: &str, name: &str, limit: usize) -> Result<Vec<TestRun>, StoreError> {
        let connection = self.connection();
        connection
            .prepare_cached(
                "SELECT r.id, r.project, r.branch, r.commit_id, r.started_at_ms, t.file, t.duration_ms, t.status, t.message
                 FROM test_cases t JOIN runs r ON r.id = t.run_id
                 WHERE t.suite = ?1 AND t.name = ?2
                   AND t.attempt = (SELECT MAX(l.attempt) FROM test_cases l WHERE l.run_id = t.run_id
                                    AND l.step = t.step AND l.suite = t.suite AND l.name = t.name)
                 ORDER BY r.started_at_ms DESC, r.rowid DESC LIMIT ?3",
            )
            .and_then(|mut s| {
                s.query_map(params![suite, name, limit as i64], |r| {
                    Ok(TestRun {
                        run_id: r.get(0)?,
                        project: r.get(1)?,
                        branch: r.get(2)?,
                        commit: r.get(3)?,
                        started_at: millis::to_system_time(r.get(4)?),
                        file: r.get(5)?,
                        duration: millis::to_duration(r.get(6)?),
                        status: r.get(7)?,
                        message: r.get(8)?,
                    })
                })?
                .collect()
            })
            .map_err(self.database_error("reading a test's history"))
    }

    /// Durations of every finished step attempt, as a histogram over `bounds`.
    pub fn step_durations(&self, bounds: &[Duration]) -> Result<DurationHistogram, StoreError> {
        let connection = self.connection();
        let mut select = String::from("SELECT COUNT(*), COALESCE(SUM(finished_at_ms - started_at_ms), 0)");
        for bound in bounds {
            select.push_str(&format!(
                ", COALESCE(SUM(finished_at_ms - started_at_ms <= {}), 0)",
                millis::from_duration(*bound)
            ));
        }
        select.push_str(" FROM steps WHERE started_at_ms IS NOT NULL AND finished_at_ms IS NOT NULL");
        connection
            .query_row(&select, [], |r| {
                let count: i64 = r.get(0)?;
                let sum: i64 = r.get(1)?;
                let counts =
                    (0..bounds.len()).map(|i| r.get::<_, i64>(i + 2).map(|n| n as u64)).collect::<Result<_, _>>()?;
                Ok(DurationHistogram {
                    bounds: bounds.to_vec(),
                    counts,
                    count: count as u64,
                    sum: millis::to_duration(sum),
                })
            })
            .map_err(self.database_error("reading step durations"))
    }
}

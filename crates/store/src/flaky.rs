//! Flaky tests: tests that both passed and failed on the same commit.

use rusqlite::{params, Row};

use crate::error::StoreError;
use crate::store::Store;

/// A test whose outcome changed without its code changing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlakyTest {
    pub project: String,
    pub suite: String,
    pub name: String,
    /// The test's file, when its reports said (what the run summary shows it by).
    pub file: Option<String>,
    pub commit: String,
    /// Times it passed on this commit, over all runs and attempts.
    pub passed: u32,
    /// Times it failed or errored on this commit, over all runs and attempts.
    pub failed: u32,
}

/// Appended to the commit of a run made with uncommitted changes to tracked files: its
/// code is not the commit's, so its outcomes say nothing about the commit's flakiness.
pub const DIRTY_SUFFIX: &str = "-dirty";

// Every attempt counts: a test that failed and then passed on retry in the
// same run is the plainest flake there is. Runs without a commit, or with changes not
// committed (DIRTY_SUFFIX, spelled out in the LIKE), say nothing.
const FLAKY_SELECT: &str = "
SELECT r.project, t.suite, t.name, r.commit_id,
       SUM(t.status = 'passed') AS passed,
       SUM(t.status IN ('failed', 'error')) AS failed,
       MAX(t.file)
FROM runs r
JOIN test_cases t ON t.run_id = r.id
WHERE r.commit_id IS NOT NULL AND r.commit_id NOT LIKE '%-dirty'";

const FLAKY_GROUPS: &str = "
GROUP BY r.project, r.commit_id, t.suite, t.name
HAVING passed > 0 AND failed > 0
ORDER BY failed DESC, r.project, t.suite, t.name, r.commit_id";

impl Store {
    /// Tests (by suite and name) that both passed and failed on one commit,
    /// of `project` when given, most failures first.
    pub fn flaky_tests(&self, project: Option<&str>) -> Result<Vec<FlakyTest>, StoreError> {
        let connection = self.connection();
        // Two statements rather than `?1 IS NULL OR ...`, which keeps SQLite
        // from searching the project index.
        let flaky = match project {
            Some(project) => connection
                .prepare_cached(&format!("{FLAKY_SELECT} AND r.project = ?1 {FLAKY_GROUPS}"))
                .and_then(|mut statement| statement.query_map(params![project], flaky_test_from_row)?.collect()),
            None => connection
                .prepare_cached(&format!("{FLAKY_SELECT} {FLAKY_GROUPS}"))
                .and_then(|mut statement| statement.query_map([], flaky_test_from_row)?.collect()),
        };
        flaky.map_err(self.database_error("finding flaky tests"))
    }

    /// Like [`Store::flaky_tests`] for one project, but looking only at its last
    /// `runs` runs: what a dashboard shows, at a cost that does not grow with
    /// the history.
    pub fn recent_flaky_tests(&self, project: &str, runs: usize) -> Result<Vec<FlakyTest>, StoreError> {
        self.connection()
            .prepare_cached(&format!(
                "{FLAKY_SELECT} AND r.id IN
                   (SELECT id FROM runs WHERE project = ?1 ORDER BY started_at_ms DESC LIMIT ?2)
                 {FLAKY_GROUPS}"
            ))
            .and_then(|mut statement| {
                statement.query_map(params![project, runs as i64], flaky_test_from_row)?.collect()
            })
            .map_err(self.database_error("finding recent flaky tests"))
    }
}

fn flaky_test_from_row(row: &Row<'_>) -> rusqlite::Result<FlakyTest> {
    Ok(FlakyTest {
        project: row.get(0)?,
        suite: row.get(1)?,
        name: row.get(2)?,
        commit: row.get(3)?,
        passed: row.get(4)?,
        failed: row.get(5)?,
        file: row.get(6)?,
    })
}

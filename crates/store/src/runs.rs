//! Runs: starting and finishing them, and reading them back as summaries and details.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use crate::error::StoreError;
use crate::millis;
use crate::steps::{self, StepRecord};
use crate::store::{is_unique_violation, Store};
use crate::test_cases::{self, FailingTest};

/// A run as it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    pub id: String,
    pub project: String,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub started_at: SystemTime,
    /// The process running it, when it runs on this machine's engine.
    pub process: Option<RunProcess>,
}

/// The process that runs a run: its pid on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunProcess {
    pub pid: u32,
    pub host: String,
}

/// How a finished run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunResult {
    Passed,
    Failed,
    Cancelled,
}

impl RunResult {
    /// The text stored in the database and shown in [`RunSummary::result`].
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Passed => "passed",
            RunResult::Failed => "failed",
            RunResult::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for RunResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunResult {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "passed" => Ok(RunResult::Passed),
            "failed" => Ok(RunResult::Failed),
            "cancelled" => Ok(RunResult::Cancelled),
            other => Err(format!("`{other}` is not a run result (passed, failed, cancelled)")),
        }
    }
}

/// [`RunSummary::result`] of a run that has not finished (or whose process died).
pub const RUNNING: &str = "running";

/// One line of `slipway history`: a run and its counts.
///
/// Counts look at each step's last attempt only, so a step that failed and
/// then passed on retry counts once, as passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub id: String,
    pub project: String,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub started_at: SystemTime,
    pub finished_at: Option<SystemTime>,
    /// `passed`, `failed`, `cancelled`, or [`RUNNING`].
    pub result: String,
    /// The process that ran it, when recorded (runs since schema version 3).
    pub process: Option<RunProcess>,
    /// Distinct steps recorded.
    pub steps: u32,
    /// Steps whose last attempt has status `failed`.
    pub failed_steps: u32,
    /// Test cases in the last attempt (that reported tests) of each step.
    pub tests: u32,
    /// Of those, the ones that failed or errored.
    pub failed_tests: u32,
}

/// A run with all its step attempts and every failing test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDetail {
    pub run: RunSummary,
    /// Every attempt of every step, ordered by step, then attempt.
    pub steps: Vec<StepRecord>,
    /// Failed and errored test cases of every attempt, with the step's label
    /// and the attempt, ordered by step, attempt and report order.
    pub failing_tests: Vec<FailingTest>,
}

// Counts are subqueries so that they run only for the runs a query returns.
// "Last attempt" is per step for steps, and per test for test cases: a queue worker
// re-runs only the failed files, in a later attempt of their own.
const SUMMARY_SELECT: &str = "
SELECT r.id, r.project, r.branch, r.commit_id, r.started_at_ms, r.finished_at_ms,
       COALESCE(r.result, 'running'),
       (SELECT COUNT(DISTINCT s.step) FROM steps s WHERE s.run_id = r.id),
       (SELECT COUNT(*) FROM steps s
         WHERE s.run_id = r.id AND s.status = 'failed'
           AND s.attempt = (SELECT MAX(l.attempt) FROM steps l
                             WHERE l.run_id = s.run_id AND l.step = s.step)),
       (SELECT COUNT(*) FROM test_cases t
         WHERE t.run_id = r.id
           AND t.attempt = (SELECT MAX(l.attempt) FROM test_cases l
                             WHERE l.run_id = t.run_id AND l.step = t.step
                               AND l.suite = t.suite AND l.name = t.name)),
       (SELECT COUNT(*) FROM test_cases t
         WHERE t.run_id = r.id AND t.status IN ('failed', 'error')
           AND t.attempt = (SELECT MAX(l.attempt) FROM test_cases l
                             WHERE l.run_id = t.run_id AND l.step = t.step
                               AND l.suite = t.suite AND l.name = t.name)),
       r.pid, r.host
FROM runs r";

// Newest first; rowid breaks ties between runs started in the same millisecond.
const NEWEST_FIRST: &str = "ORDER BY r.started_at_ms DESC, r.rowid DESC";

/// How many matching ids an ambiguous-prefix error shows.
const AMBIGUOUS_EXAMPLES: usize = 3;

fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<RunSummary> {
    Ok(RunSummary {
        id: row.get(0)?,
        project: row.get(1)?,
        branch: row.get(2)?,
        commit: row.get(3)?,
        started_at: millis::to_system_time(row.get(4)?),
        finished_at: row.get::<_, Option<i64>>(5)?.map(millis::to_system_time),
        result: row.get(6)?,
        steps: row.get(7)?,
        failed_steps: row.get(8)?,
        tests: row.get(9)?,
        failed_tests: row.get(10)?,
        process: match (row.get::<_, Option<u32>>(11)?, row.get::<_, Option<String>>(12)?) {
            (Some(pid), Some(host)) => Some(RunProcess { pid, host }),
            _ => None,
        },
    })
}

impl Store {
    /// Records a run as started; its result reads as `running` until [`Store::finish_run`].
    pub fn start_run(&self, run: &NewRun) -> Result<(), StoreError> {
        let connection = self.connection();
        let inserted = connection.execute(
            "INSERT INTO runs (id, project, branch, commit_id, started_at_ms, pid, host)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                run.id,
                run.project,
                run.branch,
                run.commit,
                millis::from_system_time(run.started_at),
                run.process.as_ref().map(|p| p.pid),
                run.process.as_ref().map(|p| p.host.as_str())
            ],
        );
        match inserted {
            Ok(_) => Ok(()),
            Err(error) if is_unique_violation(&error) => {
                Err(StoreError::RunExists { path: self.database_path().to_path_buf(), run_id: run.id.clone() })
            }
            Err(error) => Err(self.database_error("starting a run")(error)),
        }
    }

    /// Records how a run ended. Finishing a run again overwrites the result.
    pub fn finish_run(&self, run_id: &str, finished_at: SystemTime, result: RunResult) -> Result<(), StoreError> {
        let updated = self
            .connection()
            .execute(
                "UPDATE runs SET finished_at_ms = ?2, result = ?3 WHERE id = ?1",
                params![run_id, millis::from_system_time(finished_at), result.as_str()],
            )
            .map_err(self.database_error("finishing a run"))?;
        if updated == 0 {
            return Err(self.unknown_run(run_id, "finish_run"));
        }
        Ok(())
    }

    /// Remove `project`'s runs older than its newest `keep` — with their steps, test cases
    /// and logs — so that the history does not grow for ever. Returns how many went.
    pub fn prune_runs(&self, project: &str, keep: usize) -> Result<usize, StoreError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let old: Vec<String> = {
            let mut connection = self.connection();
            let map_error = self.database_error("removing old runs");
            let transaction = connection.transaction().map_err(&map_error)?;
            let old = transaction
                .prepare(&format!("SELECT r.id FROM runs r WHERE r.project = ?1 {NEWEST_FIRST} LIMIT -1 OFFSET ?2"))
                .and_then(|mut statement| {
                    statement
                        .query_map(params![project, keep], |row| row.get(0))?
                        .collect::<rusqlite::Result<Vec<String>>>()
                })
                .map_err(&map_error)?;
            for id in &old {
                // Steps and test cases go with their run (ON DELETE CASCADE).
                transaction.execute("DELETE FROM runs WHERE id = ?1", params![id]).map_err(&map_error)?;
            }
            transaction.commit().map_err(&map_error)?;
            old
        };
        for id in &old {
            if let Ok(run_logs) = self.run_logs_dir(id) {
                let _ = std::fs::remove_dir_all(run_logs);
            }
        }
        Ok(old.len())
    }

    /// Up to `limit` runs, newest first, of `project` when given, else of all projects.
    pub fn runs(&self, project: Option<&str>, limit: usize) -> Result<Vec<RunSummary>, StoreError> {
        let connection = self.connection();
        let map_error = self.database_error("listing runs");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let summaries = match project {
            Some(project) => connection
                .prepare_cached(&format!("{SUMMARY_SELECT} WHERE r.project = ?1 {NEWEST_FIRST} LIMIT ?2"))
                .and_then(|mut statement| {
                    statement
                        .query_map(params![project, limit], summary_from_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                }),
            None => connection.prepare_cached(&format!("{SUMMARY_SELECT} {NEWEST_FIRST} LIMIT ?1")).and_then(
                |mut statement| {
                    statement.query_map(params![limit], summary_from_row)?.collect::<rusqlite::Result<Vec<_>>>()
                },
            ),
        };
        summaries.map_err(map_error)
    }

    /// The run whose id is `id_or_prefix`, or else the only run whose id starts
    /// with it. `Ok(None)` when nothing matches, [`StoreError::Ambiguous`] when
    /// several runs do.
    pub fn run(&self, id_or_prefix: &str) -> Result<Option<RunDetail>, StoreError> {
        let mut connection = self.connection();
        let map_error = self.database_error("reading a run");
        // Deferred: a read-only snapshot, so the run, its steps and its tests agree.
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Deferred).map_err(&map_error)?;

        let Some(run_id) = self.resolve_run_id(&transaction, id_or_prefix)? else {
            return Ok(None);
        };
        let run = transaction
            .prepare_cached(&format!("{SUMMARY_SELECT} WHERE r.id = ?1"))
            .and_then(|mut statement| statement.query_row([&run_id], summary_from_row))
            .map_err(&map_error)?;
        let steps = steps::steps_of_run(&transaction, &run_id).map_err(&map_error)?;
        let failing_tests = test_cases::failing_tests_of_run(&transaction, &run_id).map_err(&map_error)?;
        Ok(Some(RunDetail { run, steps, failing_tests }))
    }

    /// The full id that `id_or_prefix` names: itself if it is a run's id,
    /// else the only id it is a prefix of.
    fn resolve_run_id(
        &self,
        connection: &rusqlite::Connection,
        id_or_prefix: &str,
    ) -> Result<Option<String>, StoreError> {
        let map_error = self.database_error("looking up a run id");
        // An exact id wins even when it is also the prefix of longer ids.
        let exact: Option<String> = connection
            .query_row("SELECT id FROM runs WHERE id = ?1", [id_or_prefix], |row| row.get(0))
            .optional()
            .map_err(&map_error)?;
        if exact.is_some() {
            return Ok(exact);
        }

        // Ids with this prefix sort between the prefix and the prefix followed
        // by the largest code point, so the primary key index finds them.
        let upper_bound = format!("{id_or_prefix}\u{10FFFF}");
        let mut statement = connection
            .prepare_cached("SELECT id FROM runs WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3")
            .map_err(&map_error)?;
        let examples_wanted = i64::try_from(AMBIGUOUS_EXAMPLES + 1).unwrap_or(i64::MAX);
        let matches = statement
            .query_map(params![id_or_prefix, upper_bound, examples_wanted], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(&map_error)?;
        match matches.as_slice() {
            [] => Ok(None),
            [only] => Ok(Some(only.clone())),
            _ => {
                let count: i64 = connection
                    .query_row(
                        "SELECT COUNT(*) FROM runs WHERE id >= ?1 AND id < ?2",
                        params![id_or_prefix, upper_bound],
                        |row| row.get(0),
                    )
                    .map_err(&map_error)?;
                let count = usize::try_from(count).unwrap_or(usize::MAX);
                let mut examples = matches.iter().take(AMBIGUOUS_EXAMPLES).cloned().collect::<Vec<_>>().join(", ");
                if count > AMBIGUOUS_EXAMPLES {
                    examples.push_str(", …");
                }
                Err(StoreError::Ambiguous {
                    path: self.database_path().to_path_buf(),
                    prefix: id_or_prefix.to_owned(),
                    count,
                    examples,
                })
            }
        }
    }
}

//! Test cases from a step attempt's test reports.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, ToSql};

use crate::error::StoreError;
use crate::millis;
use crate::store::{is_foreign_key_violation, Store};

/// One test case as a report (JUnit XML and the like) gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCaseRecord {
    pub suite: String,
    pub name: String,
    /// The source file, when the report says; needed for timing-based splits.
    pub file: Option<String>,
    pub duration: Duration,
    pub status: TestStatus,
    /// The failure or error message.
    pub message: Option<String>,
}

/// How a test case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestStatus {
    Passed,
    Failed,
    /// The test could not run to an assertion (an exception, a timeout).
    Error,
    Skipped,
}

impl TestStatus {
    /// The text stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::Error => "error",
            TestStatus::Skipped => "skipped",
        }
    }

    /// Failed or errored: what counts against a run and as a flaky outcome.
    pub fn is_failure(self) -> bool {
        matches!(self, TestStatus::Failed | TestStatus::Error)
    }
}

impl fmt::Display for TestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TestStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "passed" => Ok(TestStatus::Passed),
            "failed" => Ok(TestStatus::Failed),
            "error" => Ok(TestStatus::Error),
            "skipped" => Ok(TestStatus::Skipped),
            other => Err(format!("`{other}` is not a test status (passed, failed, error, skipped)")),
        }
    }
}

impl ToSql for TestStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for TestStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_str()?.parse().map_err(|message: String| FromSqlError::Other(message.into()))
    }
}

impl Store {
    /// Records the test cases of one step attempt, replacing any recorded for
    /// it before, in one transaction: readers see all of them or none.
    pub fn record_tests(
        &self,
        run_id: &str,
        step: u32,
        attempt: u32,
        cases: &[TestCaseRecord],
    ) -> Result<(), StoreError> {
        let mut connection = self.connection();
        let map_error = self.database_error("recording test cases");
        let recorded = (|| {
            let transaction = connection.transaction()?;
            transaction.execute(
                "DELETE FROM test_cases WHERE run_id = ?1 AND step = ?2 AND attempt = ?3",
                params![run_id, step, attempt],
            )?;
            {
                let mut insert = transaction.prepare_cached(
                    "INSERT INTO test_cases (run_id, step, attempt, seq, suite, name, file,
                                             duration_ms, status, message)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?;
                for (seq, case) in cases.iter().enumerate() {
                    insert.execute(params![
                        run_id,
                        step,
                        attempt,
                        i64::try_from(seq).unwrap_or(i64::MAX),
                        case.suite,
                        case.name,
                        case.file,
                        millis::from_duration(case.duration),
                        case.status,
                        case.message,
                    ])?;
                }
            }
            transaction.commit()
        })();
        match recorded {
            Ok(()) => Ok(()),
            Err(error) if is_foreign_key_violation(&error) => Err(self.unknown_run(run_id, "record_tests")),
            Err(error) => Err(map_error(error)),
        }
    }
}

/// A failed or errored test case of one attempt of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingTest {
    /// The step's label.
    pub label: String,
    pub attempt: u32,
    pub case: TestCaseRecord,
    /// The first later attempt of its step in which it passed: a retry fixed it.
    pub passed_on: Option<u32>,
}

/// Failed and errored cases of every attempt of `run_id`, with their step's
/// label (from the same attempt if recorded, else from any attempt of the step).
pub(crate) fn failing_tests_of_run(connection: &Connection, run_id: &str) -> rusqlite::Result<Vec<FailingTest>> {
    let mut statement = connection.prepare_cached(
        "SELECT COALESCE(
                    (SELECT s.label FROM steps s
                      WHERE s.run_id = t.run_id AND s.step = t.step AND s.attempt = t.attempt),
                    (SELECT s.label FROM steps s
                      WHERE s.run_id = t.run_id AND s.step = t.step
                      ORDER BY s.attempt DESC LIMIT 1),
                    'step ' || t.step),
                t.attempt, t.suite, t.name, t.file, t.duration_ms, t.status, t.message,
                (SELECT MIN(p.attempt) FROM test_cases p
                  WHERE p.run_id = t.run_id AND p.step = t.step AND p.attempt > t.attempt
                    AND p.suite = t.suite AND p.name = t.name AND p.status = 'passed')
         FROM test_cases t
         WHERE t.run_id = ?1 AND t.status IN ('failed', 'error')
         ORDER BY t.step, t.attempt, t.seq",
    )?;
    let rows = statement.query_map([run_id], |row| {
        Ok(FailingTest {
            label: row.get(0)?,
            attempt: row.get(1)?,
            case: TestCaseRecord {
                suite: row.get(2)?,
                name: row.get(3)?,
                file: row.get(4)?,
                duration: millis::to_duration(row.get(5)?),
                status: row.get(6)?,
                message: row.get(7)?,
            },
            passed_on: row.get(8)?,
        })
    })?;
    rows.collect()
}

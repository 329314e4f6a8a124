//! The database schema, as an ordered list of migrations.
//!
//! `rusqlite_migration` records how many have run in SQLite's `user_version`
//! header field. Never edit a migration that has shipped: append a new one,
//! since databases already past it will not run it again.

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

const MIGRATIONS_SLICE: &[M<'static>] = &[
    M::up(
        r#"
-- One row per `slipway steps` invocation. result is NULL while the run is going.
CREATE TABLE runs (
    id             TEXT PRIMARY KEY NOT NULL,
    project        TEXT NOT NULL,
    branch         TEXT,
    commit_id      TEXT,
    started_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER,
    result         TEXT CHECK (result IN ('passed', 'failed', 'cancelled'))
) STRICT;
-- `runs --project` and "the project's last runs" for file timings, newest first.
CREATE INDEX runs_by_project_started ON runs (project, started_at_ms);
-- `runs` without a project filter.
CREATE INDEX runs_by_started ON runs (started_at_ms);
-- flaky tests: a project's runs that have a commit, grouped by commit.
CREATE INDEX runs_by_project_commit ON runs (project, commit_id) WHERE commit_id IS NOT NULL;

-- One row per attempt of a step; a retried step has attempts 1, 2, ...
CREATE TABLE steps (
    run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step           INTEGER NOT NULL,
    attempt        INTEGER NOT NULL,
    label          TEXT NOT NULL,
    name           TEXT NOT NULL,
    service        TEXT NOT NULL,
    status         TEXT NOT NULL,
    exit_code      INTEGER,
    started_at_ms  INTEGER,
    finished_at_ms INTEGER,
    shard          INTEGER,
    message        TEXT,
    PRIMARY KEY (run_id, step, attempt)
) STRICT;

-- One row per test case in a step attempt's reports. seq keeps the report's
-- order and lets the same suite+name appear twice (parameterised tests).
-- No foreign key to steps: reports may be recorded before the step's row.
CREATE TABLE test_cases (
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    suite       TEXT NOT NULL,
    name        TEXT NOT NULL,
    file        TEXT,
    duration_ms INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('passed', 'failed', 'error', 'skipped')),
    message     TEXT,
    PRIMARY KEY (run_id, step, attempt, seq)
) STRICT;
-- A file's cases across runs. file_timings drives from the project's runs
-- (runs_by_project_started, then this table's primary key); this serves
-- lookups that start from files, such as the timings of given files.
CREATE INDEX test_cases_by_file ON test_cases (file, run_id) WHERE file IS NOT NULL;
-- A test's outcomes across runs: the history and flakiness of one test.
CREATE INDEX test_cases_by_test ON test_cases (suite, name, run_id, status);
"#,
    ),
    // Whether the attempt ran in an environment `slipway warm` started: shards start
    // together there, so their start lags are learned apart from cold runs'.
    M::up("ALTER TABLE steps ADD COLUMN warm INTEGER NOT NULL DEFAULT 0;"),
    // The process that runs a run and its host, so that a run whose process died before
    // it could record its end (`kill -9`, a crash, a power cut) is not shown as running.
    M::up("ALTER TABLE runs ADD COLUMN pid INTEGER; ALTER TABLE runs ADD COLUMN host TEXT;"),
    // When the attempt's command started: shards start in turn, and this is their turn,
    // apart from what their files did outside their test cases.
    M::up("ALTER TABLE steps ADD COLUMN command_started_at_ms INTEGER;"),
];

const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATIONS_SLICE);

/// The schema version a database has once [`migrate`] succeeded.
pub const SCHEMA_VERSION: usize = MIGRATIONS_SLICE.len();

/// Brings the schema to [`SCHEMA_VERSION`]; a no-op on an up-to-date database.
///
/// Two processes opening a new history at once both see version 0 and both
/// try to migrate; the second then fails on tables that already exist. That
/// failure is harmless when the other process got the schema to the latest
/// version, so it is checked before giving up.
pub(crate) fn migrate(connection: &mut Connection) -> Result<(), rusqlite_migration::Error> {
    match MIGRATIONS.to_latest(connection) {
        Ok(()) => Ok(()),
        Err(error) => match schema_version(connection) {
            Ok(SCHEMA_VERSION) => Ok(()),
            _ => Err(error),
        },
    }
}

/// What went wrong in a migration, without the SQL that rusqlite_migration
/// puts in its message (the whole migration).
pub(crate) fn failure_cause(error: &rusqlite_migration::Error) -> String {
    match error {
        // rusqlite's own message for a statement error quotes the SQL too.
        rusqlite_migration::Error::RusqliteError { err: rusqlite::Error::SqlInputError { msg, .. }, .. } => msg.clone(),
        rusqlite_migration::Error::RusqliteError { err, .. } => err.to_string(),
        other => other.to_string(),
    }
}

/// The schema version recorded in the database header (`PRAGMA user_version`).
pub(crate) fn schema_version(connection: &Connection) -> rusqlite::Result<usize> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    Ok(usize::try_from(version).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        MIGRATIONS.validate().unwrap();
    }

    #[test]
    fn migrating_twice_keeps_the_version() {
        let mut connection = Connection::open_in_memory().unwrap();
        assert_eq!(schema_version(&connection).unwrap(), 0);
        migrate(&mut connection).unwrap();
        assert_eq!(schema_version(&connection).unwrap(), SCHEMA_VERSION);
        migrate(&mut connection).unwrap();
        assert_eq!(schema_version(&connection).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_failed_migration_is_still_reported() {
        let mut connection = Connection::open_in_memory().unwrap();
        // A table in the way that no other process created through migrations.
        connection.execute_batch("CREATE TABLE runs (x INTEGER)").unwrap();
        assert!(migrate(&mut connection).is_err());
        assert_eq!(schema_version(&connection).unwrap(), 0);
    }
}

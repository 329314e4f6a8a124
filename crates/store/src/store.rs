//! The handle on one history directory: opening it and sharing its connection.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use crate::error::StoreError;
use crate::schema;

/// The database's file name inside the history directory.
pub const DATABASE_FILE: &str = "history.db";

/// How long a write waits for another slipway process to release the database.
/// Writes are single rows or one step's test cases, so waiting longer than
/// this means the other process is stuck, not busy.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The run history in one directory: `history.db` plus gzip step logs under `logs/`.
///
/// Several `Store`s, in one process or several, may use the same directory at
/// once: SQLite's write-ahead log lets readers go on while one writer writes,
/// and the busy timeout makes writers queue instead of failing.
#[derive(Debug)]
pub struct Store {
    // One connection per handle: rusqlite connections are not Sync, and the
    // writes are short, so a mutex costs less than a pool.
    connection: Mutex<Connection>,
    dir: PathBuf,
    database: PathBuf,
}

impl Store {
    /// Creates `dir` if missing, opens or creates `dir/history.db` in WAL mode
    /// with a busy timeout of [`BUSY_TIMEOUT`], and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        ensure_directory(dir)?;
        // SQLite answers SQLITE_BUSY at once, without the busy handler, where waiting
        // could deadlock — as when two connections race to switch a new database to WAL
        // or to migrate it. Opening is idempotent, so start over until the timeout.
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            match Self::open_once(dir) {
                Err(StoreError::Busy { .. }) if started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                result => return result,
            }
        }
    }

    fn open_once(dir: &Path) -> Result<Store, StoreError> {
        let database = dir.join(DATABASE_FILE);
        let open_error = |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => busy_error(&database, "opening it", source),
            _ => StoreError::Open { path: database.clone(), source },
        };

        let mut connection = Connection::open(&database).map_err(open_error)?;
        // First, so that even switching to WAL waits for a concurrent opener.
        connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        let mode: String =
            connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::WalUnavailable { path: database, mode });
        }
        // NORMAL is safe from corruption in WAL mode; a power cut may lose the
        // last run's rows, which is an acceptable price for history.
        connection.pragma_update(None, "synchronous", "NORMAL").map_err(open_error)?;
        connection.pragma_update(None, "foreign_keys", true).map_err(open_error)?;
        // A deferred transaction that reads and then writes can fail with
        // SQLITE_BUSY without waiting; an immediate one takes the write lock
        // up front, so the busy timeout applies.
        connection.set_transaction_behavior(TransactionBehavior::Immediate);

        // Checked here because rusqlite_migration's error for it does not say
        // which version was found.
        let found = schema::schema_version(&connection).map_err(open_error)?;
        if found > schema::SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { path: database, found, supported: schema::SCHEMA_VERSION });
        }
        schema::migrate(&mut connection).map_err(|source| match source {
            rusqlite_migration::Error::RusqliteError { err, .. }
                if matches!(err.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)) =>
            {
                busy_error(&database, "migrating it", err)
            }
            source => StoreError::Migrate {
                path: database.clone(),
                target: schema::SCHEMA_VERSION,
                cause: schema::failure_cause(&source),
                source: Box::new(source),
            },
        })?;

        Ok(Store { connection: Mutex::new(connection), dir: dir.to_path_buf(), database })
    }

    /// The history directory this store was opened on.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file, `dir/history.db`.
    pub fn database_path(&self) -> &Path {
        &self.database
    }

    /// The schema version recorded in the database (SQLite's `user_version`).
    pub fn schema_version(&self) -> Result<usize, StoreError> {
        schema::schema_version(&self.connection()).map_err(self.database_error("reading the schema version"))
    }

    /// The connection, even if a thread panicked while holding it: SQLite
    /// rolled back whatever that thread left unfinished when its transaction dropped.
    /// Write the write-ahead log into the database file and empty it (a long-lived
    /// process's connection keeps it from happening when others close theirs).
    pub fn checkpoint(&self) {
        let _ = self.connection().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    }

    pub(crate) fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Turns a SQLite error during `action` into a [`StoreError`] naming the database.
    pub(crate) fn database_error(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => busy_error(&self.database, action, source),
            _ => StoreError::Database { path: self.database.clone(), action, source },
        }
    }

    /// [`StoreError::UnknownRun`] for `run_id`.
    pub(crate) fn unknown_run(&self, run_id: &str, action: &'static str) -> StoreError {
        StoreError::UnknownRun { path: self.database.clone(), run_id: run_id.to_owned(), action }
    }
}

/// Whether `error` is a FOREIGN KEY constraint failure, which here always
/// means a row for a run that `start_run` never created.
pub(crate) fn is_foreign_key_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
    )
}

/// Whether `error` is a PRIMARY KEY or UNIQUE constraint failure.
pub(crate) fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

fn busy_error(database: &Path, action: &'static str, source: rusqlite::Error) -> StoreError {
    StoreError::Busy { path: database.to_path_buf(), action, timeout_secs: BUSY_TIMEOUT.as_secs(), source }
}

fn ensure_directory(dir: &Path) -> Result<(), StoreError> {
    // Checked first: create_dir_all's error for an existing file ("File
    // exists") would not say what is wrong.
    if let Ok(metadata) = fs::metadata(dir) {
        if !metadata.is_dir() {
            return Err(StoreError::NotADirectory { path: dir.to_path_buf() });
        }
    }
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
    // A history made in a checkout (`.slipway/`) stays out of `git status`, as pytest's
    // and mypy's caches do; best effort.
    let _ = fs::write(dir.join(".gitignore"), "# made by slipway: its run history is not part of the project\n*\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewRun, StoreError};
    use std::time::UNIX_EPOCH;

    #[test]
    fn a_history_folder_it_makes_ignores_itself_for_git_and_one_given_is_left_as_it_is() {
        let temp = tempfile::tempdir().unwrap();
        let made = temp.path().join(".slipway");
        Store::open(&made).unwrap();
        let ignore = fs::read_to_string(made.join(".gitignore")).unwrap();
        assert_eq!(ignore.lines().last(), Some("*"));
        Store::open(temp.path()).unwrap();
        assert!(!temp.path().join(".gitignore").exists(), "a folder that was there is not written into");
    }

    #[test]
    fn the_connection_is_set_up_for_concurrent_writers() {
        let temp = tempfile::tempdir().unwrap();
        let store = Store::open(temp.path()).unwrap();
        let connection = store.connection();
        let pragma = |name: &str| -> String {
            connection
                .pragma_query_value(None, name, |row| row.get::<_, rusqlite::types::Value>(0))
                .map(|value| match value {
                    rusqlite::types::Value::Integer(number) => number.to_string(),
                    rusqlite::types::Value::Text(text) => text,
                    other => format!("{other:?}"),
                })
                .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "wal");
        assert!(pragma("busy_timeout").parse::<u64>().unwrap() >= 5_000);
        assert_eq!(pragma("foreign_keys"), "1");
        assert_eq!(pragma("synchronous"), "1"); // NORMAL
    }

    #[test]
    fn a_write_blocked_past_the_timeout_is_a_busy_error_naming_the_database() {
        let temp = tempfile::tempdir().unwrap();
        let store = Store::open(temp.path()).unwrap();
        // Short, so the test does not wait the real timeout out.
        store.connection().busy_timeout(Duration::from_millis(50)).unwrap();
        let other = Connection::open(store.database_path()).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();

        let run = NewRun {
            id: "r".to_owned(),
            project: "acme".to_owned(),
            branch: None,
            commit: None,
            started_at: UNIX_EPOCH,
            process: None,
        };
        let error = store.start_run(&run).unwrap_err();
        assert!(matches!(error, StoreError::Busy { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&store.database_path().display().to_string()), "{message}");
        assert!(message.contains("stuck slipway process"), "{message}");

        other.execute_batch("ROLLBACK").unwrap();
        store.start_run(&run).unwrap();
    }
}

//! Why the history store could not do what was asked.
//!
//! Every message names the file it is about and says what to do, because it
//! is shown to a person at the end of a CI run, far from the code.

use std::io;
use std::path::PathBuf;

/// Why a [`Store`](crate::Store) call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The history directory exists but is a file (or something else).
    #[error("{path} is not a directory: slipway keeps its history (history.db and logs/) in a directory there; move the file away or choose another history directory")]
    NotADirectory { path: PathBuf },

    /// The history directory could not be created.
    #[error("cannot create the history directory {path}: {source}; check that its parent is writable, or choose another history directory")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// SQLite could not open or set up the database file.
    #[error("cannot open the history database {path}: {source}; check that the file is readable and writable, or move it away to start a new history")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// The database refused write-ahead logging, which concurrent writers need.
    #[error("the history database {path} cannot use write-ahead logging (journal mode stayed `{mode}`); keep the history directory on a local disk, not a network filesystem")]
    WalUnavailable { path: PathBuf, mode: String },

    /// The database was written by a slipway with a newer schema.
    #[error("the history database {path} has schema version {found}, newer than the version {supported} this slipway knows: use the newer slipway that wrote it, or move the file away to start a new history")]
    NewerSchema { path: PathBuf, found: usize, supported: usize },

    /// The schema could not be brought to this slipway's version.
    #[error("cannot update the schema of the history database {path} to version {target}: {cause}; move the file away to start a new history, and report this as a slipway bug")]
    Migrate {
        path: PathBuf,
        target: usize,
        /// The failure without the migration's SQL, which would fill the screen.
        cause: String,
        #[source]
        source: Box<rusqlite_migration::Error>,
    },

    /// Another process kept the database locked for longer than the busy timeout.
    #[error("the history database {path} stayed locked by another process for over {timeout_secs} s while {action}; try again, and look for a stuck slipway process using that directory")]
    Busy {
        path: PathBuf,
        action: &'static str,
        timeout_secs: u64,
        #[source]
        source: rusqlite::Error,
    },

    /// Any other SQLite failure while reading or writing history.
    #[error("the history database {path} failed while {action}: {source}; check free disk space, or move the file away to start a new history if it is damaged")]
    Database {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    /// A step, test or finish was recorded for a run that was never started.
    #[error("no run `{run_id}` in the history database {path}: start_run must be called before {action}")]
    UnknownRun { path: PathBuf, run_id: String, action: &'static str },

    /// `start_run` with an id that is already in the history.
    #[error("a run `{run_id}` is already in the history database {path}: run ids must be unique, so start the run with a new id")]
    RunExists { path: PathBuf, run_id: String },

    /// A run id prefix that matches more than one run.
    #[error("`{prefix}` matches {count} runs in the history database {path} ({examples}); give more characters of the run id")]
    Ambiguous { path: PathBuf, prefix: String, count: usize, examples: String },

    /// A run id that cannot be a directory name under `logs/`.
    #[error("run id `{run_id}` cannot name a log directory under {path}: it must be non-empty, not `.` or `..`, and contain no `/`, `\\` or NUL")]
    InvalidRunId { path: PathBuf, run_id: String },

    /// A step log could not be written.
    #[error(
        "cannot write the step log {path}: {source}; check free disk space and that the history directory is writable"
    )]
    WriteLog {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A step log does not exist.
    #[error("no step log at {path}: the step did not run with this attempt number, or its log was deleted")]
    LogNotFound { path: PathBuf },

    /// A step log exists but could not be read back.
    #[error("cannot read the step log {path}: {source}; the file may be damaged or not gzip, delete it if so")]
    ReadLog {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

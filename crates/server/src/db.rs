//! The server's own database (`server.db` in the data dir): the durable build queue,
//! API tokens and browser sessions. The run history lives in the store beside it.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};
use rusqlite_migration::{Migrations, M};

const MIGRATIONS: &[M<'static>] = &[
    M::up(
        r#"
-- One row per build. A build is queued, then running, then finished (passed, failed,
-- cancelled, error) or interrupted (the server stopped while it ran).
CREATE TABLE builds (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    project            TEXT NOT NULL,
    branch             TEXT NOT NULL,
    commit_id          TEXT,
    message            TEXT,
    committer_name     TEXT,
    committer_email    TEXT,
    committer_username TEXT,
    pr_number          INTEGER,
    pr_url             TEXT,
    trigger            TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN
                        ('queued', 'running', 'passed', 'failed', 'cancelled', 'interrupted', 'error')),
    note               TEXT,
    queued_at_ms       INTEGER NOT NULL,
    started_at_ms      INTEGER,
    finished_at_ms     INTEGER,
    run_id             TEXT,
    exit_code          INTEGER,
    -- The build this one repeats after an interruption: such a build is not requeued again.
    recovers           INTEGER REFERENCES builds (id)
) STRICT;
CREATE INDEX builds_by_status ON builds (status, id);
CREATE INDEX builds_by_project ON builds (project, id);
CREATE INDEX builds_by_project_branch ON builds (project, branch, id);
CREATE INDEX builds_by_run ON builds (run_id) WHERE run_id IS NOT NULL;

-- API and trigger tokens: only a SHA-256 of each is kept.
CREATE TABLE tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
    hash          TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    last_used_ms  INTEGER
) STRICT;

-- Browser sessions opened with a token; the cookie holds the id, this its SHA-256.
CREATE TABLE sessions (
    hash          TEXT PRIMARY KEY NOT NULL,
    token_id      INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;
"#,
    ),
    // The dashboard asks each project for its queue length and builds per day on every
    // refresh: answer both from an index instead of scanning the project's builds.
    M::up(
        r#"
CREATE INDEX builds_by_project_status ON builds (project, status);
CREATE INDEX builds_by_project_queued ON builds (project, queued_at_ms);
"#,
    ),
];

pub const DATABASE_FILE: &str = "server.db";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("server database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("server database {path}: migrating it failed: {message}")]
    Migrate { path: String, message: String },
    #[error("server database: {0}")]
    Sql(#[from] rusqlite::Error),
}

pub struct Db {
    connection: Mutex<Connection>,
}

impl Db {
    /// Opens (creating) `dir/server.db` in WAL mode and migrates it.
    pub fn open(dir: &Path) -> Result<Db, DbError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbError::Migrate { path: dir.display().to_string(), message: e.to_string() })?;
        let path = dir.join(DATABASE_FILE);
        let shown = path.display().to_string();
        let open = |source| DbError::Open { path: shown.clone(), source };
        let mut connection = Connection::open(&path).map_err(open)?;
        connection.busy_timeout(Duration::from_secs(10)).map_err(open)?;
        connection.pragma_update(None, "journal_mode", "WAL").map_err(open)?;
        connection.pragma_update(None, "synchronous", "NORMAL").map_err(open)?;
        connection.pragma_update(None, "foreign_keys", true).map_err(open)?;
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut connection)
            .map_err(|e| DbError::Migrate { path: shown.clone(), message: e.to_string() })?;
        Ok(Db { connection: Mutex::new(connection) })
    }

    /// Write the write-ahead log into the database file and empty it.
    pub fn checkpoint(&self) {
        if let Err(e) = self.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
            tracing::warn!("server database: checkpoint: {e}");
        }
    }

    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding it left no transaction open: rusqlite rolled it back.
        self.connection.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>, DbError> {
        Ok(self.conn().query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    /// The stored value, or `make()` stored now (the first caller wins).
    pub fn setting_or_insert(&self, key: &str, make: impl FnOnce() -> String) -> Result<String, DbError> {
        let conn = self.conn();
        conn.execute("INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)", [key, &make()])?;
        Ok(conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))?)
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid_and_settings_keep_the_first_value() {
        Migrations::from_slice(MIGRATIONS).validate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.setting_or_insert("k", || "a".into()).unwrap(), "a");
        assert_eq!(db.setting_or_insert("k", || "b".into()).unwrap(), "a");
        drop(db);
        let again = Db::open(dir.path()).unwrap();
        assert_eq!(again.setting("k").unwrap().as_deref(), Some("a"));
    }
}

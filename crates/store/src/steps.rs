//! Step attempts: one row per attempt of each step of a run.

use std::time::SystemTime;

use rusqlite::{params, Connection, Row};

use crate::error::StoreError;
use crate::millis;
use crate::store::{is_foreign_key_violation, Store};

/// One attempt of one step, as it ended (or as far as it got).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub run_id: String,
    /// The step's position in the plan; the key, with `run_id` and `attempt`.
    pub step: u32,
    /// What the output is prefixed with, e.g. `app: bin/test`.
    pub label: String,
    pub name: String,
    pub service: String,
    /// `passed`, `failed`, `cancelled`, `skipped` or `not_run`.
    pub status: String,
    pub exit_code: Option<i64>,
    pub started_at: Option<SystemTime>,
    pub finished_at: Option<SystemTime>,
    pub shard: Option<u32>,
    /// 1 for the first try, 2 for the first retry, ...
    pub attempt: u32,
    pub message: Option<String>,
    /// It ran in an environment `slipway warm` started.
    pub warm: bool,
}

impl Store {
    /// Inserts the attempt, or replaces the one with the same run, step and attempt
    /// (a step is recorded when it starts and again when it ends).
    pub fn record_step(&self, step: &StepRecord) -> Result<(), StoreError> {
        // An upsert rather than INSERT OR REPLACE: REPLACE deletes the old row
        // first, which would fire ON DELETE actions.
        let recorded = self.connection().execute(
            "INSERT INTO steps (run_id, step, attempt, label, name, service, status, exit_code,
                                started_at_ms, finished_at_ms, shard, message, warm)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (run_id, step, attempt) DO UPDATE SET
                label = excluded.label, name = excluded.name, service = excluded.service,
                status = excluded.status, exit_code = excluded.exit_code,
                started_at_ms = excluded.started_at_ms, finished_at_ms = excluded.finished_at_ms,
                shard = excluded.shard, message = excluded.message, warm = excluded.warm",
            params![
                step.run_id,
                step.step,
                step.attempt,
                step.label,
                step.name,
                step.service,
                step.status,
                step.exit_code,
                step.started_at.map(millis::from_system_time),
                step.finished_at.map(millis::from_system_time),
                step.shard,
                step.message,
                step.warm,
            ],
        );
        match recorded {
            Ok(_) => Ok(()),
            Err(error) if is_foreign_key_violation(&error) => Err(self.unknown_run(&step.run_id, "record_step")),
            Err(error) => Err(self.database_error("recording a step")(error)),
        }
    }
}

impl Store {
    /// When the attempt's command started (after its dependencies got ready and its turn
    /// to start came), for the start lags of split steps. The attempt is recorded first.
    pub fn record_command_start(
        &self,
        run_id: &str,
        step: u32,
        attempt: u32,
        at: SystemTime,
    ) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "UPDATE steps SET command_started_at_ms = ?4 WHERE run_id = ?1 AND step = ?2 AND attempt = ?3",
                params![run_id, step, attempt, millis::from_system_time(at)],
            )
            .map(drop)
            .map_err(self.database_error("recording a command's start"))
    }
}

/// Every attempt of every step of `run_id`, by step, then attempt.
pub(crate) fn steps_of_run(connection: &Connection, run_id: &str) -> rusqlite::Result<Vec<StepRecord>> {
    let mut statement = connection.prepare_cached(
        "SELECT run_id, step, label, name, service, status, exit_code,
                started_at_ms, finished_at_ms, shard, attempt, message, warm
         FROM steps WHERE run_id = ?1 ORDER BY step, attempt",
    )?;
    let rows = statement.query_map([run_id], step_from_row)?;
    rows.collect()
}

fn step_from_row(row: &Row<'_>) -> rusqlite::Result<StepRecord> {
    Ok(StepRecord {
        run_id: row.get(0)?,
        step: row.get(1)?,
        label: row.get(2)?,
        name: row.get(3)?,
        service: row.get(4)?,
        status: row.get(5)?,
        exit_code: row.get(6)?,
        started_at: row.get::<_, Option<i64>>(7)?.map(millis::to_system_time),
        finished_at: row.get::<_, Option<i64>>(8)?.map(millis::to_system_time),
        shard: row.get(9)?,
        attempt: row.get(10)?,
        message: row.get(11)?,
        warm: row.get(12)?,
    })
}

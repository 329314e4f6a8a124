//! Expected test file durations, for splitting tests across parallel shards.

use std::collections::HashMap;
use std::time::Duration;

use rusqlite::params;

use crate::error::StoreError;
use crate::millis;
use crate::store::Store;

/// How many of a file's most recent runs its expected duration looks at.
pub const TIMING_RUNS: usize = 3;

// 1. last_attempts: for each run, step and file, the last attempt that ran the
//    file (a retry that re-ran only failures still leaves the first attempt's
//    timing for the other files).
// 2. per_run: the file's total in each run, summed over steps and cases.
// 3. recent: the file's newest TIMING_RUNS runs.
const FILE_TIMINGS: &str = "
WITH last_attempts AS (
    SELECT t.run_id, t.step, t.file, MAX(t.attempt) AS attempt
    FROM runs r
    JOIN test_cases t ON t.run_id = r.id
    WHERE r.project = ?1
      AND t.file IS NOT NULL
      AND (?2 IS NULL OR EXISTS (SELECT 1 FROM steps s
                                  WHERE s.run_id = t.run_id AND s.step = t.step AND s.name = ?2))
    GROUP BY t.run_id, t.step, t.file
),
per_run AS (
    SELECT a.file, a.run_id, SUM(t.duration_ms) AS total_ms
    FROM last_attempts a
    JOIN test_cases t
      ON t.run_id = a.run_id AND t.step = a.step AND t.attempt = a.attempt AND t.file = a.file
    GROUP BY a.file, a.run_id
),
recent AS (
    SELECT p.file, p.total_ms,
           ROW_NUMBER() OVER (PARTITION BY p.file
                              ORDER BY r.started_at_ms DESC, r.rowid DESC) AS recency
    FROM per_run p JOIN runs r ON r.id = p.run_id
)
SELECT file, total_ms FROM recent WHERE recency <= ?3 ORDER BY file, recency";

impl Store {
    /// Per test file, the duration to expect next time: the median, over the
    /// project's last [`TIMING_RUNS`] runs that ran the file (in a step named
    /// `step_name`, when given), of the file's summed case durations in the
    /// run's last attempt. Files never seen are absent.
    pub fn file_timings(
        &self,
        project: &str,
        step_name: Option<&str>,
    ) -> Result<HashMap<String, Duration>, StoreError> {
        let connection = self.connection();
        let mut totals: HashMap<String, Vec<i64>> = HashMap::new();
        connection
            .prepare_cached(FILE_TIMINGS)
            .and_then(|mut statement| {
                let limit = i64::try_from(TIMING_RUNS).unwrap_or(i64::MAX);
                let mut rows = statement.query(params![project, step_name, limit])?;
                while let Some(row) = rows.next()? {
                    totals.entry(row.get(0)?).or_default().push(row.get(1)?);
                }
                Ok(())
            })
            .map_err(self.database_error("computing test file timings"))?;
        Ok(totals
            .into_iter()
            .map(|(file, mut run_totals)| (file, millis::to_duration(median(&mut run_totals))))
            .collect())
    }
}

impl Store {
    /// The names of the steps the project's runs recorded, sorted: what `--step` of
    /// `slipway split` can name.
    pub fn step_names(&self, project: &str) -> Result<Vec<String>, StoreError> {
        self.connection()
            .prepare_cached(
                "SELECT DISTINCT s.name FROM steps s JOIN runs r ON r.id = s.run_id
                 WHERE r.project = ?1 ORDER BY s.name",
            )
            .and_then(|mut statement| {
                statement.query_map([project], |row| row.get(0))?.collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(self.database_error("listing step names"))
    }
}

/// The middle value, or the mean of the two middle values; 0 for none.
fn median(values: &mut [i64]) -> i64 {
    values.sort_unstable();
    let middle = values.len() / 2;
    match values.len() {
        0 => 0,
        even if even % 2 == 0 => values[middle - 1].midpoint(values[middle]),
        _ => values[middle],
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [300, 100, 200]), 200);
        assert_eq!(median(&mut [100, 400]), 250);
        assert_eq!(median(&mut [7]), 7);
        assert_eq!(median(&mut []), 0);
        assert_eq!(median(&mut [i64::MAX, i64::MAX]), i64::MAX);
    }
}

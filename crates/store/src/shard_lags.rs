//! How much later than the first each shard of a split step got its tests going, from
//! the step's recent runs: a split gives later shards less work so all finish together.

use std::collections::BTreeMap;
use std::time::Duration;

use rusqlite::params;

use crate::error::StoreError;
use crate::store::Store;

/// How many of the step's most recent runs the lags look at.
pub const LAG_RUNS: usize = 3;

/// Rows to read at most: enough for [`LAG_RUNS`] runs of any sensible shard count
/// among runs of other shapes, without reading a long history.
const LAG_ROWS: i64 = 2_000;

// Each first attempt of a shard of the step, newest run first: its wall time and the
// time its tests took by their reports.
const SHARD_OVERHEADS: &str = "
SELECT s.run_id, s.shard, s.status, s.finished_at_ms - s.started_at_ms,
       (SELECT COALESCE(SUM(t.duration_ms), 0) FROM test_cases t
         WHERE t.run_id = s.run_id AND t.step = s.step AND t.attempt = s.attempt),
       s.command_started_at_ms
FROM runs r
JOIN steps s ON s.run_id = r.id
WHERE r.project = ?1 AND s.name = ?2 AND s.attempt = 1 AND s.shard IS NOT NULL AND s.warm = ?4
  AND s.started_at_ms IS NOT NULL AND s.finished_at_ms IS NOT NULL
ORDER BY r.started_at_ms DESC, r.rowid DESC
LIMIT ?3";

/// A run's shards: index → (time beyond its tests in ms, when its command started).
type Shards = BTreeMap<u32, (i64, Option<i64>)>;

impl Store {
    /// For each shard (index 0 = shard 1) of the step `step_name` split `shards` ways,
    /// how much more than the least its time beyond its tests was: the median over the
    /// last [`LAG_RUNS`] runs where every shard passed and reported tests. Empty when no
    /// such run is recorded.
    ///
    /// Shards start in index order, so a shard's time beyond its tests is mostly its
    /// wait for the engine to start the shards before it. In environments `slipway warm`
    /// started they get going nearly together, so `warm` runs are learned apart: those
    /// lags come only from runs whose shards all ran `warm` (or all did not).
    pub fn shard_start_lags(
        &self,
        project: &str,
        step_name: &str,
        shards: usize,
        warm: bool,
    ) -> Result<Vec<Duration>, StoreError> {
        let connection = self.connection();
        // Per run, newest first: its shards, and whether it can tell lags.
        let mut runs: Vec<(String, Shards, bool)> = Vec::new();
        connection
            .prepare_cached(SHARD_OVERHEADS)
            .and_then(|mut statement| {
                let mut rows = statement.query(params![project, step_name, LAG_ROWS, warm])?;
                while let Some(row) = rows.next()? {
                    let run: String = row.get(0)?;
                    let shard: u32 = row.get(1)?;
                    let status: String = row.get(2)?;
                    let wall: i64 = row.get(3)?;
                    let tests: i64 = row.get(4)?;
                    let command_started: Option<i64> = row.get(5)?;
                    if runs.last().is_none_or(|(id, ..)| *id != run) {
                        runs.push((run, BTreeMap::new(), true));
                    }
                    let (_, overheads, usable) = runs.last_mut().expect("just pushed");
                    *usable &= status == "passed" && tests > 0;
                    overheads.insert(shard, (wall - tests, command_started));
                }
                Ok(())
            })
            .map_err(self.database_error("computing shard start lags"))?;
        let usable: Vec<&Shards> = runs
            .iter()
            .filter(|(_, overheads, usable)| *usable && overheads.keys().copied().eq(1..=shards as u32))
            .take(LAG_RUNS)
            .map(|(_, overheads, _)| overheads)
            .collect();
        if usable.is_empty() {
            return Ok(Vec::new());
        }
        // Each run's lags above its least: of the time beyond the tests, and (where every
        // shard's was recorded) of when the commands started.
        let above_least = |values: Vec<i64>| {
            let least = values.iter().copied().min().unwrap_or(0);
            values.into_iter().map(|v| v - least).collect::<Vec<i64>>()
        };
        let overhead_lags: Vec<Vec<i64>> =
            usable.iter().map(|shards| above_least(shards.values().map(|(o, _)| *o).collect())).collect();
        let start_lags: Vec<Vec<i64>> = usable
            .iter()
            .filter_map(|shards| shards.values().map(|(_, started)| *started).collect::<Option<Vec<i64>>>())
            .map(above_least)
            .collect();
        let lags: Vec<i64> = (0..shards).map(|i| median(overhead_lags.iter().map(|lags| lags[i])).max(0)).collect();
        // The start order's step per shard: from when the commands started, if known; else
        // from the lags themselves.
        let step = if start_lags.is_empty() {
            typical_step(&lags)
        } else {
            median(start_lags.iter().map(|lags| typical_step(lags)))
        };
        Ok(within_start_order(&lags, step).into_iter().map(|ms| Duration::from_millis(ms as u64)).collect())
    }
}

fn median(values: impl Iterator<Item = i64>) -> i64 {
    let mut values: Vec<i64> = values.collect();
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// The typical step per shard of lags that grow with the index: the median of lag / index.
fn typical_step(lags: &[i64]) -> i64 {
    median(lags.iter().enumerate().skip(1).map(|(i, lag)| lag / i as i64))
}

/// Slack for small lags, where start-up noise is larger than the start order itself.
const LAG_SLACK_MS: i64 = 250;

/// Lags as the start order can explain them. Shards start one after another, so lags grow
/// about evenly with the index; a shard far above that line spent its time on something
/// its files did outside their test cases (a slow import, a fixture's teardown), which
/// follows those files, not the shard. Each lag is kept to at most twice the start
/// order's `step` per shard times its index.
fn within_start_order(lags: &[i64], step: i64) -> Vec<i64> {
    lags.iter().enumerate().map(|(i, lag)| (*lag).min(2 * step * i as i64 + LAG_SLACK_MS)).collect()
}

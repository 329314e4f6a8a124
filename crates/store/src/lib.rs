//! slipway's run history: runs, step attempts and test cases in an embedded
//! SQLite database (`history.db`), and step logs as gzip files beside it.
//!
//! ```text
//! <dir>/history.db                                  runs, steps, test_cases
//! <dir>/logs/<run id>/<step label>-<attempt>.log.gz  one log per step attempt
//! ```
//!
//! The database is in WAL mode with a busy timeout, so several slipway
//! processes can record into one history at once. Times are stored as
//! milliseconds since the Unix epoch and durations as milliseconds.

mod error;
mod flaky;
mod logs;
mod millis;
mod runs;
mod schema;
mod shard_lags;
mod stats;
mod steps;
mod store;
mod test_cases;
mod timings;

pub use error::StoreError;
pub use flaky::{FlakyTest, DIRTY_SUFFIX};
pub use logs::{LiveLog, LOGS_DIR};
pub use runs::{NewRun, RunDetail, RunProcess, RunResult, RunSummary, RUNNING};
pub use schema::SCHEMA_VERSION;
pub use shard_lags::LAG_RUNS;
pub use stats::{DurationHistogram, SlowTest, TestRun};
pub use steps::StepRecord;
pub use store::{Store, BUSY_TIMEOUT, DATABASE_FILE};
pub use test_cases::{FailingTest, TestCaseRecord, TestStatus};
pub use timings::TIMING_RUNS;

//! How much later each shard of a split step got going, from the step's recent runs.

use std::time::Duration;

use slipway_store::{Store, TestStatus};

mod common;
use common::{at, case, new_run, step};

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A run whose step `name` ran as shards (steps 0..) that each took `walls[i]` ms with
/// tests of `tests[i]` ms.
fn record_shards(store: &Store, id: &str, started_ms: u64, name: &str, walls: &[u64], tests: &[u64], status: &str) {
    record_shards_warm(store, id, started_ms, name, walls, tests, status, false);
}

/// As [`record_shards`], the shards in warm environments or not.
#[allow(clippy::too_many_arguments)]
fn record_shards_warm(
    store: &Store,
    id: &str,
    started_ms: u64,
    name: &str,
    walls: &[u64],
    tests: &[u64],
    status: &str,
    warm: bool,
) {
    store.start_run(&new_run(id, "acme", None, started_ms)).unwrap();
    for (i, (wall, test)) in walls.iter().zip(tests).enumerate() {
        let mut record = step(id, i as u32, 1, name, status);
        record.shard = Some(i as u32 + 1);
        record.started_at = Some(at(started_ms));
        record.finished_at = Some(at(started_ms + wall));
        record.warm = warm;
        store.record_step(&record).unwrap();
        store
            .record_tests(id, i as u32, 1, &[case("suite", &format!("t{i}"), Some("a.py"), *test, TestStatus::Passed)])
            .unwrap();
    }
}

#[test]
fn a_shards_lag_is_its_time_beyond_its_tests_above_the_least() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    // Overheads 1000, 1300, 1700 ms: lags 0, 300, 700.
    record_shards(&store, "r1", 10_000, "tests", &[6_000, 5_300, 6_700], &[5_000, 4_000, 5_000], "passed");
    assert_eq!(store.shard_start_lags("acme", "tests", 3, false).unwrap(), [ms(0), ms(300), ms(700)]);
    assert!(store.shard_start_lags("acme", "tests", 4, false).unwrap().is_empty(), "another shard count");
    assert!(store.shard_start_lags("acme", "lint", 3, false).unwrap().is_empty(), "another step");
    assert!(store.shard_start_lags("other", "tests", 3, false).unwrap().is_empty(), "another project");
}

#[test]
fn the_median_of_the_last_three_runs_where_every_shard_passed() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    let tests = [1_000, 1_000];
    record_shards(&store, "old", 1_000, "tests", &[1_000, 9_000], &tests, "passed");
    record_shards(&store, "a", 2_000, "tests", &[1_000, 1_100], &tests, "passed");
    record_shards(&store, "b", 3_000, "tests", &[1_000, 1_300], &tests, "passed");
    record_shards(&store, "c", 4_000, "tests", &[1_000, 1_200], &tests, "passed");
    // The newest failed: a failing shard's time says nothing about its start.
    record_shards(&store, "d", 5_000, "tests", &[1_000, 5_000], &tests, "failed");
    assert_eq!(store.shard_start_lags("acme", "tests", 2, false).unwrap(), [ms(0), ms(200)]);
}

#[test]
fn a_shard_far_above_the_start_order_is_held_to_it() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    // Shards start ~400 ms apart; shard 4 also spent 7 s outside its test cases (a slow
    // import), which would otherwise read as a 9 s start lag and leave it idle next time.
    let tests = [5_000; 5];
    record_shards(&store, "r", 1_000, "tests", &[6_000, 6_400, 6_800, 15_000, 7_600], &tests, "passed");
    // Typical step 400 ms (the median of 400, 400, 2666, 400): shard 4 is held to
    // 2 × 400 × 3 + 250 ms.
    assert_eq!(
        store.shard_start_lags("acme", "tests", 5, false).unwrap(),
        [ms(0), ms(400), ms(800), ms(2_650), ms(1_600)]
    );
}

#[test]
fn warm_and_cold_runs_are_learned_apart() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    let tests = [1_000, 1_000, 1_000];
    // Cold shards start one after another; warm ones nearly together.
    record_shards_warm(&store, "cold", 1_000, "tests", &[1_000, 1_500, 2_000], &tests, "passed", false);
    assert!(store.shard_start_lags("acme", "tests", 3, true).unwrap().is_empty(), "no warm run yet");
    record_shards_warm(&store, "warm", 2_000, "tests", &[1_000, 1_100, 1_050], &tests, "passed", true);
    assert_eq!(store.shard_start_lags("acme", "tests", 3, false).unwrap(), [ms(0), ms(500), ms(1_000)]);
    assert_eq!(store.shard_start_lags("acme", "tests", 3, true).unwrap(), [ms(0), ms(100), ms(50)]);
}

#[test]
fn the_start_orders_step_comes_from_when_the_commands_started_once_recorded() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    // Shards 2 and 4 got files with slow imports: 4.3 s and 8.7 s beyond their tests, while
    // their commands started only 0.5 s apart. Most lags are far off, so the lags'
    // own typical step (2.9 s) would hold nothing back.
    let tests = [5_000; 4];
    let walls = [6_000, 10_300, 6_200, 14_700];
    record_shards(&store, "r", 1_000, "tests", &walls, &tests, "passed");
    let before = store.shard_start_lags("acme", "tests", 4, false).unwrap();
    assert_eq!(before, [ms(0), ms(4_300), ms(200), ms(8_700)], "without command starts: the old rule");
    for (i, started) in [2_000u64, 2_500, 3_000, 3_500].into_iter().enumerate() {
        store.record_command_start("r", i as u32, 1, at(started)).unwrap();
    }
    // Step 500 ms: each lag at most 2 × 500 ms × its index + 250 ms.
    assert_eq!(store.shard_start_lags("acme", "tests", 4, false).unwrap(), [ms(0), ms(1_250), ms(200), ms(3_250)]);
}

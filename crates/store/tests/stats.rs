//! Dashboard figures: slowest tests, one test's history, step duration histogram.

use std::time::Duration;

use slipway_store::{Store, TestStatus};

mod common;
use common::{case, new_run, step};

fn store_with_runs() -> (tempfile::TempDir, Store) {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    use TestStatus::*;
    for (i, (slow_ms, fast_status)) in [(900, Passed), (100, Failed), (700, Passed)].into_iter().enumerate() {
        let id = format!("r{i}");
        store.start_run(&new_run(&id, "acme", Some("c1"), 1_000 + i as u64 * 1_000)).unwrap();
        store.record_step(&step(&id, 1, 1, "tests", "passed")).unwrap();
        let cases = [
            case("s", "slow", Some("a.py"), slow_ms, Passed),
            case("s", "fast", Some("b.py"), 10, fast_status),
            case("s", "skipped", Some("b.py"), 5_000, Skipped),
        ];
        store.record_tests(&id, 1, 1, &cases).unwrap();
    }
    store.start_run(&new_run("other", "elsewhere", None, 9_000)).unwrap();
    store.record_tests("other", 1, 1, &[case("s", "huge", None, 99_000, Passed)]).unwrap();
    (temp, store)
}

#[test]
fn the_slowest_tests_of_a_project_by_median() {
    let (_t, store) = store_with_runs();
    let slow = store.slowest_tests("acme", 10, 5).unwrap();
    let names: Vec<(&str, u128)> = slow.iter().map(|t| (t.name.as_str(), t.median.as_millis())).collect();
    assert_eq!(names, [("slow", 700), ("fast", 10)], "skipped tests and other projects do not count");
    // Only the last run: the 700 ms one.
    assert_eq!(store.slowest_tests("acme", 1, 5).unwrap()[0].median, Duration::from_millis(700));
}

#[test]
fn a_tests_history_is_newest_first() {
    let (_t, store) = store_with_runs();
    let history = store.test_history("s", "fast", 10).unwrap();
    let statuses: Vec<(&str, TestStatus)> = history.iter().map(|r| (r.run_id.as_str(), r.status)).collect();
    assert_eq!(statuses, [("r2", TestStatus::Passed), ("r1", TestStatus::Failed), ("r0", TestStatus::Passed)]);
    assert_eq!(history[1].message.as_deref(), Some("fast went wrong"));
}

#[test]
fn step_durations_are_counted_into_cumulative_buckets() {
    let (_t, store) = store_with_runs();
    // Each helper step lasts exactly 1 s.
    let h =
        store.step_durations(&[Duration::from_millis(500), Duration::from_secs(1), Duration::from_secs(5)]).unwrap();
    assert_eq!(h.count, 3);
    assert_eq!(h.counts, [0, 3, 3]);
    assert_eq!(h.sum, Duration::from_secs(3));
}

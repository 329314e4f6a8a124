//! Expected durations per test file, from the project's recent runs.

use std::collections::HashMap;
use std::time::Duration;

use slipway_store::{Store, TestStatus};

mod common;
use common::{case, new_run, step};

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A run of `project` whose step 1 (named `step_name`) ran `files` with the
/// given total durations, as one case each or split over two cases.
fn record_run(store: &Store, id: &str, project: &str, started_ms: u64, step_name: &str, files: &[(&str, u64)]) {
    store.start_run(&new_run(id, project, None, started_ms)).unwrap();
    store.record_step(&step(id, 1, 1, step_name, "passed")).unwrap();
    let cases: Vec<_> = files
        .iter()
        .flat_map(|(file, total)| {
            // Two cases per file, to check that a run's cases are summed.
            [
                case("suite", &format!("{file}::a"), Some(file), total / 2, TestStatus::Passed),
                case("suite", &format!("{file}::b"), Some(file), total - total / 2, TestStatus::Failed),
            ]
        })
        .collect();
    store.record_tests(id, 1, 1, &cases).unwrap();
}

#[test]
fn the_median_of_the_last_three_runs_per_file() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    // Oldest first. The first run is outside the last three for a.py.
    record_run(&store, "r1", "acme", 1_000, "tests", &[("a.py", 9_000), ("b.py", 500)]);
    record_run(&store, "r2", "acme", 2_000, "tests", &[("a.py", 100)]);
    record_run(&store, "r3", "acme", 3_000, "tests", &[("a.py", 300)]);
    record_run(&store, "r4", "acme", 4_000, "tests", &[("a.py", 200), ("c.py", 40)]);
    // A run without files in its reports contributes nothing.
    store.start_run(&new_run("r5", "acme", None, 5_000)).unwrap();
    store.record_tests("r5", 1, 1, &[case("s", "t", None, 7_777, TestStatus::Passed)]).unwrap();

    let timings = store.file_timings("acme", None).unwrap();
    let expected = HashMap::from([
        ("a.py".to_owned(), ms(200)), // median of 100, 300, 200 (9000 is too old)
        ("b.py".to_owned(), ms(500)), // seen once
        ("c.py".to_owned(), ms(40)),
    ]);
    assert_eq!(timings, expected);
}

#[test]
fn two_runs_give_the_mean_of_both() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    record_run(&store, "r1", "acme", 1_000, "tests", &[("a.py", 100)]);
    record_run(&store, "r2", "acme", 2_000, "tests", &[("a.py", 400)]);
    assert_eq!(store.file_timings("acme", None).unwrap()["a.py"], ms(250));
}

#[test]
fn only_the_project_asked_for() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    record_run(&store, "a1", "acme", 1_000, "tests", &[("shared.py", 100), ("acme.py", 10)]);
    // Newer runs of another project with the same file name must not count.
    record_run(&store, "w1", "widgets", 2_000, "tests", &[("shared.py", 5_000)]);
    record_run(&store, "w2", "widgets", 3_000, "tests", &[("shared.py", 5_000), ("widgets.py", 1)]);

    let acme = store.file_timings("acme", None).unwrap();
    assert_eq!(acme, HashMap::from([("shared.py".to_owned(), ms(100)), ("acme.py".to_owned(), ms(10))]));
    assert!(store.file_timings("nobody", None).unwrap().is_empty());
}

#[test]
fn only_the_named_step_when_given() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    record_run(&store, "r1", "acme", 1_000, "unit", &[("a.py", 100)]);
    record_run(&store, "r2", "acme", 2_000, "integration", &[("a.py", 9_000), ("slow.py", 50)]);

    let unit = store.file_timings("acme", Some("unit")).unwrap();
    assert_eq!(unit, HashMap::from([("a.py".to_owned(), ms(100))]));
    let integration = store.file_timings("acme", Some("integration")).unwrap();
    assert_eq!(integration, HashMap::from([("a.py".to_owned(), ms(9_000)), ("slow.py".to_owned(), ms(50))]));
    assert!(store.file_timings("acme", Some("lint")).unwrap().is_empty());
    // Without a name, both steps' runs count: median of 100 and 9000.
    assert_eq!(store.file_timings("acme", None).unwrap()["a.py"], ms(4_550));
}

#[test]
fn only_the_last_attempt_of_a_step_counts() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    store.start_run(&new_run("r1", "acme", None, 1_000)).unwrap();
    store.record_step(&step("r1", 1, 1, "tests", "failed")).unwrap();
    store.record_step(&step("r1", 1, 2, "tests", "passed")).unwrap();
    store.record_tests("r1", 1, 1, &[case("s", "t", Some("a.py"), 5_000, TestStatus::Error)]).unwrap();
    store.record_tests("r1", 1, 2, &[case("s", "t", Some("a.py"), 300, TestStatus::Passed)]).unwrap();

    // 300, not 5300 (summed attempts) and not 5000 (first attempt).
    assert_eq!(store.file_timings("acme", None).unwrap()["a.py"], ms(300));
}

#[test]
fn a_file_in_two_steps_of_one_run_is_summed_for_that_run() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    store.start_run(&new_run("r1", "acme", None, 1_000)).unwrap();
    store.record_step(&step("r1", 1, 1, "tests", "passed")).unwrap();
    store.record_step(&step("r1", 2, 1, "tests", "passed")).unwrap();
    store.record_tests("r1", 1, 1, &[case("s", "x", Some("a.py"), 100, TestStatus::Passed)]).unwrap();
    store.record_tests("r1", 2, 1, &[case("s", "y", Some("a.py"), 50, TestStatus::Passed)]).unwrap();
    assert_eq!(store.file_timings("acme", Some("tests")).unwrap()["a.py"], ms(150));
}

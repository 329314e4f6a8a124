//! Flaky tests: passed and failed on the same commit.

use slipway_store::{FlakyTest, Store, TestStatus};

mod common;
use common::{case, new_run};

fn record(
    store: &Store,
    run_id: &str,
    project: &str,
    commit: Option<&str>,
    attempt: u32,
    outcomes: &[(&str, TestStatus)],
) {
    if attempt == 1 {
        store.start_run(&new_run(run_id, project, commit, 1_000)).unwrap();
    }
    let cases: Vec<_> = outcomes.iter().map(|(name, status)| case("suite", name, Some("t.py"), 10, *status)).collect();
    store.record_tests(run_id, 1, attempt, &cases).unwrap();
}

#[test]
fn passed_in_one_run_and_failed_in_another_on_one_commit_is_flaky() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    use TestStatus::*;
    record(&store, "r1", "acme", Some("aaa"), 1, &[("flaky", Passed), ("steady", Passed), ("broken", Failed)]);
    record(&store, "r2", "acme", Some("aaa"), 1, &[("flaky", Failed), ("steady", Passed), ("broken", Failed)]);
    record(&store, "r3", "acme", Some("aaa"), 1, &[("flaky", Error), ("steady", Passed), ("skips", Skipped)]);
    // A different commit: passing there after failing on aaa is a fix, not a flake.
    record(&store, "r4", "acme", Some("bbb"), 1, &[("broken", Passed), ("skips", Failed)]);

    assert_eq!(
        store.flaky_tests(Some("acme")).unwrap(),
        [FlakyTest {
            project: "acme".to_owned(),
            suite: "suite".to_owned(),
            name: "flaky".to_owned(),
            file: Some("t.py".to_owned()),
            commit: "aaa".to_owned(),
            passed: 1,
            failed: 2,
        }]
    );
}

#[test]
fn different_commits_are_not_flaky() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    record(&store, "r1", "acme", Some("aaa"), 1, &[("t", TestStatus::Failed)]);
    record(&store, "r2", "acme", Some("bbb"), 1, &[("t", TestStatus::Passed)]);
    // Runs without a commit cannot be compared.
    record(&store, "r3", "acme", None, 1, &[("t", TestStatus::Failed)]);
    record(&store, "r4", "acme", None, 1, &[("t", TestStatus::Passed)]);
    assert!(store.flaky_tests(None).unwrap().is_empty());
}

#[test]
fn a_retry_that_passed_is_flaky_too() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    record(&store, "r1", "acme", Some("aaa"), 1, &[("t", TestStatus::Failed)]);
    record(&store, "r1", "acme", Some("aaa"), 2, &[("t", TestStatus::Passed)]);
    let flaky = store.flaky_tests(None).unwrap();
    assert_eq!(flaky.len(), 1);
    assert_eq!((flaky[0].passed, flaky[0].failed), (1, 1));
}

#[test]
fn projects_are_kept_apart_and_filtered() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    // Same commit id and test name in two projects: neither is flaky alone.
    record(&store, "a1", "acme", Some("aaa"), 1, &[("t", TestStatus::Passed)]);
    record(&store, "w1", "widgets", Some("aaa"), 1, &[("t", TestStatus::Failed)]);
    assert!(store.flaky_tests(None).unwrap().is_empty());

    record(&store, "w2", "widgets", Some("aaa"), 1, &[("t", TestStatus::Passed)]);
    let all = store.flaky_tests(None).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].project, "widgets");
    assert_eq!(store.flaky_tests(Some("widgets")).unwrap(), all);
    assert!(store.flaky_tests(Some("acme")).unwrap().is_empty());
}

#[test]
fn recent_flaky_tests_look_only_at_the_projects_last_runs() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    let run = |id: &str, project: &str, started_ms: u64, status: TestStatus| {
        store.start_run(&new_run(id, project, Some("aaa"), started_ms)).unwrap();
        store.record_tests(id, 1, 1, &[case("suite", "t", Some("t.py"), 10, status)]).unwrap();
    };
    // The flake happened in the oldest two of acme's runs; later runs all passed.
    run("old-fail", "acme", 1_000, TestStatus::Failed);
    run("old-pass", "acme", 2_000, TestStatus::Passed);
    run("new-1", "acme", 3_000, TestStatus::Passed);
    run("new-2", "acme", 4_000, TestStatus::Passed);
    // Another project's newer runs do not push acme's out of its window.
    run("other", "widgets", 5_000, TestStatus::Failed);

    assert!(store.recent_flaky_tests("acme", 2).unwrap().is_empty());
    assert!(store.recent_flaky_tests("acme", 3).unwrap().is_empty());
    let flaky = store.recent_flaky_tests("acme", 4).unwrap();
    assert_eq!(flaky.len(), 1);
    assert_eq!((flaky[0].passed, flaky[0].failed), (3, 1));
    assert_eq!(store.recent_flaky_tests("acme", 100).unwrap(), store.flaky_tests(Some("acme")).unwrap());
}

#[test]
fn runs_with_uncommitted_changes_say_nothing_about_flakiness() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    use TestStatus::*;
    let dirty = format!("aaa{}", slipway_store::DIRTY_SUFFIX);
    // An edit that broke the test, then one that fixed it, neither committed.
    record(&store, "r1", "acme", Some(&dirty), 1, &[("edited", Failed)]);
    record(&store, "r2", "acme", Some(&dirty), 1, &[("edited", Passed)]);
    assert_eq!(store.flaky_tests(Some("acme")).unwrap(), []);
    // The same outcomes on the commit itself are a flake.
    record(&store, "r3", "acme", Some("aaa"), 1, &[("edited", Failed)]);
    record(&store, "r4", "acme", Some("aaa"), 1, &[("edited", Passed)]);
    assert_eq!(store.flaky_tests(Some("acme")).unwrap().len(), 1);
}

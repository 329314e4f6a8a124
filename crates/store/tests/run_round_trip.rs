//! A run recorded from start to finish and read back through `runs` and `run`.

use slipway_store::{RunResult, Store, StoreError, TestStatus, RUNNING};

mod common;
use common::{at, case, new_run, step};

#[test]
fn a_full_run_reads_back() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    store.start_run(&new_run("20240501-abc123", "acme", Some("c0ffee"), 10_000)).unwrap();

    // Step 1 passes at once; step 2 fails, then passes on its second attempt.
    let lint = step("20240501-abc123", 1, 1, "lint", "passed");
    let tests_first = step("20240501-abc123", 2, 1, "tests", "failed");
    let mut tests_retry = step("20240501-abc123", 2, 2, "tests", "passed");
    tests_retry.shard = Some(3);
    tests_retry.message = Some("passed on retry".to_owned());
    tests_retry.exit_code = None;
    // Recorded out of order, and step 1 twice (started, then finished).
    let mut lint_started = lint.clone();
    lint_started.status = "not_run".to_owned();
    lint_started.finished_at = None;
    store.record_step(&tests_retry).unwrap();
    store.record_step(&lint_started).unwrap();
    store.record_step(&tests_first).unwrap();
    store.record_step(&lint).unwrap();

    let first_cases = vec![
        case("math", "adds", Some("test/math.py"), 120, TestStatus::Passed),
        case("math", "divides", Some("test/math.py"), 80, TestStatus::Failed),
        case("io", "reads", None, 5, TestStatus::Error),
    ];
    let retry_cases = vec![
        case("math", "adds", Some("test/math.py"), 110, TestStatus::Passed),
        case("math", "divides", Some("test/math.py"), 90, TestStatus::Passed),
        case("io", "reads", None, 6, TestStatus::Passed),
        case("io", "writes", None, 0, TestStatus::Skipped),
    ];
    store.record_tests("20240501-abc123", 2, 1, &first_cases).unwrap();
    store.record_tests("20240501-abc123", 2, 2, &retry_cases).unwrap();

    // Unfinished, the run reads as running.
    let running = store.runs(None, 10).unwrap();
    assert_eq!(running[0].result, RUNNING);
    assert_eq!(running[0].finished_at, None);

    store.finish_run("20240501-abc123", at(20_000), RunResult::Passed).unwrap();

    let summaries = store.runs(Some("acme"), 10).unwrap();
    assert_eq!(summaries.len(), 1);
    let summary = &summaries[0];
    assert_eq!(summary.id, "20240501-abc123");
    assert_eq!(summary.project, "acme");
    assert_eq!(summary.branch.as_deref(), Some("main"));
    assert_eq!(summary.commit.as_deref(), Some("c0ffee"));
    assert_eq!(summary.started_at, at(10_000));
    assert_eq!(summary.finished_at, Some(at(20_000)));
    assert_eq!(summary.result, "passed");
    // Last attempts only: step 2's failure was retried away.
    assert_eq!(summary.steps, 2);
    assert_eq!(summary.failed_steps, 0);
    assert_eq!(summary.tests, 4);
    assert_eq!(summary.failed_tests, 0);

    let detail = store.run("20240501-abc123").unwrap().expect("run by full id");
    assert_eq!(&detail.run, summary);
    assert_eq!(detail.steps, vec![lint, tests_first, tests_retry]);
    let failing: Vec<(String, u32, String, TestStatus, Option<u32>)> = detail
        .failing_tests
        .iter()
        .map(|f| (f.label.clone(), f.attempt, f.case.name.clone(), f.case.status, f.passed_on))
        .collect();
    // Both passed on the retry.
    assert_eq!(
        failing,
        [
            ("app: tests".to_owned(), 1, "divides".to_owned(), TestStatus::Failed, Some(2)),
            ("app: tests".to_owned(), 1, "reads".to_owned(), TestStatus::Error, Some(2)),
        ]
    );
    assert_eq!(detail.failing_tests[0].case, first_cases[1]);

    // A prefix finds the same run.
    assert_eq!(store.run("20240501-a").unwrap(), Some(detail));
}

#[test]
fn a_failed_last_attempt_counts_against_the_run() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    store.start_run(&new_run("r", "acme", None, 1)).unwrap();
    store.record_step(&step("r", 1, 1, "tests", "passed")).unwrap();
    store.record_step(&step("r", 1, 2, "tests", "failed")).unwrap();
    store.record_step(&step("r", 2, 1, "deploy", "skipped")).unwrap();
    store
        .record_tests(
            "r",
            1,
            2,
            &[case("s", "t", None, 1, TestStatus::Failed), case("s", "u", None, 1, TestStatus::Passed)],
        )
        .unwrap();
    store.finish_run("r", at(5), RunResult::Failed).unwrap();

    let summary = &store.runs(None, 1).unwrap()[0];
    assert_eq!((summary.steps, summary.failed_steps), (2, 1));
    assert_eq!((summary.tests, summary.failed_tests), (2, 1));
    assert_eq!(summary.result, "failed");
}

#[test]
fn recording_tests_again_replaces_them() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    store.start_run(&new_run("r", "acme", None, 1)).unwrap();
    store.record_tests("r", 1, 1, &[case("s", "old", None, 1, TestStatus::Failed)]).unwrap();
    store.record_tests("r", 1, 1, &[case("s", "new", None, 1, TestStatus::Passed)]).unwrap();
    let summary = &store.runs(None, 1).unwrap()[0];
    assert_eq!((summary.tests, summary.failed_tests), (1, 0));
}

#[test]
fn runs_are_newest_first_filtered_and_limited() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    store.start_run(&new_run("old", "acme", None, 1_000)).unwrap();
    store.start_run(&new_run("other", "widgets", None, 2_000)).unwrap();
    store.start_run(&new_run("new", "acme", None, 3_000)).unwrap();
    // Same start as "new", inserted later: shown first.
    store.start_run(&new_run("newer", "acme", None, 3_000)).unwrap();

    let ids = |runs: Vec<slipway_store::RunSummary>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(store.runs(None, 10).unwrap()), ["newer", "new", "other", "old"]);
    assert_eq!(ids(store.runs(Some("acme"), 10).unwrap()), ["newer", "new", "old"]);
    assert_eq!(ids(store.runs(Some("acme"), 2).unwrap()), ["newer", "new"]);
    assert_eq!(ids(store.runs(Some("nobody"), 10).unwrap()), Vec::<String>::new());
    assert_eq!(ids(store.runs(None, 0).unwrap()), Vec::<String>::new());
}

#[test]
fn prefixes_resolve_uniquely_or_are_ambiguous() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    for (index, id) in ["abc1", "abc2", "abd", "abc"].iter().enumerate() {
        store.start_run(&new_run(id, "acme", None, index as u64)).unwrap();
    }

    // An exact id wins over being a prefix of "abc1" and "abc2".
    assert_eq!(store.run("abc").unwrap().unwrap().run.id, "abc");
    assert_eq!(store.run("abd").unwrap().unwrap().run.id, "abd");
    assert_eq!(store.run("abc2").unwrap().unwrap().run.id, "abc2");
    assert_eq!(store.run("zzz").unwrap(), None);
    assert_eq!(store.run("abc3").unwrap(), None);

    let error = store.run("ab").unwrap_err();
    match &error {
        StoreError::Ambiguous { prefix, count, examples, .. } => {
            assert_eq!(prefix, "ab");
            assert_eq!(*count, 4);
            assert_eq!(examples, "abc, abc1, abc2, …");
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("history.db"), "{message}");
    assert!(message.contains("more characters"), "{message}");
}

#[test]
fn writes_for_unknown_runs_and_duplicate_ids_are_errors() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();

    let error = store.record_step(&step("ghost", 1, 1, "tests", "passed")).unwrap_err();
    assert!(matches!(&error, StoreError::UnknownRun { run_id, .. } if run_id == "ghost"), "{error:?}");
    assert!(error.to_string().contains("start_run"), "{error}");

    let error = store.record_tests("ghost", 1, 1, &[case("s", "t", None, 1, TestStatus::Passed)]).unwrap_err();
    assert!(matches!(error, StoreError::UnknownRun { .. }), "{error:?}");

    let error = store.finish_run("ghost", at(1), RunResult::Cancelled).unwrap_err();
    assert!(matches!(error, StoreError::UnknownRun { .. }), "{error:?}");

    store.start_run(&new_run("once", "acme", None, 1)).unwrap();
    let error = store.start_run(&new_run("once", "acme", None, 2)).unwrap_err();
    assert!(matches!(error, StoreError::RunExists { .. }), "{error:?}");
    // The failed unknown-run transactions left nothing behind.
    assert_eq!(store.runs(None, 10).unwrap().len(), 1);
    assert_eq!(store.runs(None, 10).unwrap()[0].tests, 0);
}

#[test]
fn cancelled_runs_read_as_cancelled() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    store.start_run(&new_run("r", "acme", None, 1)).unwrap();
    store.finish_run("r", at(2), RunResult::Cancelled).unwrap();
    assert_eq!(store.runs(None, 1).unwrap()[0].result, RunResult::Cancelled.to_string());
}

#[test]
fn failing_tests_of_a_step_never_recorded_get_a_stand_in_label() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    store.start_run(&new_run("r", "acme", None, 1)).unwrap();
    store.record_tests("r", 4, 1, &[case("s", "t", None, 1, TestStatus::Failed)]).unwrap();
    // Only another attempt of step 5 was recorded: its label is used.
    store.record_step(&step("r", 5, 1, "e2e", "failed")).unwrap();
    store.record_tests("r", 5, 2, &[case("s", "u", None, 1, TestStatus::Error)]).unwrap();

    let detail = store.run("r").unwrap().unwrap();
    let labels: Vec<(&str, u32)> = detail.failing_tests.iter().map(|f| (f.label.as_str(), f.attempt)).collect();
    assert_eq!(labels, [("step 4", 1), ("app: e2e", 2)]);
    assert!(detail.failing_tests.iter().all(|f| f.passed_on.is_none()));
}

#[test]
fn pruning_keeps_a_projects_newest_runs_and_removes_the_others_with_their_steps_tests_and_logs() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    for (index, id) in ["old-1", "old-2", "new-1", "new-2"].iter().enumerate() {
        store.start_run(&new_run(id, "acme", None, 1_000 * (index as u64 + 1))).unwrap();
        store.record_step(&step(id, 1, 1, "tests", "passed")).unwrap();
        store.record_tests(id, 1, 1, &[case("s", "t", Some("t.py"), 5, TestStatus::Passed)]).unwrap();
        store.write_log(id, "tests", 1, &["a line".to_string()]).unwrap();
    }
    store.start_run(&new_run("other-project", "elsewhere", None, 500)).unwrap();

    assert_eq!(store.prune_runs("acme", 2).unwrap(), 2);
    let left: Vec<String> = store.runs(None, 10).unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(left, ["new-2", "new-1", "other-project"], "another project's runs are its own");
    assert_eq!(store.run("old-1").unwrap(), None);
    let database = rusqlite::Connection::open(temp.path().join("history.db")).unwrap();
    for table in ["steps", "test_cases"] {
        let count: i64 = database
            .query_row(&format!("SELECT COUNT(*) FROM {table} WHERE run_id LIKE 'old-%'"), [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 0, "the old runs' {table} went with them");
    }
    assert!(store.read_log("old-1", "tests", 1).is_err(), "its logs went with it");
    assert!(!store.log_path("old-2", "tests", 1).unwrap().parent().unwrap().exists());
    assert_eq!(store.read_log("new-1", "tests", 1).unwrap(), ["a line"]);
    assert_eq!(store.prune_runs("acme", 2).unwrap(), 0);
}

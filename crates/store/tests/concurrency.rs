//! Several writers on one history: threads sharing a handle, several handles,
//! and several processes, as when two slipway runs finish at the same time.
//!
//! Every loop here is bounded by a small constant.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use slipway_store::{RunResult, Store, TestStatus};

mod common;
use common::{at, case, new_run, step};

const RUNS_PER_WRITER: usize = 50;
const STEPS_PER_RUN: u32 = 2;
const TESTS_PER_STEP: usize = 3;

/// Records `RUNS_PER_WRITER` complete runs named `<writer>-<n>`, reading between writes.
fn write_runs(store: &Store, writer: &str) {
    for n in 0..RUNS_PER_WRITER {
        let run_id = format!("{writer}-{n}");
        store.start_run(&new_run(&run_id, "acme", Some("c0ffee"), n as u64)).unwrap();
        for step_number in 1..=STEPS_PER_RUN {
            store.record_step(&step(&run_id, step_number, 1, "tests", "passed")).unwrap();
            let cases: Vec<_> = (0..TESTS_PER_STEP)
                .map(|t| case("suite", &format!("t{t}"), Some(&format!("f{t}.py")), 10, TestStatus::Passed))
                .collect();
            store.record_tests(&run_id, step_number, 1, &cases).unwrap();
        }
        store.write_log(&run_id, "app: tests", 1, &[format!("{run_id} ok")]).unwrap();
        store.finish_run(&run_id, at(n as u64 + 1), RunResult::Passed).unwrap();
        // Readers run alongside the writers.
        store.runs(Some("acme"), 5).unwrap();
        store.file_timings("acme", Some("tests")).unwrap();
    }
}

/// Checks, through a fresh handle, that every writer's every row is there.
fn assert_all_present(dir: &Path, writers: &[String]) {
    let store = Store::open(dir).unwrap();
    let runs = store.runs(None, 10_000).unwrap();
    assert_eq!(runs.len(), writers.len() * RUNS_PER_WRITER);
    for summary in &runs {
        assert_eq!(summary.result, "passed", "{}", summary.id);
        assert_eq!(summary.steps, STEPS_PER_RUN, "{}", summary.id);
        assert_eq!(summary.tests as usize, STEPS_PER_RUN as usize * TESTS_PER_STEP, "{}", summary.id);
    }
    for writer in writers {
        for n in 0..RUNS_PER_WRITER {
            let run_id = format!("{writer}-{n}");
            assert_eq!(store.read_log(&run_id, "app: tests", 1).unwrap(), [format!("{run_id} ok")]);
        }
    }
}

#[test]
fn two_threads_on_each_of_two_handles_lose_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let handles = [Arc::new(Store::open(temp.path()).unwrap()), Arc::new(Store::open(temp.path()).unwrap())];
    let started = Instant::now();

    let writers: Vec<String> = (0..4).map(|w| format!("writer{w}")).collect();
    let barrier = Arc::new(Barrier::new(writers.len()));
    let threads: Vec<_> = writers
        .iter()
        .enumerate()
        .map(|(index, writer)| {
            let store = Arc::clone(&handles[index % handles.len()]);
            let barrier = Arc::clone(&barrier);
            let writer = writer.clone();
            thread::spawn(move || {
                barrier.wait();
                write_runs(&store, &writer);
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a writer failed; see its panic above");
    }

    assert_all_present(temp.path(), &writers);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[test]
fn handles_opening_a_new_history_at_once_all_succeed() {
    // Each round races fresh handles through creation, WAL setup and migration.
    for _round in 0..5 {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("history");
        let barrier = Arc::new(Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let dir = dir.clone();
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    barrier.wait();
                    Store::open(&dir).map(|store| store.schema_version().unwrap())
                })
            })
            .collect();
        for thread in threads {
            let version = thread.join().unwrap().unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(version, slipway_store::SCHEMA_VERSION);
        }
    }
}

/// Set for the child processes of [`two_processes_lose_nothing`].
const CHILD_DIR: &str = "SLIPWAY_STORE_TEST_CHILD_DIR";
const CHILD_WRITER: &str = "SLIPWAY_STORE_TEST_CHILD_WRITER";

/// Does nothing in a normal test run; in a child process, writes its runs.
#[test]
fn child_process_writer() {
    if let (Ok(dir), Ok(writer)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_WRITER)) {
        let store = Store::open(Path::new(&dir)).unwrap();
        write_runs(&store, &writer);
    }
}

#[test]
fn two_processes_lose_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let writers: Vec<String> = vec!["process0".to_owned(), "process1".to_owned()];
    let executable = std::env::current_exe().unwrap();
    let children: Vec<_> = writers
        .iter()
        .map(|writer| {
            // Output captured: the children's own "test result" lines would
            // otherwise be counted as this run's.
            Command::new(&executable)
                .args(["--exact", "child_process_writer", "--test-threads=1"])
                .env(CHILD_DIR, temp.path())
                .env(CHILD_WRITER, writer)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "a child writer failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_all_present(temp.path(), &writers);
}

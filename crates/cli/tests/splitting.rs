//! Test splitting on the real engine: static shards from stored timings, queue workers,
//! reports collected (also from failed shards), retries, a killed shard, and the history
//! commands that read what the runs recorded.
//!
//! The "test suite" is a stand-in runner in busybox `sh`: each test file holds its
//! duration in milliseconds and an outcome, and the runner writes a JUnit report with
//! exactly those durations, so the timings slipway learns are known in advance.

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{read_events, RunResult, TestProject};

/// `sh run-tests.sh REPORT FILE…`: outcomes are `pass`, `fail`, `once` (fails the first
/// time it runs in this project, then passes), `hang` and `hangonce` (hangs the first
/// time, then passes), and `abort` (as pytest on a collection error: the whole run stops
/// with a report of only that file's error). The report's timestamp has no
/// zone, as pytest before 8 writes it.
const RUNNER: &str = r#"
report=$1; shift
mkdir -p "$(dirname "$report")" .markers
echo "shard ${SLIPWAY_SHARD_INDEX:-none}/${SLIPWAY_SHARD_COUNT:-none} runs: $*"
for f in "$@"; do
  read ms outcome < "$f"
  if [ "$outcome" = abort ]; then
    name=$(basename "$f" .t)
    echo "<testsuites><testsuite name=\"fake\" tests=\"1\" errors=\"1\"><testcase classname=\"tests.$name\" name=\"\"><error message=\"collection failure\">E   SyntaxError: $name is broken</error></testcase></testsuite></testsuites>" > "$report"
    echo "collection error in $name"; exit 2
  fi
done
status=0; failures=0; cases=""
for f in "$@"; do
  read ms outcome < "$f"
  name=$(basename "$f" .t)
  if [ "$outcome" = hang ]; then echo "hanging in $name"; sleep 300; fi
  if [ "$outcome" = hangonce ] && [ ! -e ".markers/$name" ]; then
    touch ".markers/$name"; echo "hanging in $name"; sleep 300
  fi
  secs=$(awk "BEGIN { print $ms / 1000 }")
  sleep "$secs"
  result=""
  if [ "$outcome" = fail ] || { [ "$outcome" = once ] && [ ! -e ".markers/$name" ]; }; then
    touch ".markers/$name"
    result="<failure message=\"$name broke\"/>"; status=1; failures=$((failures + 1))
  fi
  cases="$cases<testcase classname=\"tests.$name\" name=\"test_$name\" time=\"$secs\">$result</testcase>"
done
stamp=$(date +%Y-%m-%dT%H:%M:%S.123456)
echo "<testsuites><testsuite name=\"fake\" tests=\"$#\" failures=\"$failures\" timestamp=\"$stamp\">$cases</testsuite></testsuites>" > "$report"
exit $status
"#;

const SERVICES: &str = "app:\n  image: busybox\n  volumes: ['./:/code']\n  working_dir: /code\n";

/// A project with the runner, the test files `(name, ms, outcome)` and one split step.
fn suite(test: &str, files: &[(&str, u32, &str)], step: &str) -> TestProject {
    let p = TestProject::with_files(test, SERVICES, step);
    p.write("run-tests.sh", RUNNER);
    for (name, ms, outcome) in files {
        p.write(&format!("tests/{name}.t"), &format!("{ms} {outcome}\n"));
    }
    p
}

fn step(parallelism: u32, by: &str, mode: &str, extra: &str) -> String {
    format!(
        "- name: tests\n  service: app\n  parallelism: {parallelism}\n  split:\n    files: 'tests/*.t'\n    by: {by}\n    mode: {mode}\n  reports: ['reports/*.xml']\n{extra}  command: sh run-tests.sh reports/junit-{{shard}}.xml {{files}}\n"
    )
}

/// The files each shard label ran, from the runner's first line.
fn shard_files(r: &RunResult, count: u32) -> Vec<BTreeSet<String>> {
    (1..=count)
        .map(|i| {
            let label = format!("tests [{i}/{count}]");
            let lines = r.output(&label);
            let line = lines.iter().find(|l| l.contains(" runs: ")).unwrap_or_else(|| panic!("{label}: {lines:?}"));
            assert!(line.starts_with(&format!("shard {i}/{count} runs: ")), "{line}");
            line.split(" runs: ").nth(1).unwrap_or_default().split_whitespace().map(str::to_string).collect()
        })
        .collect()
}

/// Every test case reported in the run, as `(name, status)`.
fn cases(r: &RunResult) -> Vec<(String, String)> {
    r.events
        .iter()
        .filter(|e| e["event"] == "test_results")
        .flat_map(|e| e["cases"].as_array().cloned().unwrap_or_default())
        .map(|c| {
            (c["name"].as_str().unwrap_or_default().to_string(), c["status"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn split_plan(p: &TestProject, shards: &str, files: &[&str]) -> Value {
    let mut args = vec!["split", "--shards", shards, "--step", "tests", "--json"];
    args.extend(files);
    let r = p.slipway(&args);
    r.assert_code(0);
    serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn static_shards_learn_from_the_first_run_and_the_history_records_it() {
    let files = [
        ("a", 1200, "pass"),
        ("b", 900, "pass"),
        ("c", 300, "pass"),
        ("d", 200, "pass"),
        ("e", 100, "pass"),
        ("f", 100, "pass"),
    ];
    let p = suite("static-learn", &files, &step(2, "timings", "static", ""));
    let paths: Vec<String> = files.iter().map(|(n, _, _)| format!("tests/{n}.t")).collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();

    // No history yet: `split` counts files.
    let before = split_plan(&p, "2", &paths);
    assert_eq!(before["unknown"], 6, "{before}");
    // By count, a file is no time at all: no estimate is shown, nor the shards without files.
    let text = p.slipway(&["split", "--shards", "4", "tests/a.t", "tests/b.t"]);
    assert!(text.stdout.contains("shard 1:  tests/a.t\n"), "{}", text.dump());
    assert!(!text.stdout.contains('~') && text.stdout.contains("no files for shard(s) 3, 4"), "{}", text.dump());

    let first = p.slipway(&["steps", "--junit", "junit.xml"]);
    first.assert_code(0);
    assert!(
        first.stdout.contains("tests [1/2] │ ▶ started: 3 files by count: no timings recorded yet"),
        "{}",
        first.dump()
    );
    let ran = shard_files(&first, 2);
    assert!(ran[0].is_disjoint(&ran[1]), "{ran:?}");
    assert_eq!(ran[0].len() + ran[1].len(), 6, "every file runs once: {ran:?}");
    assert_eq!(first.status("tests [1/2]"), "passed");
    // Both shards write into the one project folder; each report still counts once.
    let mut names: Vec<String> = cases(&first).into_iter().map(|(n, _)| n).collect();
    names.sort();
    assert_eq!(names, ["test_a", "test_b", "test_c", "test_d", "test_e", "test_f"]);
    let junit = std::fs::read_to_string(p.file("junit.xml")).expect("--junit file");
    assert!(junit.contains("name=\"test_a\"") && junit.contains("file=\"tests/a.t\""), "{junit}");

    // Now the timings are known: 2.8 s to share between shards that end at their start
    // lag (learned from the first run) plus their files' time.
    let after = split_plan(&p, "2", &paths);
    assert_eq!(after["unknown"], 0, "{after}");
    // A quoted glob, written as the step's `split.files` is, is expanded in the project
    // dir as a run expands it: the same plan as the files named one by one.
    let globbed = split_plan(&p, "2", &["tests/*.t"]);
    assert_eq!(globbed["shards"], after["shards"], "{globbed}");
    // Names the history has no timings for are said to be that, not "no timings yet",
    // and names of files that are not there are counted.
    let elsewhere = p.slipway(&["split", "--shards", "2", "--step", "tests", "other/x.t", "other/y.t"]);
    elsewhere.assert_code(0);
    assert!(elsewhere.stderr.contains("2 of the 2 named files do not exist"), "{}", elsewhere.dump());
    assert!(
        elsewhere.stdout.contains("none of these 2 file(s) has recorded timings")
            && !elsewhere.stdout.contains("no timings recorded yet"),
        "{}",
        elsewhere.dump()
    );
    // A misspelt --step is named, with the steps there are, and the plan still comes.
    let misspelt = p.slipway(&["split", "--shards", "2", "--step", "test", "tests/a.t"]);
    misspelt.assert_code(0);
    assert!(
        misspelt.stderr.contains("no run of project") && misspelt.stderr.contains("its steps are: `tests`"),
        "{}",
        misspelt.dump()
    );
    // It still uses the timings the project recorded (a renamed step does the same in a run).
    assert!(misspelt.stdout.starts_with("2 shards by timings"), "{}", misspelt.dump());
    let shards = after["shards"].as_array().unwrap();
    let estimates: Vec<u64> = shards.iter().map(|s| s["estimate_ms"].as_u64().unwrap()).collect();
    let lags: Vec<u64> = shards.iter().map(|s| s["start_lag_ms"].as_u64().unwrap()).collect();
    assert_eq!(estimates.iter().sum::<u64>(), 2_800, "{after}");
    assert_eq!(lags.iter().min(), Some(&0), "lags count from the first to get going: {after}");
    // Balanced: moving any one file off the later-ending shard would not end it sooner.
    let ends: Vec<u64> = lags.iter().zip(&estimates).map(|(l, e)| l + e).collect();
    let later = if ends[0] >= ends[1] { 0 } else { 1 };
    let spread = ends[later] - ends[1 - later];
    let ms = |f: &str| files.iter().find(|(n, _, _)| format!("tests/{n}.t") == f).unwrap().1 as u64;
    let shortest = shards[later]["files"].as_array().unwrap().iter().map(|f| ms(f.as_str().unwrap())).min();
    assert!(shortest.is_none_or(|f| f >= spread), "{after}");
    let planned: Vec<BTreeSet<String>> = after["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect())
        .collect();

    let second = p.slipway(&["steps"]);
    second.assert_code(0);
    // Each shard says what it was given.
    for (i, shard) in shards.iter().enumerate() {
        let files = match shard["files"].as_array().unwrap().len() {
            1 => "1 file".to_string(),
            n => format!("{n} files"),
        };
        let share = format!(
            "tests [{}/2] │ ▶ started: {files}, ~{:.1} s by recorded timings",
            i + 1,
            estimates[i] as f64 / 1000.0
        );
        assert!(second.stdout.contains(&share), "{share}\n{}", second.dump());
    }
    assert_eq!(shard_files(&second, 2), planned, "the second run must use the first run's timings");

    let history = p.slipway(&["history"]);
    history.assert_code(0);
    let rows: Vec<&str> = history.stdout.lines().filter(|l| l.contains("passed")).collect();
    assert_eq!(rows.len(), 2, "{}", history.stdout);
    assert!(rows.iter().all(|r| r.contains("0/2 failed") && r.contains("0/6 failed")), "{}", history.stdout);
    let run_id =
        second.events.iter().find(|e| e["event"] == "run_started").unwrap()["run_id"].as_str().unwrap().to_string();
    let show = p.slipway(&["show", &run_id[..8]]);
    show.assert_code(0);
    assert!(show.stdout.contains("tests [1/2]") && show.stdout.contains("tests [2/2]"), "{}", show.stdout);
    assert!(!show.stdout.contains("FAILING TESTS"), "{}", show.stdout);
    p.assert_no_leftovers();
}

#[test]
fn timings_of_a_step_that_is_not_split_serve_a_later_split() {
    // pytest's reports name no file: `tests.test_slow` is tests/test_slow.py of the project.
    let files = [("test_slow", 600, "pass"), ("test_quick", 100, "pass")];
    let unsplit = "- name: tests\n  service: app\n  reports: ['reports/*.xml']\n  command: sh run-tests.sh reports/junit.xml tests/test_slow.py tests/test_quick.py\n";
    let p = TestProject::with_files("unsplit-timings", SERVICES, unsplit);
    p.write("run-tests.sh", RUNNER);
    for (name, ms, outcome) in files {
        p.write(&format!("tests/{name}.py"), &format!("{ms} {outcome}\n"));
    }
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    let plan = split_plan(&p, "2", &["tests/test_slow.py", "tests/test_quick.py"]);
    assert_eq!(plan["unknown"], 0, "the unsplit run's timings are known by file: {plan}");
    // A split step of another name has no timings of its own: it uses the project's.
    p.write(
        "codeship-steps.yml",
        "- name: split-tests\n  service: app\n  parallelism: 2\n  split:\n    files: 'tests/test_*.py'\n  reports: ['reports/*.xml']\n  command: sh run-tests.sh reports/junit-{shard}.xml {files}\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert!(r.stdout.contains("by recorded timings") && !r.stdout.contains("no timings recorded yet"), "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn a_report_already_there_before_the_command_is_not_counted() {
    let files = [("a", 100, "pass"), ("b", 100, "pass")];
    // A report an earlier run left a moment ago, on the bind-mounted project folder: its
    // modification time is as recent as this run's start.
    let stale = "<testsuite name=\"old\"><testcase classname=\"tests.a\" name=\"test_stale\" time=\"9\"/></testsuite>";
    for mode in ["static", "queue"] {
        let p = suite(&format!("stale-report-{mode}"), &files, &step(2, "name", mode, ""));
        p.write("reports/junit-1.xml", stale);
        p.write("reports/left-over.xml", stale);
        let r = p.slipway(&["steps"]);
        r.assert_code(0);
        let mut names: Vec<String> = cases(&r).into_iter().map(|(n, _)| n).collect();
        names.sort();
        assert_eq!(names, ["test_a", "test_b"], "{mode}: {}", r.dump());
        p.assert_no_leftovers();
    }
}

#[test]
fn reports_are_read_from_a_named_file_and_from_deep_globs() {
    // A named file is read alone (jest-junit's `junit.xml` beside a large node_modules);
    // `**` globs are read from their fixed folder, streamed. Nothing here is mounted: the
    // reports exist only in the stopped container.
    let report = |name: &str| {
        format!("<testsuite name=\\\"s\\\"><testcase classname=\\\"c\\\" name=\\\"{name}\\\"/></testsuite>")
    };
    let command = format!(
        "sh -c 'mkdir -p /work/deep/a /work/other && cd /work && echo \"{}\" > junit.xml && echo \"{}\" > deep/a/junit-x.xml && echo \"{}\" > other/junit-no.xml'",
        report("test_named"),
        report("test_deep"),
        report("test_not_matched"),
    );
    let steps = format!("- name: t\n  service: app\n  reports: [junit.xml, 'deep/**/*.xml']\n  command: {command}\n");
    let p = TestProject::with_files("report-globs", "app:\n  image: busybox\n  working_dir: /work\n", &steps);
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    let mut names: Vec<String> = cases(&r).into_iter().map(|(n, _)| n).collect();
    names.sort();
    assert_eq!(names, ["test_deep", "test_named"], "{}", r.dump());
    p.assert_no_leftovers();

    // A folder the command never made is named as such, not in the engine's words.
    p.write("codeship-steps.yml", "- name: t\n  service: app\n  reports: ['nowhere/*.xml']\n  command: 'true'\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert!(
        r.stderr.contains("no reports at `nowhere/*.xml`: `/work/nowhere` does not exist in the container"),
        "{}",
        r.dump()
    );
    assert!(!r.stderr.contains("Could not find"), "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn reports_are_read_from_the_steps_own_container_when_it_has_dependencies() {
    // The step's dependencies' containers are created alongside its own, in any order:
    // the reports must come from the container the command ran in, not the last made.
    let services = "app:\n  image: busybox\n  working_dir: /work\n  links: [db, cache, queue]\n\
                    db:\n  image: busybox\n  command: sleep 600\n\
                    cache:\n  image: busybox\n  command: sleep 600\n\
                    queue:\n  image: busybox\n  command: sleep 600\n";
    let command = "sh -c 'echo \"<testsuite><testcase classname=\\\"c\\\" name=\\\"test_beside_db\\\"/></testsuite>\" > /work/junit.xml'";
    let steps = format!("- name: t\n  service: app\n  reports: [junit.xml]\n  command: {command}\n");
    let p = TestProject::with_files("report-with-deps", services, &steps);
    for _ in 0..3 {
        let r = p.slipway(&["steps"]);
        r.assert_code(0);
        let names: Vec<String> = cases(&r).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["test_beside_db"], "{}", r.dump());
        assert!(!r.stdout.contains("no reports") && !r.stderr.contains("no reports"), "{}", r.dump());
    }
    p.assert_no_leftovers();
}

#[test]
fn excluded_files_are_not_split_or_run() {
    let files = [("a", 50, "pass"), ("b", 50, "fail"), ("c", 50, "pass")];
    let steps = step(2, "count", "static", "")
        .replace("    files: 'tests/*.t'\n", "    files: 'tests/*.t'\n    exclude: [tests/b.t]\n");
    let p = suite("split-exclude", &files, &steps);
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    let ran: BTreeSet<String> = shard_files(&r, 2).into_iter().flatten().collect();
    assert_eq!(ran, ["tests/a.t", "tests/c.t"].map(String::from).into_iter().collect(), "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn a_shard_whose_runner_stopped_early_names_the_files_that_did_not_run() {
    let files = [("a", 50, "pass"), ("b", 50, "abort"), ("c", 50, "pass")];
    let p = suite("stopped-early", &files, &step(1, "name", "static", ""));
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    let message = r.finished("tests [1/1]")["message"].as_str().unwrap_or_default().to_string();
    assert!(
        message.contains("its reports have no tests of 2 of its 3 files, which did not run: tests/a.t, tests/c.t"),
        "{message}"
    );
    assert!(r.stdout.contains("collection failure: SyntaxError: b is broken"), "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn a_failing_shard_fails_the_step_while_the_others_finish_and_retry_reruns_only_it() {
    let files = [("ok", 200, "pass"), ("broken", 200, "fail"), ("wobbly", 200, "once")];
    let p = suite("static-fail", &files, &step(3, "name", "static", "  retry: 1\n"));
    let r = p.slipway(&["steps", "--ci-commit-id", "abc123", "--junit", "junit.xml"]);
    r.assert_code(1);
    let ran = shard_files(&r, 3);
    let label_of = |file: &str| {
        let i = ran.iter().position(|s| s.contains(&format!("tests/{file}.t"))).expect("file ran");
        format!("tests [{}/3]", i + 1)
    };
    let finishes = |label: &str| -> Vec<(bool, String)> {
        let id = r.finished(label)["step"].clone();
        r.events
            .iter()
            .filter(|e| e["event"] == "step_finished" && e["step"] == id)
            .map(|e| (e["will_retry"].as_bool().unwrap_or(false), e["status"].as_str().unwrap_or_default().to_string()))
            .collect()
    };
    assert_eq!(finishes(&label_of("ok")), [(false, "passed".to_string())]);
    assert_eq!(finishes(&label_of("wobbly")), [(true, "failed".to_string()), (false, "passed".to_string())]);
    assert_eq!(finishes(&label_of("broken")), [(true, "failed".to_string()), (false, "failed".to_string())]);
    assert_eq!(r.status(&label_of("broken")), "failed");

    // The summary says which shard passed only on its second attempt.
    let wobbly_row =
        r.stdout.lines().find(|l| l.starts_with(&label_of("wobbly")) && l.contains("  app  ")).unwrap_or("");
    assert!(wobbly_row.contains("(attempt 2)"), "{}", r.dump());
    // The summary names the test that still fails, and only that one.
    assert!(r.stdout.contains("tests/broken.t::test_broken"), "{}", r.dump());
    assert!(!r.stdout.contains("::test_wobbly"), "{}", r.dump());
    let junit = std::fs::read_to_string(p.file("junit.xml")).expect("--junit file");
    assert!(junit.contains("broken broke"), "{junit}");

    let show = p.slipway(&["show", "-"]);
    assert_ne!(show.code, Some(0), "`-` is no run id");
    let run_id = r.events.iter().find(|e| e["event"] == "run_started").unwrap()["run_id"].as_str().unwrap().to_string();
    let show = p.slipway(&["show", &run_id]);
    show.assert_code(0);
    let tries = show.stdout.lines().filter(|l| l.starts_with(&label_of("broken"))).count();
    assert_eq!(tries, 2, "both attempts are recorded:\n{}", show.stdout);
    assert!(show.stdout.contains("FAILING TESTS") && show.stdout.contains("test_broken"), "{}", show.stdout);
    // The test a retry fixed says so; the broken one does not.
    let line = |test: &str| show.stdout.lines().find(|l| l.contains(test)).unwrap_or_default().to_string();
    assert!(line("::test_wobbly").contains("attempt 1, passed on attempt 2)"), "{}", show.stdout);
    assert!(!line("::test_broken").contains("passed on"), "{}", show.stdout);

    // Failed then passed on one commit: flaky. Failed every time: not flaky, broken.
    let flaky = p.slipway(&["flaky"]);
    flaky.assert_code(0);
    // Named by file, as the summary names tests.
    assert!(flaky.stdout.contains("tests/wobbly.t::test_wobbly"), "{}", flaky.stdout);
    assert!(!flaky.stdout.contains("test_broken"), "{}", flaky.stdout);
    assert!(!flaky.stdout.contains("more"), "{}", flaky.stdout);
    // A limit of none is a mistake.
    p.slipway(&["flaky", "-n", "0"]).assert_code(2);
    // A project the history has no runs of is named with those it has.
    let misspelt = p.slipway(&["flaky", "--project", "nosuch"]);
    assert!(
        misspelt.stdout.contains(&format!("no runs of project `nosuch`; this history has runs of: {}", p.name)),
        "{}",
        misspelt.stdout
    );
    p.assert_no_leftovers();
}

#[test]
fn queue_workers_run_every_file_once_and_retry_failed_files() {
    let files = [
        ("q1", 600, "pass"),
        ("q2", 500, "pass"),
        ("q3", 400, "once"),
        ("q4", 300, "pass"),
        ("q5", 200, "pass"),
        ("q6", 100, "pass"),
        ("q7", 100, "pass"),
    ];
    let p = suite("queue", &files, &step(2, "timings", "queue", "  retry: 1\n"));
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    let mut seen = cases(&r);
    seen.sort();
    let expected: Vec<(String, String)> = [
        ("test_q1", "passed"),
        ("test_q2", "passed"),
        ("test_q3", "failed"),
        ("test_q3", "passed"),
        ("test_q4", "passed"),
        ("test_q5", "passed"),
        ("test_q6", "passed"),
        ("test_q7", "passed"),
    ]
    .iter()
    .map(|(n, s)| (n.to_string(), s.to_string()))
    .collect();
    assert_eq!(seen, expected, "{}", r.dump());
    // Two workers, each one container that ran batches.
    for label in ["tests [1/2]", "tests [2/2]"] {
        assert_eq!(r.status(label), "passed");
        assert!(!r.output(label).is_empty(), "{label} ran no batch:\n{}", r.dump());
    }
    // The retried file's pass replaces its failure in the summary.
    assert!(r.stdout.contains("7 tests: 7 passed, 0 failed"), "{}", r.dump());
    // The stored logs tell how the queue went: each worker's share and its batches.
    let run_id = r.events.iter().find(|e| e["event"] == "run_started").unwrap()["run_id"].as_str().unwrap().to_string();
    let show = p.slipway(&["show", &run_id, "--logs"]);
    show.assert_code(0);
    assert!(show.stdout.contains("slipway: started: queue worker"), "{}", show.stdout);
    assert!(show.stdout.contains("slipway: batch 1: "), "{}", show.stdout);
    p.assert_no_leftovers();
}

#[test]
fn on_fail_runs_for_the_queue_worker_whose_file_failed() {
    let files = [("good", 100, "pass"), ("bad", 100, "fail")];
    let on_fail = "  on_fail:\n    - sh -c 'echo on_fail ran for worker $SLIPWAY_SHARD_INDEX'\n";
    // By name: worker 1 gets `bad`, worker 2 `good`.
    let p = suite("queue-on-fail", &files, &step(2, "name", "queue", on_fail));
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert_eq!(r.status("tests [1/2]"), "failed", "{}", r.dump());
    assert_eq!(r.status("tests [2/2]"), "passed", "{}", r.dump());
    let ran = |label: &str| r.output(label).iter().any(|l| l.starts_with("on_fail ran for worker"));
    assert!(ran("tests [1/2]"), "{}", r.dump());
    assert!(!ran("tests [2/2]"), "on_fail runs only where the step failed:\n{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn shards_start_in_index_order() {
    let files = [("s1", 50, "pass"), ("s2", 50, "pass"), ("s3", 50, "pass"), ("s4", 50, "pass")];
    let p = suite("start-order", &files, &step(4, "name", "static", ""));
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    let shard_of = |id: &Value| -> u64 {
        let steps = r.events.iter().find(|e| e["event"] == "run_started").unwrap()["steps"].as_array().unwrap();
        steps.iter().find(|s| s["id"] == *id).unwrap()["shard"][0].as_u64().unwrap()
    };
    let order: Vec<u64> = r
        .events
        .iter()
        .filter(|e| e["event"] == "step_phase" && e["message"] == "running")
        .map(|e| shard_of(&e["step"]))
        .collect();
    assert_eq!(order, [1, 2, 3, 4], "{}", r.dump());
    p.assert_no_leftovers();
}

/// Run `p`, wait until a shard hangs in `tests/stuck.t`, kill the container running it
/// from outside (as an OOM kill would), and return the run's result.
fn kill_the_stuck_shard(p: &TestProject) -> RunResult {
    let events = p.events_path();
    let child = p.command(&["steps"], &events).stdout(std::process::Stdio::piped()).spawn().expect("slipway runs");
    let deadline = Instant::now() + Duration::from_secs(120);
    let victim = loop {
        assert!(Instant::now() < deadline, "the stuck shard never started: {:?}", read_events(&events));
        let hanging =
            read_events(&events).iter().any(|e| e["line"].as_str().is_some_and(|l| l.starts_with("hanging in stuck")));
        if hanging {
            let ids = docker(&["ps", "-q", "--filter", &format!("label=io.slipway.project={}", p.name)]);
            // Static shards have the file in their command; queue workers run it in an exec.
            let victim = ids.split_whitespace().find(|id| docker(&["top", id]).contains("tests/stuck.t"));
            if let Some(v) = victim {
                break v.to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Its name says which shard it is, as its step label does: `tests [2/3]` is `…-shard2of3-…`.
    let (name, label) =
        docker(&["inspect", "--format", "{{.Name}} {{index .Config.Labels \"io.slipway.step\"}}", &victim])
            .trim()
            .split_once(' ')
            .map(|(n, l)| (n.to_string(), l.to_string()))
            .expect("name and label");
    let shard = label.trim_start_matches("tests [").trim_end_matches(']').replace('/', "of");
    assert!(name.contains(&format!("-shard{shard}-")), "{name} is {label}");
    docker(&["kill", &victim]);
    let output = child.wait_with_output().expect("slipway exits");
    p.result(output, &events)
}

#[test]
fn a_killed_shard_fails_the_step_and_the_others_finish() {
    let files = [("fine", 100, "pass"), ("stuck", 100, "hang"), ("good", 100, "pass")];
    let p = suite("killed", &files, &step(3, "name", "static", ""));
    let r = kill_the_stuck_shard(&p);
    r.assert_code(1);
    let ran = shard_files(&r, 3);
    let stuck = ran.iter().position(|s| s.contains("tests/stuck.t")).unwrap() + 1;
    for i in 1..=3u32 {
        let label = format!("tests [{i}/3]");
        let expected = if i as usize == stuck { "failed" } else { "passed" };
        assert_eq!(r.status(&label), expected, "{label}\n{}", r.dump());
    }
    let killed = r.finished(&format!("tests [{stuck}/3]"));
    assert_eq!(killed["exit_code"], 137);
    assert!(killed["message"].as_str().unwrap().contains("killed (SIGKILL)"), "{killed}");
    assert!(killed["message"].as_str().unwrap().ends_with("; its files did not finish: tests/stuck.t"), "{killed}");
    // The summary says whose tests are missing from its counts.
    assert!(r.stdout.contains(&format!("no test results from tests [{stuck}/3]")), "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn a_killed_queue_worker_says_its_container_stopped() {
    let files = [("fine", 100, "pass"), ("stuck", 100, "hang"), ("good", 100, "pass")];
    let p = suite("killed-worker", &files, &step(3, "timings", "queue", ""));
    let r = kill_the_stuck_shard(&p);
    r.assert_code(1);
    let failed: Vec<Value> =
        r.events.iter().filter(|e| e["event"] == "step_finished" && e["status"] == "failed").cloned().collect();
    assert_eq!(failed.len(), 1, "{}", r.dump());
    let message = failed[0]["message"].as_str().unwrap();
    assert_eq!(failed[0]["exit_code"], 137, "{message}");
    // The container, not the test file, is at fault.
    assert!(message.contains("container stopped during batch") && message.contains("killed (SIGKILL)"), "{message}");
    assert!(message.contains("tests/stuck.t"), "{message}");
    // The summary says whose tests are missing from its counts: all of them, or those of
    // the batch it was running (when it had run others before).
    assert!(
        r.stdout.contains("no test results from tests [") || r.stdout.contains("test results cut short from tests ["),
        "{}",
        r.dump()
    );
    p.assert_no_leftovers();
}

#[test]
fn a_killed_queue_worker_with_retry_runs_its_batch_again_in_a_fresh_environment() {
    let files = [("fine", 100, "pass"), ("stuck", 100, "hangonce"), ("good", 100, "pass")];
    let p = suite("killed-worker-retry", &files, &step(3, "timings", "queue", "  retry: 1\n"));
    let r = kill_the_stuck_shard(&p);
    r.assert_code(0);
    let retried: Vec<&Value> =
        r.events.iter().filter(|e| e["event"] == "step_finished" && e["will_retry"] == true).collect();
    assert_eq!(retried.len(), 1, "{}", r.dump());
    let message = retried[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("queued again: tests/stuck.t"), "{message}");
    let stuck: Vec<(String, String)> = cases(&r).into_iter().filter(|(name, _)| name == "test_stuck").collect();
    assert_eq!(stuck, [("test_stuck".to_string(), "passed".to_string())], "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn a_queue_batch_past_the_timeout_is_stopped_and_with_retry_runs_again() {
    let files = [("fine", 100, "pass"), ("stuck", 100, "hangonce"), ("good", 100, "pass")];
    let p = suite("queue-timeout", &files, &step(3, "timings", "queue", "  retry: 1\n  timeout: 3s\n"));
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    // Only the worker whose batch hung is stopped; the others, idle while it ran, are not.
    let retried: Vec<&Value> =
        r.events.iter().filter(|e| e["event"] == "step_finished" && e["will_retry"] == true).collect();
    assert_eq!(retried.len(), 1, "{}", r.dump());
    let message = retried[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("timed out: stopped after 3.0 s") && message.contains("queued again: tests/stuck.t"),
        "{message}"
    );
    let stuck: Vec<(String, String)> = cases(&r).into_iter().filter(|(name, _)| name == "test_stuck").collect();
    assert_eq!(stuck, [("test_stuck".to_string(), "passed".to_string())], "{}", r.dump());
    p.assert_no_leftovers();
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker CLI");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

//! The run history: `history`, `show`, `flaky`, and `split` (the timings as a plan other
//! CI systems can use).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use slipway_engine::liveness::slipway_runs;
use slipway_engine::reports::test_id;
use slipway_plan::split::{split_files_with_lags, SplitBy, SplitPlan};
use slipway_store::{RunSummary, Store, RUNNING};

use super::{error, fail, this_host};
use crate::cli::{HistoryArgs, ShowArgs, SplitArgs, SplitByArg, StateArgs};

/// The history folder: `--state-dir` / SLIPWAY_STATE_DIR, else `.slipway` in the project dir.
pub fn state_dir(project_dir: &Path, explicit: Option<&Path>) -> PathBuf {
    explicit.map_or_else(|| project_dir.join(".slipway"), Path::to_path_buf)
}

/// The history, or `None` when no run has recorded one yet (not an error: a new project
/// simply has no runs).
fn open(state: &StateArgs) -> Result<Option<Store>, ExitCode> {
    let dir = state_dir(&state.dir, state.state_dir.as_deref());
    if !dir.join(slipway_store::DATABASE_FILE).exists() {
        return Ok(None);
    }
    Store::open(&dir).map(Some).map_err(fail)
}

/// What `history` and `flaky` say when there is no history at all.
fn no_runs_yet(state: &StateArgs) -> String {
    let dir = state_dir(&state.dir, state.state_dir.as_deref());
    format!("no runs yet in {}: `slipway steps` records each run there", dir.display())
}

fn when(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Local>::from(t).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn took(from: SystemTime, to: Option<SystemTime>) -> String {
    to.and_then(|to| to.duration_since(from).ok())
        .map_or_else(|| "—".to_string(), |d| format!("{:.1}s", d.as_secs_f64()))
}

/// A run's result as shown. A run still marked running whose process is gone from this
/// host was interrupted (`kill -9`, a crash) before it could record how it ended.
fn shown_result(run: &RunSummary) -> &str {
    match &run.process {
        Some(p) if run.result == RUNNING && p.host == this_host() && !slipway_runs(p.pid) => "interrupted",
        _ => &run.result,
    }
}

pub fn history(args: &HistoryArgs) -> ExitCode {
    let store = match open(&args.state) {
        Ok(Some(s)) => s,
        Ok(None) => {
            outln!("{}", no_runs_yet(&args.state));
            return ExitCode::SUCCESS;
        }
        Err(code) => return code,
    };
    match store.runs(args.project.as_deref(), args.limit) {
        Ok(runs) if runs.is_empty() => match &args.project {
            Some(project) => outln!("{}", no_runs_of(&store, project)),
            None => outln!("no runs yet"),
        },
        Ok(runs) => {
            for line in history_lines(&runs) {
                outln!("{line}");
            }
        }
        Err(e) => return fail(e),
    }
    ExitCode::SUCCESS
}

/// `text` (a branch, a commit: what a CI server or flag gave) with control characters
/// shown as `?`: a newline or an escape sequence would break the table and reach the
/// terminal.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// The `history` table: a header and one line per run.
fn history_lines(runs: &[RunSummary]) -> Vec<String> {
    // A state dir shared by several projects: say whose each run is.
    let projects = runs.iter().any(|r| Some(&r.project) != runs.first().map(|first| &first.project));
    let mut header = vec!["RUN", "STARTED", "RESULT", "BRANCH", "TIME", "STEPS", "TESTS"];
    if projects {
        header.insert(1, "PROJECT");
    }
    let rows = runs.iter().map(|run| {
        let tests = if run.tests == 0 { String::new() } else { format!("{}/{} failed", run.failed_tests, run.tests) };
        let mut row = vec![
            run.id.clone(),
            when(run.started_at),
            shown_result(run).to_string(),
            printable(run.branch.as_deref().unwrap_or_default()),
            took(run.started_at, run.finished_at),
            format!("{}/{} failed", run.failed_steps, run.steps),
            tests,
        ];
        if projects {
            row.insert(1, run.project.clone());
        }
        row
    });
    // Only TIME is a number, lined up by its last digit.
    let right_aligned: Vec<bool> = header.iter().map(|h| *h == "TIME").collect();
    let header = header.into_iter().map(String::from).collect();
    table(&std::iter::once(header).chain(rows).collect::<Vec<_>>(), &right_aligned)
}

/// `rows` (the header first) in columns as wide as their widest cell, two spaces apart, so
/// every value starts (or, right-aligned, ends) where its header does, however long it is.
fn table(rows: &[Vec<String>], right_aligned: &[bool]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|row| row.get(c)).map(|cell| cell.chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let cells = row.iter().zip(&widths).enumerate().map(|(c, (cell, &width))| {
                if right_aligned.get(c).copied().unwrap_or(false) {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            });
            cells.collect::<Vec<_>>().join("  ").trim_end().to_string()
        })
        .collect()
}

pub fn show(args: &ShowArgs) -> ExitCode {
    let store = match open(&args.state) {
        Ok(Some(s)) => s,
        Ok(None) => return fail(format!("no run `{}`: {}", args.run, no_runs_yet(&args.state))),
        Err(code) => return code,
    };
    let detail = match store.run(&args.run) {
        Ok(Some(detail)) => detail,
        Ok(None) => return fail(format!("no run `{}` in the history; `slipway history` lists them", args.run)),
        Err(e) => return fail(e),
    };
    let run = &detail.run;
    let result = shown_result(run);
    outln!("run {} of {}: {result}", run.id, run.project);
    outln!(
        "started {}, took {}, branch {}, commit {}",
        when(run.started_at),
        took(run.started_at, run.finished_at),
        printable(run.branch.as_deref().unwrap_or("—")),
        printable(run.commit.as_deref().unwrap_or("—"))
    );
    outln!();
    outln!("{:<40} {:<14} {:<10} {:>8} {:>4}", "STEP", "SERVICE", "STATUS", "TIME", "TRY");
    for step in &detail.steps {
        let time = step.started_at.map_or_else(|| "—".to_string(), |s| took(s, step.finished_at));
        // A step still recorded as running in a run that died was cut off with it.
        let status = if step.status == "running" && result == "interrupted" { "interrupted" } else { &step.status };
        let mut line =
            format!("{:<40} {:<14} {:<10} {:>8} {:>4}", step.label, step.service, status, time, step.attempt);
        if step.warm {
            line.push_str("  (warm)");
        }
        if let Some(message) = step.message.as_ref().filter(|_| step.status != "passed") {
            line.push_str(&format!("  {message}"));
        }
        outln!("{line}");
        if args.logs {
            if let Ok(lines) = store.read_log(&run.id, &step.label, step.attempt) {
                // As `steps` printed them: a clear-screen in a log must not clear this one.
                let colour = super::use_color();
                for l in lines {
                    outln!("    │ {}", crate::report::printable(&l, colour));
                }
            }
        }
    }
    if !detail.failing_tests.is_empty() {
        outln!();
        outln!("FAILING TESTS");
        for failing in &detail.failing_tests {
            let case = &failing.case;
            // The store keeps the report's classname as the suite, when it has one.
            let id = test_id(case.file.as_deref(), Some(&case.suite), &case.name, &case.suite);
            let message = case.message.as_deref().unwrap_or("");
            let fixed = failing.passed_on.map(|a| format!(", passed on attempt {a}")).unwrap_or_default();
            outln!("  ✗ {id}  ({}, attempt {}{fixed})  {message}", failing.label, failing.attempt);
        }
    }
    ExitCode::SUCCESS
}

pub fn flaky(args: &HistoryArgs) -> ExitCode {
    let store = match open(&args.state) {
        Ok(Some(s)) => s,
        Ok(None) => {
            outln!("{}", no_runs_yet(&args.state));
            return ExitCode::SUCCESS;
        }
        Err(code) => return code,
    };
    match store.flaky_tests(args.project.as_deref()) {
        Ok(tests) if tests.is_empty() => match &args.project {
            // A misspelt project has no flaky tests either: say it has no runs.
            Some(project) if store.runs(Some(project), 1).is_ok_and(|runs| runs.is_empty()) => {
                outln!("{}", no_runs_of(&store, project))
            }
            _ => outln!("no flaky tests: no test both passed and failed on one commit"),
        },
        Ok(tests) => {
            for line in flaky_lines(tests, args.limit) {
                outln!("{line}");
            }
        }
        Err(e) => return fail(e),
    }
    ExitCode::SUCCESS
}

/// For `--project` naming a project without runs: which projects the history has.
fn no_runs_of(store: &slipway_store::Store, project: &str) -> String {
    let mut projects: Vec<String> =
        store.runs(None, usize::MAX).unwrap_or_default().into_iter().map(|r| r.project).collect();
    projects.sort();
    projects.dedup();
    if projects.is_empty() {
        "no runs yet".to_string()
    } else {
        format!("no runs of project `{project}`; this history has runs of: {}", projects.join(", "))
    }
}

/// The `flaky` table: at most `limit` tests, and how many more there are.
fn flaky_lines(tests: Vec<slipway_store::FlakyTest>, limit: usize) -> Vec<String> {
    let mut lines = vec![format!("{:<60} {:<12} {:>6} {:>6}", "TEST", "COMMIT", "PASSED", "FAILED")];
    let more = tests.len().saturating_sub(limit);
    for t in tests.into_iter().take(limit) {
        let commit: String = t.commit.chars().take(12).collect();
        // Named as the run summary and `show` name it: by file when known.
        let id = test_id(t.file.as_deref(), Some(&t.suite), &t.name, &t.suite);
        lines.push(format!("{id:<60} {commit:<12} {:>6} {:>6}", t.passed, t.failed));
    }
    if more > 0 {
        lines.push(format!("… and {more} more (-n {} shows them all)", limit + more));
    }
    lines
}

/// The files `split` was given: a glob (quoted, as a step's `split.files` is written)
/// expanded in the project dir as a run expands `split.files`; a name kept as given.
#[derive(Debug, Default, PartialEq)]
struct SplitFileArguments {
    files: Vec<String>,
    /// Names (not globs) with no such file in the project dir.
    missing: Vec<String>,
    /// Globs that match no file.
    unmatched_globs: Vec<String>,
}

fn expand_split_files(project_dir: &Path, arguments: &[String]) -> Result<SplitFileArguments, String> {
    let mut expanded = SplitFileArguments::default();
    for argument in arguments {
        let exists = project_dir.join(argument).is_file();
        // A file whose name holds `[` or `*` is still that file.
        if exists || !argument.contains(['*', '?', '[', '{']) {
            if !exists {
                expanded.missing.push(argument.clone());
            }
            expanded.files.push(argument.clone());
            continue;
        }
        let matches = crate::split_inputs::matching_files(project_dir, argument)
            .map_err(|e| format!("the glob `{argument}` is invalid: {e}"))?;
        if matches.is_empty() {
            expanded.unmatched_globs.push(argument.clone());
        }
        expanded.files.extend(matches);
    }
    Ok(expanded)
}

/// Why a split asked to go by timings went by count. With timings in the history but
/// none for these files, "no timings recorded yet" would be wrong: the names likely
/// differ from the recorded ones (another folder, a path not relative to the project).
fn by_count_reason(plan: &SplitPlan, timings: &HashMap<String, Duration>) -> String {
    let total: usize = plan.shards.iter().map(|s| s.files.len()).sum();
    if timings.is_empty() || plan.unknown < total {
        return plan.why_by_count();
    }
    let example = timings.keys().min().map(String::as_str).unwrap_or_default();
    format!(
        "none of these {total} file(s) has recorded timings, though the history has them for {} other file(s), such as `{example}`: name files relative to the project dir, as the history does",
        timings.len()
    )
}

pub fn split(args: &SplitArgs) -> ExitCode {
    if args.shards == 0 {
        return fail("--shards must be at least 1");
    }
    let project_dir = &args.state.dir;
    let given = match expand_split_files(project_dir, &args.files) {
        Ok(given) => given,
        Err(e) => return fail(e),
    };
    if !given.unmatched_globs.is_empty() {
        let globs = given.unmatched_globs.iter().map(|g| format!("`{g}`")).collect::<Vec<_>>().join(", ");
        errln!(
            "warning: no file in {} matches {globs} (globs are matched against paths relative to the project dir)",
            project_dir.display()
        );
    }
    if given.files.is_empty() {
        return fail(format!(
            "no test files to split: name files or a glob that matches some in {} (--dir sets the project dir)",
            project_dir.display()
        ));
    }
    if !given.missing.is_empty() {
        let shown: Vec<String> = given.missing.iter().take(5).map(|f| format!("`{f}`")).collect();
        let more = given.missing.len().saturating_sub(shown.len());
        errln!(
            "warning: {} of the {} named files {} not exist in {}: {}{}; the plan still places them",
            given.missing.len(),
            given.files.len(),
            if given.missing.len() == 1 { "does" } else { "do" },
            project_dir.display(),
            shown.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        );
    }
    let dir = state_dir(&args.state.dir, args.state.state_dir.as_deref());
    let project = slipway_config::project::project_name(&args.state.dir);
    // With --step, the step's shards' start lags too: the plan is then the one a run of
    // that step would use.
    let history = |store: &Store| -> Result<_, slipway_store::StoreError> {
        // As a run does: a step without timings of its own uses any step's.
        let mut timings = store.file_timings(&project, args.step.as_deref())?;
        if timings.is_empty() && args.step.is_some() {
            timings = store.file_timings(&project, None)?;
        }
        let lags = match &args.step {
            Some(step) => {
                let names = store.step_names(&project)?;
                // A misspelt name would silently mean "no history of its own": say so,
                // and still give the plan, from the timings any step recorded.
                if !names.is_empty() && !names.contains(step) {
                    errln!(
                        "warning: no run of project `{project}` has a step named `{step}`, so the plan uses the timings any step recorded and no start lags; its steps are: {}",
                        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                    );
                }
                store.shard_start_lags(&project, step, args.shards, args.warm)?
            }
            None => Vec::new(),
        };
        Ok((timings, lags))
    };
    let (timings, lags) = if dir.join(slipway_store::DATABASE_FILE).exists() {
        match Store::open(&dir).and_then(|s| history(&s)) {
            Ok(found) => found,
            Err(e) => {
                error(e);
                Default::default()
            }
        }
    } else {
        Default::default()
    };
    let by = match args.by {
        SplitByArg::Timings => SplitBy::Timings,
        SplitByArg::Count => SplitBy::Count,
        SplitByArg::Name => SplitBy::Name,
    };
    let plan = split_files_with_lags(&given.files, &timings, by, args.shards, &lags);
    let lag = |i: usize| lags.get(i).copied().unwrap_or_default();
    if args.json {
        let shards: Vec<serde_json::Value> = plan
            .shards
            .iter()
            .enumerate()
            .map(|(i, s)| {
                serde_json::json!({
                    "index": i + 1,
                    "files": s.files,
                    "estimate_ms": s.estimate.as_millis() as u64,
                    "start_lag_ms": lag(i).as_millis() as u64,
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::json!({"by": format!("{:?}", plan.by).to_lowercase(), "unknown": plan.unknown, "shards": shards})
        );
        return ExitCode::SUCCESS;
    }
    outln!(
        "{} shards by {}{}",
        args.shards,
        format!("{:?}", plan.by).to_lowercase(),
        if by == SplitBy::Timings && plan.by == SplitBy::Count {
            format!(" ({})", by_count_reason(&plan, &timings))
        } else if plan.unknown > 0 {
            format!(" ({} file(s) without history count as the median)", plan.unknown)
        } else {
            String::new()
        }
    );
    let timed = plan.by == SplitBy::Timings;
    let mut empty = Vec::new();
    for (i, shard) in plan.shards.iter().enumerate() {
        if shard.files.is_empty() {
            empty.push((i + 1).to_string());
            continue;
        }
        let starts =
            if lag(i).is_zero() { String::new() } else { format!(" (starts ~{:.1}s late)", lag(i).as_secs_f64()) };
        // Without timings a file counts as one unit: no time to show.
        let estimate = if timed { format!(" ~{:.1}s{starts}", shard.estimate.as_secs_f64()) } else { String::new() };
        outln!("shard {}:{estimate}  {}", i + 1, shard.files.join(" "));
    }
    if !empty.is_empty() {
        outln!("no files for shard(s) {} (a run skips them)", empty.join(", "));
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_expands_quoted_globs_in_the_project_dir_and_names_missing_files() {
        let project = tempfile::tempdir().unwrap();
        for file in ["tests/test_a.py", "tests/api/test_b.py", "tests/helper.py", "odd[1].py"] {
            let path = project.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let arguments: Vec<String> =
            ["tests/**/test_*.py", "tests/gone.py", "odd[1].py", "other/*.py"].map(String::from).to_vec();
        let expanded = expand_split_files(project.path(), &arguments).unwrap();
        assert_eq!(
            expanded,
            SplitFileArguments {
                files: ["tests/api/test_b.py", "tests/test_a.py", "tests/gone.py", "odd[1].py"]
                    .map(String::from)
                    .to_vec(),
                missing: vec!["tests/gone.py".to_string()],
                unmatched_globs: vec!["other/*.py".to_string()],
            }
        );
        let invalid = expand_split_files(project.path(), &["tests/[".to_string()]).unwrap_err();
        assert!(invalid.contains("the glob `tests/[` is invalid"), "{invalid}");
    }

    #[test]
    fn split_by_count_says_whether_the_history_has_timings_for_other_files() {
        let files: Vec<String> = ["tests/a.py", "tests/b.py"].map(String::from).to_vec();
        let plan = |timings: &HashMap<String, Duration>| {
            slipway_plan::split::split_files(&files, timings, SplitBy::Timings, 2)
        };
        let none = HashMap::new();
        assert_eq!(by_count_reason(&plan(&none), &none), "no timings recorded yet");
        let others: HashMap<String, Duration> = [
            ("src/tests/a.py".to_string(), Duration::from_secs(2)),
            ("src/tests/b.py".to_string(), Duration::from_secs(1)),
        ]
        .into();
        let reason = by_count_reason(&plan(&others), &others);
        assert!(reason.starts_with("none of these 2 file(s) has recorded timings"), "{reason}");
        assert!(reason.contains("2 other file(s), such as `src/tests/a.py`"), "{reason}");
    }

    fn state_in(dir: &Path) -> StateArgs {
        StateArgs { dir: dir.to_path_buf(), state_dir: None }
    }

    #[test]
    fn history_and_flaky_of_a_project_without_runs_succeed_and_show_of_a_run_fails() {
        let project = tempfile::tempdir().unwrap();
        let args = HistoryArgs { state: state_in(project.path()), limit: 20, project: None };
        assert_eq!(history(&args), ExitCode::SUCCESS);
        assert_eq!(flaky(&args), ExitCode::SUCCESS);
        let show_args = ShowArgs { state: state_in(project.path()), run: "abc".into(), logs: false };
        assert_eq!(show(&show_args), ExitCode::from(super::super::EXIT_FAILURE));
        assert!(!project.path().join(".slipway").exists(), "looking creates no history");
    }

    fn run(id: &str, branch: &str, seconds: u64, steps: (u32, u32), tests: (u32, u32)) -> RunSummary {
        let started_at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        RunSummary {
            id: id.into(),
            project: "p".into(),
            branch: Some(branch.into()).filter(|b: &String| !b.is_empty()),
            commit: None,
            started_at,
            finished_at: Some(started_at + std::time::Duration::from_millis(seconds * 1000 + 300)),
            result: "failed".into(),
            process: None,
            steps: steps.1,
            failed_steps: steps.0,
            tests: tests.1,
            failed_tests: tests.0,
        }
    }

    /// Where `text` starts in `line`, in characters.
    fn column(line: &str, text: &str) -> usize {
        let at = line.find(text).unwrap_or_else(|| panic!("no `{text}` in `{line}`"));
        line[..at].chars().count()
    }

    #[test]
    fn history_values_sit_under_their_headers_however_long_they_are() {
        let runs = [
            run("91ec266031", "", 3, (1, 4), (0, 0)),
            run("0a1b2c3d4e", "feature/a-branch-name-longer-than-twenty", 12345, (12, 130), (3, 1024)),
        ];
        let lines = history_lines(&runs);
        let [header, first, second] = &lines[..] else { panic!("{lines:#?}") };
        assert_eq!(column(first, "1/4 failed"), column(header, "STEPS"), "{lines:#?}");
        assert_eq!(column(second, "12/130 failed"), column(header, "STEPS"), "{lines:#?}");
        assert_eq!(column(second, "3/1024 failed"), column(header, "TESTS"), "{lines:#?}");
        assert_eq!(column(second, "feature/"), column(header, "BRANCH"), "{lines:#?}");
        assert_eq!(column(first, "failed"), column(header, "RESULT"), "{lines:#?}");
        // Durations end where TIME ends.
        let time_end = column(header, "TIME") + "TIME".len();
        assert_eq!(column(first, "3.3s") + "3.3s".len(), time_end, "{lines:#?}");
        assert_eq!(column(second, "12345.3s") + "12345.3s".len(), time_end, "{lines:#?}");
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "no trailing spaces: {lines:#?}");
        assert!(!lines[0].contains("PROJECT"), "one project: no column for it");
    }

    #[test]
    fn a_limit_that_hides_flaky_tests_says_how_many() {
        let test = |name: &str| slipway_store::FlakyTest {
            suite: "tests.t".into(),
            name: name.into(),
            file: Some("tests/t.py".into()),
            commit: "0123456789abcdef".into(),
            passed: 1,
            failed: 1,
            ..Default::default()
        };
        let lines = flaky_lines(vec![test("test_a"), test("test_b"), test("test_c")], 1);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[1].starts_with("tests/t.py::test_a") && lines[1].contains("0123456789ab "), "{lines:#?}");
        assert_eq!(lines[2], "… and 2 more (-n 3 shows them all)");
        assert_eq!(flaky_lines(vec![test("test_a")], 5).len(), 2, "nothing hidden, nothing said");
    }

    #[test]
    fn control_characters_in_a_branch_do_not_reach_the_terminal() {
        let lines = history_lines(&[run("91ec266031", "feat\n\u{1b}[31mred", 3, (0, 1), (0, 0))]);
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(lines[1].contains("feat??[31mred") && !lines[1].contains('\u{1b}'), "{lines:#?}");
    }

    #[test]
    fn runs_of_several_projects_say_whose_they_are() {
        let mut other = run("0a1b2c3d4e", "main", 4, (0, 1), (0, 0));
        other.project = "billing".into();
        let lines = history_lines(&[run("91ec266031", "main", 3, (1, 4), (0, 0)), other]);
        assert_eq!(column(&lines[2], "billing"), column(&lines[0], "PROJECT"), "{lines:#?}");
        assert_eq!(column(&lines[1], "p "), column(&lines[0], "PROJECT"), "{lines:#?}");
    }
}

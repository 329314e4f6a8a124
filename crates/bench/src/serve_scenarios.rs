//! `slipway serve` against the targets, with the real server as a child process
//! on loopback, its own data dir and a local bare git repository:
//!
//! 1. a signed GitHub push webhook → the build's first step running (its command's first
//!    line reaching a viewer), less the clone, on a warm engine;
//! 2. the dashboard (`/`) and the builds page (`/builds`) with 10 000 finished builds in
//!    the server's database and their test results in the history store;
//! 3. 100 browsers following one running build's log live: the server's own memory, and
//!    how far behind the printed lines reach them.
//!
//! Every scenario stops its server (a guard does, also on a panic) and checks that the
//! builds left nothing on the engine.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use slipway_server::hooks::signature::sign;
use slipway_store::{NewRun, RunResult, Store, TestCaseRecord, TestStatus};

use crate::measure::{docker, median};
use crate::report::Row;

pub fn rows(slipway: &Path, iterations: usize) -> Vec<Row> {
    let mut rows = vec![webhook_to_first_step(slipway, iterations)];
    rows.extend(pages_with_10k_builds(slipway));
    rows.extend(live_log_viewers(slipway));
    rows
}

// ---------------------------------------------------------------------------------------
// 1. Webhook → first step running
// ---------------------------------------------------------------------------------------

const BUSYBOX_SERVICES: &str = "app:\n  image: busybox\n";
const FIRST_STEP_LINE: &str = "first step running";
const WEBHOOK_SECRET: &str = "bench-webhook-secret";

/// When the build's events reached a viewer, from the moment the webhook was sent.
struct HookTiming {
    /// slipway's `step_started`: it began preparing the step (network, container).
    step_started: Duration,
    /// The step's command printed its first line: the step is running.
    first_output: Duration,
}

fn webhook_to_first_step(slipway: &Path, iterations: usize) -> Row {
    let tmp = tempfile::tempdir().expect("temp dir");
    let project = unique_name("bench-serve-hook");
    let steps = format!("- name: first\n  service: app\n  command: echo {FIRST_STEP_LINE}\n");
    let repo = GitRepo::new(tmp.path(), &[("codeship-services.yml", BUSYBOX_SERVICES), ("codeship-steps.yml", &steps)]);
    let config = format!(
        "[[project]]\nname = \"{project}\"\ngit = \"{}\"\nrepository = \"acme/{project}\"\nwebhook_secret = \"{WEBHOOK_SECRET}\"\n",
        repo.url()
    );
    let server = Server::start(slipway, tmp.path(), &config);
    let agent = agent();
    // The first build after start-up pays for cold caches (the binary, git, the engine's
    // first network); it is run but not counted: the target is for a warm server.
    let mut measured = Vec::new();
    for i in 0..=iterations.clamp(1, 5) {
        let commit = repo.commit(&format!("change {i}"));
        let timing = push_and_follow(&server, &agent, &project, &commit);
        let clone = time_checkout(&repo.url(), "main", &commit);
        if i == 0 {
            println!(
                "serve: warm-up build: first output {:.2} s, clone {:.3} s",
                timing.first_output.as_secs_f64(),
                clone.as_secs_f64()
            );
        } else {
            measured.push((timing, clone));
        }
    }
    server.stop();
    assert_engine_clean(&project);

    let seconds = |of: fn(&(HookTiming, Duration)) -> f64| median(measured.iter().map(of).collect());
    let first_output = seconds(|(t, _)| t.first_output.as_secs_f64());
    let step_started = seconds(|(t, _)| t.step_started.as_secs_f64());
    let clone = seconds(|(_, c)| c.as_secs_f64());
    // Per build, so a slow clone is subtracted from the build it slowed.
    let beyond_clone = seconds(|(t, c)| t.first_output.as_secs_f64() - c.as_secs_f64());
    Row {
        name: "serve: GitHub push webhook → first step running (busybox, warm engine)".into(),
        slipway: format!("{first_output:.2} s"),
        baseline: format!("{:.0} ms (the clone: git init + fetch + checkout)", clone * 1000.0),
        result: format!(
            "{beyond_clone:.2} s beyond the clone (step started at {step_started:.2} s; median of {} builds)",
            measured.len()
        ),
        target: "≤ 1.5 s plus the clone".into(),
        met: beyond_clone <= 1.5,
    }
}

/// Push `commit` as GitHub would announce it, and follow the build's events until it ends.
fn push_and_follow(server: &Server, agent: &ureq::Agent, project: &str, commit: &str) -> HookTiming {
    let body = json!({
        "ref": "refs/heads/main",
        "before": "0000000000000000000000000000000000000000",
        "after": commit,
        "deleted": false,
        "head_commit": {
            "id": commit,
            "message": "bench: a change",
            "author": {"name": "Dev", "email": "dev@example.org"},
            "committer": {"name": "Dev", "email": "dev@example.org", "username": "dev"},
        },
        "repository": {"full_name": format!("acme/{project}")},
        "sender": {"login": "dev"},
    })
    .to_string();
    let signature = sign(WEBHOOK_SECRET, body.as_bytes());
    let sent = Instant::now();
    let (status, text) = post(
        agent,
        &format!("{}/hooks/github", server.url),
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &signature), ("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(status, 202, "the webhook was not accepted: {text}\n{}", server.log_tail());
    let id = parse_json(&text)["queued"][0].as_i64().unwrap_or_else(|| panic!("no build queued: {text}"));
    let mut events = EventStream::open(agent, server, id);
    let (mut step_started, mut first_output, mut end) = (None, None, None);
    while let Some((_, event)) =
        events.next_event().unwrap_or_else(|e| panic!("build #{id}: {e}\n{}", server.log_tail()))
    {
        match event["event"].as_str() {
            Some("step_started") if step_started.is_none() => step_started = Some(sent.elapsed()),
            Some("step_output") if first_output.is_none() && event["line"] == FIRST_STEP_LINE => {
                first_output = Some(sent.elapsed())
            }
            Some("build_status") => end = event["status"].as_str().map(str::to_string),
            _ => {}
        }
    }
    let end = end.unwrap_or_default();
    assert_eq!(end, "passed", "build #{id} ended {end}:\n{}", server.build_output(id));
    HookTiming {
        step_started: step_started.unwrap_or_else(|| panic!("build #{id}: no step_started event")),
        first_output: first_output.unwrap_or_else(|| panic!("build #{id}: the step printed nothing")),
    }
}

/// What the server's checkout does (crates/server/src/git.rs), timed: `git init`, a fetch
/// of the branch, and a detached checkout of the commit.
fn time_checkout(url: &str, branch: &str, commit: &str) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
    let started = Instant::now();
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["fetch", "-q", "--no-tags", "--", url, &refspec]);
    git(dir.path(), &["cat-file", "-e", &format!("{commit}^{{commit}}")]);
    git(dir.path(), &["-c", "advice.detachedHead=false", "checkout", "-q", "--detach", commit]);
    git(dir.path(), &["rev-parse", "HEAD"]);
    started.elapsed()
}

// ---------------------------------------------------------------------------------------
// 2. Pages with 10 000 builds
// ---------------------------------------------------------------------------------------

const BUILDS: usize = 10_000;
const HISTORY_DAYS: i64 = 60;
const PAGE_REQUESTS: usize = 20;
const PAGE_TARGET_MS: f64 = 50.0;

/// Projects of a realistic server: their share of the builds and a typical duration.
const PROJECTS: &[(&str, u32, u64)] =
    &[("shop", 4, 9 * 60), ("api", 3, 5 * 60), ("web", 2, 4 * 60), ("mobile", 1, 14 * 60)];
const TEST_FILES: usize = 12;
const TESTS_PER_FILE: usize = 5;

fn pages_with_10k_builds(slipway: &Path) -> Vec<Row> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let started = Instant::now();
    let filled = fill_build_history(&data);
    println!(
        "serve: filled the store with {BUILDS} builds and {} history runs ({} test results) in {:.1} s",
        filled.runs,
        filled.test_results,
        started.elapsed().as_secs_f64()
    );
    // Configured projects get dashboard tiles; their git URLs are never fetched here.
    let config: String = PROJECTS
        .iter()
        .map(|(name, ..)| format!("[[project]]\nname = \"{name}\"\ngit = \"file:///nonexistent/{name}.git\"\n"))
        .collect();
    let server = Server::start(slipway, tmp.path(), &config);
    let agent = agent();
    // A browser: a session cookie from logging in with a token, as a wall screen does.
    let login = agent
        .get(&format!("{}/login?token={}", server.url, server.viewer))
        .call()
        .unwrap_or_else(|e| panic!("GET /login: {e}"));
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("logging in set no cookie (status {})\n{}", login.status(), server.log_tail()))
        .to_string();

    let dashboard = time_page(&agent, &server, "/", &cookie, |body| {
        PROJECTS.iter().all(|(name, ..)| body.contains(&format!(">{name}<"))) && body.contains("Slowest tests")
    });
    let builds = time_page(&agent, &server, "/builds", &cookie, |body| body.contains(&format!("/builds/{BUILDS}\"")));
    server.stop();

    let row = |name: &str, t: PageTiming| Row {
        name: name.into(),
        slipway: format!("{:.1} ms", t.median_ms),
        baseline: "—".into(),
        result: format!(
            "median {:.1} ms, slowest {:.1} ms of {PAGE_REQUESTS} requests; {} kB",
            t.median_ms,
            t.max_ms,
            t.bytes / 1024
        ),
        target: format!("≤ {PAGE_TARGET_MS:.0} ms"),
        met: t.median_ms <= PAGE_TARGET_MS,
    };
    vec![
        row("serve: dashboard `/` with 10 000 builds (4 projects, 60 days, test history)", dashboard),
        row("serve: builds page `/builds` with 10 000 builds", builds),
    ]
}

struct PageTiming {
    median_ms: f64,
    max_ms: f64,
    bytes: usize,
}

/// Response time of a page over loopback, after a warm-up; `looks_right` checks that the
/// page showed what the data holds, so an error page is never timed.
fn time_page(
    agent: &ureq::Agent,
    server: &Server,
    path: &str,
    cookie: &str,
    looks_right: impl Fn(&str) -> bool,
) -> PageTiming {
    let url = format!("{}{path}", server.url);
    let fetch = || {
        let started = Instant::now();
        let (status, body) = get(agent, &url, &[("Cookie", cookie)]);
        let elapsed = started.elapsed();
        assert_eq!(status, 200, "GET {path}: {body}\n{}", server.log_tail());
        assert!(looks_right(&body), "GET {path} does not show the builds:\n{body}");
        (elapsed.as_secs_f64() * 1000.0, body.len())
    };
    for _ in 0..3 {
        fetch();
    }
    let timed: Vec<(f64, usize)> = (0..PAGE_REQUESTS).map(|_| fetch()).collect();
    let times: Vec<f64> = timed.iter().map(|(ms, _)| *ms).collect();
    PageTiming {
        max_ms: times.iter().copied().fold(0.0, f64::max),
        median_ms: median(times),
        bytes: timed.last().map_or(0, |(_, bytes)| *bytes),
    }
}

struct Filled {
    runs: usize,
    test_results: usize,
}

/// Test `index` of a project, as its JUnit reports name it.
struct TestCase {
    suite: String,
    name: String,
    file: String,
    typical_ms: f64,
    flaky: bool,
    skipped: bool,
}

fn test_suite(rng: &mut Rng) -> Vec<TestCase> {
    let mut tests = Vec::new();
    for f in 0..TEST_FILES {
        for t in 0..TESTS_PER_FILE {
            let index = f * TESTS_PER_FILE + t;
            tests.push(TestCase {
                suite: format!("tests.test_module_{f}"),
                name: format!("test_case_{t}"),
                file: format!("tests/test_module_{f}.py"),
                // 5 ms to 8 s, most of them short, as real suites are.
                typical_ms: (5f64.ln() + rng.unit().powi(2) * (8000f64.ln() - 5f64.ln())).exp(),
                flaky: index == 7 || index == 23,
                skipped: index == 3 || index == 41,
            });
        }
    }
    tests
}

/// 10 000 finished builds of four projects over 60 days, written the way the server
/// records them: rows in `server.db` (through the server's own database handle; there is
/// no API to write a finished build with past times), and for every build that ran its
/// pipeline a run with its test results in the history store (through the store's API),
/// which the dashboard's slowest and flaky tests read. Re-runs of a commit and two flaky
/// tests per project give the flaky list something to find. Deterministic.
fn fill_build_history(data: &Path) -> Filled {
    let db = slipway_server::db::Db::open(data).expect("open server.db");
    let history = slipway_server::state::Paths::new(data.to_path_buf()).history;
    let store = Store::open(&history).expect("open the history store");
    let mut rng = Rng(0x5eed_cafe);
    let suites: Vec<Vec<TestCase>> = PROJECTS.iter().map(|_| test_suite(&mut rng)).collect();
    let committers = ["Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret"];
    let subjects = ["Fix", "Add", "Refactor", "Speed up", "Document", "Remove"];
    let things = ["checkout", "cart totals", "login form", "search index", "API client", "retry logic"];
    let weight_sum: u32 = PROJECTS.iter().map(|(_, w, _)| w).sum();
    let now_ms = slipway_server::db::now_ms();
    let first_ms = now_ms - HISTORY_DAYS * 86_400_000;
    let mut commits: std::collections::HashMap<(usize, String), String> = Default::default();
    let (mut runs, mut test_results) = (0, 0);

    let mut conn = db.conn();
    let tx = conn.transaction().expect("transaction");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO builds (project, branch, commit_id, message, committer_name, committer_email,
                    committer_username, pr_number, trigger, status, note, queued_at_ms, started_at_ms,
                    finished_at_ms, run_id, exit_code)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )
            .expect("prepare");
        for i in 0..BUILDS {
            let p = weighted_project(rng.below(u64::from(weight_sum)) as u32);
            let (project, _, typical_secs) = PROJECTS[p];
            let branch = match rng.unit() {
                r if r < 0.45 => "main".to_string(),
                r if r < 0.50 => "release/2.4".to_string(),
                _ => format!("feature/ticket-{}", 100 + rng.below(60)),
            };
            // 15 % of builds run a commit again (a re-run, or a second push of it).
            let commit = match commits.get(&(p, branch.clone())) {
                Some(c) if rng.unit() < 0.15 => c.clone(),
                _ => format!("{:016x}{:016x}{:08x}", rng.next(), rng.next(), rng.next() as u32),
            };
            commits.insert((p, branch.clone()), commit.clone());
            let status = match rng.unit() {
                r if r < 0.78 => "passed",
                r if r < 0.92 => "failed",
                r if r < 0.97 => "cancelled",
                r if r < 0.99 => "error",
                _ => "interrupted",
            };
            let queued = first_ms + (i as i64 * (now_ms - 600_000 - first_ms) / BUILDS as i64);
            let started = queued + 2_000 + rng.below(28_000) as i64;
            let took_ms = match status {
                "error" => 3_000 + rng.below(10_000),
                "cancelled" | "interrupted" => rng.below(typical_secs * 1000),
                _ => (typical_secs as f64 * 1000.0 * (0.7 + 0.6 * rng.unit())) as u64,
            } as i64;
            let finished = started + took_ms;
            let committer = committers[rng.below(committers.len() as u64) as usize];
            let message = format!(
                "{} {}\n\nDetails of the change.",
                subjects[rng.below(subjects.len() as u64) as usize],
                things[rng.below(things.len() as u64) as usize]
            );
            let pr = (branch.starts_with("feature/") && rng.unit() < 0.5).then(|| 1 + rng.below(900) as i64);
            let trigger = pr.map_or_else(|| "github push".to_string(), |n| format!("github pull request #{n}"));
            let (note, exit_code) = match status {
                "passed" => (None, Some(0)),
                "failed" => (None, Some(1)),
                "cancelled" => (Some("superseded by a newer push"), Some(130)),
                "error" => (Some("git fetch failed: could not read from remote repository"), None),
                _ => (Some("interrupted: the server stopped during the build"), None),
            };
            // Builds that got as far as `slipway steps` have a run in the history.
            let run_id = (status != "error").then(|| format!("{:010x}", rng.next() & 0xff_ffff_ffff));
            if let Some(run_id) = &run_id {
                let at = |ms: i64| UNIX_EPOCH + Duration::from_millis(ms as u64);
                store
                    .start_run(&NewRun {
                        id: run_id.clone(),
                        project: project.to_string(),
                        branch: Some(branch.clone()),
                        commit: Some(commit.clone()),
                        started_at: at(started + 1_500),
                        process: None,
                    })
                    .expect("start a run");
                // A cancelled or interrupted run stopped before its tests reported.
                if matches!(status, "passed" | "failed") {
                    let cases = test_results_of(&suites[p], status == "failed", &mut rng);
                    test_results += cases.len();
                    store.record_tests(run_id, 0, 1, &cases).expect("record tests");
                }
                let result = match status {
                    "passed" => RunResult::Passed,
                    "failed" => RunResult::Failed,
                    _ => RunResult::Cancelled,
                };
                store.finish_run(run_id, at(finished), result).expect("finish a run");
                runs += 1;
            }
            insert
                .execute(rusqlite::params![
                    project,
                    branch,
                    commit,
                    message,
                    committer,
                    format!("{}@example.org", committer.to_lowercase()),
                    committer.to_lowercase(),
                    pr,
                    trigger,
                    status,
                    note,
                    queued,
                    started,
                    finished,
                    run_id,
                    exit_code
                ])
                .expect("insert a build");
        }
    }
    tx.commit().expect("commit the builds");
    Filled { runs, test_results }
}

/// The project whose share of the weights `pick` (below their sum) falls into.
fn weighted_project(mut pick: u32) -> usize {
    for (p, (_, weight, _)) in PROJECTS.iter().enumerate() {
        if pick < *weight {
            return p;
        }
        pick -= weight;
    }
    PROJECTS.len() - 1
}

/// One run's report: a failed build failed a flaky test half the time, else one to three
/// others.
fn test_results_of(suite: &[TestCase], failed: bool, rng: &mut Rng) -> Vec<TestCaseRecord> {
    let mut failing: Vec<usize> = Vec::new();
    if failed {
        if rng.unit() < 0.5 {
            failing.push(suite.iter().position(|t| t.flaky).expect("a flaky test"));
        } else {
            for _ in 0..1 + rng.below(3) {
                failing.push(rng.below(suite.len() as u64) as usize);
            }
        }
    }
    suite
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let status = if t.skipped {
                TestStatus::Skipped
            } else if failing.contains(&i) {
                TestStatus::Failed
            } else {
                TestStatus::Passed
            };
            TestCaseRecord {
                suite: t.suite.clone(),
                name: t.name.clone(),
                file: Some(t.file.clone()),
                duration: Duration::from_secs_f64(t.typical_ms * (0.85 + 0.3 * rng.unit()) / 1000.0),
                status,
                message: (status == TestStatus::Failed).then(|| "AssertionError: expected 200, got 500".to_string()),
            }
        })
        .collect()
}

/// SplitMix64: reproducible data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

// ---------------------------------------------------------------------------------------
// 3. 100 live-log viewers
// ---------------------------------------------------------------------------------------

const VIEWERS: usize = 100;
const TICKS: usize = 150;
const MEMORY_TARGET_MB: f64 = 100.0;
const LAG_TARGET_S: f64 = 1.0;

/// Prints the wall clock every 100 ms for 15 s. Containers read the host's clock, so the
/// printed time and a viewer's time of receipt compare directly.
fn ticker_steps() -> String {
    format!(
        "- name: ticker\n  service: app\n  command: python -c \"import time; \
         [print('tick %.3f' % time.time(), flush=True) or time.sleep(0.1) for _ in range({TICKS})]\"\n"
    )
}

/// What one viewer saw: (printed, received) Unix times of every tick, and how the build ended.
struct Viewed {
    ticks: Vec<(f64, f64)>,
    end: Option<String>,
}

fn live_log_viewers(slipway: &Path) -> Vec<Row> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let project = unique_name("bench-serve-live");
    let repo = GitRepo::new(
        tmp.path(),
        &[("codeship-services.yml", "app:\n  image: python:3.11\n"), ("codeship-steps.yml", &ticker_steps())],
    );
    let config = format!("[[project]]\nname = \"{project}\"\ngit = \"{}\"\n", repo.url());
    let server = Server::start(slipway, tmp.path(), &config);
    let pid = server.pid();
    let idle_kib = proc_status_kib(pid, "VmRSS").expect("the server's VmRSS");

    let agent = agent();
    let (status, text) = post(
        &agent,
        &format!("{}/api/builds", server.url),
        &[("Authorization", &format!("Bearer {}", server.admin)), ("Content-Type", "application/json")],
        json!({"project": project, "branch": "main"}).to_string().as_bytes(),
    );
    assert_eq!(status, 201, "queueing the build: {text}\n{}", server.log_tail());
    let id = parse_json(&text)["id"].as_i64().unwrap_or_else(|| panic!("no build id: {text}"));

    // The server's own resident memory (not its `slipway steps` child), sampled while
    // the viewers stream; VmHWM catches a peak between samples.
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while sampling.load(Ordering::Relaxed) {
                peak = peak.max(proc_status_kib(pid, "VmRSS").unwrap_or(0));
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };

    let (connected_tx, connected_rx) = mpsc::channel::<()>();
    let viewers: Vec<_> = (0..VIEWERS)
        .map(|_| {
            let (url, viewer, connected) = (server.url.clone(), server.viewer.clone(), connected_tx.clone());
            std::thread::spawn(move || follow_ticks(&url, &viewer, id, connected))
        })
        .collect();
    drop(connected_tx);
    for n in 0..VIEWERS {
        connected_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("only {n} of {VIEWERS} viewers connected within 30 s\n{}", server.log_tail()));
    }
    let all_connected = unix_now();

    let mut seen: Vec<Viewed> = Vec::new();
    for viewer in viewers {
        match viewer.join() {
            Ok(Ok(viewed)) => seen.push(viewed),
            Ok(Err(message)) => panic!("a viewer failed: {message}\n{}", server.log_tail()),
            Err(_) => panic!("a viewer thread panicked"),
        }
    }
    sampling.store(false, Ordering::Relaxed);
    let sampled_kib = sampler.join().expect("sampler");
    let peak_kib = sampled_kib.max(proc_status_kib(pid, "VmHWM").unwrap_or(0));
    let ends: Vec<&str> = seen.iter().map(|v| v.end.as_deref().unwrap_or("(stream ended without a status)")).collect();
    assert!(ends.iter().all(|e| *e == "passed"), "build #{id} ended {ends:?}:\n{}", server.build_output(id));
    server.stop();
    assert_engine_clean(&project);

    let fewest_ticks = seen.iter().map(|v| v.ticks.len()).min().unwrap_or(0);
    // Lines printed before every viewer was connected were replayed to some of them,
    // not followed live: they do not count towards the lag.
    let mut lags: Vec<f64> = seen
        .iter()
        .flat_map(|v| v.ticks.iter().filter(|(printed, _)| *printed >= all_connected).map(|(p, r)| r - p))
        .collect();
    lags.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    assert!(!lags.is_empty(), "no tick was printed after the viewers connected");
    let max_lag = *lags.last().expect("lags");
    let p99 = lags[(lags.len() * 99 / 100).min(lags.len() - 1)];
    let mb = |kib: u64| kib as f64 / 1024.0;
    vec![
        Row {
            name: format!("serve: {VIEWERS} live-log viewers of one running build: server memory"),
            slipway: format!("{:.1} MB peak RSS", mb(peak_kib)),
            baseline: format!("{:.1} MB (the idle server, before the build)", mb(idle_kib)),
            result: format!("{:.1} MB more while streaming", mb(peak_kib) - mb(idle_kib)),
            target: format!("≤ {MEMORY_TARGET_MB:.0} MB"),
            met: mb(peak_kib) <= MEMORY_TARGET_MB,
        },
        Row {
            name: format!("serve: {VIEWERS} live-log viewers of one running build: lag behind the step's output"),
            slipway: format!("{max_lag:.2} s worst"),
            baseline: "—".into(),
            result: format!(
                "p99 {p99:.2} s, median {:.2} s over {} lines; every viewer got {fewest_ticks} of {TICKS} lines or more",
                lags[lags.len() / 2],
                lags.len()
            ),
            target: format!("≤ {LAG_TARGET_S:.0} s behind"),
            met: max_lag <= LAG_TARGET_S && fewest_ticks == TICKS,
        },
    ]
}

/// One browser's view of the build's live log: every `tick` line with its time of receipt.
fn follow_ticks(url: &str, token: &str, id: i64, connected: mpsc::Sender<()>) -> Result<Viewed, String> {
    let agent = agent();
    let mut events = EventStream::try_open(&agent, url, token, id)?;
    let _ = connected.send(());
    let mut viewed = Viewed { ticks: Vec::new(), end: None };
    while let Some((received, event)) = events.next_event()? {
        match event["event"].as_str() {
            Some("step_output") => {
                let printed = event["line"].as_str().and_then(|l| l.strip_prefix("tick ")).and_then(|t| t.parse().ok());
                if let Some(printed) = printed {
                    viewed.ticks.push((printed, received));
                }
            }
            Some("build_status") => viewed.end = event["status"].as_str().map(str::to_string),
            _ => {}
        }
    }
    Ok(viewed)
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(&format!("{field}:")))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------------------
// The server, git, HTTP and the engine
// ---------------------------------------------------------------------------------------

/// A `slipway serve` child with its own data dir (in the scenario's temp dir) and port,
/// and a viewer and an admin token. Dropping it stops it.
struct Server {
    child: Option<Child>,
    url: String,
    data: PathBuf,
    log: PathBuf,
    admin: String,
    viewer: String,
}

impl Server {
    /// `projects` is the TOML of the `[[project]]` tables; the data dir may hold data already.
    fn start(slipway: &Path, dir: &Path, projects: &str) -> Server {
        let config = dir.join("slipway-server.toml");
        std::fs::write(&config, format!("concurrency = 2\n{projects}")).expect("write the server's config");
        let data = dir.join("data");
        let token = |name: &str, role: &str| {
            let out = Command::new(slipway)
                .args(["token", "create", name, "--role", role, "--config"])
                .arg(&config)
                .arg("--data-dir")
                .arg(&data)
                .output()
                .expect("slipway token create");
            assert!(out.status.success(), "slipway token create: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let (admin, viewer) = (token("bench-admin", "admin"), token("bench-viewer", "viewer"));
        let mut child = Command::new(slipway)
            .args(["serve", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", "127.0.0.1:0"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("slipway serve starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = dir.join("server.log");
        let (url_tx, url_rx) = mpsc::channel();
        let log_file = log.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(log_file).expect("server log");
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                if let Some(url) = line.strip_prefix("slipway serve: listening on ") {
                    let _ = url_tx.send(url.trim().to_string());
                }
            }
        });
        // The guard exists before anything can time out, so a panic still stops the server.
        let mut server = Server { child: Some(child), url: String::new(), data, log, admin, viewer };
        server.url = url_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("slipway serve did not listen within 30 s:\n{}", server.log_tail()));
        // At start-up the server runs `slipway gc` in the background: let it finish, so
        // that it does not compete with what is measured.
        wait_for_no_children(server.pid(), Duration::from_secs(120));
        server
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- slipway serve's log (last lines)\n{}", lines[lines.len().saturating_sub(30)..].join("\n"))
    }

    /// The build's own output (checkout and `slipway steps`), for failure messages.
    fn build_output(&self, id: i64) -> String {
        let path = slipway_server::state::Paths::new(self.data.clone()).output(id);
        format!("{}\n--- output of build #{id}\n{}", self.log_tail(), std::fs::read_to_string(path).unwrap_or_default())
    }

    /// SIGTERM, as a service manager stops it: running builds are cancelled and remove
    /// their containers. SIGKILL if it has not exited after 10 s.
    fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("serve bench: slipway serve (pid {pid}) ignored SIGTERM for 10 s; killing it");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Until no process has had `pid` as its parent for a second: the server starts its
/// `slipway gc` from a task of its own, possibly just after it said it listens.
fn wait_for_no_children(pid: u32, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(1) {
        let children = children_of(pid);
        if !children.is_empty() {
            quiet_since = Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "slipway serve's start-up processes {children:?} still run after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after_comm.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid)
        })
        .collect()
}

/// A project name of its own: the engine label tells its containers from those of tests
/// that may run at the same time.
fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

/// Waits until the builds of `project` left nothing on the engine (they clean up as they
/// end); whatever is left after a minute is removed, and the scenario fails.
fn assert_engine_clean(project: &str) {
    let filters = ["--filter", "label=io.slipway.run", "--filter", &format!("label=io.slipway.project={project}")];
    let list = |kind: &[&str]| -> Vec<String> {
        let args: Vec<&str> = kind.iter().chain(filters.iter()).copied().collect();
        docker(&args).lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
    };
    let leftovers = || {
        [
            ("container", list(&["ps", "-aq"])),
            ("network", list(&["network", "ls", "-q"])),
            ("volume", list(&["volume", "ls", "-q"])),
        ]
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = leftovers();
        if left.iter().all(|(_, ids)| ids.is_empty()) {
            return;
        }
        if Instant::now() > deadline {
            for (kind, ids) in &left {
                for id in ids {
                    match *kind {
                        "container" => docker(&["rm", "-f", id]),
                        _ => docker(&[kind, "rm", "-f", id]),
                    };
                }
            }
            panic!("the builds of {project} left {left:?} on the engine (removed now)");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Bench", "-c", "user.email=bench@example.org"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A bare repository the server fetches from, and a clone to commit in.
struct GitRepo {
    bare: PathBuf,
    work: PathBuf,
}

impl GitRepo {
    fn new(dir: &Path, files: &[(&str, &str)]) -> GitRepo {
        let repo = GitRepo { bare: dir.join("repo.git"), work: dir.join("work") };
        std::fs::create_dir_all(&repo.work).expect("work dir");
        git(&repo.work, &["init", "-q", "-b", "main"]);
        for (name, text) in files {
            std::fs::write(repo.work.join(name), text).expect("write a file");
        }
        git(&repo.work, &["add", "-A"]);
        git(&repo.work, &["commit", "-q", "-m", "the pipeline"]);
        git(dir, &["init", "-q", "--bare", "-b", "main", repo.bare.to_str().expect("UTF-8 path")]);
        git(&repo.work, &["remote", "add", "origin", repo.bare.to_str().expect("UTF-8 path")]);
        git(&repo.work, &["push", "-q", "origin", "main"]);
        repo
    }

    /// A new (empty) commit on `main`, pushed; its id.
    fn commit(&self, message: &str) -> String {
        git(&self.work, &["commit", "-q", "--allow-empty", "-m", message]);
        git(&self.work, &["push", "-q", "origin", "main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }
}

/// No redirects followed (the login answers with one), statuses returned rather than
/// errors, and a time limit on every call, so a stuck server fails the bench.
fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(120)))
            .build(),
    )
}

fn get(agent: &ureq::Agent, url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = agent.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default())
}

fn post(agent: &ureq::Agent, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut request = agent.post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body).unwrap_or_else(|e| panic!("POST {url}: {e}"));
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default())
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs_f64()
}

/// A build's server-sent events (`/api/builds/{id}/events`), as a browser follows them.
struct EventStream {
    lines: BufReader<ureq::BodyReader<'static>>,
}

impl EventStream {
    fn open(agent: &ureq::Agent, server: &Server, id: i64) -> EventStream {
        EventStream::try_open(agent, &server.url, &server.viewer, id)
            .unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail()))
    }

    fn try_open(agent: &ureq::Agent, url: &str, token: &str, id: i64) -> Result<EventStream, String> {
        let response = agent
            .get(&format!("{url}/api/builds/{id}/events"))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Accept", "text/event-stream")
            .call()
            .map_err(|e| format!("GET /api/builds/{id}/events: {e}"))?;
        if response.status() != 200 {
            return Err(format!("GET /api/builds/{id}/events: status {}", response.status()));
        }
        Ok(EventStream { lines: BufReader::new(response.into_body().into_reader()) })
    }

    /// The next event's JSON and its Unix time of receipt; None when the stream ended
    /// (the build finished). An error is a broken stream or the agent's time limit.
    fn next_event(&mut self) -> Result<Option<(f64, Value)>, String> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.lines.read_line(&mut line).map_err(|e| format!("reading a build's events: {e}"))? == 0 {
                return Ok(None);
            }
            if let Some(data) = line.strip_prefix("data:") {
                let received = unix_now();
                if let Ok(event) = serde_json::from_str(data.trim()) {
                    return Ok(Some((received, event)));
                }
            }
        }
    }
}

//! `slipway warm` on the real engine: steps lease the pool's environments (never two the
//! same one), run with their own environment and exit status, the pool refills, and
//! nothing is left after Ctrl-C — or after `gc`, when the pool was killed.

mod support;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{RunResult, TestProject, BIN};

const SERVICES: &str = "
app:
  image: busybox
  environment:
    GREETING: hello from the services file
web:
  image: busybox
  links: [app]
";

/// The pool of a project, started in the background; SIGKILLed if a test fails.
struct Pool {
    child: Option<Child>,
}

impl Pool {
    fn start(p: &TestProject, args: &[&str]) -> Pool {
        let child = Command::new(BIN)
            .arg("warm")
            .args(args)
            .current_dir(&p.path)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn slipway warm");
        Pool { child: Some(child) }
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = self.child.as_ref().expect("running").id() as i32;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).expect("signal");
    }

    /// Ctrl-C, then its exit status and stderr.
    fn stop(mut self) -> (Option<i32>, String) {
        self.signal(nix::sys::signal::Signal::SIGINT);
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "slipway warm did not stop within 60 s of Ctrl-C");
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().expect("output");
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn docker_ps(filters: &[String]) -> Vec<(String, String)> {
    let mut command = Command::new("docker");
    command.args(["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"]);
    for filter in filters {
        command.args(["--filter", filter]);
    }
    let out = command.output().expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(id, name)| (id.to_string(), name.to_string()))
        .collect()
}

/// Ids of the project's running warm containers.
fn warm_containers(p: &TestProject) -> HashSet<String> {
    let project = format!("label=io.slipway.project={}", p.name);
    docker_ps(&[project, "label=io.slipway.warm.key".into(), "status=running".into()])
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// The pool's containers once it holds exactly `count`: all free, since those a run used
/// are removed (leases are the pool's own business, not visible on the engine).
fn wait_for_free(p: &TestProject, count: usize) -> HashSet<String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let free = warm_containers(p);
        if free.len() == count {
            return free;
        }
        assert!(Instant::now() < deadline, "the pool did not settle at {count} warm containers: {free:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ran_warm(result: &RunResult, label: &str) -> bool {
    let id = result.events.iter().find(|e| e["event"] == "run_started").expect("run_started")["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["label"] == label)
        .expect("step")["id"]
        .clone();
    result.events.iter().any(|e| {
        e["event"] == "step_phase"
            && e["step"] == id
            && e["message"].as_str().is_some_and(|m| m.contains("in a warm environment"))
    })
}

/// The container id a step printed with `hostname` (the engine's short id).
fn host_of(result: &RunResult, label: &str) -> String {
    result.output(label).iter().find_map(|l| l.strip_prefix("host ").map(str::to_string)).expect("host line")
}

#[test]
fn steps_run_in_warm_environments_with_their_own_settings_and_the_pool_refills() {
    let p = TestProject::with_files(
        "warm-claim",
        SERVICES,
        r#"
- type: parallel
  steps:
    - { name: greet, service: app, command: "sh -c 'echo host $(hostname); echo $GREETING; echo build $CI_BUILD_ID'" }
    - { name: fails, service: app, command: "sh -c 'exit 3'" }
    - { name: linked, service: web, command: "sh -c 'echo host $(hostname)'" }
    - { name: chatty, service: app, command: "sh -c 'seq 1 20000; seq 1 5000 >&2; printf last'" }
"#,
    );
    let pool = Pool::start(&p, &["--size", "3"]);
    let before = wait_for_free(&p, 3);

    let first = p.slipway(&["steps"]);
    first.assert_code(1);
    assert_eq!(first.status("greet"), "passed", "{}", first.dump());
    assert_eq!(first.finished("fails")["exit_code"], 3, "the exit status comes through exec");
    assert!(ran_warm(&first, "greet") && ran_warm(&first, "fails"), "{}", first.dump());
    assert!(!ran_warm(&first, "linked"), "a step with dependencies makes its own environment");
    let host = host_of(&first, "greet");
    assert!(before.iter().any(|id| id.starts_with(&host)), "greet ran in {host}, not one of the pool's {before:?}");
    let output = first.output("greet");
    assert!(output.contains(&"hello from the services file".to_string()), "{output:?}");
    let run_id = first.events[0]["run_id"].as_str().expect("run id");
    assert!(output.contains(&format!("build {run_id}")), "the run's own CI_BUILD_ID, not the pool's: {output:?}");
    // Every line of both streams comes through the pool, up to the last without a newline.
    let chatty = first.output("chatty");
    assert!(ran_warm(&first, "chatty"));
    assert_eq!(chatty.len(), 25_001, "{:?}", &chatty[chatty.len().saturating_sub(3)..]);
    assert_eq!(chatty.iter().filter(|l| l.as_str() == "20000").count(), 1);
    assert_eq!(chatty.last().map(String::as_str), Some("last"));

    // Used containers are gone; new ones take their slots.
    let after = wait_for_free(&p, 3);
    assert!(after.is_disjoint(&before), "claimed containers were reused: {before:?} then {after:?}");

    let cold = p.slipway(&["steps", "--no-warm"]);
    assert_eq!(cold.status("greet"), "passed", "{}", cold.dump());
    assert!(!ran_warm(&cold, "greet"));
    assert!(!after.iter().any(|id| id.starts_with(&host_of(&cold, "greet"))), "--no-warm still used the pool");

    // A variable the pool was not started with: the run says why it cannot use the pool.
    let misfit = p.slipway(&["steps", "-e", "EXTRA=1"]);
    assert_eq!(misfit.status("greet"), "passed", "{}", misfit.dump());
    assert!(!ran_warm(&misfit, "greet"));
    assert!(
        misfit.stderr.matches("keeps environments of `app`, but none fits how this run configures it").count() == 1,
        "said once, for all steps of `app`: {}",
        misfit.stderr
    );

    let (code, stderr) = pool.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("warm: app ×3"), "{stderr}");
    p.assert_no_leftovers();
}

#[test]
fn no_two_steps_get_the_same_warm_environment() {
    let steps: String = (1..=4)
        .map(|i| format!("    - {{ name: s{i}, service: app, command: \"sh -c 'echo host $(hostname); sleep 1'\" }}\n"))
        .collect();
    let p = TestProject::with_files("warm-race", SERVICES, &format!("- type: parallel\n  steps:\n{steps}"));
    let pool = Pool::start(&p, &["app", "--size", "3"]);
    wait_for_free(&p, 3);
    // Two runs at once, eight steps racing for three (then refilled) containers.
    let runs: Vec<_> = (0..2)
        .map(|n| {
            let events = p.path.parent().expect("parent").join(format!("events-{n}.jsonl"));
            (
                p.command(&["steps"], &events).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn"),
                events,
            )
        })
        .collect();
    let mut warm_hosts = Vec::new();
    for (child, events) in runs {
        let result = p.result(child.wait_with_output().expect("run"), &events);
        result.assert_code(0);
        let mut cold = 0;
        for i in 1..=4 {
            let label = format!("s{i}");
            if ran_warm(&result, &label) {
                warm_hosts.push(host_of(&result, &label));
            } else {
                cold += 1;
            }
        }
        // A step that found no free environment says why it made its own, once a run.
        let said = format!("{}{}", result.stdout, result.stderr).matches("but none was free").count();
        assert_eq!(said, usize::from(cold > 0), "{cold} step(s) ran cold\n{}", result.dump());
    }
    assert!(!warm_hosts.is_empty(), "no step ran warm");
    let unique: HashSet<&String> = warm_hosts.iter().collect();
    assert_eq!(unique.len(), warm_hosts.len(), "two steps shared a warm container: {warm_hosts:?}");
    let (code, stderr) = pool.stop();
    assert_eq!(code, Some(0), "{stderr}");
    p.assert_no_leftovers();
}

#[test]
fn a_killed_pool_is_removed_by_gc() {
    let p = TestProject::with_files("warm-killed", SERVICES, "- { service: app, command: 'true' }\n");
    let mut pool = Pool::start(&p, &[]);
    wait_for_free(&p, 1);
    let socket = Command::new("docker")
        .args(["ps", "--filter", &format!("label=io.slipway.project={}", p.name)])
        .args(["--format", "{{.Label \"io.slipway.warm.socket\"}}"])
        .output()
        .expect("docker ps");
    let socket = String::from_utf8_lossy(&socket.stdout).lines().next().expect("a warm container").to_string();
    pool.signal(nix::sys::signal::Signal::SIGKILL);
    let _ = pool.child.take().expect("running").wait();
    assert!(!p.leftovers().is_empty(), "a killed pool leaves its containers and networks");
    assert!(std::path::Path::new(&socket).exists(), "a killed pool leaves its socket {socket}");
    // gc run with another temporary folder (from systemd, tmux, a CI agent) still finds
    // the socket: the pool's containers name it.
    let elsewhere = tempfile::tempdir().expect("a temporary folder");
    let gc = Command::new(BIN).arg("gc").env("TMPDIR", elsewhere.path()).output().expect("gc");
    assert!(gc.status.success(), "{}", String::from_utf8_lossy(&gc.stderr));
    assert!(!std::path::Path::new(&socket).exists(), "gc left the killed pool's socket {socket}");
    p.assert_no_leftovers();
}

#[test]
fn a_service_that_cannot_be_kept_warm_is_named_with_the_reason() {
    let p = TestProject::with_files(
        "warm-volumes",
        "app:\n  image: busybox\n  volumes: [/data]\nplain:\n  image: busybox\n  links: [cache]\ncache:\n  image: busybox\n",
        "- { service: app, command: 'true' }\n",
    );
    let out = Command::new(BIN).args(["warm", "app"]).current_dir(&p.path).env("NO_COLOR", "1").output().expect("warm");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`app` cannot be kept warm") && stderr.contains("volumes"), "{stderr}");
    // Its steps start `cache` too: none of them could claim a warm `plain`.
    let linked =
        Command::new(BIN).args(["warm", "plain"]).current_dir(&p.path).env("NO_COLOR", "1").output().expect("warm");
    let stderr = String::from_utf8_lossy(&linked.stderr);
    assert_eq!(linked.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`plain` cannot be kept warm: its steps also start `cache`"), "{stderr}");
    let unknown = Command::new(BIN).args(["warm", "nope"]).current_dir(&p.path).output().expect("warm");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no service `nope`"));
    p.assert_no_leftovers();
}

/// `slipway steps` in the background, once its step printed `started`; its events file.
fn steps_until_started(p: &TestProject, name: &str) -> (Child, std::path::PathBuf) {
    let events = p.path.parent().expect("parent").join(format!("events-{name}.jsonl"));
    let run = p.command(&["steps"], &events).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    support::wait_for_event(&events, "the step's start", Duration::from_secs(60), |e| {
        e["event"] == "step_output" && e["line"] == "started"
    });
    (run, events)
}

#[test]
fn the_pool_takes_back_an_environment_whose_step_was_killed() {
    let p = TestProject::with_files(
        "warm-killed-step",
        SERVICES,
        "- { name: long, service: app, command: \"sh -c 'echo started; sleep 120'\" }\n",
    );
    let pool = Pool::start(&p, &["--size", "1"]);
    let before = wait_for_free(&p, 1);
    let (mut run, _) = steps_until_started(&p, "killed");
    run.kill().expect("SIGKILL the run");
    run.wait().expect("reaped");
    // The run's lease ended with its process: the pool removes that container and starts
    // another.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all: HashSet<String> =
            docker_ps(&[format!("label=io.slipway.project={}", p.name)]).into_iter().map(|(id, _)| id).collect();
        if all.is_disjoint(&before) && warm_containers(&p).len() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the killed step's container was not taken back: {all:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, stderr) = pool.stop();
    assert_eq!(code, Some(0), "{stderr}");
    p.assert_no_leftovers();
}

#[test]
fn a_warm_step_whose_container_is_killed_fails_137_and_is_named_as_reporting_no_tests() {
    let p = TestProject::with_files(
        "warm-killed-container",
        SERVICES,
        "- { name: long, service: app, reports: ['reports/*.xml'], command: \"sh -c 'echo started; sleep 120'\" }\n",
    );
    let pool = Pool::start(&p, &["--size", "1"]);
    let leased = wait_for_free(&p, 1);
    let (run, events) = steps_until_started(&p, "killed-container");
    let container = leased.into_iter().next().expect("the warm container");
    assert!(Command::new("docker").args(["kill", &container]).output().expect("docker kill").status.success());
    let out = run.wait_with_output().expect("the run ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let finished =
        support::read_events(&events).into_iter().find(|e| e["event"] == "step_finished").expect("step_finished");
    assert_eq!(finished["exit_code"], 137, "{finished}");
    assert!(stdout.contains("no test results from long"), "{stdout}");
    let (code, stderr) = pool.stop();
    assert_eq!(code, Some(0), "{stderr}");
    p.assert_no_leftovers();
}

#[test]
fn shards_and_queue_workers_of_a_split_step_run_warm_with_their_own_variables() {
    for mode in ["static", "queue"] {
        let p = TestProject::with_files(
            &format!("warm-split-{mode}"),
            SERVICES,
            &format!(
                "- name: tests\n  service: app\n  parallelism: 2\n  split:\n    files: 'tests/*.t'\n    by: name\n    mode: {mode}\n  reports: ['reports/*.xml']\n  command: sh -c 'echo shard $SLIPWAY_SHARD_INDEX of $SLIPWAY_SHARD_COUNT ran $SLIPWAY_TEST_FILES; mkdir -p reports; (echo \"<testsuite name=\\\"s\\\">\"; for f in $SLIPWAY_TEST_FILES; do echo \"<testcase classname=\\\"case\\\" name=\\\"$f\\\"/>\"; done; echo \"</testsuite>\") > reports/junit.xml'\n"
            ),
        );
        for name in ["a", "b", "c", "d"] {
            p.write(&format!("tests/{name}.t"), "");
        }
        let pool = Pool::start(&p, &[]);
        wait_for_free(&p, 2);
        let result = p.slipway(&["steps"]);
        result.assert_code(0);
        let mut ran = Vec::new();
        for shard in ["tests [1/2]", "tests [2/2]"] {
            assert!(ran_warm(&result, shard), "{mode}: {shard} did not run warm\n{}", result.dump());
            for line in result.output(shard) {
                let index = &shard[7..8];
                assert!(line.starts_with(&format!("shard {index} of 2 ran ")), "{mode}: {line}");
                ran.extend(line.split(" ran ").nth(1).unwrap_or_default().split_whitespace().map(str::to_string));
            }
        }
        ran.sort();
        assert_eq!(ran, ["tests/a.t", "tests/b.t", "tests/c.t", "tests/d.t"], "{mode}: every file once");
        // Their reports come through the pool (tar in the container), each file's once.
        let mut reported: Vec<String> = result
            .events
            .iter()
            .filter(|e| e["event"] == "test_results")
            .flat_map(|e| e["cases"].as_array().cloned().unwrap_or_default())
            .map(|c| c["name"].as_str().unwrap_or_default().to_string())
            .collect();
        reported.sort();
        assert_eq!(reported, ["tests/a.t", "tests/b.t", "tests/c.t", "tests/d.t"], "{mode}: {}", result.dump());
        // The history keeps that they ran warm: their start lags are learned apart.
        let run_id = result.events[0]["run_id"].as_str().expect("run id").to_string();
        let show = p.slipway(&["show", &run_id]);
        show.assert_code(0);
        let shards: Vec<&str> = show.stdout.lines().filter(|l| l.starts_with("tests [")).collect();
        assert!(shards.len() == 2 && shards.iter().all(|l| l.ends_with("(warm)")), "{mode}: {}", show.stdout);
        let cold = p.slipway(&["steps", "--no-warm"]);
        cold.assert_code(0);
        let cold_id = cold.events[0]["run_id"].as_str().expect("run id").to_string();
        let show = p.slipway(&["show", &cold_id]);
        assert!(!show.stdout.contains("(warm)"), "{mode}: {}", show.stdout);
        let (code, stderr) = pool.stop();
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stderr.contains("warm: app ×2"), "one environment per shard by default: {stderr}");
        p.assert_no_leftovers();
    }
}

#[test]
fn a_rebuilt_image_is_named_as_the_reason_and_the_pool_leaves_no_old_image() {
    let p = TestProject::new("warm-rebuilt");
    p.write("Dockerfile", "FROM busybox\nCOPY version /version\n");
    p.write("version", "one\n");
    p.write("codeship-services.yml", "app:\n  build: .\n");
    p.write("codeship-steps.yml", "- { name: which, service: app, command: cat /version }\n");
    let pool = Pool::start(&p, &["--size", "1"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while warm_containers(&p).len() != 1 {
        if Instant::now() > deadline {
            let (code, stderr) = pool.stop();
            panic!("the pool did not start: {code:?} {stderr}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert!(ran_warm(&r, "which"), "{}", r.dump());

    // An edit in the build context: this run builds a new image the pool does not hold.
    p.write("version", "two\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("which"), ["two"]);
    assert!(!ran_warm(&r, "which"), "{}", r.dump());
    assert!(r.stderr.contains("made from its previous image"), "{}", r.dump());

    // The pool follows the new image; stopped, it leaves no image of the project behind.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = p.slipway(&["steps"]);
        r.assert_code(0);
        if ran_warm(&r, "which") {
            assert_eq!(r.output("which"), ["two"]);
            break;
        }
        assert!(Instant::now() < deadline, "the pool never warmed the rebuilt image");
        std::thread::sleep(Duration::from_millis(500));
    }
    let (code, stderr) = pool.stop();
    assert_eq!(code, Some(0), "{stderr}");
    let images = Command::new("docker")
        .args(["images", "-q", "--filter", &format!("label=io.slipway.project={}", p.name)])
        .output()
        .expect("docker images");
    assert_eq!(String::from_utf8_lossy(&images.stdout).trim(), "", "images of the project were left behind");
    p.assert_no_leftovers();
}

//! Cancel, clean-up and gc; bad input and faults — each with a clear error and nothing
//! left on the engine.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{read_events, wait_for_event, TestProject, BIN};

const LONG_PARALLEL: &str = r#"
- type: parallel
  steps:
    - { name: one, service: app, command: "sh -c 'echo ready; sleep 120'" }
    - { name: two, service: app, command: "sh -c 'echo ready; sleep 120'" }
    - { name: three, service: app, command: "sh -c 'echo ready; sleep 120'" }
- { name: after, service: app, command: "true" }
"#;

/// Start `slipway steps` and wait until every step of the parallel group printed `ready`.
fn start_long_run(p: &TestProject) -> (Child, std::path::PathBuf) {
    let events = p.events_path();
    let child = p.command(&["steps"], &events).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = read_events(&events).iter().filter(|e| e["event"] == "step_output" && e["line"] == "ready").count();
        if ready == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "steps did not start: {:?}", read_events(&events));
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, events)
}

/// `gc` removes what any dead run left, so a test that leaves something for gc to find
/// holds this while it looks, or another test's gc may take it first.
static GC: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn gc_lock() -> std::sync::MutexGuard<'static, ()> {
    GC.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn interrupt(child: &Child) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT)
        .expect("signal");
}

fn wait_with_timeout(mut child: Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("slipway did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn sigint_mid_run_cancels_and_cleans_up() {
    let p = TestProject::with_files("sigint", "app:\n  image: busybox\n", LONG_PARALLEL);
    let (child, events_path) = start_long_run(&p);
    assert!(!p.leftovers().is_empty(), "the run should have containers now");
    interrupt(&child);
    let out = wait_with_timeout(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let events = read_events(&events_path);
    let cancelled = events.iter().filter(|e| e["event"] == "step_finished" && e["status"] == "cancelled").count();
    assert_eq!(cancelled, 3, "{events:?}");
    assert!(events.iter().any(|e| e["event"] == "step_finished" && e["status"] == "not_run"));
    assert!(events.iter().any(|e| e["event"] == "run_finished" && e["cancelled"] == true));
    p.assert_no_leftovers();
}

#[test]
fn a_run_past_its_timeout_is_cancelled_cleaned_up_and_exits_124() {
    let p = TestProject::with_files("run-timeout", "app:\n  image: busybox\n", LONG_PARALLEL);
    let events = p.events_path();
    let out = p.command(&["steps", "--timeout", "4s"], &events).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "as timeout(1): {stderr}");
    assert!(stderr.contains("longer than --timeout 4.0s"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("TIMED OUT"), "{}", String::from_utf8_lossy(&out.stdout));
    let events = read_events(&events);
    let ended = |status: &str| events.iter().filter(|e| e["event"] == "step_finished" && e["status"] == status).count();
    assert!(ended("cancelled") >= 1, "{events:?}");
    assert_eq!((ended("passed"), ended("failed")), (0, 0), "{events:?}");
    p.assert_no_leftovers();
    // A run that ends in time is not touched by it.
    let quick =
        TestProject::with_files("run-in-time", "app:\n  image: busybox\n", "- { service: app, command: true }\n");
    quick.slipway(&["steps", "--timeout", "10m"]).assert_code(0);
    quick.assert_no_leftovers();
}

#[test]
fn a_closed_terminal_cancels_like_ctrl_c() {
    let p = TestProject::with_files("sighup", "app:\n  image: busybox\n", LONG_PARALLEL);
    let (child, _) = start_long_run(&p);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGHUP)
        .expect("signal");
    let out = wait_with_timeout(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(129), "128 + SIGHUP: {}", String::from_utf8_lossy(&out.stderr));
    p.assert_no_leftovers();
}

#[test]
fn output_into_a_closed_pipe_does_not_stop_the_run_or_its_clean_up() {
    let p = TestProject::with_files(
        "closed-pipe",
        "app:\n  image: busybox\n",
        "- { name: talk, service: app, command: \"sh -c 'echo first; sleep 2; seq 1 200'\" }\n",
    );
    // `slipway steps --debug 2>&1 | head -1`: the reader goes away after one line.
    let mut child = p
        .command(&["steps", "--debug"], &p.events_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = [0u8; 1];
    std::io::Read::read_exact(child.stderr.as_mut().expect("stderr"), &mut first).expect("some output");
    drop(child.stdout.take());
    drop(child.stderr.take());
    let out = wait_with_timeout(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "the step passed; only its output had nowhere to go");
    p.assert_no_leftovers();
}

#[test]
fn second_sigint_exits_at_once_and_gc_removes_the_rest() {
    let _gc = gc_lock();
    let p = TestProject::with_files("sigint-twice", "app:\n  image: busybox\n", LONG_PARALLEL);
    let (child, _) = start_long_run(&p);
    let pid = child.id();
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(20));
    interrupt(&child);
    let out = wait_with_timeout(child, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stderr).contains("slipway gc"), "{}", String::from_utf8_lossy(&out.stderr));
    let left = p.leftovers();
    if left.is_empty() {
        // The first SIGINT's clean-up won the race; nothing for gc to do for this run.
        eprintln!("clean-up finished before the second signal");
    }
    let gc = Command::new(BIN).arg("gc").env("NO_COLOR", "1").output().expect("gc");
    assert!(gc.status.success(), "{}", String::from_utf8_lossy(&gc.stderr));
    let stdout = String::from_utf8_lossy(&gc.stdout);
    assert!(!stdout.contains(&format!("process {pid} is still running")), "{stdout}");
    p.assert_no_leftovers();
}

#[test]
fn a_killed_run_reads_as_interrupted_in_the_history_and_gc_removes_what_it_left() {
    let _gc = gc_lock();
    let p = TestProject::with_files("kill-9", "app:\n  image: busybox\n", LONG_PARALLEL);
    let (mut child, _) = start_long_run(&p);
    let result_in_history = |p: &TestProject| {
        let history = p.slipway(&["history"]);
        history.assert_code(0);
        history.stdout.lines().nth(1).and_then(|l| l.split_whitespace().nth(3)).unwrap_or_default().to_string()
    };
    assert_eq!(result_in_history(&p), "running");
    // SIGKILL: slipway gets no chance to record the run's end or to clean up.
    child.kill().expect("kill");
    child.wait().expect("reaped");
    assert_eq!(result_in_history(&p), "interrupted");
    let history = p.slipway(&["history"]).stdout;
    let run_id = history.lines().nth(1).and_then(|l| l.split_whitespace().next()).expect("a run in the history");
    let show = p.slipway(&["show", run_id]);
    assert!(show.stdout.lines().next().is_some_and(|l| l.ends_with(": interrupted")), "{}", show.dump());
    // The steps it was in are recorded from their start: cut off with the run.
    let cut_off = show.stdout.lines().filter(|l| l.split_whitespace().nth(2) == Some("interrupted")).count();
    assert!(cut_off >= 1, "{}", show.dump());
    // And what they printed before the kill is kept.
    let logs = p.slipway(&["show", run_id, "--logs"]);
    let kept = logs.stdout.lines().filter(|l| l.trim() == "│ ready").count();
    assert_eq!(kept, 3, "each step's `ready` is in its log: {}", logs.dump());
    assert!(!p.leftovers().is_empty(), "a killed run leaves its containers for gc");
    let gc = Command::new(BIN).arg("gc").output().expect("gc");
    assert!(gc.status.success(), "{}", String::from_utf8_lossy(&gc.stderr));
    p.assert_no_leftovers();
}

#[test]
fn no_remove_keeps_everything_until_gc() {
    let _gc = gc_lock();
    let p = TestProject::with_files(
        "no-remove",
        "app:\n  image: busybox\n  links: [db]\n  volumes: [/scratch]\ndb:\n  image: busybox\n  command: sh -c 'sleep 300'\n",
        "- { name: s, service: app, command: echo hi }\n",
    );
    let r = p.slipway(&["steps", "--no-remove"]);
    r.assert_code(0);
    assert!(r.stderr.contains("kept") && r.stderr.contains("slipway gc"), "{}", r.dump());
    let left = p.leftovers();
    assert!(left.iter().filter(|l| l.starts_with("container")).count() == 2, "{left:?}");
    assert!(left.iter().any(|l| l.starts_with("network")), "{left:?}");
    assert!(left.iter().any(|l| l.starts_with("volume")), "{left:?}");

    let dry = Command::new(BIN).args(["gc", "--dry-run"]).output().expect("gc");
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would remove"));
    assert_eq!(p.leftovers().len(), left.len(), "--dry-run removed something");

    let gc = Command::new(BIN).arg("cleanup").output().expect("gc");
    assert!(gc.status.success());
    p.assert_no_leftovers();
}

#[test]
fn gc_leaves_live_runs_alone() {
    let _gc = gc_lock();
    let p = TestProject::with_files("gc-live", "app:\n  image: busybox\n", LONG_PARALLEL);
    let (child, _) = start_long_run(&p);
    let gc = Command::new(BIN).arg("gc").output().expect("gc");
    let stdout = String::from_utf8_lossy(&gc.stdout).to_string();
    assert!(stdout.contains(&format!("process {} is still running", child.id())), "{stdout}");
    assert!(!p.leftovers().is_empty(), "gc removed a live run's containers");
    interrupt(&child);
    let out = wait_with_timeout(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(130));
    p.assert_no_leftovers();
}

#[test]
fn an_engine_that_does_not_answer_is_named() {
    let p = TestProject::with_files("no-engine", "app:\n  image: busybox\n", "- { service: app, command: 'true' }\n");
    let r = p.slipway_env(&["steps"], &[("DOCKER_HOST", "unix:///tmp/slipway-no-such-engine.sock")]);
    r.assert_code(1);
    assert!(
        r.stderr.contains("cannot reach the Docker Engine at unix:///tmp/slipway-no-such-engine.sock"),
        "{}",
        r.dump()
    );
    assert!(r.stderr.contains("Start it"), "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn an_engine_that_accepts_but_never_answers_is_named_soon_and_an_empty_docker_host_is_unset() {
    let p = TestProject::with_files("mute-engine", "app:\n  image: busybox\n", "- { service: app, command: 'true' }\n");
    let socket = p.file("mute.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    // Accept and hold every connection, answering nothing.
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(Duration::from_secs(60));
        drop(held);
    });
    let started = Instant::now();
    let r = p.slipway_env(&["steps"], &[("DOCKER_HOST", &format!("unix://{}", socket.display()))]);
    r.assert_code(1);
    assert!(r.stderr.contains("did not answer within 10 s"), "{}", r.dump());
    assert!(started.elapsed() < Duration::from_secs(40), "took {:?}", started.elapsed());

    let r = p.slipway_env(&["steps"], &[("DOCKER_HOST", "")]);
    r.assert_code(0);
    p.assert_no_leftovers();
}

#[test]
fn malformed_yaml_is_reported_with_its_position_and_nothing_runs() {
    let p = TestProject::with_files(
        "bad-yaml",
        "app:\n  image: busybox\n  environment:\n    A: [unclosed\n",
        "- { service: app, command: 'true' }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert!(r.stderr.contains("codeship-services.yml:"), "{}", r.dump());
    assert!(r.stderr.contains("invalid YAML"), "{}", r.dump());
    assert!(r.events.is_empty(), "nothing may run");
    p.assert_no_leftovers();
}

#[test]
fn missing_files_say_what_was_looked_for() {
    let p = TestProject::new("no-files");
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert!(
        r.stderr.contains("no services file and no steps file")
            && r.stderr.contains("codeship-services.yml")
            && r.stderr.contains("codeship-steps.yml"),
        "{}",
        r.dump()
    );
    p.write("codeship-services.yml", "app:\n  image: busybox\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert!(r.stderr.contains("no steps file") && r.stderr.contains("codeship-steps.yml"), "{}", r.dump());
    // `validate` still checks the services, which `slipway run` can use on their own.
    let r = p.slipway(&["validate"]);
    r.assert_code(0);
    assert!(r.stdout.contains("is valid; there is no steps file"), "{}", r.dump());
    p.write("codeship-services.yml", "app:\n  image: busybox\n  links: [nope]\n");
    p.slipway(&["validate"]).assert_code(1);
    let r = p.slipway(&["validate", "--services-path", "nope.yml"]);
    r.assert_code(1);
    assert!(r.stderr.contains("--services-path `nope.yml` does not exist"), "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn an_image_that_cannot_be_pulled_shows_the_engines_message() {
    let p = TestProject::with_files(
        "no-image",
        "app:\n  image: slipway-test/does-not-exist:0.0.1\n",
        "- { name: s, service: app, command: 'true' }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    let message = r.finished("s")["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with(
            "cannot pull image `slipway-test/does-not-exist:0.0.1` for service `app` (./codeship-services.yml:2:10): "
        ),
        "{message}"
    );
    assert!(message.len() > 80, "the engine's own message is included: {message}");
    // The terminal shows the engine's message once; the step's end and the summary name it.
    let engine_message = &message[message.find("): ").unwrap() + 3..];
    assert_eq!(r.stdout.matches(engine_message).count() + r.stderr.matches(engine_message).count(), 1, "{}", r.dump());
    assert!(r.stdout.contains("(./codeship-services.yml:2:10) (the error is above)"), "{}", r.dump());
    // `slipway run` says it once, not again as the command's failure.
    let r = p.slipway(&["run", "app", "true"]);
    r.assert_code(1);
    assert_eq!(r.stderr.matches("cannot pull image").count(), 1, "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn validate_reports_all_problems_and_exits_one() {
    let p = TestProject::with_files(
        "validate",
        "app:\n  image: busybox\n  links: [ghost]\n",
        "- { service: app, command: 'true', tag: '^(x' }\n- { service: nobody, command: 'true' }\n",
    );
    let r = p.slipway(&["validate"]);
    r.assert_code(1);
    for expected in [
        "codeship-services.yml:3:11",
        "unknown service `ghost`",
        "codeship-steps.yml:1:",
        "regular expression",
        "codeship-steps.yml:2:",
        "`nobody`",
    ] {
        assert!(r.stderr.contains(expected), "missing {expected}: {}", r.dump());
    }
    p.write("codeship-services.yml", "app:\n  image: busybox\n");
    p.write("codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let r = p.slipway(&["validate"]);
    r.assert_code(0);
    assert!(r.stdout.contains("valid"), "{}", r.dump());

    // A split glob that matches no file: validate says where, as the run would.
    p.write(
        "codeship-steps.yml",
        "- name: unit\n  service: app\n  parallelism: 2\n  split:\n    files: 'tests/test_*.py'\n  command: echo {files}\n",
    );
    let r = p.slipway(&["validate"]);
    r.assert_code(1);
    assert!(r.stderr.contains("codeship-steps.yml:5:") && r.stderr.contains("but no file matches it"), "{}", r.dump());
    p.write("tests/test_one.py", "");
    p.slipway(&["validate"]).assert_code(0);

    // A template error in a push step's image_tag: found by validate, not only by --push.
    p.write("codeship-steps.yml", "- type: push\n  service: app\n  image_name: busybox\n  image_tag: '{{ .Nope }}'\n");
    let r = p.slipway(&["validate"]);
    r.assert_code(1);
    assert!(
        r.stderr.contains("codeship-steps.yml:4:") && r.stderr.contains("not a known template field"),
        "{}",
        r.dump()
    );
    p.assert_no_leftovers();
}

#[test]
fn run_executes_a_one_off_command_with_stdin_and_its_exit_status() {
    let p = TestProject::with_files(
        "run",
        "app:\n  image: busybox\n  links: [db]\ndb:\n  image: busybox\n  command: sh -c 'sleep 300'\n",
        "- { service: app, command: 'true' }\n",
    );
    let r = p.slipway(&[
        "run",
        "app",
        "sh",
        "-c",
        "ping -c 1 -W 2 db >/dev/null && echo db reachable; echo CI=$CI; exit 4",
    ]);
    r.assert_code(4);
    assert!(r.stdout.contains("db reachable") && r.stdout.contains("CI=true"), "{}", r.dump());
    p.assert_no_leftovers();

    let mut child = p
        .command(&["run", "app", "sh", "-c", "tr a-z A-Z"], &p.file("x"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"piped input\n").unwrap();
    let out = wait_with_timeout(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "PIPED INPUT\n");
    p.assert_no_leftovers();

    let r = p.slipway(&["run", "missing"]);
    r.assert_code(1);
    assert!(r.stderr.contains("no service `missing`"), "{}", r.dump());

    // A command the image does not have exits 127, as with `docker run` or a shell.
    let r = p.slipway(&["run", "app", "no-such-command"]);
    r.assert_code(127);
    assert!(r.stderr.contains("`no-such-command` is not in the image's $PATH"), "{}", r.dump());
    p.assert_no_leftovers();
}

/// `slipway run ARGS` in a terminal (util-linux `script` gives it one), typing `keys` once
/// its output shows `after`; its exit code and all it printed.
fn run_in_a_terminal(p: &TestProject, args: &str, after: &str, keys: &[u8]) -> (Option<i32>, String) {
    use std::io::{Read, Write};
    let mut child = Command::new("script")
        .args(["-qec", &format!("{BIN} run {args}"), "/dev/null"])
        .current_dir(&p.path)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("util-linux `script`");
    let mut stdout = child.stdout.take().unwrap();
    let (chunks, printed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buffer) {
            let _ = chunks.send(buffer[..n].to_vec());
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !String::from_utf8_lossy(&seen).contains(after) && Instant::now() < deadline {
        match printed.recv_timeout(Duration::from_millis(100)) {
            Ok(chunk) => seen.extend(chunk),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(keys).expect("type");
    let out = wait_with_timeout(child, Duration::from_secs(60));
    drop(stdin);
    seen.extend(printed.try_iter().flatten());
    seen.extend(out.stdout);
    (out.status.code(), String::from_utf8_lossy(&seen).into_owned())
}

#[test]
fn ctrl_c_in_a_terminal_cancels_run_until_its_command_starts_then_goes_to_the_command() {
    let p = TestProject::with_files(
        "run-tty-ctrl-c",
        r#"
app:
  image: busybox
  depends_on: [db]
db:
  image: busybox
  command: sh -c 'sleep 300'
  healthcheck:
    test: ["CMD-SHELL", "test -f /tmp/ready"]
    interval: 1s
    retries: 100
"#,
        "- { service: app, command: 'true' }\n",
    );
    // While it waits for `db`, Ctrl-C is the terminal's SIGINT: slipway cancels.
    let (code, printed) =
        run_in_a_terminal(&p, "app sh -c 'echo command started; sleep 60'", "waiting for db to be healthy", b"\x03");
    assert_eq!(code, Some(130), "{printed}");
    assert!(printed.contains("slipway: cancelling"), "{printed}");
    assert!(!printed.contains("command started") && !printed.contains("error"), "{printed}");
    p.assert_no_leftovers();

    // Once the command runs, Ctrl-C goes to it, as with `docker run -it`.
    let command = r#"db sh -c 'trap "echo got ctrl-c; exit 7" INT; echo command started; while :; do sleep 1; done'"#;
    let (code, printed) = run_in_a_terminal(&p, command, "command started", b"\x03");
    assert_eq!(code, Some(7), "{printed}");
    assert!(printed.contains("got ctrl-c"), "{printed}");
    assert!(!printed.contains("slipway: cancelling"), "{printed}");
    p.assert_no_leftovers();
}

/// Every image, named or not and intermediate layers included, whose Dockerfile set
/// `LABEL io.slipway.test=<marker>`.
fn images_marked(marker: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["images", "-a", "-q", "--filter"])
        .arg(format!("label=io.slipway.test={marker}"))
        .output()
        .expect("docker images");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn an_interrupted_or_failed_build_leaves_no_layers() {
    let p = TestProject::new("build-interrupted");
    let marker = p.name.clone();
    p.write("Dockerfile", &format!("FROM busybox\nLABEL io.slipway.test={marker}\nRUN echo building; sleep 60\n"));
    p.write("codeship-services.yml", "app:\n  build: .\n");
    // Two steps wait for the one build.
    p.write(
        "codeship-steps.yml",
        "- type: parallel\n  steps:\n  - { name: use, service: app, command: \"true\" }\n  - { name: also, service: app, command: \"true\" }\n",
    );
    let events = p.events_path();
    let child = p.command(&["steps"], &events).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    wait_for_event(&events, "the build's RUN", Duration::from_secs(60), |e| {
        e["event"] == "image_output" && e["line"] == "building"
    });
    interrupt(&child);
    let out = wait_with_timeout(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(images_marked(&marker), Vec::<String>::new(), "the interrupted build left layers");
    let builds = read_events(&events).iter().filter(|e| e["event"] == "image_started").count();
    assert_eq!(builds, 1, "the other step started the build again after the cancel");
    let r = p.result(out, &events);
    assert_eq!((r.status("use"), r.status("also")), ("cancelled".into(), "cancelled".into()), "{}", r.dump());
    p.write("codeship-steps.yml", "- { name: use, service: app, command: \"true\" }\n");

    // Interrupted as a step starts: the engine may still commit that step, after the
    // cancel, and the run never hears of that layer.
    p.write(
        "Dockerfile",
        &format!("FROM busybox\nLABEL io.slipway.test={marker}\nRUN echo {marker} > /a\nRUN sleep 60\n"),
    );
    std::fs::remove_file(&events).expect("the first run's events");
    let child = p.command(&["steps"], &events).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    wait_for_event(&events, "the build's step 3", Duration::from_secs(60), |e| {
        e["event"] == "image_output" && e["line"].as_str().is_some_and(|l| l.starts_with("Step 3/"))
    });
    // While the engine starts the step's container (it commits the step ~0.5–1 s on).
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&child);
    let out = wait_with_timeout(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(images_marked(&marker), Vec::<String>::new(), "the build interrupted as a step started left layers");

    p.write("Dockerfile", &format!("FROM busybox\nLABEL io.slipway.test={marker}\nRUN exit 4\n"));
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert_eq!(images_marked(&marker), Vec::<String>::new(), "the failed build left layers");

    // A multi-stage build: the stages the image does not build on go too.
    p.write(
        "Dockerfile",
        &format!("FROM busybox AS base\nLABEL io.slipway.test={marker}\nRUN echo base > /b\nFROM base AS test\nRUN echo t > /t\nFROM busybox\nCOPY --from=base /b /b\n"),
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(images_marked(&marker), Vec::<String>::new(), "a multi-stage build left its stages");
    p.assert_no_leftovers();
}

#[test]
fn gc_removes_the_layers_of_a_build_whose_run_was_killed() {
    let _gc = gc_lock();
    // The layers carry no slipway label: the build was killed before its end.
    let (p, mut child, events) = start_slow_build("build-killed");
    let marker = p.name.clone();
    child.kill().expect("kill"); // SIGKILL: no clean-up at all
    child.wait().expect("reaped");
    // The engine stops the build once it notices the client is gone.
    std::thread::sleep(Duration::from_secs(3));
    let layers = images_marked(&marker);
    assert!(!layers.is_empty(), "the killed build left no layers to test with");
    let run = read_events(&events).iter().find(|e| e["event"] == "run_started").expect("run started")["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    // --dry-run lists what gc then removes: the layers too, and as many objects.
    let dry = Command::new(BIN).args(["gc", "--dry-run"]).output().expect("gc --dry-run");
    let dry = String::from_utf8_lossy(&dry.stdout).into_owned();
    // (Removing the newest layer takes the untagged ones under it along, as `docker rmi`.)
    assert!(layers.iter().any(|layer| dry.contains(&format!("layer {layer}"))), "{layers:?} not listed: {dry}");
    let gc = Command::new(BIN).arg("gc").output().expect("gc");
    assert!(gc.status.success(), "{}", String::from_utf8_lossy(&gc.stderr));
    let count = |text: &str, said: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("run {run}: {said} "))?.split(' ').next()?.parse::<usize>().ok())
    };
    let removed = String::from_utf8_lossy(&gc.stdout).into_owned();
    assert_eq!(count(&dry, "would remove"), count(&removed, "removed"), "{dry}\n{removed}");
    assert_eq!(images_marked(&marker), Vec::<String>::new(), "gc left layers: {}", String::from_utf8_lossy(&gc.stdout));
    p.assert_no_leftovers();
}

/// A project whose one step needs a build that commits two layers and then sleeps in a
/// RUN; `slipway steps` started, and waited for until that RUN prints. Its layers carry
/// `io.slipway.test=<project name>` (see [`images_marked`]).
fn start_slow_build(name: &str) -> (TestProject, Child, std::path::PathBuf) {
    let p = TestProject::new(name);
    let marker = p.name.clone();
    p.write(
        "Dockerfile",
        &format!("FROM busybox\nLABEL io.slipway.test={marker}\nRUN echo {marker} > /a\nRUN echo building; sleep 60\n"),
    );
    p.write("codeship-services.yml", "app:\n  build: .\n");
    p.write("codeship-steps.yml", "- { name: use, service: app, command: \"true\" }\n");
    let events = p.events_path();
    let child = p.command(&["steps"], &events).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    wait_for_event(&events, "the build's last RUN", Duration::from_secs(60), |e| {
        e["event"] == "image_output" && e["line"] == "building"
    });
    (p, child, events)
}

#[test]
fn gc_leaves_a_killed_builds_layer_that_another_build_uses_and_says_no_error() {
    let _gc = gc_lock();
    let (p, mut child, _) = start_slow_build("build-killed-reused");
    let marker = p.name.clone();
    child.kill().expect("kill");
    child.wait().expect("reaped");
    std::thread::sleep(Duration::from_secs(3));
    let layer = images_marked(&marker).pop().expect("the killed build's LABEL layer");
    // Another build takes the layer from the cache: its step runs in a container of it.
    let name = format!("{marker}-reuses");
    let created = Command::new("docker").args(["create", "--name", &name, &layer, "true"]).output().expect("create");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let started = std::time::Instant::now();
    let gc = Command::new(BIN).arg("gc").output().expect("gc");
    let waited = started.elapsed();
    let in_use = images_marked(&marker);
    let _ = Command::new("docker").args(["rm", &name]).output();
    let _ = Command::new("docker").arg("rmi").args(images_marked(&marker)).output();
    assert!(
        gc.status.success(),
        "a layer in use is no error: {}{}",
        String::from_utf8_lossy(&gc.stdout),
        String::from_utf8_lossy(&gc.stderr)
    );
    assert!(waited < Duration::from_secs(4), "gc waited {waited:?} for a container that is not the run's");
    assert_eq!(in_use, vec![layer], "the layer in use stays");
    p.assert_no_leftovers();
}

#[test]
fn a_second_ctrl_c_mid_build_leaves_gc_a_way_to_the_layers() {
    let _gc = gc_lock();
    let (p, child, _) = start_slow_build("build-ctrl-c-twice");
    let marker = p.name.clone();
    // The first cancels and waits for the engine to stop the build; the second exits.
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&child);
    let out = wait_with_timeout(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_secs(3));
    let gc = Command::new(BIN).arg("gc").output().expect("gc");
    assert!(gc.status.success(), "{}", String::from_utf8_lossy(&gc.stderr));
    assert_eq!(images_marked(&marker), Vec::<String>::new(), "gc left layers: {}", String::from_utf8_lossy(&gc.stdout));
    p.assert_no_leftovers();
}

#[test]
fn gc_removes_untagged_images_that_slipway_built() {
    let _gc = gc_lock();
    let p = TestProject::new("gc-untagged");
    let name = format!("{}-img", p.name);
    // The named image goes even when an assertion fails.
    struct RemoveImage(String);
    impl Drop for RemoveImage {
        fn drop(&mut self) {
            let _ = Command::new("docker").args(["rmi", &self.0]).output();
        }
    }
    let _image = RemoveImage(name.clone());
    // Two builds of one name: the first loses its tag, as a superseded build's image does.
    for content in ["one", "two"] {
        p.write("Dockerfile", &format!("FROM busybox\nRUN echo {content} > /x\n"));
        let out = Command::new("docker")
            .args(["build", "-q", "-t", &name, "--label"])
            .arg(format!("io.slipway.project={}", p.name))
            .arg(p.file("."))
            .output()
            .expect("docker build");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let untagged = || {
        let out = Command::new("docker")
            .args(["images", "-q", "--filter", "dangling=true", "--filter"])
            .arg(format!("label=io.slipway.project={}", p.name))
            .output()
            .expect("docker images");
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert_eq!(untagged(), 1);
    let dry = Command::new(BIN).args(["gc", "--dry-run"]).output().expect("gc");
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(text.contains("would remove untagged image") && text.contains(&p.name), "{text}");
    assert_eq!(untagged(), 1, "--dry-run removed something");
    let gc = Command::new(BIN).arg("gc").output().expect("gc");
    assert!(gc.status.success(), "{}", String::from_utf8_lossy(&gc.stderr));
    assert_eq!(untagged(), 0, "{}", String::from_utf8_lossy(&gc.stdout));
    p.assert_no_leftovers();
}

#[test]
fn a_step_the_kernel_killed_for_memory_says_so_and_one_killed_otherwise_names_docker_kill() {
    let p = TestProject::with_files(
        "oom-killed",
        "app:\n  image: busybox\n",
        r#"
- type: parallel
  steps:
  - name: hog
    service: app
    command: sh -c 'echo ready; while [ ! -f /tmp/go ]; do sleep 0.1; done; exec dd if=/dev/zero of=/dev/null bs=64M count=1'
  - name: other
    service: app
    command: sh -c 'echo ready; sleep 120'
"#,
    );
    let events = p.events_path();
    let child = p.command(&["steps"], &events).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    wait_for_event(&events, "both steps ready", Duration::from_secs(60), |_| {
        read_events(&events).iter().filter(|e| e["event"] == "step_output" && e["line"] == "ready").count() == 2
    });
    let container = |step: &str| {
        let out = Command::new("docker")
            .args(["ps", "-q", "--filter", &format!("label=io.slipway.project={}", p.name)])
            .args(["--filter", &format!("label=io.slipway.step={step}")])
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // The step asks for 64 MB once its container may only have 16.
    let hog = container("hog");
    let limited = Command::new("docker").args(["update", "--memory", "16m", "--memory-swap", "16m", &hog]).output();
    assert!(limited.expect("docker update").status.success(), "cannot limit {hog}'s memory");
    Command::new("docker").args(["exec", &hog, "touch", "/tmp/go"]).output().expect("docker exec");
    wait_for_event(&events, "hog's end", Duration::from_secs(60), |e| e["event"] == "step_finished");
    Command::new("docker").args(["kill", &container("other")]).output().expect("docker kill");
    let out = wait_with_timeout(child, Duration::from_secs(60));
    let r = p.result(out, &events);
    r.assert_code(1);
    let message = |step: &str| r.finished(step)["message"].as_str().unwrap_or_default().to_string();
    assert!(message("hog").starts_with("exited with code 137: out of memory"), "{}", r.dump());
    assert!(message("other").contains("by `docker kill`"), "{}", r.dump());
    assert!(!message("other").contains("memory"), "{}", r.dump());
    p.assert_no_leftovers();
}

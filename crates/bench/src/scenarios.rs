//! The measurements the issues ask for, each against its baseline.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::measure::{concurrent_docker_runs, docker, median, time_command};
use crate::report::Row;

/// Where one step's time goes: the engine calls of a one-step run, from slipway's debug
/// log (median of each call over `iterations` runs).
pub fn engine_calls(slipway: &Path, iterations: usize) -> Vec<(String, f64)> {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = project(work.path(), "bench-calls", "app:\n  image: busybox\n", "- { service: app, command: 'true' }\n");
    let mut samples: Vec<(String, Vec<f64>)> = Vec::new();
    for _ in 0..iterations {
        let out = Command::new(slipway)
            .args(["steps", "-T", "--dir"])
            .arg(&dir)
            .env("SLIPWAY_LOG", "slipway=debug")
            .env("NO_COLOR", "1")
            .output()
            .expect("slipway runs");
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            // "… DEBUG create network slipway-…: 65.6 ms"
            let Some((head, ms)) = line.rsplit_once(": ") else { continue };
            let Some(ms) = ms.strip_suffix(" ms").and_then(|m| m.parse::<f64>().ok()) else { continue };
            let Some(op) = [
                "create network",
                "create container",
                "start container",
                "wait exit",
                "remove container",
                "remove network",
            ]
            .into_iter()
            .find(|op| head.contains(op)) else {
                continue;
            };
            match samples.iter_mut().find(|(o, _)| o == op) {
                Some((_, values)) => values.push(ms),
                None => samples.push((op.to_string(), vec![ms])),
            }
        }
    }
    samples.into_iter().map(|(op, values)| (op, median(values))).collect()
}

pub fn all(slipway: &Path, iterations: usize) -> Vec<Row> {
    let work = tempfile::tempdir().expect("temp dir");
    let mut rows = Vec::new();
    let docker_run = || time_command(Command::new("docker").args(["run", "--rm", "busybox", "true"])).as_secs_f64();
    // Warm both paths once (page cache, image layers).
    docker_run();

    let one =
        project(work.path(), "bench-one-step", "app:\n  image: busybox\n", "- { service: app, command: 'true' }\n");
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    steps(slipway, &one, &[]);
    for _ in 0..iterations {
        ours.push(steps(slipway, &one, &[]));
        theirs.push(docker_run());
    }
    let (a, b) = (median(ours), median(theirs.clone()));
    rows.push(ratio_row("per-step overhead: one-step busybox pipeline vs `docker run --rm busybox true`", a, b, 0.8));
    // The same step claiming an environment `slipway warm` started beforehand; each run
    // waits for the pool to have refilled, as it has between the steps of a pipeline.
    let (warm, plain) = warm_steps_vs(slipway, &one, 1, iterations, docker_run);
    rows.push(ratio_row(
        "per-step overhead with `slipway warm` (the step claims a started environment) vs `docker run --rm busybox true`",
        warm,
        plain,
        0.8,
    ));

    let mut parallel = String::from("- type: parallel\n  steps:\n");
    for i in 0..25 {
        parallel.push_str(&format!("    - {{ name: echo-{i}, service: app, command: echo {i} }}\n"));
    }
    let wide = project(work.path(), "bench-parallel", "app:\n  image: busybox\n", &parallel);
    steps(slipway, &wide, &[]);
    let mut ours = Vec::new();
    for _ in 0..iterations {
        ours.push(steps(slipway, &wide, &[]));
        theirs.push(docker_run());
    }
    let (a, b) = (median(ours.clone()), median(theirs));
    rows.push(ratio_row("makespan of 25 parallel `echo` steps vs one `docker run`", a, b, 1.5));
    // What the engine itself allows: the same 25 containers started at once by hand.
    let mut concurrent = Vec::new();
    for _ in 0..iterations {
        concurrent.push(concurrent_docker_runs(25, |i| vec!["busybox".into(), "echo".into(), i.to_string()]));
    }
    let c = median(concurrent);
    let (warm, plain) = warm_steps_vs(slipway, &wide, 25, iterations, docker_run);
    rows.push(ratio_row(
        "makespan of 25 parallel `echo` steps with `slipway warm --size 25` vs one `docker run`",
        warm,
        plain,
        1.5,
    ));
    rows.push(Row {
        name: "makespan of 25 parallel `echo` steps vs 25 concurrent `docker run --rm`".to_string(),
        slipway: format!("{:.0} ms", a * 1000.0),
        baseline: format!("{:.0} ms", c * 1000.0),
        result: format!("{:.2}×", a / c),
        target: "report".to_string(),
        met: true,
    });

    rows.push(healthy_to_start(slipway, work.path(), iterations));
    rows
}

/// Medians of `slipway steps` in `dir` while `slipway warm --size N` keeps its
/// environments, and of `baseline`, interleaved.
fn warm_steps_vs(slipway: &Path, dir: &Path, size: usize, iterations: usize, baseline: impl Fn() -> f64) -> (f64, f64) {
    let (mut warm, mut plain) = (Vec::new(), Vec::new());
    WarmPool::start(slipway, dir, size, &[]).run(|pool| {
        for _ in 0..iterations {
            pool.wait_ready();
            warm.push(steps(slipway, dir, &[]));
            // Not while the pool replaces what the steps used: the engine is busy then.
            pool.wait_ready();
            plain.push(baseline());
        }
    });
    (median(warm), median(plain))
}

fn project(root: &Path, name: &str, services: &str, steps: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("project dir");
    std::fs::write(dir.join("codeship-services.yml"), services).expect("services");
    std::fs::write(dir.join("codeship-steps.yml"), steps).expect("steps");
    dir
}

/// Wall time of `slipway steps` in `dir`, in seconds.
fn steps(slipway: &Path, dir: &Path, extra: &[&str]) -> f64 {
    time_command(Command::new(slipway).args(["steps", "-T", "--dir"]).arg(dir).args(extra)).as_secs_f64()
}

fn ratio_row(name: &str, ours: f64, baseline: f64, target: f64) -> Row {
    let ratio = ours / baseline;
    Row {
        name: name.to_string(),
        slipway: format!("{:.0} ms", ours * 1000.0),
        baseline: format!("{:.0} ms", baseline * 1000.0),
        result: format!("{ratio:.2}×"),
        target: format!("≤ {target}×"),
        met: ratio <= target,
    }
}

/// From the moment a dependency's health check condition turns true to the moment the
/// step's command runs: both read the kernel's uptime clock, shared by all containers.
fn healthy_to_start(slipway: &Path, root: &Path, iterations: usize) -> Row {
    let dir = project(
        root,
        "bench-health",
        "app:\n  image: busybox\n  links: [db]\ndb:\n  image: busybox\n  command: sh -c 'sleep 1; cat /proc/uptime; touch /tmp/ready; sleep 300'\n  healthcheck:\n    test: [CMD, test, -f, /tmp/ready]\n    interval: 30s\n",
        "- { name: step, service: app, command: cat /proc/uptime }\n",
    );
    let mut samples = Vec::new();
    for _ in 0..iterations {
        let events = dir.join("events.jsonl");
        steps(slipway, &dir, &["--no-remove", "--events", events.to_str().expect("utf-8 path")]);
        let events: Vec<serde_json::Value> = std::fs::read_to_string(&events)
            .expect("events")
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let run_id = events.iter().find(|e| e["event"] == "run_started").expect("run started")["run_id"]
            .as_str()
            .expect("id")
            .to_string();
        let step_uptime = events
            .iter()
            .find(|e| e["event"] == "step_output")
            .and_then(|e| uptime(e["line"].as_str()?))
            .expect("step output");
        let db = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.slipway.run={run_id}"),
            "--filter",
            "label=io.slipway.service=db",
        ]);
        let db_log = docker(&["logs", db.trim()]);
        let ready_uptime = db_log.lines().find_map(uptime).expect("db printed its uptime");
        samples.push(step_uptime - ready_uptime);
        let _ = Command::new(slipway).arg("gc").output();
    }
    let latency = median(samples);
    Row {
        name: "dependency healthy → step command running".to_string(),
        slipway: format!("{:.0} ms", latency * 1000.0),
        baseline: "—".to_string(),
        result: format!("{:.0} ms", latency * 1000.0),
        target: "≤ 150 ms".to_string(),
        met: latency <= 0.150,
    }
}

fn uptime(line: &str) -> Option<f64> {
    line.split_whitespace().next()?.parse().ok()
}

/// `slipway warm --size N` in a project dir, stopped with Ctrl-C (and waited for) after use.
pub(crate) struct WarmPool {
    child: std::process::Child,
    dir: PathBuf,
    size: usize,
}

impl WarmPool {
    pub fn start(slipway: &Path, dir: &Path, size: usize, extra: &[&str]) -> WarmPool {
        let child = Command::new(slipway)
            .args(["warm", "--size", &size.to_string(), "--dir"])
            .arg(dir)
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("slipway warm");
        WarmPool { child, dir: dir.to_path_buf(), size }
    }

    pub fn run(mut self, measure: impl FnOnce(&WarmPool)) {
        measure(&self);
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let _ = self.child.wait();
    }

    /// Until every slot holds a started container and those the last run used are gone.
    pub fn wait_ready(&self) {
        let project = self.dir.file_name().expect("dir name").to_string_lossy().into_owned();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let all = docker(&[
                "ps",
                "-a",
                "--format",
                "{{.State}}",
                "--filter",
                &format!("label=io.slipway.project={project}"),
                "--filter",
                "label=io.slipway.warm.key",
            ]);
            if all.lines().count() == self.size && all.lines().all(|state| state == "running") {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "slipway warm did not get {} containers ready", self.size);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

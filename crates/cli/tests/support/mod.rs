//! A small harness for driving the real `slipway` binary against the real Docker
//! Engine: a project in a temp dir with a unique name (so its label tells its objects
//! apart from other tests'), the run's events, and a check that nothing is left.

#![allow(dead_code)]

pub mod registry;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_slipway");

pub struct TestProject {
    dir: tempfile::TempDir,
    pub path: PathBuf,
    /// The project name slipway derives from the directory: the `io.slipway.project` label.
    pub name: String,
}

pub struct RunResult {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub events: Vec<Value>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestProject {
    pub fn new(test: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t-{}-{}-{n}", test.replace('_', "-"), std::process::id());
        let path = dir.path().join(&name);
        std::fs::create_dir(&path).expect("project dir");
        Self { dir, path, name }
    }

    pub fn with_files(test: &str, services: &str, steps: &str) -> Self {
        let p = Self::new(test);
        p.write("codeship-services.yml", services);
        p.write("codeship-steps.yml", steps);
        p
    }

    pub fn write(&self, name: &str, text: &str) -> &Self {
        let path = self.path.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("dirs");
        }
        std::fs::write(path, text).expect("write");
        self
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Beside the project, not in it: a build context must not contain a growing file.
    pub fn events_path(&self) -> PathBuf {
        self.dir.path().join("events.jsonl")
    }

    /// `slipway ARGS…` in the project dir, plain output, with `--events` for `steps`.
    pub fn slipway(&self, args: &[&str]) -> RunResult {
        self.slipway_env(args, &[])
    }

    pub fn slipway_env(&self, args: &[&str], env: &[(&str, &str)]) -> RunResult {
        let events = self.events_path();
        let _ = std::fs::remove_file(&events);
        let mut command = self.command(args, &events);
        for (k, v) in env {
            command.env(k, v);
        }
        let output = command.output().expect("slipway runs");
        self.result(output, &events)
    }

    pub fn command(&self, args: &[&str], events: &Path) -> Command {
        let mut command = Command::new(BIN);
        command.args(args);
        if args.first() == Some(&"steps") {
            command.arg("-T").arg("--events").arg(events);
        }
        command.current_dir(&self.path).env("NO_COLOR", "1").stdin(Stdio::null());
        command
    }

    pub fn result(&self, output: Output, events: &Path) -> RunResult {
        RunResult {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            events: read_events(events),
        }
    }

    /// Containers, networks and volumes of slipway runs (`io.slipway.run`) of this project.
    pub fn leftovers(&self) -> Vec<String> {
        leftovers_with_label(&format!("io.slipway.project={}", self.name))
    }

    pub fn assert_no_leftovers(&self) {
        let left = self.leftovers();
        assert!(left.is_empty(), "slipway left objects behind: {left:?}");
    }
}

impl Drop for TestProject {
    /// A failed test must not leave objects for the next one: remove them quietly.
    fn drop(&mut self) {
        let label = format!("label=io.slipway.project={}", self.name);
        for (kind, rm) in [
            ("container", vec!["rm", "-f", "-v"]),
            ("network", vec!["network", "rm"]),
            ("volume", vec!["volume", "rm", "-f"]),
        ] {
            let ids = list(kind, &label);
            if !ids.is_empty() {
                let _ = Command::new("docker").args(&rm).args(&ids).output();
            }
        }
    }
}

/// Objects of slipway runs (`label=io.slipway.run`) that also match `filter`.
fn list(kind: &str, filter: &str) -> Vec<String> {
    let run = "label=io.slipway.run";
    let args: Vec<&str> = match kind {
        "container" => vec!["ps", "-aq", "--filter", run, "--filter", filter],
        "network" => vec!["network", "ls", "-q", "--filter", run, "--filter", filter],
        _ => vec!["volume", "ls", "-q", "--filter", run, "--filter", filter],
    };
    let out = Command::new("docker").args(args).output().expect("docker CLI");
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect()
}

pub fn leftovers_with_label(label: &str) -> Vec<String> {
    let filter = format!("label={label}");
    ["container", "network", "volume"]
        .iter()
        .flat_map(|kind| list(kind, &filter).into_iter().map(move |id| format!("{kind} {id}")))
        .collect()
}

/// Wait (up to `limit`, polling every 20 ms) until the events file at `path` has an event
/// that `wanted` accepts; panics naming `what` otherwise.
pub fn wait_for_event(path: &Path, what: &str, limit: std::time::Duration, wanted: impl Fn(&Value) -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !read_events(path).iter().any(&wanted) {
        assert!(std::time::Instant::now() < deadline, "{what} did not happen: {:?}", read_events(path));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub fn read_events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

impl RunResult {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "exit status\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    /// Label of a step id.
    fn label_of(&self, id: &Value) -> String {
        let steps = self.events.iter().find(|e| e["event"] == "run_started").expect("run_started")["steps"]
            .as_array()
            .expect("steps")
            .clone();
        steps
            .iter()
            .find(|s| s["id"] == *id)
            .map(|s| s["label"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    /// Position in the event stream of `kind` (`step_started`/`step_finished`) for a label.
    pub fn position(&self, kind: &str, label: &str) -> usize {
        self.events
            .iter()
            .position(|e| e["event"] == kind && self.label_of(&e["step"]) == label)
            .unwrap_or_else(|| panic!("no {kind} for `{label}` in events:\n{}", self.dump()))
    }

    pub fn started(&self, label: &str) -> bool {
        self.events.iter().any(|e| e["event"] == "step_started" && self.label_of(&e["step"]) == label)
    }

    /// Final status of a step (`passed`, `failed`, `skipped`, `cancelled`, `not_run`).
    pub fn status(&self, label: &str) -> String {
        self.finished(label)["status"].as_str().unwrap_or_default().to_string()
    }

    /// The step's final `step_finished` (not a failed attempt that was retried).
    pub fn finished(&self, label: &str) -> Value {
        self.events
            .iter()
            .find(|e| e["event"] == "step_finished" && e["will_retry"] != true && self.label_of(&e["step"]) == label)
            .cloned()
            .unwrap_or_else(|| panic!("no step_finished for `{label}`:\n{}", self.dump()))
    }

    /// Output lines of a step, in order.
    pub fn output(&self, label: &str) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["event"] == "step_output" && self.label_of(&e["step"]) == label)
            .map(|e| e["line"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub fn dump(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

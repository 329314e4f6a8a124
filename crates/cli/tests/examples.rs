//! The bundled examples run as the README says, and leave nothing behind.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{leftovers_with_label, read_events, BIN};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name)
}

fn run_example(name: &str, extra: &[&str]) -> (Option<i32>, String, Vec<serde_json::Value>) {
    let events = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new(BIN)
        .args(["steps", "-T", "--dir"])
        .arg(example(name))
        .arg("--events")
        .arg(events.path())
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .expect("slipway runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text, read_events(events.path()))
}

fn status_of(events: &[serde_json::Value], label: &str) -> String {
    let steps = events.iter().find(|e| e["event"] == "run_started").expect("run started")["steps"].clone();
    let id =
        steps.as_array().unwrap().iter().find(|s| s["label"] == label).unwrap_or_else(|| panic!("no step {label}"))
            ["id"]
            .clone();
    events
        .iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == id)
        .map(|e| e["status"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn parallel_busybox_example_passes() {
    let (code, text, events) = run_example("parallel-busybox", &[]);
    assert_eq!(code, Some(0), "{text}");
    for step in ["prepare", "worker-1", "worker-2", "fetch-web", "nested-first", "nested-second", "finish"] {
        assert_eq!(status_of(&events, step), "passed", "{step}: {text}");
    }
    assert!(leftovers_with_label("io.slipway.project=parallel-busybox").is_empty());
}

/// The images the example keeps on purpose (`cached: true`), removed again after the test
/// when it was the test that made them: a test leaves the engine as it found it.
struct KeptImages(Vec<String>);

impl KeptImages {
    fn note_missing(names: &[&str]) -> KeptImages {
        KeptImages(names.iter().filter(|n| !image_exists(n)).map(|n| n.to_string()).collect())
    }
}

impl Drop for KeptImages {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("docker").args(["rmi", name]).output();
        }
    }
}

fn image_exists(name: &str) -> bool {
    Command::new("docker").args(["image", "inspect", name]).output().is_ok_and(|o| o.status.success())
}

#[test]
fn python_postgres_example_passes_and_deploys_on_master_only() {
    let kept = KeptImages::note_missing(&[
        "slipway-example/python-postgres-app:latest",
        "slipway-cache/python-postgres/app:main",
        "slipway-cache/python-postgres/app:master",
    ]);
    let (code, text, events) = run_example("python-postgres", &["--ci-branch", "main"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(status_of(&events, "lint"), "passed", "{text}");
    assert_eq!(status_of(&events, "tests"), "passed", "{text}");
    assert_eq!(status_of(&events, "deploy"), "skipped", "{text}");
    assert!(text.contains("10 passed"), "pytest ran against postgres: {text}");

    let (code, text, events) = run_example("python-postgres", &["--ci-branch", "master"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(status_of(&events, "deploy"), "passed", "{text}");
    assert!(text.contains("deploying commit"), "{text}");
    assert!(leftovers_with_label("io.slipway.project=python-postgres").is_empty());
    assert!(image_exists("slipway-cache/python-postgres/app:master"), "cached: true keeps the branch's image");
    drop(kept);
}

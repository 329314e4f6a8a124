//! Issue 4's measurements on `examples/split-suite` (200 sleeping tests in 40 files,
//! about 120 s serially) split over 8 shards: by count (the baseline), static by timings
//! after a learning run, and queue mode. Efficiency = max(total / 8, longest file) /
//! makespan, with the total and the longest file taken from the run's own JUnit reports.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::measure::{concurrent_docker_runs, median};
use crate::report::Row;
use crate::scenarios::WarmPool;

const SHARDS: f64 = 8.0;

/// The split-suite image, as the runs' `cached: true` kept it.
const CACHED_IMAGE: &str = "slipway-cache/bench-split-suite/app:bench";

/// Seconds for 8 `docker run --rm` of the image started together, each running pytest
/// to collect one file: what starting 8 shards costs the engine and the cores before any
/// test runs, without slipway.
fn startup_floor(image: &str) -> f64 {
    concurrent_docker_runs(SHARDS as usize, |_| {
        [image, "pytest", "-q", "--collect-only", "tests/test_auth_1.py"].map(String::from).to_vec()
    })
}

struct Suite {
    dir: PathBuf,
    state: PathBuf,
    events: PathBuf,
}

/// A copy of the example, so its history starts empty and the repository stays clean.
fn suite(root: &Path, work: &Path) -> Suite {
    let dir = work.join("bench-split-suite");
    copy_tree(&root.join("examples/split-suite"), &dir);
    Suite { dir, state: work.join("state"), events: work.join("events.jsonl") }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("read example") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == ".slipway" || name == "reports" || name == "__pycache__" {
            continue;
        }
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).expect("copy");
        }
    }
}

struct Measured {
    makespan: f64,
    ideal: f64,
    /// The longest time any shard's tests took by their own reports: what the packing
    /// alone achieved, without container and test-runner start-up.
    busiest_shard: f64,
}

impl Measured {
    fn efficiency(&self) -> f64 {
        self.ideal / self.makespan
    }
}

/// Run the split step `by` and `mode`, and measure it from its events.
fn run(slipway: &Path, s: &Suite, by: &str, mode: &str) -> Measured {
    let steps = format!(
        "- name: tests\n  service: app\n  parallelism: 8\n  split:\n    files: \"tests/**/test_*.py\"\n    by: {by}\n    mode: {mode}\n  reports: [\"reports/*.xml\"]\n  command: pytest -q --junitxml=reports/junit-{{shard}}.xml {{files}}\n"
    );
    // Outside the project folder, which is the image's build context (`COPY . .`): a steps
    // file written there would make each mode's run build a new image, which no warm
    // environment (made for the previous image) fits.
    let steps_path = s.dir.with_file_name(format!("steps-{by}-{mode}.yml"));
    std::fs::write(&steps_path, steps).expect("steps");
    let out = Command::new(slipway)
        .args(["steps", "-T", "--ci-branch", "bench", "--dir"])
        .arg(&s.dir)
        .arg("--steps-path")
        .arg(&steps_path)
        .arg("--state-dir")
        .arg(&s.state)
        .arg("--events")
        .arg(&s.events)
        .output()
        .expect("slipway runs");
    assert!(out.status.success(), "split-suite run failed:\n{}", String::from_utf8_lossy(&out.stdout));
    let events: Vec<Value> = std::fs::read_to_string(&s.events)
        .expect("events")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let t = |e: &Value| e["t_ms"].as_f64().unwrap_or(0.0) / 1000.0;
    // From the image being ready (or the first shard starting) to the last shard's end.
    let start = events
        .iter()
        .filter(|e| e["event"] == "image_finished")
        .map(t)
        .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
        .or_else(|| events.iter().find(|e| e["event"] == "step_started").map(t))
        .expect("a step started");
    let end = events.iter().filter(|e| e["event"] == "step_finished").map(t).fold(0.0, f64::max);
    let mut per_file: HashMap<String, f64> = HashMap::new();
    let mut per_shard: HashMap<String, f64> = HashMap::new();
    for results in events.iter().filter(|e| e["event"] == "test_results") {
        for case in results["cases"].as_array().cloned().unwrap_or_default() {
            let seconds = case["duration"].as_f64().unwrap_or(0.0) / 1000.0;
            *per_file.entry(case["file"].as_str().unwrap_or("?").to_string()).or_default() += seconds;
            *per_shard.entry(results["step"].to_string()).or_default() += seconds;
        }
    }
    let total: f64 = per_file.values().sum();
    let longest = per_file.values().copied().fold(0.0, f64::max);
    assert!(per_file.len() >= 40, "the reports covered {} files", per_file.len());
    let busiest_shard = per_shard.values().copied().fold(0.0, f64::max);
    Measured { makespan: end - start, ideal: (total / SHARDS).max(longest), busiest_shard }
}

pub fn rows(slipway: &Path, root: &Path, iterations: usize) -> Vec<Row> {
    let work = tempfile::tempdir().expect("temp dir");
    let s = suite(root, work.path());
    // Builds the image and is the learning run: the first one has no timings.
    let first = run(slipway, &s, "count", "static");
    println!("split-suite learning run: makespan {:.1} s, ideal {:.1} s", first.makespan, first.ideal);
    let (mut count, mut timings, mut queue) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..iterations.clamp(1, 3) {
        count.push(run(slipway, &s, "count", "static"));
        timings.push(run(slipway, &s, "timings", "static"));
        queue.push(run(slipway, &s, "timings", "queue"));
    }
    // The same, with `slipway warm` keeping 8 started environments of the service.
    let (mut warm_timings, mut warm_queue) = (Vec::new(), Vec::new());
    WarmPool::start(slipway, &s.dir, SHARDS as usize, &["--ci-branch", "bench"]).run(|pool| {
        for _ in 0..iterations.clamp(1, 3) {
            pool.wait_ready();
            warm_timings.push(run(slipway, &s, "timings", "static"));
            pool.wait_ready();
            warm_queue.push(run(slipway, &s, "timings", "queue"));
        }
    });
    let summary = |runs: &[Measured]| {
        (median(runs.iter().map(|m| m.makespan).collect()), median(runs.iter().map(Measured::efficiency).collect()))
    };
    let (count_makespan, count_eff) = summary(&count);
    let row = |name: &str, runs: &[Measured], target: Option<f64>| {
        let (makespan, eff) = summary(runs);
        Row {
            name: name.into(),
            slipway: format!("{makespan:.1} s"),
            baseline: format!("{count_makespan:.1} s (by count, efficiency {count_eff:.2})"),
            result: format!(
                "efficiency {eff:.2} (ideal {:.1} s; busiest shard's tests {:.1} s)",
                median(runs.iter().map(|m| m.ideal).collect()),
                median(runs.iter().map(|m| m.busiest_shard).collect())
            ),
            target: target.map_or_else(|| "baseline".to_string(), |t| format!("≥ {t:.2}")),
            met: target.is_none_or(|t| eff >= t),
        }
    };
    let floor = median((0..iterations.clamp(1, 3)).map(|_| startup_floor(CACHED_IMAGE)).collect());
    let out = vec![
        row("split-suite over 8 shards: split by count", &count, None),
        row("split-suite over 8 shards: static by timings, after one learning run", &timings, Some(0.85)),
        row("split-suite over 8 shards: queue mode", &queue, Some(0.9)),
        row("split-suite over 8 shards: static by timings, with `slipway warm`", &warm_timings, Some(0.85)),
        row("split-suite over 8 shards: queue mode, with `slipway warm`", &warm_queue, Some(0.9)),
        Row {
            name:
                "split-suite: start-up alone — 8 containers of its image started at once, each collecting one test file"
                    .into(),
            slipway: "—".into(),
            baseline: format!("{floor:.1} s"),
            result: format!("{floor:.1} s before any test runs, by `docker run` itself"),
            target: "report".into(),
            met: true,
        },
    ];
    // `cached: true` kept the image under a cache tag for the branch.
    let _ = Command::new("docker").args(["rmi", "-f", CACHED_IMAGE]).output();
    out
}

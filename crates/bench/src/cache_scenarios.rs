//! Issue 3's measurements: the build phase of an unchanged `cached: true` service on its
//! second run against its first, and a machine without the cache with and without
//! `--cache-registry`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::measure::{docker, median};
use crate::report::Row;

const DOCKERFILE: &str = "FROM debian:bookworm\n\
RUN apt-get update && apt-get install -y --no-install-recommends curl jq make && rm -rf /var/lib/apt/lists/*\n\
RUN echo built > /built\n";

struct Project {
    dir: PathBuf,
    name: String,
}

fn project(root: &Path) -> Project {
    let name = "bench-cached".to_string();
    let dir = root.join(&name);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE).expect("Dockerfile");
    std::fs::write(dir.join("codeship-services.yml"), "app:\n  build: .\n  cached: true\n").expect("services");
    std::fs::write(dir.join("codeship-steps.yml"), "- { service: app, command: cat /built }\n").expect("steps");
    Project { dir, name }
}

/// Seconds the build of the run took, from its events.
fn build_seconds(slipway: &Path, p: &Project, extra: &[&str]) -> f64 {
    let events = p.dir.with_extension("events.jsonl");
    let out = Command::new(slipway)
        .args(["steps", "-T", "--ci-branch", "bench", "--dir"])
        .arg(&p.dir)
        .arg("--events")
        .arg(&events)
        .args(extra)
        .output()
        .expect("slipway runs");
    assert!(out.status.success(), "bench run failed: {}", String::from_utf8_lossy(&out.stdout));
    std::fs::read_to_string(&events)
        .expect("events")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "image_finished" && e["action"] == "build")
        .and_then(|e| e["duration"].as_f64())
        .map(|ms| ms / 1000.0)
        .expect("a build")
}

/// Remove the cache and built images, so the next build starts cold.
fn forget(p: &Project, registry: Option<&str>) {
    let mut names = vec![format!("slipway-cache/{}/app:bench", p.name), format!("{}_app", p.name)];
    if let Some(r) = registry {
        names.push(format!("{r}/slipway-cache/{}/app:bench", p.name));
    }
    let _ = Command::new("docker").arg("rmi").arg("-f").args(&names).output();
    let _ = Command::new("docker")
        .args(["image", "prune", "-f", "--filter", "label=io.slipway.project=bench-cached"])
        .output();
}

pub fn cached_rows(slipway: &Path, iterations: usize) -> Vec<Row> {
    let work = tempfile::tempdir().expect("temp dir");
    let p = project(work.path());
    let n = iterations.clamp(1, 3);
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..n {
        forget(&p, None);
        cold.push(build_seconds(slipway, &p, &[]));
        warm.push(build_seconds(slipway, &p, &[]));
    }
    let (cold, warm) = (median(cold), median(warm));
    let speedup = cold / warm;
    let mut rows = vec![Row {
        name: "build phase of an unchanged `cached: true` service: first run vs second run".into(),
        slipway: format!("{:.1} s", warm),
        baseline: format!("{:.1} s", cold),
        result: format!("{speedup:.0}× faster"),
        target: "≥ 5× faster".into(),
        met: speedup >= 5.0,
    }];

    // A registry on the engine stands in for the team's.
    let out = Command::new("docker")
        .args(["run", "-d", "--rm", "-p", "127.0.0.1:0:5000", "registry:2"])
        .output()
        .expect("registry");
    let container = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let port = docker(&["port", &container, "5000/tcp"]);
    let registry =
        format!("localhost:{}", port.lines().next().unwrap_or_default().rsplit(':').next().unwrap_or_default().trim());
    std::thread::sleep(std::time::Duration::from_secs(1));
    forget(&p, Some(&registry));
    build_seconds(slipway, &p, &["--cache-registry", &registry]); // fills the cache registry
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..n {
        forget(&p, Some(&registry));
        without.push(build_seconds(slipway, &p, &[]));
        forget(&p, Some(&registry));
        with.push(build_seconds(slipway, &p, &["--cache-registry", &registry]));
    }
    let (without, with) = (median(without), median(with));
    rows.push(Row {
        name: "fresh machine (no local cache): build with `--cache-registry` vs without".into(),
        slipway: format!("{:.1} s", with),
        baseline: format!("{:.1} s", without),
        result: format!("{:.1}× faster", without / with),
        target: "report".into(),
        met: true,
    });
    forget(&p, Some(&registry));
    let _ = Command::new("docker").args(["rm", "-f", "-v", &container]).output();
    rows
}

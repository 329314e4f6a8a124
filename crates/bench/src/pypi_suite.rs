//! A real open-source test suite, not a synthetic one: networkx's own tests, from its
//! source distribution on PyPI, run unsplit and split over 4 shards by timings.
//!
//! networkx is pure Python, its sdist ships its tests (`networkx/**/tests/test_*.py`),
//! and without numpy/scipy (not installed here) the tests that need them skip: the
//! suite needs nothing but pytest and runs in about a minute in one process.
//!
//! Measured: the test phase of each run, from the end of the image build to the end of
//! the last step (shard), from the run's events. The first run builds the image and
//! records the files' timings; then unsplit and split runs alternate.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::measure::{docker, median};
use crate::report::Row;

const PACKAGE: &str = "networkx";
const VERSION: &str = "3.5";
const PYTEST: &str = "8.3.5";
/// The project dir's name, and so slipway's project name (and image label).
const PROJECT: &str = "bench-pypi-networkx";
const IMAGE: &str = "slipway-bench/pypi-suite";
const SHARDS: usize = 4;
const FILES_GLOB: &str = "networkx/**/tests/test_*.py";

const SERVICES: &str =
    "app:\n  build:\n    image: slipway-bench/pypi-suite\n    context: .\n    dockerfile: Dockerfile\n";

/// pytest and the sources, nothing else; `COPY . /src` after the install keeps pytest's
/// layer cached. No `compileall`: every container compiles the modules it imports, as usual.
fn dockerfile() -> String {
    format!(
        "FROM python:3.11\n\
         ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore\n\
         RUN pip install --no-cache-dir pytest=={PYTEST}\n\
         COPY . /src\n\
         WORKDIR /src\n"
    )
}

/// Both runs execute the same test files and write a JUnit report (which slipway reads).
const UNSPLIT_STEPS: &str = "- name: tests-unsplit\n  service: app\n  reports: [\"reports/*.xml\"]\n  \
command: python -m pytest -q -p no:cacheprovider --junitxml=reports/junit.xml networkx\n";

fn split_steps() -> String {
    format!(
        "- name: tests\n  service: app\n  parallelism: {SHARDS}\n  split:\n    files: \"{FILES_GLOB}\"\n    \
         by: timings\n    mode: static\n  reports: [\"reports/*.xml\"]\n  \
         command: python -m pytest -q -p no:cacheprovider --junitxml=reports/junit-{{shard}}.xml {{files}}\n"
    )
}

/// What one `slipway steps` run did.
struct Run {
    /// From the end of the image build to the last step's end.
    test_seconds: f64,
    /// Test cases in the reports, and how many of them failed or errored.
    cases: usize,
    failed: usize,
    success: bool,
}

struct Bench<'a> {
    slipway: &'a Path,
    /// The project dir, the build context.
    dir: PathBuf,
    /// Outside the project dir: the steps files, the events file and the history.
    root: PathBuf,
}

impl Bench<'_> {
    fn run(&self, steps: &Path) -> Run {
        let events_path = self.root.join("events.jsonl");
        let started = Instant::now();
        let out = Command::new(self.slipway)
            .args(["steps", "-T", "--dir"])
            .arg(&self.dir)
            .arg("--steps-path")
            .arg(steps)
            .arg("--events")
            .arg(&events_path)
            .args(["--keep-images", "--state-dir"])
            .arg(self.root.join("state"))
            .output()
            .expect("slipway runs");
        let wall = started.elapsed().as_secs_f64();
        let output = || format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let events: Vec<serde_json::Value> = std::fs::read_to_string(&events_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let t_ms = |e: &serde_json::Value| e["t_ms"].as_f64().unwrap_or(0.0);
        let of = |name: &'static str| events.iter().filter(move |e| e["event"] == name);
        let built =
            of("image_finished").map(t_ms).reduce(f64::max).or_else(|| of("step_started").map(t_ms).reduce(f64::min));
        let finished = of("step_finished").map(t_ms).reduce(f64::max);
        let (Some(built), Some(finished)) = (built, finished) else {
            panic!("{} run of {PROJECT} ran no step: {}", steps.display(), output());
        };
        let cases: Vec<&serde_json::Value> =
            of("test_results").filter_map(|e| e["cases"].as_array()).flatten().collect();
        let failed = cases.iter().filter(|c| c["status"] == "failed" || c["status"] == "error").count();
        assert!(!cases.is_empty(), "{} run of {PROJECT} reported no test cases: {}", steps.display(), output());
        let run = Run {
            test_seconds: (finished - built) / 1000.0,
            cases: cases.len(),
            failed,
            success: out.status.success(),
        };
        println!(
            "  {}: tests {:.1} s (whole run {wall:.1} s), {} cases, {} failed{}",
            steps.file_name().unwrap_or_default().to_string_lossy(),
            run.test_seconds,
            run.cases,
            run.failed,
            if run.success { "" } else { ", run failed" }
        );
        run
    }
}

/// Removes what the runs built, also when the bench panics halfway.
struct Images;

impl Drop for Images {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", IMAGE]).output();
        let label = format!("label=io.slipway.project={PROJECT}");
        let ids = docker(&["images", "-aq", "--filter", &label]);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = Command::new("docker").args(["rmi", "-f"]).args(&ids).output();
        }
    }
}

/// Fetch the sdist in a `python:3.11` container (only Docker is needed on the host) and
/// unpack it into `dir`, owned by whoever runs the bench.
fn fetch_sdist(root: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).expect("project dir");
    let meta = std::fs::metadata(root).expect("temp dir");
    let script = format!(
        "pip download --quiet --no-cache-dir --disable-pip-version-check --no-deps --no-binary :all: \
         {PACKAGE}=={VERSION} -d /work/download && \
         tar -xzf /work/download/{PACKAGE}-{VERSION}.tar.gz -C /work/{PROJECT} --strip-components=1"
    );
    let out = Command::new("docker")
        .args(["run", "--rm", "--user", &format!("{}:{}", meta.uid(), meta.gid()), "-e", "HOME=/tmp", "-v"])
        .arg(format!("{}:/work", root.display()))
        .args(["python:3.11", "sh", "-c", &script])
        .output()
        .expect("docker run");
    assert!(
        out.status.success(),
        "fetching the {PACKAGE} {VERSION} sdist from PyPI failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(root.join("download"));
}

/// The files `FILES_GLOB` matches: `test_*.py` directly in a `tests` folder.
fn test_files(dir: &Path) -> usize {
    let mut count = 0;
    let mut stack = vec![dir.join(PACKAGE)];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("read dir").flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if folder.file_name().is_some_and(|f| f == "tests")
                && name.starts_with("test_")
                && name.ends_with(".py")
            {
                count += 1;
            }
        }
    }
    count
}

pub fn rows(slipway: &Path, iterations: usize) -> Vec<Row> {
    let started = Instant::now();
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path().to_path_buf();
    let dir = root.join(PROJECT);
    println!("pypi suite: {PACKAGE} {VERSION} from PyPI, unsplit vs {SHARDS} shards");
    fetch_sdist(&root, &dir);
    std::fs::write(dir.join("Dockerfile"), dockerfile()).expect("Dockerfile");
    std::fs::write(dir.join("codeship-services.yml"), SERVICES).expect("services");
    let unsplit = root.join("unsplit-steps.yml");
    let split = root.join("split-steps.yml");
    std::fs::write(&unsplit, UNSPLIT_STEPS).expect("steps");
    std::fs::write(&split, split_steps()).expect("steps");
    let files = test_files(&dir);
    let bench = Bench { slipway, dir, root };
    let images = Images;

    // Builds the image, and records the files' timings for the split.
    bench.run(&split);
    let n = iterations.clamp(1, 3);
    let (mut whole, mut sharded) = (Vec::new(), Vec::new());
    let mut runs = Vec::new();
    for _ in 0..n {
        let a = bench.run(&unsplit);
        let b = bench.run(&split);
        assert_eq!(
            a.cases, b.cases,
            "the unsplit and the {SHARDS}-shard run of {PACKAGE}'s tests ran different numbers of test cases"
        );
        whole.push(a.test_seconds);
        sharded.push(b.test_seconds);
        runs.push(a);
        runs.push(b);
    }
    let (whole, sharded) = (median(whole), median(sharded));
    let cases = runs[0].cases;
    let failed = runs.iter().map(|r| r.failed).max().unwrap_or(0);
    let failures = if failed > 0 || runs.iter().any(|r| !r.success) {
        format!(", up to {failed} failing, timed regardless")
    } else {
        String::new()
    };

    drop(images);
    let label = format!("label=io.slipway.project={PROJECT}");
    for (what, args) in [
        ("containers", &["ps", "-aq", "--filter", &label][..]),
        ("networks", &["network", "ls", "-q", "--filter", &label]),
        ("volumes", &["volume", "ls", "-q", "--filter", &label]),
        ("images", &["images", "-aq", "--filter", &label]),
    ] {
        let left = docker(args);
        assert!(left.trim().is_empty(), "the {PACKAGE} runs left {what} behind: {left}");
    }
    println!("pypi suite: done in {:.0} s", started.elapsed().as_secs_f64());

    vec![Row {
        name: format!(
            "{PACKAGE} {VERSION} test suite (PyPI sdist, {files} test files, {cases} tests{failures}): \
             unsplit vs {SHARDS} shards by timings"
        ),
        slipway: format!("{sharded:.1} s"),
        baseline: format!("{whole:.1} s"),
        result: format!("{:.1}× faster", whole / sharded),
        target: "report".into(),
        met: true,
    }]
}

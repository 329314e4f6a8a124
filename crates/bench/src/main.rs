//! `cargo run --release -p slipway-bench`: measures slipway against what a user has
//! (plain `docker run`), side by side in one run on the same engine, prints a table and
//! writes it to BENCHMARKS.md. Timings are noisy: compare the ratios, not the seconds.

mod cache_scenarios;
mod measure;
mod pypi_suite;
mod report;
mod scenarios;
mod serve_scenarios;
mod split_scenarios;

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root");
    let iterations: usize = std::env::var("SLIPWAY_BENCH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(7);
    let slipway = build_slipway(&root);
    let engine = engine_version();
    println!("slipway bench: engine {engine}, {iterations} iterations per measurement");
    // SLIPWAY_BENCH_ONLY=steps,cache,split,pypi,serve: measure only those groups, print, and leave
    // BENCHMARKS.md alone (it always holds a complete run).
    let only = std::env::var("SLIPWAY_BENCH_ONLY").ok();
    let wanted = |group: &str| only.as_deref().is_none_or(|o| o.split(',').any(|g| g.trim() == group));
    let mut rows = Vec::new();
    let mut calls = Vec::new();
    if wanted("steps") {
        rows.extend(scenarios::all(&slipway, iterations));
        calls = scenarios::engine_calls(&slipway, iterations);
    }
    if wanted("cache") {
        rows.extend(cache_scenarios::cached_rows(&slipway, iterations));
    }
    if wanted("split") {
        rows.extend(split_scenarios::rows(&slipway, &root, iterations));
    }
    if wanted("pypi") {
        rows.extend(pypi_suite::rows(&slipway, iterations));
    }
    if wanted("serve") {
        rows.extend(serve_scenarios::rows(&slipway, iterations));
    }
    let table = report::table(&rows);
    let breakdown = report::breakdown(&calls);
    println!("\n{table}\n{breakdown}");
    if only.is_some() {
        println!("SLIPWAY_BENCH_ONLY is set: BENCHMARKS.md not written");
        return;
    }
    let doc = report::document(&engine, iterations, &table, &breakdown);
    std::fs::write(root.join("BENCHMARKS.md"), doc).expect("write BENCHMARKS.md");
    println!("written to BENCHMARKS.md");
}

/// The release binary, built the same way a user installs it.
fn build_slipway(root: &std::path::Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "slipway", "--bin", "slipway"])
        .current_dir(root)
        .status()
        .expect("cargo build");
    assert!(status.success(), "building slipway failed");
    root.join("target/release/slipway")
}

fn engine_version() -> String {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"])
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => "unknown (is the engine running?)".to_string(),
    }
}

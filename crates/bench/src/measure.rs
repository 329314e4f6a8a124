//! Timing helpers: wall time of commands, medians.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall time of a command that must succeed.
pub fn time_command(command: &mut Command) -> Duration {
    let started = Instant::now();
    let out = command.stdout(Stdio::null()).stderr(Stdio::piped()).output().expect("command runs");
    let elapsed = started.elapsed();
    assert!(out.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    elapsed
}

/// Wall time in seconds of `n` `docker run --rm` started together, the i-th with the
/// arguments `args(i)` after `--rm`; each must succeed.
pub fn concurrent_docker_runs(n: usize, args: impl Fn(usize) -> Vec<String>) -> f64 {
    let started = Instant::now();
    let children: Vec<_> = (0..n)
        .map(|i| {
            Command::new("docker")
                .args(["run", "--rm"])
                .args(args(i))
                .stdout(Stdio::null())
                .spawn()
                .expect("docker CLI")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("docker run").success(), "docker run {:?} failed", args(0));
    }
    started.elapsed().as_secs_f64()
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker CLI");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

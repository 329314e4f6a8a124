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

//! Builders shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use slipway_store::{NewRun, StepRecord, TestCaseRecord, TestStatus};

/// A time `millis` after the epoch: whole milliseconds, as the store keeps them.
pub fn at(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
}

pub fn new_run(id: &str, project: &str, commit: Option<&str>, started_ms: u64) -> NewRun {
    NewRun {
        id: id.to_owned(),
        project: project.to_owned(),
        branch: Some("main".to_owned()),
        commit: commit.map(str::to_owned),
        started_at: at(started_ms),
        process: None,
    }
}

pub fn step(run_id: &str, step: u32, attempt: u32, name: &str, status: &str) -> StepRecord {
    StepRecord {
        run_id: run_id.to_owned(),
        step,
        label: format!("app: {name}"),
        name: name.to_owned(),
        service: "app".to_owned(),
        status: status.to_owned(),
        exit_code: Some(if status == "passed" { 0 } else { 1 }),
        started_at: Some(at(1_000 + u64::from(step) * 10)),
        finished_at: Some(at(2_000 + u64::from(step) * 10)),
        shard: None,
        attempt,
        message: None,
        warm: false,
    }
}

pub fn case(suite: &str, name: &str, file: Option<&str>, millis: u64, status: TestStatus) -> TestCaseRecord {
    TestCaseRecord {
        suite: suite.to_owned(),
        name: name.to_owned(),
        file: file.map(str::to_owned),
        duration: Duration::from_millis(millis),
        status,
        message: status.is_failure().then(|| format!("{name} went wrong")),
    }
}

//! `--jobs`: how many steps run at once.

mod support;

use std::time::Duration;

use slipway_engine::{EngineOptions, StepStatus::*};
use slipway_plan::Plan;
use support::{options, parallel, run, service, FakeRuntime, PlanBuilder};

/// Three parallel steps that each run for 100 ms.
fn three_parallel_steps() -> Plan {
    let mut b = PlanBuilder::new();
    b.service(service("app", "alpine"));
    let steps = ["one", "two", "three"].map(|name| b.step(name, "app", &["sleep", "100"])).to_vec();
    b.build(vec![parallel(steps)])
}

#[tokio::test]
async fn with_one_job_parallel_steps_run_one_at_a_time() {
    let fake = FakeRuntime::new();

    let run = run(three_parallel_steps(), &fake, EngineOptions { jobs: Some(1), ..options() }).await;

    assert_eq!(run.outcome.statuses, [Passed, Passed, Passed]);
    assert_eq!(fake.peak_running(), 1);
    assert!(run.wall_time >= Duration::from_millis(300), "took {:?}", run.wall_time);
    fake.assert_nothing_left();
}

/// The control for the test above: the fake does see parallel steps overlap.
#[tokio::test]
async fn without_a_job_limit_parallel_steps_run_together() {
    let fake = FakeRuntime::new();

    let run = run(three_parallel_steps(), &fake, options()).await;

    assert_eq!(run.outcome.statuses, [Passed, Passed, Passed]);
    assert_eq!(fake.peak_running(), 3);
    fake.assert_nothing_left();
}

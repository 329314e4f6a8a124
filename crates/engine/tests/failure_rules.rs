//! Jet's failure rules: a failure stops the rest of a serial group, siblings in a
//! parallel group finish (or are cancelled with fail-fast), skipped steps never fail a run.

mod support;

use std::time::Duration;

use slipway_engine::{EngineOptions, Event, StepStatus::*};
use support::{options, parallel, run, serial, service, FakeRuntime, PlanBuilder};

fn app() -> PlanBuilder {
    let mut plan = PlanBuilder::new();
    plan.service(service("app", "alpine"));
    plan
}

#[tokio::test]
async fn a_failing_step_stops_the_rest_of_a_serial_group() {
    let fake = FakeRuntime::new();
    let mut b = app();
    let children = vec![
        b.step("first", "app", &["print", "hello"]),
        b.step("broken", "app", &["exit", "3"]),
        b.step("after", "app", &["exit", "0"]),
        parallel(vec![b.step("nested", "app", &["exit", "0"])]),
    ];

    let run = run(b.build(children), &fake, options()).await;

    assert!(!run.outcome.success);
    assert!(!run.outcome.cancelled);
    assert_eq!(run.outcome.statuses, [Passed, Failed, NotRun, NotRun]);
    assert_eq!(run.outcome.exit_codes, [Some(0), Some(3), None, None]);
    assert_eq!(run.end("broken").message.as_deref(), Some("exited with code 3"));
    assert_eq!(run.end("after").message.as_deref(), Some("an earlier step failed"));
    assert_eq!(run.end("nested").message.as_deref(), Some("an earlier step failed"));
    // Steps that do not run get no container at all.
    assert_eq!(fake.container_steps(), ["first", "broken"]);
    fake.assert_nothing_left();
}

#[tokio::test]
async fn without_fail_fast_siblings_of_a_failing_step_run_to_completion() {
    let fake = FakeRuntime::new();
    let mut b = app();
    let children = vec![
        parallel(vec![
            b.step("fails", "app", &["sleep", "20", ";", "exit", "1"]),
            b.step("slow", "app", &["sleep", "200", ";", "print", "finished"]),
        ]),
        b.step("later", "app", &["exit", "0"]),
    ];

    let run = run(b.build(children), &fake, options()).await;

    assert!(!run.outcome.success);
    assert_eq!(run.status("fails"), Failed);
    assert_eq!(run.status("slow"), Passed);
    assert_eq!(run.output("slow"), ["finished"]);
    assert_eq!(run.status("later"), NotRun);
    assert!(run.end("slow").duration >= Duration::from_millis(200));
    fake.assert_nothing_left();
}

#[tokio::test]
async fn with_fail_fast_running_siblings_are_cancelled_at_once() {
    let fake = FakeRuntime::new();
    let mut b = app();
    let children = vec![
        parallel(vec![
            b.step("fails", "app", &["sleep", "50", ";", "exit", "1"]),
            b.step("endless", "app", &["forever"]),
            serial(vec![b.step("long", "app", &["sleep", "10000"]), b.step("queued", "app", &["exit", "0"])]),
        ]),
        b.step("later", "app", &["exit", "0"]),
    ];

    let run = run(b.build(children), &fake, EngineOptions { fail_fast: true, ..options() }).await;

    assert_eq!(run.status("fails"), Failed);
    assert_eq!(run.status("endless"), Cancelled);
    assert_eq!(run.status("long"), Cancelled);
    assert_eq!(run.status("queued"), NotRun);
    assert_eq!(run.status("later"), NotRun);
    assert!(run.end("endless").duration < Duration::from_millis(500), "{:?}", run.end("endless"));
    assert!(run.wall_time < Duration::from_secs(1), "took {:?}", run.wall_time);
    // Fail-fast stops a group, not the run: the run failed, nobody cancelled it.
    assert!(!run.outcome.success);
    assert!(!run.outcome.cancelled);
    fake.assert_nothing_left();
}

#[tokio::test]
async fn skipped_steps_are_reported_and_do_not_fail_the_run() {
    let fake = FakeRuntime::new();
    let mut b = app();
    let children = vec![
        b.skipped_step("tagged", "app", "tag `main` and no branch given"),
        b.step("runs", "app", &["exit", "0"]),
        parallel(vec![
            b.skipped_step("push", "app", "push step (pass --push to run it)"),
            b.step("beside", "app", &["exit", "0"]),
        ]),
    ];

    let run = run(b.build(children), &fake, options()).await;

    assert!(run.outcome.success, "{:?}", run.outcome);
    assert_eq!(run.outcome.statuses, [Skipped, Passed, Skipped, Passed]);
    assert_eq!(run.end("tagged").message.as_deref(), Some("tag `main` and no branch given"));
    assert_eq!(run.end("push").exit_code, None);
    let tagged = run.id("tagged");
    assert!(run.position(|e| matches!(e, Event::StepStarted { step, .. } if *step == tagged)).is_none());
    assert_eq!(fake.container_steps(), ["runs", "beside"]);
    fake.assert_nothing_left();
}

#[tokio::test]
async fn a_skipped_step_after_a_failure_is_still_reported_as_skipped() {
    let fake = FakeRuntime::new();
    let mut b = app();
    let children = vec![b.step("broken", "app", &["exit", "1"]), b.skipped_step("tagged", "app", "excluded")];

    let run = run(b.build(children), &fake, options()).await;

    assert_eq!(run.outcome.statuses, [Failed, Skipped]);
    assert_eq!(run.end("tagged").message.as_deref(), Some("excluded"));
    fake.assert_nothing_left();
}

#[tokio::test]
async fn a_container_that_cannot_start_fails_its_step_without_an_exit_code() {
    let fake = FakeRuntime::new();
    let mut b = app();
    let children = vec![b.step("unstartable", "app", &["fail-start"])];

    let run = run(b.build(children), &fake, options()).await;

    let end = run.end("unstartable");
    assert_eq!(end.status, Failed);
    assert_eq!(end.exit_code, None);
    let message = end.message.unwrap_or_default();
    assert!(message.contains("could not be started") && message.contains("refuses to start"), "{message}");
    fake.assert_nothing_left();
}

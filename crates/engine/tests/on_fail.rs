//! `on_fail`: commands run in the step's service after its command failed; their output
//! is the step's, their exit codes only a notice, their containers removed.

mod support;

use slipway_engine::{Event, StepStatus::*};
use slipway_plan::Condition;
use support::{options, run, service, FakeRuntime, PlanBuilder};

fn notices(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Notice { message } => Some(message.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn on_fail_commands_run_after_a_failure_and_their_output_is_the_steps() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    b.service(service("app", "alpine"));
    let children = vec![b.step("test", "app", &["print", "3 failed", ";", "exit", "1"])];
    b.on_fail("test", &[&["print", "collecting logs"], &["exit", "4"]]);

    let run = run(b.build(children), &fake, options()).await;

    let end = run.end("test");
    assert_eq!((end.status, end.exit_code), (Failed, Some(1)), "the step's own exit code counts");
    assert_eq!(run.output("test"), ["3 failed", "collecting logs"]);
    assert_eq!(notices(&run.events), ["on_fail command `exit 4` exited with code 4"]);
    // Shown quoted as written, so it can be pasted into a shell.
    let shown = run
        .events
        .iter()
        .any(|e| matches!(e, Event::StepPhase { message, .. } if message == "on_fail: print 'collecting logs'"));
    assert!(shown, "{:?}", run.events);
    assert_eq!(fake.created().0, 3, "the step's container and one per on_fail command");
    fake.assert_nothing_left();
}

#[tokio::test]
async fn on_fail_commands_do_not_run_after_a_success() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    b.service(service("app", "alpine"));
    let children = vec![b.step("test", "app", &["exit", "0"])];
    b.on_fail("test", &[&["print", "collecting logs"]]);

    let run = run(b.build(children), &fake, options()).await;

    assert_eq!(run.status("test"), Passed);
    assert!(run.output("test").is_empty());
    assert_eq!(fake.created().0, 1);
    fake.assert_nothing_left();
}

#[tokio::test]
async fn on_fail_commands_run_in_a_step_with_dependencies() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    b.service(service("db", "postgres")).service(service("app", "alpine")).depends_on("app", "db", Condition::Started);
    let children = vec![b.step("test", "app", &["exit", "1"])];
    b.on_fail("test", &[&["print", "collecting logs"]]);

    let run = run(b.build(children), &fake, options()).await;

    assert_eq!(run.status("test"), Failed);
    assert_eq!(run.output("test"), ["collecting logs"]);
    assert!(notices(&run.events).is_empty(), "{:?}", notices(&run.events));
    fake.assert_nothing_left();
}

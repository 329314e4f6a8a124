//! A step's environment: dependencies start before what needs them, once those are
//! ready; the step's own container starts at once behind the engine's gate, its command
//! only when everything is ready. A dependency that never gets ready fails the step with
//! a message saying why.

mod support;

use std::time::Duration;

use slipway_engine::{EngineOptions, StepStatus::*};
use slipway_plan::{Condition, ServiceSpec};
use support::{healthcheck, options, run, service, FakeRuntime, PlanBuilder};

#[tokio::test]
async fn a_member_starts_only_after_what_it_needs_is_ready() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    b.service(ServiceSpec { healthcheck: healthcheck(&["healthy-after", "150"]), ..service("db", "postgres") })
        .service(service("api", "alpine"))
        .service(service("app", "alpine"))
        .depends_on("api", "db", Condition::Healthy)
        .depends_on("app", "api", Condition::Started);
    let children = vec![b.step("test", "app", &["print", "ok"])];

    let run = run(b.build(children), &fake, options()).await;

    assert_eq!(run.status("test"), Passed);
    assert_eq!(run.output("test"), ["ok"]);
    let (db, api) = (fake.start_times("db"), fake.start_times("api"));
    let (app_container, app_command) = (fake.start_times("app"), fake.command_start_times("app"));
    assert_eq!((db.len(), api.len(), app_container.len(), app_command.len()), (1, 1, 1, 1));
    let healthy = Duration::from_millis(150);
    assert!(api[0] - db[0] >= healthy, "api started {:?} after db", api[0] - db[0]);
    // api has no healthcheck: once it runs it is ready, and the step's command goes.
    assert!(app_command[0] >= api[0], "the command ran before api started");
    assert!(app_command[0] - api[0] < Duration::from_millis(100), "{:?}", app_command[0] - api[0]);
    // The step's own container started at once, held by the gate while db got ready.
    assert!(app_container[0] < db[0] + healthy, "the step's container waited for db");
    fake.assert_nothing_left();
}

#[tokio::test]
async fn a_dependency_that_never_gets_healthy_fails_the_step_after_the_timeout() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    b.service(ServiceSpec { healthcheck: healthcheck(&["never-healthy"]), ..service("db", "postgres") })
        .service(service("app", "alpine"))
        .depends_on("app", "db", Condition::Healthy);
    let children = vec![b.step("test", "app", &["exit", "0"]), b.step("after", "app", &["exit", "0"])];
    let options = EngineOptions { health_timeout: Duration::from_millis(200), ..options() };

    let run = run(b.build(children), &fake, options).await;

    let end = run.end("test");
    assert_eq!(end.status, Failed);
    let message = end.message.unwrap_or_default();
    assert!(message.contains("`db`") && message.contains("not healthy after 200 ms"), "{message}");
    assert!(end.duration >= Duration::from_millis(200) && end.duration < Duration::from_secs(1), "{:?}", end.duration);
    assert!(fake.command_start_times("app").is_empty(), "the step's command must not run");
    assert_eq!(run.status("after"), NotRun);
    fake.assert_nothing_left();
}

#[tokio::test]
async fn a_dependency_that_turns_unhealthy_fails_the_step_at_once() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    b.service(ServiceSpec { healthcheck: healthcheck(&["unhealthy-after", "30"]), ..service("db", "postgres") })
        .service(service("app", "alpine"))
        .depends_on("app", "db", Condition::Healthy);
    let children = vec![b.step("test", "app", &["exit", "0"])];

    let run = run(b.build(children), &fake, options()).await;

    let end = run.end("test");
    assert_eq!(end.status, Failed);
    assert!(end.message.as_deref().is_some_and(|m| m.starts_with("dependency `db` is unhealthy")), "{:?}", end.message);
    assert!(end.duration < Duration::from_millis(500), "{:?}", end.duration);
    assert!(fake.command_start_times("app").is_empty());
    fake.assert_nothing_left();
}

#[tokio::test]
async fn a_dependency_that_exits_before_it_is_healthy_fails_the_step_with_its_last_output() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    b.service(ServiceSpec {
        command: Some(
            ["print", "db: starting", ";", "sleep", "30", ";", "print", "db: fatal: bad config", ";", "exit", "3"]
                .map(String::from)
                .to_vec(),
        ),
        healthcheck: healthcheck(&["healthy-after", "5000"]),
        ..service("db", "postgres")
    })
    .service(service("app", "alpine"))
    .depends_on("app", "db", Condition::Healthy);
    let children = vec![b.step("test", "app", &["exit", "0"])];

    let run = run(b.build(children), &fake, options()).await;

    let end = run.end("test");
    assert_eq!(end.status, Failed);
    assert_eq!(end.message.as_deref(), Some("dependency `db` exited with code 3 before it was healthy"));
    assert_eq!(end.details, ["last 2 log lines of db:", "db: starting", "db: fatal: bad config"]);
    assert!(fake.command_start_times("app").is_empty());
    fake.assert_nothing_left();
}

#[tokio::test]
async fn a_dependency_that_must_complete_is_waited_for_and_its_failure_fails_the_step() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    b.service(ServiceSpec {
        command: Some(["sleep", "50", ";", "exit", "2"].map(String::from).to_vec()),
        ..service("migrate", "alpine")
    })
    .service(service("app", "alpine"))
    .depends_on("app", "migrate", Condition::CompletedSuccessfully);
    let children = vec![b.step("test", "app", &["exit", "0"])];

    let run = run(b.build(children), &fake, options()).await;

    let end = run.end("test");
    assert_eq!(end.status, Failed);
    assert_eq!(
        end.message.as_deref(),
        Some("dependency `migrate` exited with code 2; it had to complete successfully")
    );
    assert!(fake.command_start_times("app").is_empty());
    fake.assert_nothing_left();
}

#[tokio::test]
async fn without_a_shell_in_the_image_the_steps_container_starts_plainly_once_dependencies_are_ready() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    b.service(ServiceSpec { healthcheck: healthcheck(&["healthy-after", "50"]), ..service("db", "postgres") })
        .service(service("app", "distroless/app"))
        .depends_on("app", "db", Condition::Healthy);
    let children = vec![b.step("test", "app", &["print", "ok"])];

    let run = run(b.build(children), &fake, options()).await;

    assert_eq!(run.status("test"), Passed, "{:?}", run.end("test"));
    assert_eq!(run.output("test"), ["ok"]);
    // The gated container could not start; a plain one replaced it after db was healthy.
    let (db, app_commands) = (fake.start_times("db"), fake.command_start_times("app"));
    assert_eq!(fake.start_times("app").len(), 2);
    assert_eq!(app_commands.len(), 1);
    assert!(app_commands[0] - db[0] >= Duration::from_millis(50));
    fake.assert_nothing_left();
}

//! Cancelling a run (Ctrl-C): running steps stop, the rest never start, and everything
//! the run created is removed.

mod support;

use std::time::Duration;

use slipway_engine::{EngineOptions, Event, StepStatus::*};
use slipway_plan::{Condition, ServiceSpec, VolumeSpec};
use support::{healthcheck, options, parallel, run_cancellable, service, FakeRuntime, PlanBuilder};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn cancelling_stops_running_steps_and_removes_everything() {
    let fake = FakeRuntime::new();
    fake.set_image_volumes("postgres", &["/var/lib/postgresql/data"]);
    let mut b = PlanBuilder::new();
    // Every kind of object a step can create: dependency containers, a run-wide container
    // lending volumes, anonymous, image and named volumes, networks.
    b.service(ServiceSpec {
        volumes: vec![VolumeSpec::Anonymous { target: "/scratch".into() }],
        healthcheck: healthcheck(&["healthy-after", "20"]),
        ..service("db", "postgres")
    })
    .service(ServiceSpec {
        volumes: vec![VolumeSpec::Anonymous { target: "/data".into() }],
        ..service("data", "busybox")
    })
    .service(ServiceSpec {
        volumes: vec![VolumeSpec::Named { name: "cache".into(), target: "/cache".into(), read_only: false }],
        volumes_from: vec![("data".into(), false)],
        ..service("app", "alpine")
    })
    .service(service("tool", "alpine"))
    .depends_on("app", "db", Condition::Healthy);
    let children = vec![
        parallel(vec![
            b.step("with-db", "app", &["sleep", "10000"]),
            b.step("endless", "tool", &["forever"]),
            // With two jobs this one waits for a slot until the cancel.
            b.step("waiting", "tool", &["exit", "0"]),
        ]),
        b.step("later", "tool", &["exit", "0"]),
    ];
    let cancel = CancellationToken::new();
    let canceller = tokio::spawn({
        let (fake, cancel) = (fake.clone(), cancel.clone());
        async move {
            // Cancel once both running steps' commands are running.
            while fake.command_start_times("app").is_empty() || fake.command_start_times("tool").is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            cancel.cancel();
        }
    });

    let run = run_cancellable(b.build(children), &fake, EngineOptions { jobs: Some(2), ..options() }, cancel).await;
    canceller.await.expect("canceller");

    assert!(run.outcome.cancelled);
    assert!(!run.outcome.success);
    assert_eq!(run.status("with-db"), Cancelled);
    assert_eq!(run.status("endless"), Cancelled);
    assert_eq!(run.status("waiting"), NotRun);
    assert_eq!(run.end("waiting").message.as_deref(), Some("cancelled before it started"));
    assert_eq!(run.status("later"), NotRun);
    assert_eq!(run.outcome.exit_codes, [None, None, None, None]);
    assert!(matches!(run.events.last(), Some(Event::RunFinished { cancelled: true, success: false, .. })));
    assert!(run.wall_time < Duration::from_secs(1), "took {:?}", run.wall_time);

    // db, app, the lender and endless; both networks; the db's own and image volumes,
    // the lender's volume and the named one.
    assert_eq!(fake.created(), (4, 2, 4));
    fake.assert_nothing_left();
}

#[tokio::test]
async fn a_run_cancelled_before_it_starts_runs_nothing() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    b.service(service("tool", "alpine"));
    let children =
        vec![b.step("first", "tool", &["exit", "0"]), parallel(vec![b.step("second", "tool", &["exit", "0"])])];
    let cancel = CancellationToken::new();
    cancel.cancel();

    let run = run_cancellable(b.build(children), &fake, options(), cancel).await;

    assert!(run.outcome.cancelled);
    assert_eq!(run.outcome.statuses, [NotRun, NotRun]);
    assert_eq!(fake.created(), (0, 0, 0));
}

#[tokio::test]
async fn cancelling_while_a_dependency_gets_ready_never_runs_the_command() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    b.service(ServiceSpec { healthcheck: healthcheck(&["never-healthy"]), ..service("db", "postgres") })
        .service(service("app", "alpine"))
        .depends_on("app", "db", Condition::Healthy);
    let children = vec![b.step("test", "app", &["print", "ran"])];
    let cancel = CancellationToken::new();
    let canceller = tokio::spawn({
        let (fake, cancel) = (fake.clone(), cancel.clone());
        async move {
            // The step's container starts at once (held by the gate) and db with it.
            while fake.start_times("app").is_empty() || fake.start_times("db").is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
            cancel.cancel();
        }
    });

    let run = run_cancellable(b.build(children), &fake, options(), cancel).await;
    canceller.await.expect("canceller");

    assert_eq!(run.status("test"), Cancelled);
    assert!(fake.command_start_times("app").is_empty(), "the command ran");
    assert!(run.output("test").is_empty());
    fake.assert_nothing_left();
}

#[tokio::test]
async fn a_network_the_engine_creates_after_the_cancel_is_removed_too() {
    let fake = FakeRuntime::new();
    // The cancel comes while the engine is still creating the step's network.
    fake.set_network_delay(Duration::from_millis(300));
    let mut b = PlanBuilder::new();
    b.service(service("tool", "alpine"));
    let children = vec![b.step("slow-start", "tool", &["exit", "0"])];
    let cancel = CancellationToken::new();
    let canceller = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            cancel.cancel();
        }
    });
    let run = run_cancellable(b.build(children), &fake, options(), cancel).await;
    canceller.await.expect("canceller");
    assert!(run.outcome.cancelled);
    // Past the moment the engine finishes the creation it was asked for.
    tokio::time::sleep(Duration::from_millis(400)).await;
    fake.assert_nothing_left();
}

#[tokio::test]
async fn a_cancel_after_the_steps_are_over_cancels_nothing_and_the_clean_up_still_runs() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    // A container lending volumes lives for the whole run: the run removes it at the end.
    b.service(ServiceSpec {
        volumes: vec![VolumeSpec::Anonymous { target: "/data".into() }],
        ..service("data", "busybox")
    })
    .service(ServiceSpec { volumes_from: vec![("data".into(), false)], ..service("app", "alpine") });
    let children = vec![b.step("only", "app", &["exit", "0"])];
    let cancel = CancellationToken::new();
    let options = options();
    let canceller = tokio::spawn({
        let (steps_finished, cancel) = (options.steps_finished.clone(), cancel.clone());
        async move {
            steps_finished.cancelled().await;
            cancel.cancel();
        }
    });
    let run = run_cancellable(b.build(children), &fake, options, cancel).await;
    canceller.await.expect("the steps were never said to be over");
    assert!(!run.outcome.cancelled && run.outcome.success, "{:?}", run.outcome.statuses);
    assert_eq!(run.status("only"), Passed);
    fake.assert_nothing_left();
}

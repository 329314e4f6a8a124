//! Images are pulled or built once per run, however many steps need them at once.

mod support;

use std::time::Duration;

use slipway_engine::{Event, ImageAction, StepStatus::*};
use slipway_plan::Condition;
use support::{options, parallel, run, service, Call, FakeRuntime, PlanBuilder};

#[tokio::test]
async fn each_image_is_pulled_or_built_once_for_parallel_steps() {
    let fake = FakeRuntime::new();
    // Slow enough that every step asks for its images while the first pull is under way.
    fake.set_pull_delay(Duration::from_millis(100));
    let mut b = PlanBuilder::new();
    b.service(service("app", "alpine"))
        .service(service("worker", "alpine"))
        .service(service("db", "postgres"))
        .service(service("web", "fake-project-web"))
        .built("web")
        .depends_on("web", "db", Condition::Started);
    let children = vec![
        parallel(vec![
            b.step("app-1", "app", &["exit", "0"]),
            b.step("app-2", "app", &["exit", "0"]),
            b.step("worker", "worker", &["exit", "0"]),
            b.step("web-1", "web", &["exit", "0"]),
            b.step("web-2", "web", &["exit", "0"]),
        ]),
        b.step("app-again", "app", &["exit", "0"]),
    ];

    let run = run(b.build(children), &fake, options()).await;

    assert!(run.outcome.statuses.iter().all(|s| *s == Passed), "{:?}", run.outcome.statuses);
    let pulls = |image: &str| fake.count_calls(|c| *c == Call::PullImage(image.into()));
    assert_eq!(pulls("alpine"), 1);
    assert_eq!(pulls("postgres"), 1);
    assert_eq!(pulls("fake-project-web"), 0, "a built image is never pulled");
    assert_eq!(fake.count_calls(|c| matches!(c, Call::BuildImage(_))), 1);
    // The engine looked before pulling, and the image was not there yet.
    let calls = fake.calls();
    let first_inspect = calls.iter().position(|c| *c == Call::InspectImage("alpine".into()));
    let pull = calls.iter().position(|c| *c == Call::PullImage("alpine".into()));
    assert!(first_inspect < pull, "{calls:?}");
    let image_starts = run.events.iter().filter(|e| matches!(e, Event::ImageStarted { .. })).count();
    assert_eq!(image_starts, 3);
    let build = run.position(|e| matches!(e, Event::ImageFinished { action: ImageAction::Build, error: None, .. }));
    assert!(build.is_some());
    fake.assert_nothing_left();
}

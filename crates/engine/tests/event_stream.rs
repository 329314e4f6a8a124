//! The event stream reporters rely on: the run brackets everything, each started step
//! finishes once, and a step's output comes while it runs.

mod support;

use slipway_engine::{Event, StepStatus::*};
use slipway_plan::StepId;
use support::{options, parallel, run, service, FakeRuntime, PlanBuilder};

fn step_of(event: &Event) -> Option<StepId> {
    match event {
        Event::StepStarted { step, .. }
        | Event::StepPhase { step, .. }
        | Event::StepOutput { step, .. }
        | Event::StepFinished { step, .. } => Some(*step),
        _ => None,
    }
}

#[tokio::test]
async fn events_are_bracketed_by_the_run_and_by_each_step() {
    let fake = FakeRuntime::new();
    let mut b = PlanBuilder::new();
    b.service(service("app", "alpine"));
    let children = vec![
        parallel(vec![
            b.step("a", "app", &["print", "a1", "a2", ";", "sleep", "30", ";", "print", "a3"]),
            b.step("b", "app", &["print", "b1", ";", "sleep", "10", ";", "print", "b2"]),
        ]),
        b.step("fails", "app", &["print", "oops", ";", "exit", "2"]),
        b.step("not-run", "app", &["print", "never"]),
        b.skipped_step("skipped", "app", "excluded"),
    ];

    let run = run(b.build(children), &fake, options()).await;
    let events = &run.events;

    assert!(matches!(events.first(), Some(Event::RunStarted { .. })), "{:?}", events.first());
    assert!(matches!(events.last(), Some(Event::RunFinished { success: false, cancelled: false, .. })));
    assert_eq!(events.iter().filter(|e| matches!(e, Event::RunStarted { .. } | Event::RunFinished { .. })).count(), 2);
    let Some(Event::RunStarted { steps, .. }) = events.first() else { unreachable!() };
    let labels: Vec<&str> = steps.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["a", "b", "fails", "not-run", "skipped"]);

    for step in &run.plan.steps {
        let positions = |matches: fn(&Event) -> bool| -> Vec<usize> {
            (0..events.len()).filter(|&i| step_of(&events[i]) == Some(step.id) && matches(&events[i])).collect()
        };
        let started = positions(|e| matches!(e, Event::StepStarted { .. }));
        let finished = positions(|e| matches!(e, Event::StepFinished { .. }));
        let in_between = positions(|e| matches!(e, Event::StepOutput { .. } | Event::StepPhase { .. }));
        assert_eq!(finished.len(), 1, "step {} must finish exactly once", step.label);
        match run.status(&step.name) {
            NotRun | Skipped => {
                assert!(started.is_empty(), "step {} never started", step.label);
                assert!(in_between.is_empty(), "step {} has no output", step.label);
            }
            _ => {
                assert_eq!(started.len(), 1, "step {} must start exactly once", step.label);
                assert!(started[0] < finished[0]);
                assert!(
                    in_between.iter().all(|&i| started[0] < i && i < finished[0]),
                    "output of step {} outside its start and finish",
                    step.label
                );
            }
        }
    }

    assert_eq!(run.output("a"), ["a1", "a2", "a3"]);
    assert_eq!(run.output("b"), ["b1", "b2"]);
    assert_eq!(run.output("fails"), ["oops"]);
    assert!(run.output("not-run").is_empty());
    // The two parallel steps ran at the same time: b started before a finished.
    let (a, b) = (run.id("a"), run.id("b"));
    let b_started = run.position(|e| matches!(e, Event::StepStarted { step, .. } if *step == b));
    let a_finished = run.position(|e| matches!(e, Event::StepFinished { step, .. } if *step == a));
    assert!(b_started < a_finished);
    // Clean-up is reported before the run finishes.
    let cleanup = run.position(|e| matches!(e, Event::Cleanup { .. })).expect("a cleanup event");
    assert_eq!(cleanup, events.len() - 2);
    fake.assert_nothing_left();
}

//! Clean-up: each step removes its containers and volumes as it ends and hands its
//! network on to the next step; the final sweep removes the rest; `keep` leaves
//! everything and says what it kept.

mod support;

use std::collections::{HashMap, HashSet};

use slipway_engine::{EngineOptions, Event, StepStatus::*};
use slipway_plan::{Condition, ServiceSpec, VolumeSpec};
use support::{options, parallel, run, service, Call, FakeRuntime, PlanBuilder};

fn app_with_db() -> PlanBuilder {
    let mut b = PlanBuilder::new();
    b.service(ServiceSpec {
        volumes: vec![VolumeSpec::Anonymous { target: "/data".into() }],
        ..service("db", "postgres")
    })
    .service(service("app", "alpine"))
    .depends_on("app", "db", Condition::Started);
    b
}

#[tokio::test]
async fn a_step_removes_its_containers_and_volumes_before_the_next_step_starts() {
    let fake = FakeRuntime::new();
    let mut b = app_with_db();
    let children = vec![b.step("first", "app", &["exit", "0"]), b.step("second", "app", &["exit", "0"])];

    let run = run(b.build(children), &fake, options()).await;

    assert_eq!(run.outcome.statuses, [Passed, Passed]);
    let calls = fake.calls();
    let second_begins = calls
        .iter()
        .position(|c| match c {
            Call::CreateContainer { step, .. } | Call::CreateVolume { step, .. } => step == "second",
            _ => false,
        })
        .expect("second step's containers");
    let before = &calls[..second_begins];
    // Every container and volume created before then is the first step's: gone by then.
    let removals_due: Vec<Call> = before
        .iter()
        .filter_map(|c| match c {
            Call::CreateContainer { id, .. } => Some(Call::RemoveContainer(id.clone())),
            Call::CreateVolume { name, .. } => Some(Call::RemoveVolume(name.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(removals_due.len(), 3, "db, app, db's volume: {calls:?}");
    for removal in &removals_due {
        assert!(before.contains(removal), "{removal:?} must come before the second step: {calls:?}");
    }
    fake.assert_nothing_left();
}

#[tokio::test]
async fn a_finished_step_hands_its_network_to_the_next_and_the_run_removes_it_at_the_end() {
    let fake = FakeRuntime::new();
    let mut b = app_with_db();
    let children = vec![b.step("first", "app", &["exit", "0"]), b.step("second", "app", &["exit", "0"])];

    let run = run(b.build(children), &fake, options()).await;

    assert_eq!(run.outcome.statuses, [Passed, Passed]);
    assert_eq!(fake.created().1, 1, "one network for both steps: {:?}", fake.calls());
    let networks: HashSet<Option<String>> = container_networks(&fake.calls()).into_values().collect();
    assert_eq!(networks.len(), 1);
    // Only the network was left for the final sweep.
    assert!(matches!(run.events.iter().rev().nth(1), Some(Event::Cleanup { removed: 1, .. })), "{:?}", run.events);
    fake.assert_nothing_left();
}

#[tokio::test]
async fn steps_running_at_the_same_time_never_share_a_network() {
    let fake = FakeRuntime::new();
    let mut b = app_with_db();
    // Both steps' databases answer to `db`; on one network that name would be ambiguous.
    let children =
        vec![parallel(vec![b.step("left", "app", &["sleep", "50"]), b.step("right", "app", &["sleep", "50"])])];

    let run = run(b.build(children), &fake, options()).await;

    assert_eq!(run.outcome.statuses, [Passed, Passed]);
    let networks = container_networks(&fake.calls());
    let of = |step: &str| -> HashSet<&Option<String>> {
        networks.iter().filter(|((s, _), _)| s == step).map(|(_, n)| n).collect()
    };
    assert_eq!(of("left").len(), 1);
    assert_eq!(of("right").len(), 1);
    assert_ne!(of("left"), of("right"));
    fake.assert_nothing_left();
}

/// (step, service) → the network its container joined.
fn container_networks(calls: &[Call]) -> HashMap<(String, String), Option<String>> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::CreateContainer { step, service, network, .. } => {
                Some(((step.clone(), service.clone()), network.clone()))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn keep_leaves_everything_and_reports_it() {
    let fake = FakeRuntime::new();
    let mut b = app_with_db();
    let children = vec![b.step("test", "app", &["exit", "0"])];

    let run = run(b.build(children), &fake, EngineOptions { keep: true, ..options() }).await;

    assert_eq!(run.outcome.statuses, [Passed]);
    assert_eq!(fake.count_calls(|c| matches!(c, Call::RemoveContainer(_) | Call::RemoveNetwork(_))), 0);
    let mut remaining = fake.remaining();
    remaining.sort();
    let Some(Event::Cleanup { removed: 0, kept, errors }) = run.events.iter().rev().nth(1) else {
        panic!("no cleanup event before RunFinished: {:?}", run.events)
    };
    let mut kept = kept.clone();
    kept.sort();
    assert!(errors.is_empty());
    assert_eq!(kept, remaining);
    assert_eq!(remaining.len(), 4, "db and app containers, the network, db's volume: {remaining:?}");
}

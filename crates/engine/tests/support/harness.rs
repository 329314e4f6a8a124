//! Running a plan on the fake runtime: the outcome, every event in order, and lookups
//! by step name so assertions read like the plan.

use std::sync::Arc;
use std::time::{Duration, Instant};

use slipway_engine::{EngineOptions, Event, EventSink, RunOutcome, Runtime, StepStatus};
use slipway_plan::{Plan, StepId};
use tokio_util::sync::CancellationToken;

use super::fake_runtime::FakeRuntime;

/// A run taking longer than this has hung; failing beats blocking the test suite.
const HANG_LIMIT: Duration = Duration::from_secs(5);

/// Options for fast tests: readiness polled often, and a health timeout no test waits out
/// unless it sets its own.
pub fn options() -> EngineOptions {
    EngineOptions {
        health_poll: Duration::from_millis(10),
        health_timeout: Duration::from_secs(2),
        ..Default::default()
    }
}

pub struct Finished {
    pub plan: Arc<Plan>,
    pub outcome: RunOutcome,
    pub events: Vec<Event>,
    pub wall_time: Duration,
}

/// How a step finished, from its `StepFinished` event.
#[derive(Clone, Debug)]
pub struct StepEnd {
    pub status: StepStatus,
    pub exit_code: Option<i64>,
    pub duration: Duration,
    pub message: Option<String>,
    pub details: Vec<String>,
}

pub async fn run(plan: Plan, fake: &Arc<FakeRuntime>, options: EngineOptions) -> Finished {
    run_cancellable(plan, fake, options, CancellationToken::new()).await
}

pub async fn run_cancellable(
    plan: Plan,
    fake: &Arc<FakeRuntime>,
    options: EngineOptions,
    cancel: CancellationToken,
) -> Finished {
    let plan = Arc::new(plan);
    let (sink, mut receiver) = EventSink::channel();
    let runtime: Arc<dyn Runtime> = fake.clone();
    let started = Instant::now();
    let outcome = tokio::time::timeout(HANG_LIMIT, slipway_engine::run(plan.clone(), runtime, options, sink, cancel))
        .await
        .expect("the run did not finish");
    let wall_time = started.elapsed();
    // The run has returned, so every event it sent is already in the channel.
    let mut events = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        events.push(event);
    }
    Finished { plan, outcome, events, wall_time }
}

impl Finished {
    pub fn id(&self, name: &str) -> StepId {
        self.plan.steps.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no step named {name}")).id
    }

    pub fn status(&self, name: &str) -> StepStatus {
        self.outcome.statuses[self.id(name).0]
    }

    pub fn exit_code(&self, name: &str) -> Option<i64> {
        self.outcome.exit_codes[self.id(name).0]
    }

    /// The step's one `StepFinished` event.
    #[track_caller]
    pub fn end(&self, name: &str) -> StepEnd {
        let id = self.id(name);
        let ends: Vec<StepEnd> = self
            .events
            .iter()
            .filter_map(|e| match e {
                Event::StepFinished {
                    step, status, exit_code, duration, message, details, will_retry: false, ..
                } if *step == id => Some(StepEnd {
                    status: *status,
                    exit_code: *exit_code,
                    duration: *duration,
                    message: message.clone(),
                    details: details.clone(),
                }),
                _ => None,
            })
            .collect();
        assert_eq!(ends.len(), 1, "step {name} must finish exactly once: {ends:?}");
        ends[0].clone()
    }

    /// The lines the step's command wrote, in order.
    pub fn output(&self, name: &str) -> Vec<String> {
        let id = self.id(name);
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::StepOutput { step, line, .. } if *step == id => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    /// Index of the first event matching, if any.
    pub fn position(&self, matches: impl Fn(&Event) -> bool) -> Option<usize> {
        self.events.iter().position(matches)
    }
}

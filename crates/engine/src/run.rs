//! A run: walks the plan tree — serial groups in order, parallel groups at once — and
//! owns the state steps share (images, shared containers, the job limit, statuses).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{join_all, BoxFuture};
use futures::FutureExt;
use slipway_plan::{Action, Mode, Node, Plan, StepId};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::credentials::GeneratedConfigs;
use crate::events::{Event, EventSink, StepInfo, StepStatus};
use crate::images::Images;
use crate::labels::run_labels;
use crate::options::EngineOptions;
use crate::queue::QueueState;
use crate::runtime::{Labels, Runtime};
use crate::shared::Shared;
use crate::shielded::Shielded;
use crate::start_order::StartOrder;
use crate::sweep::sweep_run;

/// How a step (or one attempt of it) ended.
pub(crate) struct Outcome {
    pub status: StepStatus,
    pub exit_code: Option<i64>,
    pub duration: Duration,
    pub message: Option<String>,
    pub details: Vec<String>,
    pub attempt: u32,
    pub will_retry: bool,
}

impl Outcome {
    /// For steps that never started (skipped, not run).
    pub fn without_attempt(status: StepStatus, message: String) -> Self {
        Outcome {
            status,
            exit_code: None,
            duration: Duration::ZERO,
            message: Some(message),
            details: Vec::new(),
            attempt: 0,
            will_retry: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// Every step that ran passed.
    pub success: bool,
    pub cancelled: bool,
    pub statuses: Vec<StepStatus>,
    /// Exit code of each step's command, where it ran to the end.
    pub exit_codes: Vec<Option<i64>>,
}

pub(crate) struct Run {
    pub plan: Arc<Plan>,
    pub runtime: Arc<dyn Runtime>,
    /// The same runtime: its creations, for the final sweep to wait for.
    pub creations: Arc<Shielded>,
    pub options: EngineOptions,
    pub events: EventSink,
    pub labels: Labels,
    pub images: Images,
    /// The state of every queue-mode split, by [`Plan::queues`] index.
    pub queues: Vec<Mutex<QueueState>>,
    /// Shards start their commands in index order.
    pub start_order: StartOrder,
    pub generated_configs: GeneratedConfigs,
    pub shared: Shared,
    jobs: Option<Semaphore>,
    /// Networks of finished steps, empty again: the next step takes one instead of
    /// paying the engine for a new network and the removal of the old one.
    pub idle_networks: Mutex<Vec<String>>,
    pub network_count: std::sync::atomic::AtomicUsize,
    /// Reports already read, by path and content: see [`crate::reports::collect`].
    pub reports_seen: Mutex<HashSet<(String, u64)>>,
    /// The sockets of the `slipway warm` pools of this project on this host (asked once).
    pub warm_pools: tokio::sync::OnceCell<Vec<std::path::PathBuf>>,
    /// Services whose warm environments fit none of this run's steps (said once each).
    pub warm_misfits: Mutex<HashSet<String>>,
    statuses: Mutex<Vec<Option<(StepStatus, Option<i64>)>>>,
    /// The run's cancel: what is shared between steps (a build) starts no more after it.
    pub cancel: CancellationToken,
}

/// Run a plan to the end (or until `cancel`), then remove everything it created
/// unless `options.keep`.
pub async fn run(
    plan: Arc<Plan>,
    runtime: Arc<dyn Runtime>,
    options: EngineOptions,
    events: EventSink,
    cancel: CancellationToken,
) -> RunOutcome {
    let started = Instant::now();
    let mut run = Run::new(plan.clone(), runtime, options, events);
    run.cancel = cancel.clone();
    run.events.send(Event::RunStarted {
        run_id: plan.run_id.clone(),
        project: plan.project.clone(),
        steps: plan
            .steps
            .iter()
            .map(|s| StepInfo {
                id: s.id,
                label: s.label.clone(),
                name: s.name.clone(),
                service: match &s.action {
                    Action::Run(r) => r.service.clone(),
                    Action::Push(p) => p.service.clone(),
                },
                shard: match &s.action {
                    Action::Run(r) => r.shard,
                    Action::Push(_) => None,
                },
                services: match &s.action {
                    Action::Run(r) => r.environment.iter().map(|m| m.service.clone()).collect(),
                    Action::Push(p) => vec![p.service.clone()],
                },
                split: match &s.action {
                    Action::Run(r) => r.split_note.clone(),
                    Action::Push(_) => None,
                },
            })
            .collect(),
    });

    run.node(&plan.root, cancel.clone()).await;
    // A cancel (a signal, `--timeout`) that comes while the run removes what it made after
    // its last step cancels nothing: the steps' outcome stands.
    let cancelled = cancel.is_cancelled();
    run.options.steps_finished.cancel();

    sweep_run(&run).await;
    let recorded = run.statuses.lock().expect("statuses").clone();
    let statuses: Vec<StepStatus> =
        recorded.iter().map(|s| s.map_or(StepStatus::NotRun, |(status, _)| status)).collect();
    let exit_codes = recorded.iter().map(|s| s.and_then(|(_, code)| code)).collect();
    let success = !cancelled && statuses.iter().all(|s| matches!(s, StepStatus::Passed | StepStatus::Skipped));
    run.events.send(Event::RunFinished { success, cancelled, duration: started.elapsed() });
    RunOutcome { success, cancelled, statuses, exit_codes }
}

/// `slipway load`: build or pull one service's image, as a run would, and leave it
/// tagged on the engine. The error is the message to show.
pub async fn load_image(
    plan: Arc<Plan>,
    runtime: Arc<dyn Runtime>,
    options: EngineOptions,
    events: EventSink,
    service: &str,
) -> Result<String, String> {
    let run = Run::new(plan, runtime, EngineOptions { keep_images: true, ..options }, events);
    let result = run.image(service, None).await.map(|info| info.id);
    // Markers, networks and volumes of credential services go; the image stays.
    sweep_run(&run).await;
    result
}

impl Run {
    pub(crate) fn new(plan: Arc<Plan>, runtime: Arc<dyn Runtime>, options: EngineOptions, events: EventSink) -> Self {
        let labels = run_labels(&plan.run_id, &plan.project, &options.extra_labels);
        let creations = Arc::new(Shielded::new(runtime));
        let runtime: Arc<dyn Runtime> = creations.clone();
        events.add_secrets(options.secrets.iter().cloned());
        Run {
            images: Images::default(),
            queues: plan.queues.iter().map(|q| Mutex::new(QueueState::new(q))).collect(),
            start_order: StartOrder::default(),
            generated_configs: GeneratedConfigs::default(),
            shared: Shared::default(),
            jobs: options.jobs.map(|n| Semaphore::new(n.max(1))),
            idle_networks: Mutex::new(Vec::new()),
            network_count: std::sync::atomic::AtomicUsize::new(0),
            reports_seen: Mutex::new(HashSet::new()),
            warm_pools: tokio::sync::OnceCell::new(),
            warm_misfits: Mutex::default(),
            statuses: Mutex::new(vec![None; plan.steps.len()]),
            cancel: CancellationToken::new(),
            plan,
            runtime,
            creations,
            options,
            events,
            labels,
        }
    }

    /// Run a node; true if everything in it that ran passed.
    fn node<'a>(&'a self, node: &'a Node, cancel: CancellationToken) -> BoxFuture<'a, bool> {
        async move {
            match node {
                Node::Step(id) => self.step(*id, cancel).await,
                Node::Group { mode: Mode::Serial, children, .. } => {
                    let mut ok = true;
                    for child in children {
                        if cancel.is_cancelled() {
                            self.not_run(child, "cancelled before it started");
                            ok = false;
                        } else if !ok {
                            self.not_run(child, "an earlier step failed");
                        } else {
                            ok = self.node(child, cancel.clone()).await;
                        }
                    }
                    ok
                }
                Node::Group { mode: Mode::Parallel, children, .. } => {
                    // Jet: siblings of a failed step finish. --fail-fast: they are cancelled.
                    let group = cancel.child_token();
                    let results = join_all(children.iter().map(|child| {
                        let group = group.clone();
                        async move {
                            let ok = self.node(child, group.clone()).await;
                            if !ok && self.options.fail_fast {
                                group.cancel();
                            }
                            ok
                        }
                    }))
                    .await;
                    results.into_iter().all(|ok| ok)
                }
            }
        }
        .boxed()
    }

    /// Report every step under `node` as not run (or skipped, if it was not selected).
    fn not_run(&self, node: &Node, reason: &str) {
        match node {
            Node::Step(id) => {
                let step = self.plan.step(*id);
                let (status, message) = match &step.skip {
                    Some(skip) => (StepStatus::Skipped, skip.clone()),
                    None => (StepStatus::NotRun, reason.to_string()),
                };
                self.finish(*id, Outcome::without_attempt(status, message));
            }
            Node::Group { children, .. } => children.iter().for_each(|c| self.not_run(c, reason)),
        }
    }

    /// The end of a step, or of an attempt that will be retried.
    pub fn finish(&self, id: StepId, outcome: Outcome) {
        if !outcome.will_retry {
            self.statuses.lock().expect("statuses")[id.0] = Some((outcome.status, outcome.exit_code));
        }
        self.events.send(Event::StepFinished {
            step: id,
            status: outcome.status,
            exit_code: outcome.exit_code,
            duration: outcome.duration,
            message: outcome.message,
            details: outcome.details,
            attempt: outcome.attempt,
            will_retry: outcome.will_retry,
        });
    }

    pub fn phase(&self, id: StepId, message: impl Into<String>) {
        self.events.send(Event::StepPhase { step: id, message: message.into() });
    }

    /// Values to mask in all output from now on (e.g. a generated registry password).
    pub fn add_secrets(&self, secrets: Vec<String>) {
        self.events.add_secrets(secrets);
    }

    pub fn notice(&self, message: impl Into<String>) {
        self.events.send(Event::Notice { message: message.into() });
    }

    /// Wait for a slot under `--jobs`; `None` if cancelled first.
    pub async fn job_slot(&self, cancel: &CancellationToken) -> Option<Option<tokio::sync::SemaphorePermit<'_>>> {
        match &self.jobs {
            None => Some(None),
            Some(jobs) => tokio::select! {
                permit = jobs.acquire() => Some(permit.ok()),
                _ = cancel.cancelled() => None,
            },
        }
    }
}

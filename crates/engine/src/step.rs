//! One run step: its own network, its dependencies started in order and waited for,
//! its command run with output streamed, then everything removed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{join_all, try_join_all};
use futures::StreamExt;
use slipway_plan::{Action, Condition, RunAction, StepId};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use crate::container_spec::{container_spec, readiness_test, SpecRequest};
use crate::events::{Event, StepStatus};
use crate::gate::{gate_unsupported, gated};
use crate::labels::{object_name, with, SERVICE, STEP};
use crate::queue::{WorkerEnd, WorkerSetup, KEEPALIVE};
use crate::readiness::{humantime, wait_completed, wait_healthy, HealthProbe, NotReady};
use crate::reports::{attribute_files_in, collect, existing_reports, Fresh, Ownership, ReportSource};
use crate::run::{Outcome, Run};
use crate::runtime::{Attached, ContainerSpec, ContainerState, ImageInfo, Labels, OutputChunk};
use crate::script_check::crlf_script;
use crate::start_order::{start_in_turn, Stage, Turn};
use crate::step_lines::StepLines;
use futures::stream::BoxStream;

/// How a step ended.
pub(crate) enum StepEnd {
    Exited(i64),
    /// A failure with an exit code that needs its own words (a queue worker's).
    ExitedWith {
        code: i64,
        message: String,
        details: Vec<String>,
    },
    /// A queue worker whose container stopped under it: with the queue's `retry`, it
    /// gets another attempt in a fresh environment for the batch it lost.
    WorkerStopped {
        code: i64,
        message: String,
    },
    Failed {
        message: String,
        details: Vec<String>,
    },
    Cancelled,
}

impl StepEnd {
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        StepEnd::Failed { message: message.into(), details: Vec::new() }
    }
}

/// What a step created, so it can be removed whatever happens (even when the work
/// future is dropped half-way by a cancel).
#[derive(Default)]
pub(crate) struct Resources {
    pub containers: Mutex<Vec<String>>,
    /// How the step's command ended, once its `on_fail` commands run: what the step's end
    /// is if its `timeout` stops them.
    ended: Mutex<Option<(Option<i64>, String)>>,
    network: Mutex<Option<String>>,
    volumes: Mutex<Vec<String>>,
    /// Whether its images and dependencies were ready and its command started: a
    /// `timeout` before that stopped no command.
    pub(crate) command_started: std::sync::atomic::AtomicBool,
}

/// How long a probe may run when the healthcheck sets no timeout (Docker's default).
const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(30);

impl Run {
    /// Run one step, again while it fails and has attempts left (`retry`); true if it
    /// passed (or was skipped).
    pub async fn step(&self, id: StepId, cancel: CancellationToken) -> bool {
        let step = self.plan.step(id);
        // Dropped on every way out, so a shard that never starts holds no other back.
        let turn = match &step.action {
            Action::Run(action) => self.start_order.turn(id, action.shard),
            Action::Push(_) => None,
        };
        if let Some(reason) = &step.skip {
            self.finish(id, Outcome::without_attempt(StepStatus::Skipped, reason.clone()));
            return true;
        }
        let slot = self.job_slot(&cancel).await;
        if slot.is_none() || cancel.is_cancelled() {
            self.finish(id, Outcome::without_attempt(StepStatus::NotRun, "cancelled before it started".into()));
            return false;
        }
        let retry = match &step.action {
            Action::Run(action) => action.retry,
            Action::Push(_) => 0,
        };
        // A queue worker is not run again for files that failed (the queue retries those),
        // only when its container stopped under it.
        let stopped_worker_retry = match &step.action {
            Action::Run(RunAction { queue: Some(work), .. }) => self.plan.queues[work.queue].retry,
            _ => 0,
        };
        let mut attempt = 1;
        loop {
            self.events.send(Event::StepStarted { step: id, attempt });
            let started = Instant::now();
            let end = match &step.action {
                Action::Run(action) => self.run_action(id, attempt, action, turn.as_ref(), &cancel).await,
                Action::Push(push) => tokio::select! {
                    pushed = self.push(id, push) => match pushed {
                        Ok(()) => StepEnd::Exited(0),
                        Err(message) => StepEnd::failed(message),
                    },
                    _ = cancel.cancelled() => StepEnd::Cancelled,
                },
            };
            // A step that could not go on because the run was cancelled (the build it
            // waited for was stopped) was cancelled, not failed.
            let end = match end {
                StepEnd::Failed { .. } if cancel.is_cancelled() => StepEnd::Cancelled,
                end => end,
            };
            let duration = started.elapsed();
            let retry = if matches!(end, StepEnd::WorkerStopped { .. }) { stopped_worker_retry } else { retry };
            let (status, exit_code, message, details) = match end {
                StepEnd::Exited(0) => (StepStatus::Passed, Some(0), None, Vec::new()),
                StepEnd::Exited(code) => (StepStatus::Failed, Some(code), Some(exit_message(code)), Vec::new()),
                StepEnd::ExitedWith { code, message, details } => {
                    (StepStatus::Failed, Some(code), Some(message), details)
                }
                StepEnd::WorkerStopped { code, message } => (StepStatus::Failed, Some(code), Some(message), Vec::new()),
                StepEnd::Failed { message, details } => (StepStatus::Failed, None, Some(message), details),
                StepEnd::Cancelled => (StepStatus::Cancelled, None, Some("cancelled".into()), Vec::new()),
            };
            let will_retry = status == StepStatus::Failed && attempt <= retry && !cancel.is_cancelled();
            self.finish(id, Outcome { status, exit_code, duration, message, details, attempt, will_retry });
            if !will_retry {
                return status == StepStatus::Passed;
            }
            attempt += 1;
        }
    }

    async fn run_action(
        &self,
        id: StepId,
        attempt: u32,
        action: &RunAction,
        turn: Option<&Turn<'_>>,
        cancel: &CancellationToken,
    ) -> StepEnd {
        let resources = Arc::new(Resources::default());
        // The step's `timeout` bounds the attempt; a queue worker's, each of its batches.
        let limit = action.timeout.filter(|_| action.queue.is_none());
        let timer = async {
            match limit {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        let end = tokio::select! {
            end = self.run_environment(id, attempt, action, turn, &resources) => end,
            _ = cancel.cancelled() => StepEnd::Cancelled,
            () = timer => timed_out(action, &resources, limit.unwrap_or_default()),
        };
        if !self.options.keep {
            self.teardown(&resources).await;
        }
        end
    }

    async fn run_environment(
        &self,
        id: StepId,
        attempt: u32,
        action: &RunAction,
        turn: Option<&Turn<'_>>,
        res: &Resources,
    ) -> StepEnd {
        if let Some(end) = self.run_warm(id, attempt, action, turn, res).await {
            return end;
        }
        let env = &action.environment;
        let run_id = self.plan.run_id.as_str();
        let step_label = self.plan.step(id).label.as_str();
        // A shard's containers say which shard they are (`docker kill …-shard2of4-app`).
        let step_tag = match action.shard {
            Some((index, count)) => format!("s{}-shard{index}of{count}", id.0),
            None => format!("s{}", id.0),
        };

        // Images, all at once; a build or pull is shared with other steps that need it.
        // The step's network is made meanwhile: the engine creates networks one at a
        // time, so parallel steps waiting for one build would otherwise queue for their
        // networks after it.
        let images_ready =
            join_all(env.iter().map(|m| async { (m.service.as_str(), self.image(&m.service, Some(id)).await) }));
        let network = async {
            if let Some(turn) = turn {
                turn.wait(Stage::Network).await;
            }
            let network = self.take_network(Some(id)).await;
            turn.inspect(|t| t.release(Stage::Network));
            network
        };
        let (results, network) = tokio::join!(images_ready, network);
        if let Ok(network) = &network {
            *res.network.lock().expect("resources") = Some(network.clone());
        }
        let mut images: HashMap<&str, ImageInfo> = HashMap::new();
        for (service, result) in results {
            match result {
                Ok(info) => {
                    images.insert(service, info);
                }
                Err(message) => return StepEnd::failed(message),
            }
        }
        let network = match network {
            Ok(network) => network,
            Err(message) => return StepEnd::failed(message),
        };

        let labels = with(&self.labels, &[(STEP, step_label)]);

        // Create every container up front (only starting is ordered), so the step's own
        // container is ready to start the moment its dependencies are.
        let member_count = env.len();
        let specs = try_join_all(env.iter().map(|member| {
            let labels = &labels;
            let images = &images;
            let network = &network;
            let step_tag = &step_tag;
            async move {
                let service = member.service.as_str();
                self.ensure_named_volumes(service).await?;
                let volumes_from = self.volumes_from(service).await?;
                let name = object_name(&["slipway", run_id, step_tag, service]);
                let named = |n: &str| self.named_volume_name(n);
                let is_main = service == action.service;
                let (mut spec, own_volumes) = container_spec(SpecRequest {
                    service: &self.plan.services[service],
                    image: &images[service],
                    name: name.clone(),
                    labels: with(labels, &[(SERVICE, service)]),
                    network: Some((network.clone(), member.aliases.clone())),
                    command: if is_main { action.command.clone() } else { None },
                    volume_prefix: name,
                    named_volume: &named,
                    volumes_from,
                });
                let mut plain = None;
                if is_main {
                    spec.env.extend(action.extra_env.iter().map(|(k, v)| format!("{k}={v}")));
                }
                if is_main && action.queue.is_some() {
                    // A queue worker's container only has to stay up; batches run in it.
                    // on_fail runs the service as configured.
                    plain = Some(spec.clone());
                    spec.entrypoint = Some(vec!["/bin/sh".into(), "-c".into(), KEEPALIVE.into()]);
                    spec.cmd = None;
                    spec.stdin = true;
                } else if is_main {
                    if let Some(interactive) = &self.options.interactive {
                        spec.tty = interactive.tty;
                        spec.stdin = true;
                    } else if member_count > 1 {
                        if let Some(gated) = gated(&spec, &images[service]) {
                            plain = Some(std::mem::replace(&mut spec, gated));
                        }
                    }
                }
                for volume in &own_volumes {
                    self.runtime
                        .create_volume(volume, &spec.labels)
                        .await
                        .map_err(|e| format!("cannot create volume {volume}: {}", e.message))?;
                    res.volumes.lock().expect("resources").push(volume.clone());
                }
                let id = self
                    .runtime
                    .create_container(&spec)
                    .await
                    .map_err(|e| format!("cannot create the `{service}` container: {}", e.message))?;
                res.containers.lock().expect("resources").push(id.clone());
                Ok::<_, String>((id, spec, plain))
            }
        }))
        .await;
        let mut containers: Vec<(String, ContainerSpec, Option<ContainerSpec>)> = match specs {
            Ok(c) => c,
            Err(message) => return StepEnd::failed(message),
        };
        let (main_id, main_spec, plain_spec) = containers.pop().expect("the step's own container is last");
        // on_fail containers run the service as configured, never behind the gate.
        let on_fail_spec = plain_spec.clone().unwrap_or(main_spec);

        // A gated container starts now, while the dependencies get ready.
        let mut gate = None;
        let mut main_started = None;
        if plain_spec.is_some() && action.queue.is_none() {
            match self.runtime.attach(&main_id, true).await {
                Ok(attached) => gate = Some(attached),
                Err(e) => return StepEnd::failed(format!("cannot attach to the step's container: {}", e.message)),
            }
        }
        let gated = gate.is_some();
        let start_main = async {
            if gated {
                main_started = Some(self.runtime.start_container(&main_id).await);
            }
        };
        let dependencies = self.start_dependencies(id, action, &containers, &images);
        let service_working_dir = working_dir(&on_fail_spec, &images[action.service.as_str()]);
        // A queue worker notes them itself, before its first batch.
        let existing = async {
            if action.queue.is_some() {
                HashSet::new()
            } else {
                let source = ReportSource { runtime: self.runtime.as_ref(), container: &main_id, lease: None };
                existing_reports(source, &action.reports, &service_working_dir).await
            }
        };
        let ((), ready, existing) = tokio::join!(start_main, dependencies, existing);
        if let Err(end) = ready {
            return self.after_end(id, action, end, &on_fail_spec, &network, res).await;
        }
        if let Some(turn) = turn {
            turn.wait(Stage::Start).await;
        }
        res.command_started.store(true, std::sync::atomic::Ordering::Relaxed);
        self.phase(id, "running");
        if action.queue.is_some() {
            let started = start_in_turn(turn, self.runtime.start_container(&main_id)).await;
            let end = match started {
                Ok(()) => {
                    let image = &images[action.service.as_str()];
                    let service = &self.plan.services[&action.service];
                    let setup = WorkerSetup {
                        container: main_id.clone(),
                        entrypoint: service.entrypoint.clone().or_else(|| image.entrypoint.clone()).unwrap_or_default(),
                        working_dir: service_working_dir.clone(),
                        env: Vec::new(),
                        lease: None,
                    };
                    worker_end(self.run_queue_worker(id, action, setup).await)
                }
                Err(e) => StepEnd::failed(format!(
                    "cannot start the queue worker: {} (queue mode runs batches in a running container and needs /bin/sh in the image)",
                    e.message
                )),
            };
            return self.after_end(id, action, end, &on_fail_spec, &network, res).await;
        }
        let attempt_started = std::time::SystemTime::now();
        // Where the command ran: the step's container, or the one started plainly in its
        // place. Its dependencies' containers are created alongside, in any order.
        let mut command_container = main_id.clone();
        let code = match (gate, main_started, plain_spec) {
            (Some(Attached { output, mut input }), Some(Ok(())), _) => {
                // Open the gate: the command runs now, its stdin at end of file.
                let opened =
                    start_in_turn(turn, async { input.write_all(b"\n").await.and(input.shutdown().await) }).await;
                if let Err(e) = opened {
                    return StepEnd::failed(format!("cannot start the step's command: {e}"));
                }
                self.stream_until_exit(id, &main_id, output).await
            }
            (Some(_), Some(Err(e)), Some(plain)) if gate_unsupported(&e.message) => {
                // No /bin/sh in the image: start it plainly.
                let _ = self.runtime.remove_container(&main_id).await;
                match self.runtime.create_container(&plain).await {
                    Ok(plain_id) => {
                        res.containers.lock().expect("resources").push(plain_id.clone());
                        command_container = plain_id.clone();
                        self.start_and_stream(id, &plain_id, turn).await
                    }
                    Err(e) => Err(format!("cannot create the `{}` container: {}", action.service, e.message)),
                }
            }
            (Some(_), Some(Err(e)), _) => Err(start_error(&e.message)),
            _ if self.options.interactive.is_some() => self.run_interactive(&main_id).await,
            _ => self.start_and_stream(id, &main_id, turn).await,
        };
        let mut reported = HashSet::new();
        if code.is_ok() {
            let fresh = Fresh { since: attempt_started, existing: &existing };
            let source = ReportSource { runtime: self.runtime.as_ref(), container: &command_container, lease: None };
            reported = self.collect_reports(id, attempt, action, source, &service_working_dir, fresh).await;
        }
        let end = match code {
            // A static shard stopped from outside: its files are what the counts miss.
            Ok(code @ (137 | 143)) if !action.files.is_empty() && action.queue.is_none() => StepEnd::ExitedWith {
                code,
                message: format!("{}; its files did not finish: {}", exit_message(code), files_list(&action.files)),
                details: Vec::new(),
            },
            Ok(code) => StepEnd::Exited(code),
            Err(message) => start_failure(message),
        };
        // Killed: the engine knows whether the kernel's OOM killer did it.
        let end = match end {
            StepEnd::Exited(137) => match self.runtime.container_state(&command_container).await {
                Ok(ContainerState { error: Some(why), .. }) => StepEnd::ExitedWith {
                    code: 137,
                    message: format!("exited with code 137: {why}"),
                    details: Vec::new(),
                },
                _ => end,
            },
            end => end,
        };
        // A script it could not run, when the reason is in the file itself (the shell's
        // gate says 127, runc's exec failing in a container started plainly 1, an
        // interpreter refusing an option with a `\r` on it 2).
        let end = match end {
            StepEnd::Exited(code @ (1 | 2 | 126 | 127))
            | StepEnd::ExitedWith { code: code @ (1 | 2 | 126 | 127), .. } => {
                let argv = crate::warm::command_line(&on_fail_spec, &images[action.service.as_str()]);
                let program = argv.first().map_or("", String::as_str);
                let runtime = self.runtime.as_ref();
                match crlf_script(runtime, &command_container, program, &service_working_dir).await {
                    Some(why) => StepEnd::ExitedWith {
                        code,
                        message: format!("exited with code {code}: {why}"),
                        details: Vec::new(),
                    },
                    None => end,
                }
            }
            end => end,
        };
        let end = match end {
            StepEnd::Exited(code) if code != 0 => match self.failed_dependencies(&containers).await {
                Some((why, details)) => {
                    StepEnd::ExitedWith { code, message: format!("{}; {why}", exit_message(code)), details }
                }
                None => results_cut_short(action, code, &reported),
            },
            end => end,
        };
        self.after_end(id, action, end, &on_fail_spec, &network, res).await
    }

    /// The step's dependencies that exited with a failure while it ran — the likely
    /// cause of its failure (a database that crashed, a server that did not start) — and
    /// their last log lines.
    async fn failed_dependencies(
        &self,
        containers: &[(String, ContainerSpec, Option<ContainerSpec>)],
    ) -> Option<(String, Vec<String>)> {
        let mut failed = Vec::new();
        let mut details = Vec::new();
        for (container, spec, _) in containers {
            let Ok(state) = self.runtime.container_state(container).await else { continue };
            let Some(code) = state.exit_code.filter(|c| *c != 0 && !state.running) else { continue };
            let service = spec.labels.get(SERVICE).cloned().unwrap_or_default();
            failed.push((service.clone(), code));
            if let Ok(lines) = self.runtime.tail_output(container, 20).await {
                if !lines.is_empty() {
                    details.push(last_lines_heading(lines.len(), &service));
                    details.extend(lines);
                }
            }
        }
        let why = match failed.as_slice() {
            [] => return None,
            [(service, code)] => format!("its dependency `{service}` had exited with code {code}"),
            many => format!(
                "its dependencies had exited: {}",
                many.iter().map(|(s, c)| format!("`{s}` (code {c})")).collect::<Vec<_>>().join(", ")
            ),
        };
        Some((why, details))
    }

    /// Read the step's JUnit reports from the container its command ran in (through the
    /// lease, when it is a warm one). Returns the test files they have tests of.
    pub(crate) async fn collect_reports(
        &self,
        id: StepId,
        attempt: u32,
        action: &RunAction,
        source: ReportSource<'_>,
        working_dir: &str,
        fresh: Fresh<'_>,
    ) -> HashSet<String> {
        if action.reports.is_empty() {
            return HashSet::new();
        }
        let (mut cases, problems) = collect(
            source,
            &action.reports,
            working_dir,
            fresh,
            &self.reports_seen,
            Ownership { all: &action.split_files, mine: &action.files },
        )
        .await;
        if let (true, Some(dir)) = (action.split_files.is_empty(), &self.options.project_dir) {
            attribute_files_in(&mut cases, dir);
        }
        for problem in problems {
            self.notice(format!("{}: {problem}", self.plan.step(id).label));
        }
        let files = cases.iter().filter_map(|c| c.file.clone()).collect();
        self.events.send(Event::TestResults { step: id, attempt, cases });
        files
    }

    /// Start dependencies level by level: a member starts once everything it needs is ready.
    async fn start_dependencies(
        &self,
        id: StepId,
        action: &RunAction,
        containers: &[(String, ContainerSpec, Option<ContainerSpec>)],
        images: &HashMap<&str, ImageInfo>,
    ) -> Result<(), StepEnd> {
        let env = &action.environment;
        let levels = levels(env.iter().map(|m| m.needs.iter().map(|(i, _)| *i).collect()).collect());
        let main = env.len() - 1;
        for level in 0..levels.iter().copied().max().unwrap_or(0) {
            let members: Vec<usize> = (0..main).filter(|i| levels[*i] == level).collect();
            try_join_all(members.into_iter().map(|i| self.start_dependency(id, action, i, &containers[i].0, images)))
                .await?;
        }
        Ok(())
    }

    /// Start dependency `i` and wait until it is ready for what needs it.
    async fn start_dependency(
        &self,
        id: StepId,
        action: &RunAction,
        i: usize,
        container: &str,
        images: &HashMap<&str, ImageInfo>,
    ) -> Result<(), StepEnd> {
        let env = &action.environment;
        let service = env[i].service.as_str();
        let spec = &self.plan.services[service];
        let conditions: Vec<(Condition, &str)> = env
            .iter()
            .flat_map(|m| m.needs.iter().filter(|(j, _)| *j == i).map(move |(_, c)| (*c, m.service.as_str())))
            .collect();
        let test = readiness_test(spec, &images[service]);
        if test.is_none() && conditions.iter().all(|(c, _)| *c == Condition::Started) {
            // Said where a step that then cannot connect to it ("connection refused") shows it.
            self.phase(id, format!("starting {service} (it has no healthcheck: nothing waits for it to be ready)"));
        } else {
            self.phase(id, format!("starting {service}"));
        }
        if let Err(e) = self.runtime.start_container(container).await {
            let why = match missing_program(&e.message) {
                Some((program, why)) => format!("its command `{program}` {why}"),
                None => e.message,
            };
            return Err(StepEnd::failed(format!("cannot start dependency `{service}`: {why}")));
        }
        let waited = if conditions.iter().any(|(c, _)| *c == Condition::CompletedSuccessfully) {
            self.phase(id, format!("waiting for {service} to complete"));
            wait_completed(self.runtime.as_ref(), container, service, self.options.health_timeout).await
        } else if let Some(test) = test {
            self.phase(id, format!("waiting for {service} to be healthy"));
            let started = Instant::now();
            let probe_timeout = spec.healthcheck.as_ref().and_then(|h| h.timeout).unwrap_or(DEFAULT_PROBE_TIMEOUT);
            // The engine's default, as it counts them.
            let retries = spec.healthcheck.as_ref().and_then(|h| h.retries).unwrap_or(3);
            let check = HealthProbe { test: &test, timeout: probe_timeout, retries };
            let result = wait_healthy(
                self.runtime.as_ref(),
                container,
                service,
                &check,
                self.options.health_poll,
                self.options.health_timeout,
            )
            .await;
            if result.is_ok() {
                self.phase(id, format!("{service} is healthy after {}", humantime(started.elapsed())));
            }
            result
        } else if let Some((_, dependent)) = conditions.iter().find(|(c, _)| *c == Condition::Healthy) {
            Err(NotReady::Failed(format!(
                "`{dependent}` depends on `{service}` with condition service_healthy, but `{service}` has no healthcheck (nor does its image); add a `healthcheck` to `{service}` ({}), or depend on it with condition service_started",
                spec.image_at
            )))
        } else {
            Ok(())
        };
        match waited {
            Ok(()) => Ok(()),
            Err(NotReady::Engine(message)) => Err(StepEnd::failed(format!("while waiting for `{service}`: {message}"))),
            Err(NotReady::Failed(message)) => {
                let details = match self.runtime.tail_output(container, 20).await {
                    Ok(lines) if !lines.is_empty() => {
                        std::iter::once(last_lines_heading(lines.len(), service)).chain(lines).collect()
                    }
                    _ => Vec::new(),
                };
                Err(StepEnd::Failed { message, details })
            }
        }
    }

    /// After the step's environment was made: run `on_fail` commands if the step failed,
    /// whether its command exited non-zero, could not start, or a dependency failed.
    pub(crate) async fn after_end(
        &self,
        id: StepId,
        action: &RunAction,
        end: StepEnd,
        spec: &ContainerSpec,
        network: &str,
        res: &Resources,
    ) -> StepEnd {
        if matches!(end, StepEnd::Exited(0) | StepEnd::Cancelled) {
            return end;
        }
        if !action.on_fail.is_empty() {
            let ended = match &end {
                StepEnd::Exited(code) => (Some(*code), exit_message(*code)),
                StepEnd::ExitedWith { code, message, .. } | StepEnd::WorkerStopped { code, message } => {
                    (Some(*code), message.clone())
                }
                StepEnd::Failed { message, .. } => (None, message.clone()),
                StepEnd::Cancelled => (None, "cancelled".to_string()),
            };
            *res.ended.lock().expect("resources") = Some(ended);
        }
        for (n, on_fail) in action.on_fail.iter().enumerate() {
            // Quoted as written, so it can be pasted into a shell.
            let text = shell_words::join(&on_fail.command);
            self.phase(id, format!("on_fail: {text}"));
            let name = format!("{}-onfail{}", spec.name, n + 1);
            let base = if on_fail.service == action.service {
                Ok(spec.clone())
            } else {
                self.on_fail_spec(&on_fail.service, &name, &spec.labels, res).await
            };
            let created = match base {
                Ok(base) => {
                    let on_fail_spec = ContainerSpec {
                        name,
                        cmd: Some(on_fail.command.clone()),
                        network: Some((network.to_string(), Vec::new())),
                        tty: false,
                        stdin: false,
                        ..base
                    };
                    self.runtime.create_container(&on_fail_spec).await.map_err(|e| e.message)
                }
                Err(e) => Err(e),
            };
            match created {
                Ok(on_fail_id) => {
                    res.containers.lock().expect("resources").push(on_fail_id.clone());
                    match self.start_and_stream(id, &on_fail_id, None).await {
                        Ok(c) if c != 0 => self.notice(format!("on_fail command `{text}` exited with code {c}")),
                        Ok(_) => {}
                        Err(e) => self.notice(format!("on_fail command `{text}`: {e}")),
                    }
                }
                Err(e) => self.notice(format!("cannot create the on_fail container for `{text}`: {e}")),
            }
        }
        end
    }

    /// The container of an `on_fail` command that names another service than the step's.
    async fn on_fail_spec(
        &self,
        service: &str,
        name: &str,
        labels: &Labels,
        res: &Resources,
    ) -> Result<ContainerSpec, String> {
        let image = self.image(service, None).await?;
        self.ensure_named_volumes(service).await?;
        let volumes_from = self.volumes_from(service).await?;
        let named = |n: &str| self.named_volume_name(n);
        let (spec, own_volumes) = container_spec(SpecRequest {
            service: &self.plan.services[service],
            image: &image,
            name: name.to_string(),
            labels: with(labels, &[(SERVICE, service)]),
            network: None,
            command: None,
            volume_prefix: name.to_string(),
            named_volume: &named,
            volumes_from,
        });
        for volume in &own_volumes {
            self.runtime.create_volume(volume, &spec.labels).await.map_err(|e| e.message)?;
            res.volumes.lock().expect("resources").push(volume.clone());
        }
        Ok(spec)
    }

    /// Start a container and stream its output as lines until it exits.
    async fn start_and_stream(&self, id: StepId, container: &str, turn: Option<&Turn<'_>>) -> Result<i64, String> {
        let attached =
            self.runtime.attach(container, false).await.map_err(|e| format!("cannot attach: {}", e.message))?;
        let started = start_in_turn(turn, self.runtime.start_container(container)).await;
        started.map_err(|e| start_error(&e.message))?;
        self.stream_until_exit(id, container, attached.output).await
    }

    /// Stream a started container's output as lines until it exits; its exit code.
    async fn stream_until_exit(
        &self,
        id: StepId,
        container: &str,
        mut stream: BoxStream<'static, crate::runtime::Result<OutputChunk>>,
    ) -> Result<i64, String> {
        let output = async {
            let mut lines = StepLines::new(&self.events, id);
            while let Some(chunk) = stream.next().await {
                let Ok(chunk) = chunk else { break };
                lines.push(chunk.stream, &chunk.bytes);
            }
        };
        let (code, ()) = tokio::join!(self.runtime.wait_exit(container), output);
        code.map_err(|e| format!("while waiting for the step's container: {}", e.message))
    }

    /// `slipway run` in a terminal: stdin in, raw output out, the TTY sized.
    async fn run_interactive(&self, container: &str) -> Result<i64, String> {
        let interactive = self.options.interactive.as_ref().expect("interactive run");
        let attached =
            self.runtime.attach(container, true).await.map_err(|e| format!("cannot attach: {}", e.message))?;
        let mut input = attached.input;
        if let Some(before_start) = interactive.before_start.lock().expect("before_start").take() {
            before_start();
        }
        let stdin = interactive.stdin.lock().expect("stdin").take();
        let pump_in = tokio::spawn(async move {
            if let Some(mut stdin) = stdin {
                let _ = tokio::io::copy(&mut stdin, &mut input).await;
            }
            // stdin closed: let the container see EOF.
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut input).await;
        });
        self.runtime.start_container(container).await.map_err(|e| start_error(&e.message))?;
        if let (true, Some((w, h))) = (interactive.tty, interactive.size) {
            let _ = self.runtime.resize_tty(container, w, h).await;
        }
        let resized = interactive.resized.lock().expect("resize").take();
        let follow_size = resized.filter(|_| interactive.tty).map(|mut sizes| {
            let (runtime, container) = (self.runtime.clone(), container.to_string());
            tokio::spawn(async move {
                while sizes.changed().await.is_ok() {
                    let (w, h) = *sizes.borrow_and_update();
                    let _ = runtime.resize_tty(&container, w, h).await;
                }
            })
        });
        let mut output = attached.output;
        let pump_out = async {
            // Masked per stream, keeping what could be the start of a secret for the next chunk.
            let (mut out, mut err) = (self.events.masker().stream(), self.events.masker().stream());
            while let Some(Ok(chunk)) = output.next().await {
                let masker = if chunk.stream == crate::runtime::Stream::Stdout { &mut out } else { &mut err };
                let bytes = masker.push(&chunk.bytes);
                if !bytes.is_empty() {
                    self.events.send(Event::RawOutput { stream: chunk.stream, bytes });
                }
            }
            for (stream, masker) in
                [(crate::runtime::Stream::Stdout, &mut out), (crate::runtime::Stream::Stderr, &mut err)]
            {
                let bytes = masker.finish();
                if !bytes.is_empty() {
                    self.events.send(Event::RawOutput { stream, bytes });
                }
            }
        };
        let (code, ()) = tokio::join!(self.runtime.wait_exit(container), pump_out);
        pump_in.abort();
        if let Some(task) = follow_size {
            task.abort();
        }
        code.map_err(|e| format!("while waiting for the container: {}", e.message))
    }

    async fn teardown(&self, res: &Resources) {
        let containers = std::mem::take(&mut *res.containers.lock().expect("resources"));
        let mut errors: Vec<String> = join_all(containers.iter().map(|c| self.runtime.remove_container(c)))
            .await
            .into_iter()
            .filter_map(|r| r.err().map(|e| e.message))
            .collect();
        let network = res.network.lock().expect("resources").take();
        if let Some(network) = network {
            if errors.is_empty() {
                self.give_back_network(network);
            } else if let Err(e) = self.runtime.remove_network(&network).await {
                errors.push(e.message);
            }
        }
        let volumes = std::mem::take(&mut *res.volumes.lock().expect("resources"));
        errors.extend(
            join_all(volumes.iter().map(|v| self.runtime.remove_volume(v)))
                .await
                .into_iter()
                .filter_map(|r| r.err().map(|e| e.message)),
        );
        for error in errors {
            self.notice(format!("clean-up: {error}"));
        }
    }
}

/// How a step ends whose queue worker ended so.
pub(crate) fn worker_end(end: Result<WorkerEnd, String>) -> StepEnd {
    match end {
        Ok(WorkerEnd::Passed) => StepEnd::Exited(0),
        Ok(WorkerEnd::FilesFailed(files)) => StepEnd::ExitedWith {
            details: Vec::new(),
            code: 1,
            message: format!("{} test file(s) failed: {}", files.len(), files.join(", ")),
        },
        Ok(WorkerEnd::Stopped { code, message }) => StepEnd::WorkerStopped { code, message },
        Err(message) => StepEnd::failed(message),
    }
}

/// Where relative paths in the step's container start: its `working_dir`, else the image's.
pub(crate) fn working_dir(spec: &ContainerSpec, image: &ImageInfo) -> String {
    spec.working_dir
        .clone()
        .or_else(|| image.working_dir.clone())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/".to_string())
}

/// Level of each member: 0 for those needing nothing, else one more than what they need.
fn levels(needs: Vec<Vec<usize>>) -> Vec<usize> {
    let mut level = vec![0; needs.len()];
    // Members come dependencies first, so one pass in order settles every level.
    for i in 0..needs.len() {
        level[i] = needs[i].iter().map(|j| level[*j] + 1).max().unwrap_or(0);
    }
    level
}

/// Files named in a message: the first ten, then how many more.
pub(crate) fn files_list(files: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut list = files.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if files.len() > SHOWN {
        list.push_str(&format!(" and {} more", files.len() - SHOWN));
    }
    list
}

/// "last 20 log lines of db:" (or "the last log line of db:").
fn last_lines_heading(count: usize, service: &str) -> String {
    if count == 1 {
        format!("the last log line of {service}:")
    } else {
        format!("last {count} log lines of {service}:")
    }
}

/// How an attempt stopped by its `timeout` (after `limit`) ends: exit code 124, as under
/// `timeout(1)` — unless its command had ended and its `on_fail` was running, whose
/// end counts, with what the timeout stopped. A static shard names its files.
fn timed_out(action: &RunAction, res: &Resources, limit: Duration) -> StepEnd {
    let after = format!("stopped after {} (the step's `timeout`)", humantime(limit));
    if let Some((code, message)) = res.ended.lock().expect("resources").clone() {
        return StepEnd::ExitedWith {
            code: code.unwrap_or(124),
            message: format!("{message}; its on_fail was {after}"),
            details: Vec::new(),
        };
    }
    if !res.command_started.load(std::sync::atomic::Ordering::Relaxed) {
        let message = format!(
            "timed out: {after}, before its command started (the `timeout` counts the time its images and dependencies take to get ready)"
        );
        return StepEnd::ExitedWith { code: 124, message, details: Vec::new() };
    }
    let files = if action.files.is_empty() {
        String::new()
    } else {
        format!("; its files did not finish: {}", files_list(&action.files))
    };
    StepEnd::ExitedWith { code: 124, message: format!("timed out: {after}{files}"), details: Vec::new() }
}

/// How a static shard that exited with `code` (not 0) ends, when its reports have tests
/// of only some of its files: a test runner that stopped early (pytest on a collection
/// error) ran none of the others, and the counts miss their tests — say which.
pub(crate) fn results_cut_short(action: &RunAction, code: i64, reported: &HashSet<String>) -> StepEnd {
    if action.reports.is_empty() || action.files.is_empty() || action.queue.is_some() || reported.is_empty() {
        return StepEnd::Exited(code);
    }
    let missing: Vec<String> = action.files.iter().filter(|f| !reported.contains(*f)).cloned().collect();
    if missing.is_empty() {
        return StepEnd::Exited(code);
    }
    StepEnd::ExitedWith {
        code,
        message: format!(
            "{}; its reports have no tests of {} of its {} files, which did not run: {}",
            exit_message(code),
            missing.len(),
            action.files.len(),
            files_list(&missing)
        ),
        details: Vec::new(),
    }
}

/// "exited with code N", with what the shell's conventional codes mean.
pub(crate) fn exit_message(code: i64) -> String {
    match code {
        137 => format!(
            "exited with code {code}: killed (SIGKILL) — by `docker kill`, by `docker stop` once its grace period ran out, or by the engine"
        ),
        143 => format!("exited with code {code}: stopped (SIGTERM)"),
        126 => format!(
            "exited with code {code}: the command is not executable. If it is a script, `chmod +x` it and commit that, or `RUN chmod +x` it in the Dockerfile"
        ),
        127 => format!(
            "exited with code {code}: command not found. Check it exists in the image (commands run without a shell; use `sh -c '…'` for shell syntax)"
        ),
        _ => format!("exited with code {code}"),
    }
}

const COMMAND_NOT_STARTED: &str = "the command could not be started: ";
const NOT_EXECUTABLE: &str = "is not executable";
/// A file that is there but lacks its execute bit (a script committed without it).
const NOT_EXECUTABLE_HINT: &str =
    "Make it executable: `chmod +x` it and commit that (git keeps the bit), or `RUN chmod +x` it in the Dockerfile";

/// How a step whose container did not start ends. A command that cannot be started
/// exits 127 (not found) or 126 (not executable), as under a shell or `docker run`.
fn start_failure(message: String) -> StepEnd {
    match message.strip_prefix(COMMAND_NOT_STARTED) {
        Some(why) => StepEnd::ExitedWith {
            code: if why.contains(NOT_EXECUTABLE) { 126 } else { 127 },
            message,
            details: Vec::new(),
        },
        None => StepEnd::failed(message),
    }
}

/// The engine's start error, with what to do for the common "no such command" case.
fn start_error(message: &str) -> String {
    const HINT: &str = "Check the command exists in the image (the steps' commands run without a shell; use `sh -c '…'` for shell syntax)";
    if let Some((program, why)) = missing_program(message) {
        let hint = if why == NOT_EXECUTABLE { NOT_EXECUTABLE_HINT } else { HINT };
        format!("{COMMAND_NOT_STARTED}`{program}` {why}. {hint}")
    } else if message.contains("executable file not found") || message.contains("no such file or directory") {
        format!("{COMMAND_NOT_STARTED}{message}. {HINT}")
    } else {
        format!("the container could not be started: {message}")
    }
}

/// From runc's `… exec: "npm": executable file not found in $PATH: unknown`, the program
/// and what is wrong with it: the rest of the message is runc's plumbing.
fn missing_program(message: &str) -> Option<(&str, &'static str)> {
    let rest = &message[message.find("exec: \"")? + "exec: \"".len()..];
    let (program, after) = rest.split_once('"')?;
    let why = if after.contains("executable file not found") {
        "is not in the image's $PATH"
    } else if after.contains("no such file or directory") {
        "does not exist in the container"
    } else if after.contains("permission denied") {
        NOT_EXECUTABLE
    } else {
        return None;
    };
    Some((program, why))
}

#[cfg(test)]
mod tests {
    use super::{last_lines_heading, levels, start_error, start_failure, StepEnd};

    #[test]
    fn a_single_log_line_is_one_line() {
        assert_eq!(last_lines_heading(1, "db"), "the last log line of db:");
        assert_eq!(last_lines_heading(20, "db"), "last 20 log lines of db:");
    }

    #[test]
    fn start_errors_name_the_missing_program() {
        let runc = |tail: &str| {
            format!("failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: {tail}: unknown")
        };
        let message = start_error(&runc("exec: \"npm\": executable file not found in $PATH"));
        assert!(
            message.starts_with("the command could not be started: `npm` is not in the image's $PATH. Check"),
            "{message}"
        );
        let message = start_error(&runc("exec: \"./gradlew\": stat ./gradlew: no such file or directory"));
        assert!(
            message.starts_with("the command could not be started: `./gradlew` does not exist in the container."),
            "{message}"
        );
        let message = start_error(&runc("exec: \"/code/entry.sh\": permission denied"));
        assert!(
            message.starts_with(
                "the command could not be started: `/code/entry.sh` is not executable. Make it executable: `chmod +x`"
            ),
            "{message}"
        );
        let message = start_error("cgroup refuses to start");
        assert_eq!(message, "the container could not be started: cgroup refuses to start");
    }

    #[test]
    fn a_command_that_cannot_start_exits_as_under_a_shell() {
        let code = |tail: &str| match start_failure(start_error(tail)) {
            StepEnd::ExitedWith { code, .. } => Some(code),
            _ => None,
        };
        assert_eq!(code("exec: \"npm\": executable file not found in $PATH"), Some(127));
        assert_eq!(code("exec: \"./run.sh\": permission denied"), Some(126));
        assert_eq!(code("cgroup refuses to start"), None);
    }

    #[test]
    fn levels_follow_needs() {
        assert_eq!(levels(vec![vec![], vec![0], vec![], vec![1, 2]]), [0, 1, 0, 2]);
    }
}

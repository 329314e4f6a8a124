//! A step run in a warm environment: leased from `slipway warm`'s pool, its command
//! passed to the shell waiting in the container (or, for what that cannot carry, run with
//! `docker exec`), then handed back for the pool to remove (it starts a new one on the
//! same network).

use std::time::SystemTime;

use slipway_plan::{RunAction, StepId};

use crate::container_spec::{container_spec, SpecRequest};
use crate::events::Event;
use crate::labels::{object_name, with, SERVICE, STEP};
use crate::options::WarmPools;
use crate::queue::WorkerSetup;
use crate::reports::{existing_reports, Fresh, ReportSource};
use crate::run::Run;
use crate::runtime::ExecCommand;
use crate::start_order::{Stage, Turn};
use crate::step::{worker_end, working_dir, Resources, StepEnd};
use crate::step_lines::StepLines;
use crate::warm::{can_run_warm, command_line, warm_key};
use crate::warm_agent::can_carry;
use crate::warm_lease::WarmLease;

impl Run {
    /// Run the step in a warm environment if it can have one; `None`: it makes its own.
    pub(crate) async fn run_warm(
        &self,
        id: StepId,
        attempt: u32,
        action: &RunAction,
        turn: Option<&Turn<'_>>,
        res: &Resources,
    ) -> Option<StepEnd> {
        // Only a step that needs nothing but its service, run as configured.
        if self.options.warm == WarmPools::Off
            || self.options.keep
            || self.options.interactive.is_some()
            || action.environment.len() != 1
        {
            return None;
        }
        // No pool: the usual path, which makes the step's network while the image builds
        // (and so marks the project busy for a `slipway gc` meanwhile, which would take
        // the build's still untagged image).
        if self.warm_sockets().await.is_empty() {
            return None;
        }
        let service_name = action.service.as_str();
        let service = &self.plan.services[service_name];
        // An image that cannot be had fails the step on the usual path, with its message.
        let image = self.image(service_name, Some(id)).await.ok()?;
        if !can_run_warm(service, &image) {
            return None;
        }
        let step_label = self.plan.step(id).label.as_str();
        let name = object_name(&["slipway", &self.plan.run_id, &format!("s{}", id.0), service_name]);
        let (mut spec, _) = container_spec(SpecRequest {
            service,
            image: &image,
            name,
            labels: with(&self.labels, &[(STEP, step_label), (SERVICE, service_name)]),
            network: None,
            command: action.command.clone(),
            volume_prefix: String::new(),
            named_volume: &|volume: &str| volume.to_string(),
            volumes_from: Vec::new(),
        });
        // The key before the step's own variables (a shard's): the exec adds them.
        let key = warm_key(&spec, &image);
        spec.env.extend(action.extra_env.iter().map(|(k, v)| format!("{k}={v}")));
        let command = command_line(&spec, &image);
        // A queue worker's commands are its batches.
        if command.is_empty() && action.queue.is_none() {
            return None;
        }
        let mut lease = self.claim_warm(service_name, &key, &image.id).await?;
        // Shards ordered their starts to share out the engine's time; a warm one needs none.
        if let Some(turn) = turn {
            turn.release(Stage::Network);
            turn.release(Stage::Start);
        }
        self.events.send(Event::StepWarm { step: id });
        res.command_started.store(true, std::sync::atomic::Ordering::Relaxed);
        let working_dir = working_dir(&spec, &image);
        if action.queue.is_some() {
            self.phase(id, "queue worker in a warm environment");
            let setup = WorkerSetup {
                container: lease.container.clone(),
                entrypoint: spec.entrypoint.clone().or_else(|| image.entrypoint.clone()).unwrap_or_default(),
                working_dir,
                env: spec.env.clone(),
                lease: Some(&mut lease),
            };
            let end = worker_end(self.run_queue_worker(id, action, setup).await);
            return Some(self.after_end(id, action, end, &spec, &lease.network, res).await);
        }
        let container = lease.container.clone();
        let source = ReportSource { runtime: self.runtime.as_ref(), container: &container, lease: Some(&mut lease) };
        let existing = existing_reports(source, &action.reports, &working_dir).await;
        self.phase(id, "running in a warm environment");
        let started = SystemTime::now();
        let exec = ExecCommand {
            cmd: command,
            env: spec.env.clone(),
            working_dir: spec.working_dir.clone(),
            user: spec.user.clone(),
        };
        let code = self.run_command_in(id, &container, Some(&mut lease), &exec).await;
        let mut reported = std::collections::HashSet::new();
        tracing::debug!("{container}: command ran {:?}", started.elapsed().unwrap_or_default());
        if code.is_ok() {
            let fresh = Fresh { since: started, existing: &existing };
            let source =
                ReportSource { runtime: self.runtime.as_ref(), container: &container, lease: Some(&mut lease) };
            reported = self.collect_reports(id, attempt, action, source, &working_dir, fresh).await;
            tracing::debug!("{container}: reports read {:?}", started.elapsed().unwrap_or_default());
        } else if !action.reports.is_empty() {
            // The container stopped under the command: no reports to read. Say the step
            // has none, so the summary names it among those whose tests are not counted.
            self.events.send(Event::TestResults { step: id, attempt, cases: Vec::new() });
        }
        let end = match code {
            Ok(0) => StepEnd::Exited(0),
            Ok(code) => crate::step::results_cut_short(action, code, &reported),
            Err((message, Some(code))) => StepEnd::ExitedWith {
                code,
                message: format!("{} ({message})", crate::step::exit_message(code)),
                details: Vec::new(),
            },
            Err((message, None)) => StepEnd::failed(message),
        };
        // Dropping the lease hands the container back.
        Some(self.after_end(id, action, end, &spec, &lease.network, res).await)
    }

    /// Run a command in a running container, its output as the step's, until it ends:
    /// through the pool when the container is leased and the pool's shell can carry the
    /// command (no `docker exec`), else with `docker exec`. The error says why it has no
    /// exit status, with the container's if it stopped.
    pub(crate) async fn run_command_in(
        &self,
        id: StepId,
        container: &str,
        lease: Option<&mut WarmLease>,
        command: &ExecCommand,
    ) -> Result<i64, (String, Option<i64>)> {
        let Some(lease) = lease.filter(|_| can_carry(&command.cmd, &command.env)) else {
            return self.exec_streaming(id, container, command).await.map_err(|e| (e, None));
        };
        let mut lines = StepLines::new(&self.events, id);
        lease.run(&command.cmd, &command.env, |stream, bytes| lines.push(stream, bytes)).await
    }
}

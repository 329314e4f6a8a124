//! `slipway warm`: keep environments of a project's services started, so the steps of
//! `slipway steps` start in them with `docker exec` instead of creating their own.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use slipway_config::Project;
use slipway_engine::{keep_warm, EngineOptions, EventSink};
use slipway_plan::{build_plan, environment, Action, Plan};
use tokio_util::sync::CancellationToken;

use super::{connect, fail, or_exit, prepare, process_labels, use_color, EXIT_FAILURE};
use crate::cli::WarmArgs;
use crate::report::{spawn_reporters, TerminalOptions, TerminalReporter};
use crate::signals::cancel_on_signals;
use crate::split_inputs::split_inputs;

/// Without --size: one environment per step that could use it, at most this many.
const DEFAULT_MAX_SIZE: usize = 8;

pub async fn warm_command(args: WarmArgs) -> ExitCode {
    match warm(args).await {
        Ok(code) | Err(code) => code,
    }
}

async fn warm(args: WarmArgs) -> Result<ExitCode, ExitCode> {
    let mut prepared = prepare(&args.exec, true, None)?;
    // Split steps only need their shards counted here: no timings.
    let inputs = or_exit(split_inputs(&prepared.project, &|_| Default::default(), &|_, shards| {
        vec![Default::default(); shards]
    }))?;
    prepared.ctx.split_inputs = inputs;
    let plan = prepared.plan_with_secrets(build_plan)?;
    let services = chosen_services(&plan, &prepared.project, &args).map_err(fail)?;
    if services.is_empty() {
        return Err(fail(format!(
            "no step of {} runs in its service alone, so there is nothing to keep warm; name the services to warm",
            prepared
                .project
                .files
                .steps
                .as_ref()
                .map_or_else(|| "the steps file".to_string(), |p| p.display().to_string())
        )));
    }
    let runtime = connect().await?;
    let (sink, events) = EventSink::channel();
    let reporter =
        TerminalReporter::new(TerminalOptions { live: false, color: use_color(), debug: args.exec.debug, raw: true });
    let reporting = spawn_reporters(events, vec![Box::new(reporter)]);
    let cancel = CancellationToken::new();
    cancel_on_signals(cancel.clone(), true, CancellationToken::new());
    let options = EngineOptions {
        extra_labels: process_labels(),
        health_timeout: prepared.health_timeout,
        registry: prepared.registry,
        cache: prepared.cache,
        secrets: prepared.secrets,
        // Steps build the same images; the pool's containers hold them until it stops.
        keep_images: false,
        ..EngineOptions::default()
    };
    let status = |message: String| errln!("slipway: {message}");
    let result = keep_warm(Arc::new(plan), Arc::new(runtime), options, sink.clone(), &services, cancel, &status).await;
    drop(sink);
    let _ = reporting.await;
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(message) => {
            super::error(message);
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}

/// The services to warm and how many environments each: those named, or the services
/// of the steps that run in their service alone.
fn chosen_services(plan: &Plan, project: &Project, args: &WarmArgs) -> Result<Vec<(String, usize)>, String> {
    let mut steps_per_service: BTreeMap<&str, usize> = BTreeMap::new();
    for step in &plan.steps {
        if let Action::Run(run) = &step.action {
            if run.environment.len() == 1 {
                *steps_per_service.entry(run.service.as_str()).or_default() += 1;
            }
        }
    }
    let size = |service: &str| {
        args.size.unwrap_or_else(|| steps_per_service.get(service).copied().unwrap_or(1).min(DEFAULT_MAX_SIZE)).max(1)
    };
    if args.services.is_empty() {
        return Ok(steps_per_service.keys().map(|s| (s.to_string(), size(s))).collect());
    }
    args.services
        .iter()
        .map(|service| {
            if plan.services.contains_key(service) {
                // Its steps start its dependencies too: none of them could claim it.
                let others: Vec<String> = environment(project, service)
                    .into_iter()
                    .filter(|m| &m.service != service)
                    .map(|m| format!("`{}`", m.service))
                    .collect();
                if others.is_empty() {
                    Ok((service.clone(), size(service)))
                } else {
                    Err(format!(
                        "`{service}` cannot be kept warm: its steps also start {} (its links and depends_on), and a warm environment holds a service alone; warm a service whose steps need nothing else",
                        others.join(", ")
                    ))
                }
            } else {
                let known: Vec<&str> = plan.services.keys().map(String::as_str).collect();
                Err(format!("no service `{service}` in the services file (services: {})", known.join(", ")))
            }
        })
        .collect()
}

//! `slipway steps`: run the whole pipeline.

use std::io::IsTerminal;
use std::process::ExitCode;

use slipway_engine::{CacheSettings, EngineOptions, WarmPools};
use slipway_plan::build_plan;

use super::history::state_dir;
use super::{execute, fail, or_exit, prepare, this_host, use_color, EXIT_FAILURE};
use crate::cli::StepsArgs;
use crate::report::{HistoryReporter, JsonReporter, JunitReporter, Reporter, TerminalOptions, TerminalReporter};
use crate::split_inputs::split_inputs;
use slipway_store::Store;
use std::sync::Arc;

/// Runs of a project the history keeps (older ones go, logs and all, as a run ends):
/// plenty for timings, flaky tests and looking back, and a bounded folder.
const RUNS_KEPT: usize = 1000;

pub async fn steps(args: StepsArgs) -> ExitCode {
    match run_steps(args).await {
        Ok(code) | Err(code) => code,
    }
}

async fn run_steps(args: StepsArgs) -> Result<ExitCode, ExitCode> {
    let exec = &args.exec;
    let mut prepared = prepare(exec, true, args.tag.clone())?;
    prepared.ctx.push = args.push;
    prepared.ctx.approve = args.approve;
    let state = state_dir(&prepared.project.dir, exec.state_dir.as_deref());
    // Lives until the run ends: the history of a run that cannot write its own.
    let mut _scratch_state = None;
    let store = match Store::open(&state) {
        Ok(store) => store,
        // A read-only checkout still runs (as Jet or compose would); only the history
        // (and what splitting learns from it) is lost. A folder asked for is not skipped.
        Err(e) if exec.state_dir.is_none() => {
            let scratch = tempfile::Builder::new()
                .prefix("slipway-state-")
                .tempdir()
                .map_err(|t| fail(format!("{e}; and no temporary folder for this run's history either: {t}")))?;
            let store = Store::open(scratch.path()).map_err(|e| fail(format!("{e} (set --state-dir)")))?;
            errln!(
                "{} {e}: this run is not kept in the history (set --state-dir or SLIPWAY_STATE_DIR to a writable folder to keep it)",
                console::Style::new().yellow().force_styling(use_color()).apply_to("slipway: warning:")
            );
            _scratch_state = Some(scratch);
            store
        }
        Err(e) => return Err(fail(format!("{e} (set --state-dir to keep the history elsewhere)"))),
    };
    let store = Arc::new(store);
    let project_name = prepared.project.name.clone();
    let project_dir = prepared.project.dir.clone();
    // An engine that does not answer is reported after any mistake in the files.
    let runtime = slipway_docker::DockerRuntime::connect().await;
    // Shards in warm environments get going together: their lags are learned apart.
    let warm_pools = match &runtime {
        Ok(runtime) if !args.no_warm => {
            slipway_engine::warm::warm_pool_sockets(runtime, &project_name, Some(&this_host())).await
        }
        _ => Vec::new(),
    };
    let warm = !warm_pools.is_empty();
    // A step without timings of its own (new, or renamed) uses what any step of the
    // project recorded for its files: an unsplit run's, say.
    let timings = |step: &str| {
        let own = store.file_timings(&project_name, Some(step)).unwrap_or_default();
        if own.is_empty() {
            store.file_timings(&project_name, None).unwrap_or_default()
        } else {
            own
        }
    };
    let lags =
        |step: &str, shards: usize| store.shard_start_lags(&project_name, step, shards, warm).unwrap_or_default();
    prepared.ctx.split_inputs = or_exit(split_inputs(&prepared.project, &timings, &lags))?;
    let mut plan = prepared.plan_with_secrets(build_plan)?;
    default_push_credentials(&mut plan, &args, &prepared.project, &mut prepared.registry)?;
    let runtime = runtime.map_err(|e| fail(e.message))?;

    let mut reporters: Vec<Box<dyn Reporter>> = vec![Box::new(TerminalReporter::new(TerminalOptions {
        live: !exec.no_tty && std::io::stderr().is_terminal() && std::io::stdout().is_terminal(),
        color: use_color(),
        debug: exec.debug,
        raw: false,
    }))];
    let ci = |name: &str| {
        prepared.ctx.ci_vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
    };
    let commit = crate::ci_vars::history_commit(&project_dir, &exec.ci, ci("CI_COMMIT_ID"));
    reporters.push(Box::new(HistoryReporter::new(store.clone(), ci("CI_BRANCH"), commit)));
    if let Some(path) = &args.junit {
        reporters.push(Box::new(JunitReporter::create(path.clone()).map_err(fail)?));
    }
    if let Some(path) = &args.events {
        reporters.push(Box::new(JsonReporter::create(path).map_err(fail)?));
    }
    let options = EngineOptions {
        jobs: args.jobs.map(|n| n as usize),
        fail_fast: args.fail_fast,
        keep: exec.no_remove,
        keep_images: args.keep_images || exec.no_remove,
        health_timeout: prepared.health_timeout,
        registry: prepared.registry,
        cache: CacheSettings { registry: args.cache_registry.clone(), ..prepared.cache },
        secrets: prepared.secrets,
        // Asked once, before planning: the split's lags and the leases agree on it, and a
        // run does not ask the engine again.
        warm: if args.no_warm { WarmPools::Off } else { WarmPools::Known(warm_pools) },
        project_dir: Some(project_dir),
        ..EngineOptions::default()
    };
    let (outcome, report_errors) = execute(plan, runtime, options, reporters, args.timeout).await;
    if let Err(e) = store.prune_runs(&project_name, RUNS_KEPT) {
        super::error(format!("history: {e}"));
    }
    Ok(if outcome.cancelled {
        ExitCode::from(crate::signals::cancelled_exit_code())
    } else if outcome.success && report_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}

/// Jet's `--dockercfg-service` / `--encrypted-dockercfg-path`: credentials for the push
/// steps that name none.
fn default_push_credentials(
    plan: &mut slipway_plan::Plan,
    args: &StepsArgs,
    project: &slipway_config::Project,
    registry: &mut slipway_engine::RegistrySettings,
) -> Result<(), ExitCode> {
    let mut default = slipway_plan::RegistryAuthSpec::default();
    if let Some(service) = &args.dockercfg_service {
        if !project.services.contains_key(service) {
            return Err(fail(format!(
                "--dockercfg-service `{service}` is not a service of {}",
                project.files.services.display()
            )));
        }
        default.dockercfg_service = Some(service.clone());
    }
    if let Some(path) = &args.encrypted_dockercfg_path {
        let config =
            crate::decrypt_project::decrypt_docker_config(path, &args.exec.key_path, &project.dir).map_err(fail)?;
        let name = path.display().to_string();
        registry.docker_configs.insert(name.clone(), config);
        default.encrypted_dockercfg_path = Some(name);
    }
    if default == slipway_plan::RegistryAuthSpec::default() {
        return Ok(());
    }
    for step in &mut plan.steps {
        if let slipway_plan::Action::Push(push) = &mut step.action {
            if push.auth == slipway_plan::RegistryAuthSpec::default() {
                push.auth = default.clone();
            }
        }
    }
    Ok(())
}

//! What the commands share: loading the project with readable diagnostics, the run
//! context, the engine connection, output settings.

pub mod cache;
pub mod crypt;
pub mod gc;
pub mod history;
pub mod load;
pub mod run;
pub mod serve;
pub mod steps;
pub mod trigger;
pub mod validate;
pub mod warm;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use std::process::ExitCode;
use std::sync::Arc;

use slipway_config::{load, Diagnostics, LoadOptions, Project};
use slipway_docker::DockerRuntime;
use slipway_engine::labels::{HOST, PID};
use slipway_engine::registry::DockerConfig;
use slipway_engine::runtime::Labels;
use slipway_engine::{run, CacheSettings, EngineOptions, EventSink, RegistrySettings, RunOutcome};
use slipway_plan::{Plan, RunContext};
use tokio_util::sync::CancellationToken;

use crate::ci_vars::ci_info;
use crate::cli::{ExecArgs, ProjectArgs};
use crate::decrypt_project::decrypt_project;
use crate::report::{spawn_reporters, Reporter};
use crate::run_id::new_run_id;
use crate::signals::{cancel_after, cancel_on_signals};

/// Exit status for failed steps, invalid files, and errors slipway reports.
pub const EXIT_FAILURE: u8 = 1;
/// Colour on a terminal, or wherever FORCE_COLOR / CLICOLOR_FORCE ask for it; never with
/// NO_COLOR set. See [`color_override`].
pub fn use_color() -> bool {
    color_override().unwrap_or_else(|| std::io::stdout().is_terminal())
}

/// Colour as the environment decides it, whatever the output is: `Some(false)` with
/// NO_COLOR (https://no-color.org), which wins; `Some(true)` with FORCE_COLOR or
/// CLICOLOR_FORCE (not empty, not `0`), for piped output a CI log viewer shows in colour;
/// `None` leaves it to whether the output is a terminal.
pub fn color_override() -> Option<bool> {
    color_override_from(|name| std::env::var_os(name))
}

fn color_override_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<bool> {
    let forced = |name| var(name).is_some_and(|v| !v.is_empty() && v != "0");
    if var("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        Some(false)
    } else if forced("FORCE_COLOR") || forced("CLICOLOR_FORCE") {
        Some(true)
    } else {
        None
    }
}

pub fn print_diagnostics(diags: &Diagnostics, color: bool) {
    for d in diags.iter() {
        errln!("{}", d.render(color));
    }
}

pub fn error(message: impl std::fmt::Display) {
    let style = console::Style::new().red().bold().force_styling(use_color());
    errln!("{} {message}", style.apply_to("error:"));
}

/// Print the error; the exit status for it.
pub fn fail(message: impl std::fmt::Display) -> ExitCode {
    error(message);
    ExitCode::from(EXIT_FAILURE)
}

/// What `steps` and `run` need before they start: the loaded project, the run context,
/// the health timeout. Problems are printed; `Err` is the exit status.
pub struct Prepared {
    pub project: Project,
    pub ctx: RunContext,
    pub health_timeout: Duration,
    pub registry: RegistrySettings,
    pub cache: CacheSettings,
    /// Values masked in all output.
    pub secrets: Vec<String>,
    key_path: PathBuf,
}

pub fn prepare(exec: &ExecArgs, with_steps: bool, tag: Option<String>) -> Result<Prepared, ExitCode> {
    let project = load_project(&exec.project, with_steps).ok_or(ExitCode::from(EXIT_FAILURE))?;
    let health_timeout = parse_health_timeout(&exec.health_timeout).map_err(fail)?;
    let mut ctx = run_context(&project, exec, &new_run_id(), tag).map_err(fail)?;
    let secret_env = parse_env_flags(&exec.secret_env).map_err(fail)?;
    let mut secrets: Vec<String> = secret_env.iter().map(|(_, v)| v.clone()).collect();
    ctx.overrides.extend(secret_env);
    let default_config = read_user_docker_config();
    if let Some(config) = &default_config {
        secrets.extend(config.secrets());
    }
    let registry = RegistrySettings { docker_configs: HashMap::new(), default_config };
    let branch = ctx.ci_vars.iter().find(|(k, _)| k == "CI_BRANCH").map(|(_, v)| v.clone()).unwrap_or_default();
    let cache = CacheSettings { branch, registry: None };
    Ok(Prepared { project, ctx, health_timeout, registry, cache, secrets, key_path: exec.key_path.clone() })
}

impl Prepared {
    /// The plan `build` makes, with the secrets of what its running steps use decrypted
    /// into it. The first plan only tells what runs; the second carries the secrets.
    pub fn plan_with_secrets(
        &mut self,
        build: impl Fn(&Project, &RunContext) -> Result<Plan, Diagnostics>,
    ) -> Result<Plan, ExitCode> {
        let in_use = or_exit(build(&self.project, &self.ctx))?.in_use();
        let decrypted = decrypt_project(&self.project, &self.key_path, &in_use).map_err(|errors| {
            for e in &errors {
                error(e);
            }
            ExitCode::from(EXIT_FAILURE)
        })?;
        self.secrets.extend(decrypted.secrets);
        self.ctx.decrypted_env = decrypted.env;
        self.ctx.decrypted_build_args = decrypted.build_args;
        self.registry.docker_configs.extend(decrypted.docker_configs);
        or_exit(build(&self.project, &self.ctx))
    }
}

/// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, for registries the pipeline
/// gives no credentials for (as `docker` itself would use).
fn read_user_docker_config() -> Option<DockerConfig> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".docker")))?;
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    match DockerConfig::parse(&text) {
        Ok(config) => Some(config),
        Err(e) => {
            error(format!("ignoring {}: {e}", dir.join("config.json").display()));
            None
        }
    }
}

/// The value (a plan, split inputs), or its problems printed.
pub fn or_exit<T>(result: Result<T, Diagnostics>) -> Result<T, ExitCode> {
    result.map_err(|diags| {
        print_diagnostics(&diags, use_color());
        ExitCode::from(EXIT_FAILURE)
    })
}

/// Run a plan on the engine with these reporters, cancelling on Ctrl-C/SIGTERM and once
/// the run has taken `timeout`. Returns the outcome and the reporters' errors.
pub async fn execute(
    plan: Plan,
    runtime: DockerRuntime,
    options: EngineOptions,
    reporters: Vec<Box<dyn Reporter>>,
    timeout: Option<Duration>,
) -> (RunOutcome, Vec<String>) {
    let (sink, events) = EventSink::channel();
    let reporting = spawn_reporters(events, reporters);
    let cancel = CancellationToken::new();
    cancel_on_signals(cancel.clone(), false, options.steps_finished.clone());
    if let Some(limit) = timeout {
        cancel_after(cancel.clone(), limit, options.steps_finished.clone());
    }
    let options = EngineOptions { extra_labels: process_labels(), ..options };
    let outcome = run(Arc::new(plan), Arc::new(runtime), options, sink.clone(), cancel).await;
    drop(sink);
    let report_errors = reporting.await.unwrap_or_default();
    for e in &report_errors {
        error(e);
    }
    (outcome, report_errors)
}

/// The engine, or why it cannot be reached printed.
pub async fn connect() -> Result<DockerRuntime, ExitCode> {
    DockerRuntime::connect().await.map_err(|e| fail(e.message))
}

pub fn host_env() -> HashMap<String, String> {
    std::env::vars().collect()
}

/// Load the project; print warnings, or every error and return `None`.
pub fn load_project(args: &ProjectArgs, with_steps: bool) -> Option<Project> {
    load_project_showing(args, with_steps, false)
}

/// [`load_project`]; `snippets`: warnings with their source lines, as `validate` shows
/// them. Other commands say each in one line, so a file with many ignored keys does not
/// bury the run's own output.
pub fn load_project_showing(args: &ProjectArgs, with_steps: bool, snippets: bool) -> Option<Project> {
    let options = LoadOptions {
        dir: args.dir.clone(),
        services_path: args.services_path.clone(),
        steps_path: args.steps_path.clone(),
        with_steps,
        variables: host_env(),
    };
    let color = use_color();
    match load(&options) {
        Ok((project, warnings)) => {
            if snippets || warnings.is_empty() {
                print_diagnostics(&warnings, color);
            } else {
                let style = console::Style::new().yellow().force_styling(color);
                for warning in warnings.iter() {
                    errln!("{}", style.apply_to(warning.short()));
                }
                errln!("{}", style.apply_to("(`slipway validate` shows each warning with its lines and what to do)"));
            }
            Some(project)
        }
        Err(diags) => {
            print_diagnostics(&diags, color);
            let n = diags.errors().count();
            error(format!("{n} problem{} in the pipeline files; nothing was run", if n == 1 { "" } else { "s" }));
            None
        }
    }
}

/// `-e KEY=VAL`, or `-e KEY` to pass KEY from slipway's own environment.
pub fn parse_env_flags(flags: &[String]) -> Result<Vec<(String, String)>, String> {
    flags
        .iter()
        .filter_map(|flag| match flag.split_once('=') {
            Some(("", _)) => Some(Err(format!("-e `{flag}` has no variable name; write -e KEY=VALUE"))),
            Some((k, v)) => Some(Ok((k.to_string(), v.to_string()))),
            None => std::env::var(flag).ok().map(|v| Ok((flag.clone(), v))),
        })
        .collect()
}

fn parse_health_timeout(text: &str) -> Result<Duration, String> {
    slipway_config::duration::parse_duration(text).map_err(|e| format!("--health-timeout: {e}"))
}

/// The run context for a project: CI variables from git and flags, `-e` overrides.
fn run_context(project: &Project, exec: &ExecArgs, run_id: &str, tag: Option<String>) -> Result<RunContext, String> {
    let ci = ci_info(&project.dir, &exec.ci, run_id, &project.name, chrono::Utc::now());
    Ok(RunContext {
        run_id: run_id.to_string(),
        // Locally only an explicit --tag or --ci-branch selects tagged steps (Jet's rule).
        tag: tag.or_else(|| exec.ci.ci_branch.clone()),
        ci_vars: ci.vars,
        overrides: parse_env_flags(&exec.env)?,
        host_env: host_env(),
        decrypted_env: HashMap::new(),
        decrypted_build_args: HashMap::new(),
        template_vars: ci.template,
        push: false,
        approve: false,
        split_inputs: HashMap::new(),
    })
}

/// Labels that let `gc` tell a live run from a dead one.
pub fn process_labels() -> Labels {
    let mut labels = Labels::new();
    labels.insert(PID.into(), std::process::id().to_string());
    labels.insert(HOST.into(), this_host());
    labels
}

pub fn this_host() -> String {
    hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn override_with(vars: &[(&str, &str)]) -> Option<bool> {
        color_override_from(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))
    }

    #[test]
    fn force_color_and_clicolor_force_force_colour_and_no_color_wins() {
        assert_eq!(override_with(&[]), None);
        assert_eq!(override_with(&[("FORCE_COLOR", "1")]), Some(true));
        assert_eq!(override_with(&[("FORCE_COLOR", "3")]), Some(true));
        assert_eq!(override_with(&[("CLICOLOR_FORCE", "1")]), Some(true));
        // Empty or `0` forces nothing.
        assert_eq!(override_with(&[("FORCE_COLOR", ""), ("CLICOLOR_FORCE", "0")]), None);
        assert_eq!(override_with(&[("FORCE_COLOR", "0")]), None);
        assert_eq!(override_with(&[("NO_COLOR", "1"), ("FORCE_COLOR", "1"), ("CLICOLOR_FORCE", "1")]), Some(false));
        // An empty NO_COLOR is not set (https://no-color.org).
        assert_eq!(override_with(&[("NO_COLOR", ""), ("FORCE_COLOR", "1")]), Some(true));
        assert_eq!(override_with(&[("NO_COLOR", "")]), None);
    }
}

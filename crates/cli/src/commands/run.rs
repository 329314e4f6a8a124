//! `slipway run SERVICE [CMD…]`: one command in a fresh environment of a service, with
//! stdin (and a TTY, in a terminal) attached, cleaned up like a step.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;

use slipway_engine::{EngineOptions, Interactive};
use slipway_plan::build_run_plan;

use super::{connect, execute, fail, prepare, use_color, EXIT_FAILURE};
use crate::cli::RunArgs;
use crate::report::{Reporter, TerminalOptions, TerminalReporter};

/// Puts the terminal back the way it was, however the run ends.
struct RawModeGuard;

impl Drop for RawModeGuard {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// The terminal's size after every SIGWINCH.
fn follow_terminal_size() -> tokio::sync::watch::Receiver<(u16, u16)> {
    let (tx, rx) = tokio::sync::watch::channel(crossterm::terminal::size().unwrap_or((80, 24)));
    tokio::spawn(async move {
        let Ok(mut winch) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()) else {
            return;
        };
        while winch.recv().await.is_some() {
            if let Ok(size) = crossterm::terminal::size() {
                let _ = tx.send(size);
            }
        }
    });
    rx
}

pub async fn run_command(args: RunArgs) -> ExitCode {
    match run_one(args).await {
        Ok(code) | Err(code) => code,
    }
}

async fn run_one(args: RunArgs) -> Result<ExitCode, ExitCode> {
    let exec = &args.exec;
    let mut prepared = prepare(exec, false, None)?;
    let services = &prepared.project.services;
    if !services.contains_key(&args.service) {
        let known: Vec<&str> = services.keys().map(String::as_str).collect();
        return Err(fail(format!(
            "no service `{}` in {}; services: {}",
            args.service,
            prepared.project.files.services.display(),
            known.join(", ")
        )));
    }
    let command = (!args.command.is_empty()).then(|| args.command.clone());
    let plan =
        prepared.plan_with_secrets(|project, ctx| build_run_plan(project, ctx, &args.service, command.clone()))?;
    let runtime = connect().await?;

    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal() && !exec.no_tty;
    let size = crossterm::terminal::size().ok();
    // Raw mode only once the command starts (`before_start`): until then Ctrl-C is the
    // terminal's SIGINT, which cancels the build or the wait for dependencies.
    let raw_mode = tty.then_some(RawModeGuard);
    let enter_raw_mode: Box<dyn FnOnce() + Send> = Box::new(move || {
        if tty {
            let _ = crossterm::terminal::enable_raw_mode();
        }
    });
    let interactive = Interactive {
        tty,
        size,
        stdin: Mutex::new(Some(Box::new(tokio::io::stdin()))),
        resized: Mutex::new(tty.then(follow_terminal_size)),
        before_start: Mutex::new(Some(enter_raw_mode)),
    };
    let reporters: Vec<Box<dyn Reporter>> = vec![Box::new(TerminalReporter::new(TerminalOptions {
        live: false,
        color: use_color(),
        debug: exec.debug,
        raw: true,
    }))];
    let options = EngineOptions {
        keep: exec.no_remove,
        keep_images: exec.no_remove,
        health_timeout: prepared.health_timeout,
        interactive: Some(interactive),
        registry: prepared.registry,
        cache: prepared.cache,
        secrets: prepared.secrets,
        ..EngineOptions::default()
    };
    // Once the command runs in a TTY, Ctrl-C goes to its process, as with `docker run -it`.
    let (outcome, _) = execute(plan, runtime, options, reporters, None).await;
    drop(raw_mode);
    if outcome.cancelled {
        return Ok(ExitCode::from(crate::signals::cancelled_exit_code()));
    }
    Ok(match outcome.exit_codes.first().copied().flatten() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(EXIT_FAILURE)),
        None => ExitCode::from(EXIT_FAILURE),
    })
}

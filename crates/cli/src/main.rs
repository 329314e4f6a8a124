//! The `slipway` binary: parses the command line and hands over to the libraries.

#[macro_use]
mod output;

mod ci_vars;
mod cli;
mod commands;
mod decrypt_project;
mod report;
mod run_id;
mod signals;
mod split_inputs;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// `--debug` (or SLIPWAY_LOG=debug, any tracing filter) logs every engine call with
/// its duration to stderr.
fn init_debug_log(cli: &Cli) {
    let debug = match &cli.command {
        Command::Steps(args) => args.exec.debug,
        Command::Run(args) => args.exec.debug,
        Command::Load(args) => args.exec.debug,
        Command::Warm(args) => args.exec.debug,
        // The server logs what it does (builds queued, webhooks rejected) by default.
        Command::Serve(_) => true,
        _ => false,
    };
    let filter = match std::env::var("SLIPWAY_LOG") {
        Ok(filter) => filter,
        Err(_) if matches!(cli.command, Command::Serve(_)) => "slipway_server=info".to_string(),
        Err(_) if debug => "slipway=debug".to_string(),
        Err(_) => return,
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        // Its own report of a failed write goes to stderr too, and panics when that is a
        // closed pipe: the run would stop before its clean-up.
        .log_internal_errors(false)
        .with_ansi(commands::color_override().unwrap_or_else(|| std::io::IsTerminal::is_terminal(&std::io::stderr())))
        .with_target(false)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::from_command_line();
    init_debug_log(&cli);
    // Styles that are not forced either way (progress bars) follow NO_COLOR / FORCE_COLOR too.
    if let Some(color) = commands::color_override() {
        console::set_colors_enabled(color);
        console::set_colors_enabled_stderr(color);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            commands::error(format!("cannot start the async runtime: {e}"));
            return ExitCode::from(commands::EXIT_FAILURE);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Steps(args) => commands::steps::steps(args).await,
            Command::Run(args) => commands::run::run_command(args).await,
            Command::Validate(args) => commands::validate::validate(&args),
            Command::Gc(args) => commands::gc::gc(&args).await,
            Command::Encrypt(args) => commands::crypt::encrypt_command(&args),
            Command::Decrypt(args) => commands::crypt::decrypt_command(&args),
            Command::Keygen(args) => commands::crypt::keygen_command(&args),
            Command::Load(args) => commands::load::load_command(args).await,
            Command::Warm(args) => commands::warm::warm_command(args).await,
            Command::Cache(command) => commands::cache::cache_command(command).await,
            Command::History(args) => commands::history::history(&args),
            Command::Show(args) => commands::history::show(&args),
            Command::Flaky(args) => commands::history::flaky(&args),
            Command::Split(args) => commands::history::split(&args),
            Command::Serve(args) => commands::serve::serve(args).await,
            Command::Trigger(args) => commands::trigger::trigger(&args),
            Command::Token(command) => commands::serve::token(command),
            Command::Version => {
                outln!("slipway {}", env!("CARGO_PKG_VERSION"));
                ExitCode::SUCCESS
            }
        }
    });
    // Don't wait for blocked stdin readers (`slipway run`) to finish.
    runtime.shutdown_background();
    code
}

//! `slipway serve` and `slipway token`: the CI server and its API tokens.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use slipway_server::auth::Role;
use slipway_server::db::Db;
use slipway_server::{Overrides, ServerConfig};

use super::fail;
use crate::cli::{ServeArgs, ServerConfigArgs, TokenCommand};

const DEFAULT_CONFIG: &str = "slipway-server.toml";

fn config_file(args: &ServerConfigArgs) -> Option<PathBuf> {
    args.config.clone().or_else(|| Path::new(DEFAULT_CONFIG).exists().then(|| PathBuf::from(DEFAULT_CONFIG)))
}

fn load(args: &ServerConfigArgs, overrides: Overrides) -> Result<ServerConfig, ExitCode> {
    let overrides = Overrides { data_dir: args.data_dir.clone(), ..overrides };
    ServerConfig::load(config_file(args).as_deref(), &overrides).map_err(fail)
}

pub async fn serve(args: ServeArgs) -> ExitCode {
    let overrides = Overrides {
        listen: args.listen,
        concurrency: args.concurrency,
        public_read: args.public_read.then_some(true),
        projects: args.projects.clone(),
        data_dir: None,
    };
    let config = match load(&args.config, overrides) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if config.projects.is_empty() {
        errln!(
            "slipway serve: no projects configured yet (add [[project]] to {DEFAULT_CONFIG} or --project NAME=GIT_URL)"
        );
    }
    let shutdown = async {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        errln!(
            "slipway serve: stopping; running builds clean up (up to {}s) and are queued again at the next start \
             (press Ctrl-C again to exit at once)",
            slipway_server::shutdown::BUILDS_CLEAN_UP_TIMEOUT.as_secs()
        );
        // The signal handlers stay installed: without this, a second Ctrl-C would do nothing.
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            errln!("slipway serve: exiting without waiting for the builds; the next start removes what they leave");
            std::process::exit(i32::from(super::EXIT_FAILURE));
        });
    };
    match slipway_server::serve(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

pub fn token(command: TokenCommand) -> ExitCode {
    let (config_args, action) = match &command {
        TokenCommand::Create { config, .. } | TokenCommand::List { config } | TokenCommand::Revoke { config, .. } => {
            (config, &command)
        }
    };
    let config = match load(config_args, Overrides::default()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let db = match Db::open(&config.data_dir) {
        Ok(db) => db,
        Err(e) => return fail(e),
    };
    match action {
        TokenCommand::Create { name, role, .. } => {
            let role = Role::parse(role).unwrap_or(Role::Viewer);
            match db.create_token(name, role) {
                Ok(token) => {
                    outln!("{token}");
                    errln!("token `{name}` ({}) created; it is shown only this once", role.as_str());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("cannot create token `{name}` (is the name taken? `slipway token list`): {e}")),
            }
        }
        TokenCommand::List { .. } => match db.tokens() {
            Ok(tokens) => {
                outln!("{:<24} {:<7} {:<20} LAST USED", "NAME", "ROLE", "CREATED");
                for t in tokens {
                    let at = |ms: i64| {
                        chrono::DateTime::from_timestamp_millis(ms)
                            .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M").to_string())
                    };
                    outln!(
                        "{:<24} {:<7} {:<20} {}",
                        t.name,
                        t.role.as_str(),
                        at(t.created_at_ms),
                        t.last_used_ms.map_or_else(|| "never".to_string(), at)
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        TokenCommand::Revoke { name, .. } => match db.revoke_token(name) {
            Ok(true) => {
                errln!("token `{name}` revoked");
                ExitCode::SUCCESS
            }
            Ok(false) => fail(format!("no token named `{name}` (`slipway token list` shows them)")),
            Err(e) => fail(e),
        },
    }
}

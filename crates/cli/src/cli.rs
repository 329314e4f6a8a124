//! Command-line interface: Jet's command and flag names, plus slipway's own.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "slipway",
    version,
    about = "Run Jet/Codeship Pro and compose pipelines in isolated containers on a Docker Engine"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The command line; on a mistake, clap's message and exit.
    pub fn from_command_line() -> Self {
        Self::try_parse_with_env(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// `args` read with the environment's values for the flags that have one. A variable
    /// set but empty counts as unset, as an empty DOCKER_HOST does (and does for the docker
    /// CLI): clap would read `SLIPWAY_STATE_DIR=` as an empty `--state-dir` and blame a flag
    /// nobody passed.
    pub fn try_parse_with_env<T: Into<OsString> + Clone>(
        args: impl IntoIterator<Item = T>,
    ) -> Result<Self, clap::Error> {
        let mut command = without_empty_env(Cli::command());
        let mut matches = command.try_get_matches_from_mut(args)?;
        Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut command))
    }
}

/// `command` and its subcommands, with no environment value for flags whose variable is empty.
fn without_empty_env(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| {
            let empty = arg.get_env().and_then(std::env::var_os).is_some_and(|value| value.is_empty());
            if empty {
                arg.env(None::<&str>)
            } else {
                arg
            }
        })
        .mut_subcommands(without_empty_env)
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the steps file: every step in a fresh environment, serial and parallel.
    Steps(StepsArgs),
    /// Run one command in a fresh environment of SERVICE (its dependencies started first).
    Run(RunArgs),
    /// Check the services and steps files and report every problem.
    Validate(ProjectArgs),
    /// Remove what slipway runs whose process is gone left behind: containers, networks,
    /// volumes, the images they built, untagged images of slipway builds, and sockets of
    /// killed warm pools (alias: cleanup).
    #[command(alias = "cleanup")]
    Gc(GcArgs),
    /// Encrypt a file (an env file, a docker config) with the project's key.
    Encrypt(EncryptArgs),
    /// Decrypt a file made by `slipway encrypt` or Jet's `jet encrypt`.
    Decrypt(DecryptArgs),
    /// Write a new random key file (mode 0600).
    Keygen(KeygenArgs),
    /// Build or pull a service's image and leave it tagged on the engine.
    Load(LoadArgs),
    /// Keep environments of services started, so steps start in them at once (until Ctrl-C).
    Warm(WarmArgs),
    /// List or remove the images `cached: true` services keep between runs.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// List the runs in the history, newest first.
    History(HistoryArgs),
    /// Show one run of the history: its steps, durations and failing tests.
    Show(ShowArgs),
    /// List tests that both passed and failed on the same commit.
    Flaky(HistoryArgs),
    /// Print how test files would be split into shards, using the recorded timings.
    Split(SplitArgs),
    /// Run the CI server: webhooks, a durable build queue, a live dashboard and an API.
    Serve(ServeArgs),
    /// Queue a build on a slipway server.
    Trigger(TriggerArgs),
    /// Create, list or revoke the server's API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print slipway's version.
    Version,
}

/// Where the project and its files are.
#[derive(Args, Debug, Clone)]
pub struct ProjectArgs {
    /// Project directory; paths in the files are relative to it.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// Services file (default: slipway-services.yml, codeship-services.yml/.json, docker-compose.yml, compose.yaml).
    #[arg(long, value_name = "FILE")]
    pub services_path: Option<PathBuf>,
    /// Steps file (default: slipway-steps.yml, codeship-steps.yml/.json).
    #[arg(long, value_name = "FILE")]
    pub steps_path: Option<PathBuf>,
}

/// Values for the CI_* variables; unset ones come from git in the project dir.
#[derive(Args, Debug, Clone, Default)]
pub struct CiArgs {
    #[arg(long, value_name = "BRANCH")]
    /// CI_BRANCH; also the build tag for `tag`/`exclude` when --tag is not given.
    pub ci_branch: Option<String>,
    #[arg(long, value_name = "ID")]
    /// CI_BUILD_ID (default: the run id).
    pub ci_build_id: Option<String>,
    #[arg(long, value_name = "TEXT")]
    /// CI_COMMIT_DESCRIPTION (default: git describe --abbrev=1 --tags --always).
    pub ci_commit_description: Option<String>,
    #[arg(long, value_name = "SHA")]
    /// CI_COMMIT_ID (default: the HEAD commit).
    pub ci_commit_id: Option<String>,
    #[arg(long, value_name = "TEXT")]
    /// CI_COMMIT_MESSAGE (default: the HEAD commit's message).
    pub ci_commit_message: Option<String>,
    #[arg(long, value_name = "EMAIL")]
    /// CI_COMMITTER_EMAIL (default: from git).
    pub ci_committer_email: Option<String>,
    #[arg(long, value_name = "NAME")]
    /// CI_COMMITTER_NAME (default: from git).
    pub ci_committer_name: Option<String>,
    #[arg(long, value_name = "NAME")]
    /// CI_COMMITTER_USERNAME (default: the committer email's local part).
    pub ci_committer_username: Option<String>,
    #[arg(long, value_name = "ID")]
    /// CI_PROJECT_ID (default: the project name).
    pub ci_project_id: Option<String>,
    #[arg(long, value_name = "NAME")]
    /// CI_REPO_NAME (default: from the origin remote, else the project name).
    pub ci_repo_name: Option<String>,
    #[arg(long, value_name = "NUMBER")]
    /// CI_PR_NUMBER; also sets CI_PULL_REQUEST=true.
    pub ci_pr_number: Option<String>,
}

/// Flags shared by `steps` and `run`.
#[derive(Args, Debug, Clone)]
pub struct ExecArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub ci: CiArgs,
    /// Set an environment variable in every container (wins over the files). Repeatable.
    #[arg(short = 'e', long = "env", value_name = "KEY=VAL", value_parser = env_flag)]
    pub env: Vec<String>,
    /// Like -e, and the value is a secret: `***` wherever it would be shown. Repeatable.
    #[arg(long = "secret-env", value_name = "KEY=VAL")]
    pub secret_env: Vec<String>,
    /// Keep containers, networks and volumes after the run, to inspect them.
    #[arg(long)]
    pub no_remove: bool,
    /// How long a dependency may take to become healthy (e.g. 90s, 10m).
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    pub health_timeout: String,
    /// Key file for encrypted files (Jet's codeship.aes); SLIPWAY_AES_KEY wins over it.
    #[arg(long, default_value = "codeship.aes", value_name = "FILE")]
    pub key_path: PathBuf,
    /// Show full image build output and engine details.
    #[arg(long)]
    pub debug: bool,
    /// Plain output: no live progress bars (also when output is not a terminal).
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
    /// Where the run history lives (default: `.slipway` in the project dir).
    #[arg(long, env = "SLIPWAY_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct StepsArgs {
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Build tag (branch or git tag) that `tag`/`exclude` are matched against.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Run at most N steps at once (N ≥ 1; default: no limit, as Jet).
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Cancel the other steps of a parallel group as soon as one fails.
    #[arg(long)]
    pub fail_fast: bool,
    /// Run push steps.
    #[arg(long)]
    pub push: bool,
    /// Give every step an environment of its own, even where `slipway warm` keeps one.
    #[arg(long)]
    pub no_warm: bool,
    /// Keep the images built for the run (by default those neither cached nor pushed go).
    #[arg(long)]
    pub keep_images: bool,
    /// Registry for `cached: true` images, so a machine without them starts warm.
    #[arg(long, value_name = "REGISTRY")]
    pub cache_registry: Option<String>,
    /// Run the steps behind `type: manual` approval gates.
    #[arg(long)]
    pub approve: bool,
    /// Write the steps as JUnit test cases to PATH.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Write every event of the run as JSON lines to PATH.
    #[arg(long, value_name = "PATH")]
    pub events: Option<PathBuf>,
    /// Credentials service for push steps that name none (Jet flag).
    #[arg(long, value_name = "SERVICE")]
    pub dockercfg_service: Option<String>,
    /// Encrypted docker config for push steps that name none (Jet flag).
    #[arg(long, value_name = "FILE")]
    pub encrypted_dockercfg_path: Option<PathBuf>,
    /// Accepted for Jet: slipway always uses a local image when present and pulls otherwise.
    #[arg(long)]
    pub pull_if_present: bool,
    /// Cancel the run once it has taken DURATION (e.g. 30m, 1h): its steps are stopped,
    /// what it created is removed, and it exits 124, as `timeout(1)` would.
    #[arg(long, env = "SLIPWAY_TIMEOUT", value_name = "DURATION", value_parser = run_timeout)]
    pub timeout: Option<std::time::Duration>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub exec: ExecArgs,
    /// The service to run.
    pub service: String,
    /// Command and arguments (default: the service's command).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct GcArgs {
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove what runs on other hosts left, or runs that still seem alive.
    #[arg(long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct KeyArgs {
    /// Key file (Jet's codeship.aes); SLIPWAY_AES_KEY wins over it.
    #[arg(long, default_value = "codeship.aes", value_name = "FILE")]
    pub key_path: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// slipway's authenticated format (AES-256-GCM).
    Slipway,
    /// Jet's v1 format (AES-256-CFB, no authentication), for Jet to read.
    JetV1,
}

#[derive(Args, Debug)]
pub struct EncryptArgs {
    /// File to encrypt (`-` for standard input).
    pub input: PathBuf,
    /// Where to write the encrypted file (`-` for standard output).
    pub output: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
    #[arg(long, value_enum, default_value = "slipway")]
    pub format: FormatArg,
}

#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// Encrypted file (`-` for standard input).
    pub input: PathBuf,
    /// Where to write the plain text (`-` for standard output); created with mode 0600.
    pub output: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
}

#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Where to write the key; an existing file is never overwritten.
    #[arg(default_value = "codeship.aes")]
    pub path: PathBuf,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    #[command(flatten)]
    pub exec: ExecArgs,
    /// The service whose image to build or pull.
    pub service: String,
    /// Registry holding `cached: true` images (see `steps --cache-registry`).
    #[arg(long, value_name = "REGISTRY")]
    pub cache_registry: Option<String>,
}

#[derive(Args, Debug)]
pub struct WarmArgs {
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Services to keep warm (default: those of the steps that need no other service).
    pub services: Vec<String>,
    /// Environments per service (default: one per such step of the service, at most 8).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub size: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// List cache images (of every project, or of the project in --dir with --project-only).
    Ls(CacheArgs),
    /// Remove cache images of the project in --dir: all, or one service's, or one branch's.
    Rm(CacheRmArgs),
}

#[derive(Args, Debug)]
pub struct CacheArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Only this project's cache images.
    #[arg(long)]
    pub project_only: bool,
}

#[derive(Args, Debug)]
pub struct CacheRmArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Only this service's cache.
    pub service: Option<String>,
    /// Only this branch's cache.
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
}

/// Where the history is.
#[derive(Args, Debug, Clone)]
pub struct StateArgs {
    /// Project directory (its `.slipway` holds the history).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// The history's folder (default: `.slipway` in the project dir).
    #[arg(long, env = "SLIPWAY_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// How many lines at most: runs for `history`, tests for `flaky`.
    #[arg(short = 'n', long, default_value = "20", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub limit: usize,
    /// Only this project's runs (a state dir shared by several projects holds them all;
    /// a project is named after its folder).
    #[arg(long)]
    pub project: Option<String>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Run id, or a unique prefix of it.
    pub run: String,
    /// Also print the log of every step.
    #[arg(long)]
    pub logs: bool,
}

#[derive(Args, Debug)]
pub struct SplitArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Number of shards.
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub shards: usize,
    /// How to divide the files.
    #[arg(long, value_enum, default_value = "timings")]
    pub by: SplitByArg,
    /// Only use timings recorded for steps with this name, and the start lags of its
    /// shards: the plan a run of that step would use.
    #[arg(long, value_name = "NAME")]
    pub step: Option<String>,
    /// With --step: the start lags its shards had in environments `slipway warm` started
    /// (they get going nearly together there), not those of shards that made their own.
    #[arg(long, requires = "step")]
    pub warm: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Test files (relative to the project dir, as the history records them), or quoted
    /// globs such as 'tests/**/test_*.py', expanded there as a step's `split.files` is.
    #[arg(required = true)]
    pub files: Vec<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitByArg {
    Timings,
    Count,
    Name,
}

/// Where the server's settings are.
#[derive(Args, Debug, Clone)]
pub struct ServerConfigArgs {
    /// Server settings file (default: slipway-server.toml when it exists).
    #[arg(long, env = "SLIPWAY_SERVER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Databases, build logs and workspaces (default: `data_dir` of the file, else ./slipway-data).
    #[arg(long, env = "SLIPWAY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ServerConfigArgs,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "SLIPWAY_LISTEN", value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Builds running at once, all projects together (default 2).
    #[arg(long, env = "SLIPWAY_CONCURRENCY", value_name = "N")]
    pub concurrency: Option<usize>,
    /// Show pages and the read API without a token.
    #[arg(long, env = "SLIPWAY_PUBLIC_READ")]
    pub public_read: bool,
    /// A project with default settings: NAME=GIT_URL (repeatable).
    #[arg(long = "project", value_name = "NAME=GIT_URL")]
    pub projects: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TriggerArgs {
    /// The project, as the server's settings name it.
    pub project: String,
    /// The branch to build.
    #[arg(long, value_name = "BRANCH")]
    pub branch: String,
    /// A commit of that branch (default: its tip when the build starts).
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,
    /// The server's URL.
    #[arg(long, env = "SLIPWAY_SERVER", default_value = "http://127.0.0.1:8080", value_name = "URL")]
    pub server: String,
    /// An admin token of the server.
    #[arg(long, env = "SLIPWAY_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: String,
    /// Wait for the build to finish; exit 0 only if it passed.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token and print it (once: only a hash of it is kept).
    Create {
        name: String,
        /// viewer (read pages and API) or admin (also trigger, cancel, re-run).
        #[arg(long, value_parser = ["viewer", "admin"], default_value = "viewer")]
        role: String,
        #[command(flatten)]
        config: ServerConfigArgs,
    },
    /// List the tokens (names and roles, never the tokens).
    List {
        #[command(flatten)]
        config: ServerConfigArgs,
    },
    /// Revoke a token; its browser sessions end too.
    Revoke {
        name: String,
        #[command(flatten)]
        config: ServerConfigArgs,
    },
}

/// `--timeout`: a compose-style duration of more than nothing (a usage error otherwise).
fn run_timeout(text: &str) -> Result<std::time::Duration, String> {
    match slipway_config::duration::parse_duration(text)? {
        duration if duration.is_zero() => Err("a run needs some time: give e.g. 30m or 1h".to_string()),
        duration => Ok(duration),
    }
}

/// `-e KEY=VAL` or `-e KEY`: a variable needs a name (a usage error otherwise).
fn env_flag(flag: &str) -> Result<String, String> {
    if flag.is_empty() || flag.starts_with('=') {
        Err("a variable needs a name: write -e KEY=VALUE (or -e KEY to pass KEY from this environment)".to_string())
    } else {
        Ok(flag.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tests that parse command lines take it: one of them sets the variables flags read.
    static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn counts_of_none_and_nameless_variables_are_usage_errors() {
        let _env = ENV.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for args in [
            &["slipway", "steps", "-e", "=x"][..],
            &["slipway", "split", "--shards", "0", "a"],
            &["slipway", "history", "-n", "0"],
            &["slipway", "warm", "--size", "0", "app"],
            &["slipway", "steps", "--timeout", "0s"],
            &["slipway", "steps", "--timeout", "10 parsecs"],
        ] {
            let error = Cli::try_parse_from(args).expect_err(&format!("{args:?} is refused"));
            assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation, "{args:?}");
        }
        assert!(Cli::try_parse_from(["slipway", "steps", "-e", "KEY=x", "-e", "PATH"]).is_ok());
    }

    /// Every flag backed by a variable, and a command line that reads it.
    const ENV_FLAGS: &[&str] = &[
        "SLIPWAY_STATE_DIR",
        "SLIPWAY_SERVER_CONFIG",
        "SLIPWAY_DATA_DIR",
        "SLIPWAY_LISTEN",
        "SLIPWAY_CONCURRENCY",
        "SLIPWAY_PUBLIC_READ",
        "SLIPWAY_SERVER",
        "SLIPWAY_TOKEN",
        "SLIPWAY_TIMEOUT",
    ];

    #[test]
    fn every_variable_backed_flag_is_listed_here() {
        fn names(command: &clap::Command, into: &mut Vec<String>) {
            into.extend(command.get_arguments().filter_map(|a| a.get_env()).map(|n| n.to_string_lossy().into_owned()));
            command.get_subcommands().for_each(|sub| names(sub, into));
        }
        let mut found = Vec::new();
        names(&Cli::command(), &mut found);
        for name in found {
            assert!(ENV_FLAGS.contains(&name.as_str()), "{name} is not covered by empty_variables_count_as_unset");
        }
    }

    // The only test of this binary that sets these variables; the others that read them
    // wait for it.
    #[test]
    fn empty_variables_count_as_unset() {
        let _env = ENV.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for name in ENV_FLAGS {
            std::env::set_var(name, "");
        }
        let parsed = |args: &[&str]| Cli::try_parse_with_env(std::iter::once("slipway").chain(args.iter().copied()));
        let outcome = std::panic::catch_unwind(|| {
            let Ok(Cli { command: Command::Steps(steps) }) = parsed(&["steps"]) else { panic!("steps") };
            assert_eq!(steps.exec.state_dir, None);
            assert_eq!(steps.timeout, None);
            let Ok(Cli { command: Command::History(history) }) = parsed(&["history"]) else { panic!("history") };
            assert_eq!(history.state.state_dir, None);
            let Ok(Cli { command: Command::Serve(serve) }) = parsed(&["serve"]) else { panic!("serve") };
            assert_eq!(serve.config.config, None);
            assert_eq!(serve.config.data_dir, None);
            assert_eq!(serve.listen, None);
            assert_eq!(serve.concurrency, None);
            assert!(!serve.public_read);
            // An empty token is no token: clap says the flag is missing rather than empty.
            let error = parsed(&["trigger", "app", "--branch", "main"]).unwrap_err();
            assert_eq!(error.kind(), clap::error::ErrorKind::MissingRequiredArgument, "{error}");
            let Ok(Cli { command: Command::Trigger(trigger) }) =
                parsed(&["trigger", "app", "--branch", "main", "--token", "t"])
            else {
                panic!("trigger")
            };
            assert_eq!(trigger.server, "http://127.0.0.1:8080");
            // A value that is not empty still counts.
            std::env::set_var("SLIPWAY_STATE_DIR", "/elsewhere");
            let Ok(Cli { command: Command::History(history) }) = parsed(&["history"]) else { panic!("history") };
            assert_eq!(history.state.state_dir, Some(PathBuf::from("/elsewhere")));
        });
        for name in ENV_FLAGS {
            std::env::remove_var(name);
        }
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

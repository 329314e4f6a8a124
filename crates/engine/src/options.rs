//! How to run: concurrency, failure policy, clean-up, timeouts.

use std::sync::Mutex;
use std::time::Duration;

use std::collections::HashMap;

use tokio::io::AsyncRead;

use crate::registry::DockerConfig;
use crate::runtime::Labels;

pub struct EngineOptions {
    /// Most run steps running at once; `None`: no limit (Jet's behaviour).
    pub jobs: Option<usize>,
    /// Cancel running siblings as soon as one step of a parallel group fails.
    pub fail_fast: bool,
    /// Keep containers, networks and volumes (`--no-remove`).
    pub keep: bool,
    /// How long a dependency may take to become healthy.
    pub health_timeout: Duration,
    /// How often readiness is checked while waiting.
    pub health_poll: Duration,
    /// Labels put on everything, beside the run/project/step ones (pid, host).
    pub extra_labels: Labels,
    /// `slipway run` in a terminal: attach stdin and a TTY to the step's container.
    pub interactive: Option<Interactive>,
    pub registry: RegistrySettings,
    pub cache: CacheSettings,
    /// Keep the images built for this run (`--keep-images`).
    pub keep_images: bool,
    /// Values masked as `***` in all output (decrypted values, `--secret-env`).
    pub secrets: Vec<String>,
    /// Whether steps run in environments `slipway warm` keeps, when one fits.
    pub warm: WarmPools,
    /// The project's folder on this host: test cases of a step that is not split are tied
    /// to its files (`tests.test_x.TestY` → `tests/test_x.py`).
    pub project_dir: Option<std::path::PathBuf>,
    /// Cancelled (fired) once the steps are over, before the run removes what it made: a
    /// signal or `--timeout` after that cancels nothing, and the CLI says so.
    pub steps_finished: tokio_util::sync::CancellationToken,
}

/// The `slipway warm` pools a run may lease environments from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WarmPools {
    /// None: every step makes its own environment (`--no-warm`).
    Off,
    /// Those of the project on this host, looked up at the first step that could use one.
    #[default]
    Find,
    /// These sockets, found before the run (empty: there is no pool).
    Known(Vec<std::path::PathBuf>),
}

/// Where registry credentials come from, resolved before the run by the caller.
#[derive(Clone, Debug, Default)]
pub struct RegistrySettings {
    /// Decrypted `encrypted_dockercfg_path` files, by the path the pipeline names.
    pub docker_configs: HashMap<String, DockerConfig>,
    /// The user's own `~/.docker/config.json`, for everything else.
    pub default_config: Option<DockerConfig>,
}

/// `cached: true` services: which branch's cache to keep and start from, and where.
#[derive(Clone, Debug, Default)]
pub struct CacheSettings {
    /// The branch this run builds (its cache tag).
    pub branch: String,
    /// A registry that holds cache images for machines that lack them (`--cache-registry`).
    pub registry: Option<String>,
}

pub struct Interactive {
    pub tty: bool,
    /// Terminal size (columns, rows) at start.
    pub size: Option<(u16, u16)>,
    pub stdin: Mutex<Option<Box<dyn AsyncRead + Send + Unpin>>>,
    /// New terminal sizes (columns, rows) while it runs, e.g. on SIGWINCH.
    pub resized: Mutex<Option<tokio::sync::watch::Receiver<(u16, u16)>>>,
    /// Called once, just before the command's container starts and stdin goes to it:
    /// the CLI puts the terminal into raw mode here, not earlier, so that Ctrl-C while
    /// images build and dependencies start still cancels the run.
    pub before_start: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            jobs: None,
            fail_fast: false,
            keep: false,
            health_timeout: Duration::from_secs(600),
            health_poll: Duration::from_millis(100),
            extra_labels: Labels::new(),
            interactive: None,
            registry: RegistrySettings::default(),
            cache: CacheSettings::default(),
            keep_images: false,
            secrets: Vec::new(),
            warm: WarmPools::Find,
            project_dir: None,
            steps_finished: tokio_util::sync::CancellationToken::new(),
        }
    }
}

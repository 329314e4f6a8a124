//! What the scheduler needs from a container engine. The Docker backend implements it
//! with the Engine API; unit tests implement it with a fake.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use slipway_plan::BuildSpec;

use crate::registry::Credentials;
use tokio::io::AsyncWrite;

pub type Labels = BTreeMap<String, String>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    /// The engine cannot allocate a network address pool right now.
    AddressPoolsExhausted,
    /// The engine does not answer.
    Unavailable,
    /// The object is in use or has other names (HTTP 409), e.g. an image a container runs.
    Conflict,
    /// What was to run in a container is not there (a healthcheck's `curl`).
    CannotRun,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuntimeError {
    pub kind: ErrorKind,
    /// The engine's own message, shown verbatim to the user.
    pub message: String,
}

impl RuntimeError {
    pub fn other(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Other, message: message.into() }
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// What slipway needs to know about an image before running it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    /// The names (`repo:tag`) that mean this image.
    pub tags: Vec<String>,
    /// `VOLUME` paths declared by the image.
    pub volumes: Vec<String>,
    /// The image's `HEALTHCHECK` test, if any (`["NONE"]` counts as none).
    pub healthcheck: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// The image's `WORKDIR`, where relative paths in a container start.
    pub working_dir: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountSource {
    /// Absolute host path.
    Bind(String),
    /// Named volume (slipway created and labelled it).
    Volume(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub source: MountSource,
    pub target: String,
    pub read_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub retries: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=VALUE`
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub extra_hosts: Vec<String>,
    /// Bytes of /dev/shm (the engine's default: 64 MB).
    pub shm_size: Option<u64>,
    /// tmpfs mounts: `/path` or `/path:options`.
    pub tmpfs: Vec<String>,
    /// Kernel capabilities added to and dropped from the engine's defaults.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub labels: Labels,
    /// Network to join and the names this container answers to on it; `None`: no network.
    pub network: Option<(String, Vec<String>)>,
    pub mounts: Vec<Mount>,
    /// Container ids (optionally with `:ro`) to take volumes from.
    pub volumes_from: Vec<String>,
    /// Overrides the image's healthcheck (test `["NONE"]` disables it).
    pub healthcheck: Option<Healthcheck>,
    /// Mount the engine's socket and set DOCKER_HOST.
    pub add_docker: bool,
    /// Allocate a TTY and keep stdin open (`slipway run` in a terminal).
    pub tty: bool,
    pub stdin: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// The container has no healthcheck.
    None,
    Starting,
    Healthy,
    Unhealthy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerState {
    pub running: bool,
    /// Set once the container has exited.
    pub exit_code: Option<i64>,
    pub health: Health,
    /// Engine error for a container that could not run (e.g. OOM killed).
    pub error: Option<String>,
    /// What the engine's last health check printed, when it failed.
    pub health_output: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A piece of a container's output; not necessarily a whole line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputChunk {
    pub stream: Stream,
    pub bytes: Vec<u8>,
}

/// An interactive attachment: the container's raw output and its stdin.
pub struct Attached {
    pub output: BoxStream<'static, Result<OutputChunk>>,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// Things slipway created on the engine, found by label.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// (id, name, labels)
    pub containers: Vec<(String, String, Labels)>,
    pub networks: Vec<(String, String, Labels)>,
    pub volumes: Vec<(String, String, Labels)>,
}

impl Leftovers {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }
}

/// A line of progress while pulling or building an image.
pub type ProgressFn<'a> = &'a (dyn Fn(String) + Send + Sync);

/// How to build: labels for the image, images whose layers may serve as cache, and
/// credentials for private base images.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    pub labels: Labels,
    pub cache_from: Vec<String>,
    pub credentials: Vec<Credentials>,
}

/// A command to run in a running container (`docker exec`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecCommand {
    pub cmd: Vec<String>,
    /// `KEY=VALUE`, added to the container's environment.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
}

/// A container found by its labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    pub labels: Labels,
    pub running: bool,
}

/// A local image, as `slipway cache ls` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageSummary {
    pub id: String,
    /// The image it was committed on (a build's previous layer); empty for none.
    pub parent: String,
    pub tags: Vec<String>,
    pub labels: Labels,
    /// Seconds since the epoch.
    pub created: i64,
    pub size: i64,
}

#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Inspect a local image; `None` if it is not there.
    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>>;
    /// Pull an image, reporting progress lines.
    async fn pull_image(&self, image: &str, credentials: Option<&Credentials>, progress: ProgressFn<'_>) -> Result<()>;
    /// Build an image from a Dockerfile, reporting output lines. The error carries the
    /// builder's message.
    async fn build_image(&self, build: &BuildSpec, options: &BuildOptions, output: ProgressFn<'_>) -> Result<()>;
    /// Give an image another name (`repo:tag`).
    async fn tag_image(&self, source: &str, target: &str) -> Result<()>;
    /// Push `repo:tag`, reporting progress lines; the error is the registry's message.
    async fn push_image(&self, target: &str, credentials: Option<&Credentials>, progress: ProgressFn<'_>)
        -> Result<()>;
    /// Remove an image name (and the image, when no other name holds it).
    async fn remove_image(&self, image: &str) -> Result<()>;
    /// Local images whose repository starts with `prefix`.
    async fn list_images(&self, prefix: &str) -> Result<Vec<ImageSummary>>;
    /// Untagged images that no other image builds on, with the label `key` (any value)
    /// when given: what interrupted or superseded builds left behind.
    async fn list_dangling_images(&self, key: Option<&str>) -> Result<Vec<ImageSummary>>;

    async fn create_network(&self, name: &str, labels: &Labels) -> Result<String>;
    async fn remove_network(&self, id: &str) -> Result<()>;
    async fn create_volume(&self, name: &str, labels: &Labels) -> Result<()>;
    async fn remove_volume(&self, name: &str) -> Result<()>;

    /// Create a container; returns its id.
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String>;
    async fn start_container(&self, id: &str) -> Result<()>;
    async fn container_state(&self, id: &str) -> Result<ContainerState>;
    /// Run a healthcheck test (`CMD …` / `CMD-SHELL …`) in the container once; true if it passed.
    async fn probe(&self, id: &str, test: &[String], timeout: Duration) -> Result<bool>;
    /// Attach to a created container before it starts, as `docker run` does, so no
    /// output is lost however fast it exits; with `stdin`, its stdin too.
    async fn attach(&self, id: &str, stdin: bool) -> Result<Attached>;
    async fn resize_tty(&self, id: &str, width: u16, height: u16) -> Result<()>;
    /// Wait for the container to exit; returns its exit code.
    async fn wait_exit(&self, id: &str) -> Result<i64>;
    /// The last `lines` lines of its output.
    async fn tail_output(&self, id: &str, lines: usize) -> Result<Vec<String>>;
    /// Give a container a new name.
    async fn rename_container(&self, id: &str, name: &str) -> Result<()>;
    /// Containers carrying all of these labels (an empty value matches any value),
    /// running or not.
    async fn containers_labelled(&self, labels: &Labels) -> Result<Vec<ContainerSummary>>;
    /// Kill and remove, with its anonymous volumes.
    async fn remove_container(&self, id: &str) -> Result<()>;
    /// The content of a file in a (stopped or running) container.
    async fn read_file(&self, id: &str, path: &str) -> Result<Vec<u8>>;
    /// A file or folder of a container as a tar archive (entries named from the last
    /// path component of `path`), streamed: a folder may be far larger than what is wanted
    /// of it. An error (such as a missing path) may come as the first item.
    async fn read_archive(&self, id: &str, path: &str) -> Result<BoxStream<'static, Result<bytes::Bytes>>>;
    /// Run a command in a running container; returns its output and an id for [`Runtime::exec_exit_code`].
    async fn exec(&self, id: &str, command: &ExecCommand) -> Result<(BoxStream<'static, Result<OutputChunk>>, String)>;
    /// The exit code of a finished exec.
    async fn exec_exit_code(&self, exec_id: &str) -> Result<i64>;

    /// Everything carrying all of these labels (an empty value matches any value).
    async fn find_labelled(&self, labels: &Labels) -> Result<Leftovers>;
}

//! The execution plan: a tree of serial/parallel groups whose leaves are steps, and the
//! fully resolved container configuration of every service a step needs.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

pub use slipway_config::Condition;

/// Index of a step in [`Plan::steps`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct StepId(pub usize);

#[derive(Clone, Debug)]
pub struct Plan {
    pub project: String,
    pub run_id: String,
    /// The top-level serial group.
    pub root: Node,
    /// Every step of the tree, including skipped ones, in file order.
    pub steps: Vec<PlanStep>,
    /// Container configuration of every service, resolved once for the run.
    pub services: IndexMap<String, ServiceSpec>,
    /// Images built from a Dockerfile, keyed by service name.
    pub builds: IndexMap<String, BuildSpec>,
    /// Services whose containers lend volumes (`volumes_from`): they live for the whole run.
    pub shared_services: Vec<String>,
    /// Work queues of `split: {mode: queue}` steps, shared by their workers.
    pub queues: Vec<QueueSpec>,
}

/// The files of a queue-mode split and the workers that share them.
#[derive(Clone, Debug)]
pub struct QueueSpec {
    /// The step's name, for messages.
    pub name: String,
    /// Each worker's files (a timings split, longest first), with expected durations; a
    /// worker that runs out takes the smallest files left on the busiest other worker.
    pub assignment: Vec<Vec<(String, Duration)>>,
    /// Files with no recorded duration (their estimate is a guess).
    pub unknown: HashSet<String>,
    pub workers: u32,
    /// Extra attempts for a file whose batch failed.
    pub retry: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Serial,
    Parallel,
}

#[derive(Clone, Debug)]
pub enum Node {
    Group { name: Option<String>, mode: Mode, children: Vec<Node> },
    Step(StepId),
}

#[derive(Clone, Debug)]
pub struct PlanStep {
    pub id: StepId,
    /// The name from the file, or the command.
    pub name: String,
    /// Unique label shown before every log line (name, plus `[service]` for copies).
    pub label: String,
    pub action: Action,
    /// Why this step does not run (tag mismatch, push without `--push`, …).
    pub skip: Option<String>,
}

#[derive(Clone, Debug)]
pub enum Action {
    Run(RunAction),
    Push(PushAction),
}

#[derive(Clone, Debug)]
pub struct RunAction {
    pub service: String,
    /// Replaces the image's CMD; `None` keeps the service's or image's command.
    pub command: Option<Vec<String>>,
    /// Commands run after it failed, each in a service of the step's environment.
    pub on_fail: Vec<OnFailAction>,
    /// Containers to start for this step, dependencies first; the last one is `service`.
    pub environment: Vec<Member>,
    /// Variables only the step's own container gets (its shard).
    pub extra_env: Vec<(String, String)>,
    /// Globs of JUnit XML files the command writes, collected after it.
    pub reports: Vec<String>,
    /// Extra attempts when it fails.
    pub retry: u32,
    /// How long an attempt may run before it is stopped and fails.
    pub timeout: Option<Duration>,
    /// `(index, count)`, 1-based, when the step is one shard of a split.
    pub shard: Option<(u32, u32)>,
    /// The test files this shard runs (a queue worker's come in batches).
    pub files: Vec<String>,
    /// Every test file of the split: to tell which shard a report belongs to when
    /// shards share a volume and find each other's reports.
    pub split_files: Vec<String>,
    /// A queue worker: the queue it takes batches from, and the command with `{files}`.
    pub queue: Option<QueueWork>,
    /// What a shard was given and why, for its log: `5 files, ~15.1 s by recorded timings`.
    pub split_note: Option<String>,
}

#[derive(Clone, Debug)]
pub struct QueueWork {
    /// Index in [`Plan::queues`].
    pub queue: usize,
    pub command: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnFailAction {
    pub service: String,
    pub command: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct PushAction {
    pub service: String,
    pub image_name: String,
    pub image_tag: String,
    pub registry: Option<String>,
    /// Credentials, from the step or the nearest group that sets them.
    pub auth: RegistryAuthSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryAuthSpec {
    pub encrypted_dockercfg_path: Option<String>,
    pub dockercfg_service: Option<String>,
}

/// One container of a step's environment.
#[derive(Clone, Debug)]
pub struct Member {
    pub service: String,
    /// Names it is reachable by on the step's network: the service name and link aliases.
    pub aliases: Vec<String>,
    /// Members (indices into the environment) that must be ready before this one starts.
    pub needs: Vec<(usize, Condition)>,
}

/// A service's container configuration with every path, variable and default resolved.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub name: String,
    /// Where the services file names its image (`file:line:column` of `image:`, or of the
    /// service when it only builds), for errors about that image.
    pub image_at: String,
    /// Image to run (for built services: the tag given to the build).
    pub image: String,
    /// Final environment, later entries already applied (no duplicates).
    pub env: Vec<(String, String)>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub extra_hosts: Vec<String>,
    /// Bytes of /dev/shm, when set.
    pub shm_size: Option<u64>,
    /// tmpfs mounts: `/path` or `/path:options`.
    pub tmpfs: Vec<String>,
    /// Kernel capabilities added to and dropped from the engine's defaults.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub volumes: Vec<VolumeSpec>,
    /// Services whose volumes this one mounts, and whether read-only.
    pub volumes_from: Vec<(String, bool)>,
    pub healthcheck: Option<HealthcheckSpec>,
    /// Give it the engine: socket mount and DOCKER_HOST.
    pub add_docker: bool,
    /// Where credentials for pulling (or building FROM) its private images come from.
    pub registry_auth: RegistryAuthSpec,
    /// Keep its built image between runs and build the next one from it.
    pub cached: bool,
    /// The branch whose cache a branch without one starts from.
    pub default_cache_branch: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeSpec {
    /// A fresh volume per container.
    Anonymous { target: String },
    /// Absolute host path.
    Bind { source: PathBuf, target: String, read_only: bool },
    /// A volume shared by the whole run under this name.
    Named { name: String, target: String, read_only: bool },
}

/// A compose healthcheck; unset fields keep the image's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthcheckSpec {
    pub test: Option<Vec<String>>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub retries: Option<u64>,
    pub disable: bool,
}

#[derive(Clone, Debug)]
pub struct BuildSpec {
    pub service: String,
    /// Tag for the built image.
    pub image: String,
    /// Absolute path of the build context.
    pub context: PathBuf,
    /// Dockerfile path relative to the context.
    pub dockerfile: String,
    /// Rendered build args.
    pub args: Vec<(String, String)>,
    pub target: Option<String>,
}

impl Plan {
    pub fn step(&self, id: StepId) -> &PlanStep {
        &self.steps[id.0]
    }

    /// Services any step that will run needs an image for, in first-use order.
    pub fn services_in_use(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for step in self.steps.iter().filter(|s| s.skip.is_none()) {
            if let Action::Run(run) = &step.action {
                for member in &run.environment {
                    for name in std::iter::once(member.service.as_str())
                        .chain(self.services[&member.service].volumes_from.iter().map(|(s, _)| s.as_str()))
                    {
                        if !out.contains(&name) {
                            out.push(name);
                        }
                    }
                }
            }
        }
        out
    }
}

//! An in-memory container engine for scheduler tests. It keeps containers, networks,
//! volumes and images like Docker would (including Docker's refusals: duplicate names,
//! removing a network or volume still in use, creating from a missing image), runs each
//! container's command as a [`Script`], and records every call so tests can check what
//! the engine did and that it removed everything it created.
//!
//! Images are pulled on demand; an image whose name starts with `distroless/` has no
//! `/bin/sh`, so the engine's gate cannot start in it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use slipway_engine::labels::{SERVICE, STEP};
use slipway_engine::registry::Credentials;
use slipway_engine::runtime::{
    Attached, BuildOptions, ContainerSpec, ContainerState, ContainerSummary, ErrorKind, ExecCommand, Health, ImageInfo,
    ImageSummary, Labels, Leftovers, MountSource, OutputChunk, ProgressFn, Result, Runtime, RuntimeError,
};
use slipway_plan::BuildSpec;
use tokio::time::Instant;

use super::process::{Phase, Process};
use super::script::{HealthRule, Script};

/// One call the engine made, in the order it made them. Creations carry the object's
/// `io.slipway.step` (and `io.slipway.service`) label, empty when it has none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    InspectImage(String),
    PullImage(String),
    BuildImage(String),
    CreateNetwork {
        id: String,
        name: String,
        step: String,
    },
    RemoveNetwork(String),
    CreateVolume {
        name: String,
        step: String,
    },
    RemoveVolume(String),
    /// `network` is the id of the network it joins.
    CreateContainer {
        id: String,
        name: String,
        service: String,
        step: String,
        network: Option<String>,
    },
    StartContainer(String),
    RemoveContainer(String),
    TagImage {
        source: String,
        target: String,
    },
    PushImage(String),
    RemoveImage(String),
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub at: Instant,
    pub call: Call,
}

struct Container {
    name: String,
    image: String,
    labels: Labels,
    network: Option<String>,
    volumes: Vec<String>,
    script: Script,
    /// Its entrypoint is the engine's `sh` gate, holding `script` until stdin says go.
    gated: bool,
    image_has_shell: bool,
    health: HealthRule,
    process: Arc<Process>,
}

struct Network {
    name: String,
    labels: Labels,
}

#[derive(Default)]
struct State {
    next_id: usize,
    pull_delay: Duration,
    /// How long creating a network takes (an engine under load).
    network_delay: Duration,
    local_images: HashSet<String>,
    image_volumes: HashMap<String, Vec<String>>,
    containers: BTreeMap<String, Container>,
    /// Every container's process, kept after removal so tests can still ask about it.
    processes: BTreeMap<String, Arc<Process>>,
    networks: BTreeMap<String, Network>,
    /// Volume name → labels.
    volumes: BTreeMap<String, Labels>,
    calls: Vec<Recorded>,
    peak_running: usize,
}

impl State {
    fn record(&mut self, call: Call) {
        self.calls.push(Recorded { at: Instant::now(), call });
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    fn container(&self, id: &str) -> Result<&Container> {
        self.containers.get(id).ok_or_else(|| not_found(format!("No such container: {id}")))
    }
}

#[derive(Default)]
pub struct FakeRuntime {
    // Shared with tasks that finish a creation after its caller went away, as an engine
    // carries out a request whose client hung up.
    state: Arc<Mutex<State>>,
}

impl FakeRuntime {
    /// An engine with no images (every image is pulled) and pulls taking 20 ms, long
    /// enough for steps started together to overlap while pulling.
    pub fn new() -> Arc<Self> {
        let fake = Self::default();
        fake.lock().pull_delay = Duration::from_millis(20);
        Arc::new(fake)
    }

    pub fn set_pull_delay(&self, delay: Duration) {
        self.lock().pull_delay = delay;
    }

    pub fn set_network_delay(&self, delay: Duration) {
        self.lock().network_delay = delay;
    }

    /// Declare `VOLUME` paths for an image, as its Dockerfile would.
    pub fn set_image_volumes(&self, image: &str, paths: &[&str]) {
        self.lock().image_volumes.insert(image.to_string(), paths.iter().map(|p| p.to_string()).collect());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.iter().map(|r| r.call.clone()).collect()
    }

    pub fn count_calls(&self, matches: impl Fn(&Call) -> bool) -> usize {
        self.lock().calls.iter().filter(|r| matches(&r.call)).count()
    }

    /// When each container of `service` was started, in order.
    pub fn start_times(&self, service: &str) -> Vec<Instant> {
        let state = self.lock();
        let ids = ids_of(&state, service);
        state
            .calls
            .iter()
            .filter_map(|r| match &r.call {
                Call::StartContainer(id) if ids.contains(id) => Some(r.at),
                _ => None,
            })
            .collect()
    }

    /// When the command of each container of `service` began, for those where it did:
    /// at the start, or for a gated container when its gate opened.
    pub fn command_start_times(&self, service: &str) -> Vec<Instant> {
        let state = self.lock();
        ids_of(&state, service).iter().filter_map(|id| state.processes[id].state().command_started).collect()
    }

    /// Step labels of every container created, in order.
    pub fn container_steps(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::CreateContainer { step, .. } => Some(step),
                _ => None,
            })
            .collect()
    }

    /// Most containers that were running at the same time.
    pub fn peak_running(&self) -> usize {
        self.lock().peak_running
    }

    /// How many containers, networks and volumes were created in all.
    pub fn created(&self) -> (usize, usize, usize) {
        let calls = self.calls();
        let count = |f: fn(&Call) -> bool| calls.iter().filter(|c| f(c)).count();
        (
            count(|c| matches!(c, Call::CreateContainer { .. })),
            count(|c| matches!(c, Call::CreateNetwork { .. })),
            count(|c| matches!(c, Call::CreateVolume { .. })),
        )
    }

    /// Everything that still exists, by name.
    pub fn remaining(&self) -> Vec<String> {
        let state = self.lock();
        state
            .containers
            .values()
            .map(|c| format!("container {}", c.name))
            .chain(state.networks.values().map(|n| format!("network {}", n.name)))
            .chain(state.volumes.keys().map(|v| format!("volume {v}")))
            .collect()
    }

    #[track_caller]
    pub fn assert_nothing_left(&self) {
        let remaining = self.remaining();
        assert!(remaining.is_empty(), "the run left {remaining:?}");
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake runtime state")
    }

    fn process(&self, id: &str) -> Result<Arc<Process>> {
        Ok(self.lock().container(id)?.process.clone())
    }
}

#[async_trait]
impl Runtime for FakeRuntime {
    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>> {
        let mut state = self.lock();
        state.record(Call::InspectImage(image.to_string()));
        Ok(state.local_images.contains(image).then(|| ImageInfo {
            id: format!("sha256:{image}"),
            tags: vec![image.to_string()],
            volumes: state.image_volumes.get(image).cloned().unwrap_or_default(),
            healthcheck: None,
            entrypoint: None,
            cmd: None,
            working_dir: None,
        }))
    }

    async fn pull_image(
        &self,
        image: &str,
        _credentials: Option<&Credentials>,
        progress: ProgressFn<'_>,
    ) -> Result<()> {
        let delay = {
            let mut state = self.lock();
            state.record(Call::PullImage(image.to_string()));
            state.pull_delay
        };
        tokio::time::sleep(delay).await;
        progress(format!("{image}: downloaded"));
        self.lock().local_images.insert(image.to_string());
        Ok(())
    }

    async fn build_image(&self, build: &BuildSpec, _options: &BuildOptions, output: ProgressFn<'_>) -> Result<()> {
        let delay = {
            let mut state = self.lock();
            state.record(Call::BuildImage(build.image.clone()));
            state.pull_delay
        };
        tokio::time::sleep(delay).await;
        output(format!("built {}", build.image));
        self.lock().local_images.insert(build.image.clone());
        Ok(())
    }

    async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        let mut state = self.lock();
        state.record(Call::TagImage { source: source.to_string(), target: target.to_string() });
        if !state.local_images.contains(source) {
            return Err(RuntimeError { kind: ErrorKind::NotFound, message: format!("No such image: {source}") });
        }
        state.local_images.insert(target.to_string());
        Ok(())
    }

    async fn push_image(
        &self,
        target: &str,
        _credentials: Option<&Credentials>,
        progress: ProgressFn<'_>,
    ) -> Result<()> {
        self.lock().record(Call::PushImage(target.to_string()));
        progress(format!("{target}: pushed"));
        Ok(())
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        let mut state = self.lock();
        state.record(Call::RemoveImage(image.to_string()));
        let image = image.strip_prefix("sha256:").unwrap_or(image);
        // Docker refuses to remove an image a container (even a stopped one) uses.
        if state.containers.values().any(|c| c.image == image) {
            return Err(RuntimeError {
                kind: ErrorKind::Conflict,
                message: format!("conflict: unable to remove {image}: image is being used by a container"),
            });
        }
        state.local_images.remove(image);
        Ok(())
    }

    async fn list_dangling_images(&self, _key: Option<&str>) -> Result<Vec<ImageSummary>> {
        // The fake's images always have a name.
        Ok(Vec::new())
    }

    async fn list_images(&self, prefix: &str) -> Result<Vec<ImageSummary>> {
        let state = self.lock();
        Ok(state
            .local_images
            .iter()
            .filter(|i| i.starts_with(prefix))
            .map(|i| ImageSummary { id: format!("sha256:{i}"), tags: vec![i.clone()], ..ImageSummary::default() })
            .collect())
    }

    async fn read_file(&self, id: &str, path: &str) -> Result<Vec<u8>> {
        // The fake's containers have no file system; no scheduler test reads files.
        Err(RuntimeError { kind: ErrorKind::NotFound, message: format!("{id}: no file {path} in a fake container") })
    }

    async fn read_archive(&self, id: &str, path: &str) -> Result<BoxStream<'static, Result<bytes::Bytes>>> {
        Err(RuntimeError { kind: ErrorKind::NotFound, message: format!("{id}: no path {path} in a fake container") })
    }

    async fn exec(
        &self,
        id: &str,
        _command: &ExecCommand,
    ) -> Result<(BoxStream<'static, Result<OutputChunk>>, String)> {
        // Queue workers exec into their containers; scheduler tests with the fake use none.
        Err(RuntimeError::other(format!("{id}: the fake runtime cannot exec")))
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<i64> {
        Err(RuntimeError::other(format!("{exec_id}: the fake runtime cannot exec")))
    }

    async fn create_network(&self, name: &str, labels: &Labels) -> Result<String> {
        let delay = self.lock().network_delay;
        let (shared, name, labels) = (self.state.clone(), name.to_string(), labels.clone());
        let creation = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut state = shared.lock().expect("fake runtime state");
            if state.networks.values().any(|n| n.name == name) {
                return Err(RuntimeError::other(format!("network with name {name} already exists")));
            }
            let id = state.new_id("net");
            state.record(Call::CreateNetwork { id: id.clone(), name: name.clone(), step: label(&labels, STEP) });
            state.networks.insert(id.clone(), Network { name, labels });
            Ok(id)
        });
        creation.await.expect("the fake's network creation")
    }

    async fn remove_network(&self, id: &str) -> Result<()> {
        let mut state = self.lock();
        state.record(Call::RemoveNetwork(id.to_string()));
        if state.containers.values().any(|c| c.network.as_deref() == Some(id)) {
            return Err(RuntimeError::other(format!(
                "error while removing network: network {id} has active endpoints"
            )));
        }
        // Like the Docker runtime, a network that is already gone is not an error.
        state.networks.remove(id);
        Ok(())
    }

    async fn create_volume(&self, name: &str, labels: &Labels) -> Result<()> {
        let mut state = self.lock();
        state.record(Call::CreateVolume { name: name.to_string(), step: label(labels, STEP) });
        state.volumes.entry(name.to_string()).or_insert_with(|| labels.clone());
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        let mut state = self.lock();
        state.record(Call::RemoveVolume(name.to_string()));
        if state.containers.values().any(|c| c.volumes.iter().any(|v| v == name)) {
            return Err(RuntimeError::other(format!("remove {name}: volume is in use")));
        }
        state.volumes.remove(name);
        Ok(())
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        let mut state = self.lock();
        if state.containers.values().any(|c| c.name == spec.name) {
            return Err(RuntimeError::other(format!(
                "Conflict. The container name \"/{}\" is already in use",
                spec.name
            )));
        }
        // Runs name images by id (`sha256:<name>` here), as the engine takes them.
        let image = spec.image.strip_prefix("sha256:").unwrap_or(&spec.image).to_string();
        if !state.local_images.contains(&image) {
            return Err(not_found(format!("No such image: {}", spec.image)));
        }
        let network = match &spec.network {
            None => None,
            Some((network, _aliases)) => {
                match state.networks.iter().find(|(id, n)| *id == network || n.name == *network) {
                    Some((id, _)) => Some(id.clone()),
                    None => return Err(not_found(format!("network {network} not found"))),
                }
            }
        };
        for lender in &spec.volumes_from {
            let lender = lender.strip_suffix(":ro").unwrap_or(lender);
            state.container(lender)?;
        }
        let volumes: Vec<String> = spec
            .mounts
            .iter()
            .filter_map(|m| match &m.source {
                MountSource::Volume(name) => Some(name.clone()),
                MountSource::Bind(_) => None,
            })
            .collect();
        // Docker creates a missing named volume on the fly, without labels: a leak the
        // final check would catch.
        for volume in &volumes {
            state.volumes.entry(volume.clone()).or_default();
        }
        let id = state.new_id("ctr");
        state.record(Call::CreateContainer {
            id: id.clone(),
            name: spec.name.clone(),
            service: label(&spec.labels, SERVICE),
            step: label(&spec.labels, STEP),
            network: network.clone(),
        });
        let gated = spec.entrypoint.as_ref().is_some_and(|e| {
            e.first().is_some_and(|w| w == "/bin/sh") && e.last().is_some_and(|w| w == "slipway-gate")
        });
        let container = Container {
            image: image.clone(),
            name: spec.name.clone(),
            labels: spec.labels.clone(),
            network,
            volumes,
            // The fake images have no entrypoint or CMD of their own, so the gate's
            // arguments are exactly the command.
            script: Script::parse(spec.cmd.as_deref()),
            gated,
            image_has_shell: !image.starts_with("distroless/"),
            health: HealthRule::parse(spec.healthcheck.as_ref().map(|h| h.test.as_slice())),
            process: Arc::new(Process::new(spec.stdin)),
        };
        state.processes.insert(id.clone(), container.process.clone());
        state.containers.insert(id.clone(), container);
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let mut state = self.lock();
        state.record(Call::StartContainer(id.to_string()));
        let container = state.container(id)?;
        if container.gated && !container.image_has_shell {
            return Err(RuntimeError::other(
                "failed to create task for container: exec: \"/bin/sh\": stat /bin/sh: no such file or directory: unknown",
            ));
        }
        // Behind the gate the shell always starts; a missing command shows up at `exec`.
        if container.script == Script::FailsToStart && !container.gated {
            return Err(RuntimeError::other(format!("the fake container {} refuses to start", container.name)));
        }
        container.process.start(container.script.clone(), container.gated);
        let running = state.containers.values().filter(|c| c.process.is_running()).count();
        state.peak_running = state.peak_running.max(running);
        Ok(())
    }

    async fn container_state(&self, id: &str) -> Result<ContainerState> {
        let state = self.lock();
        let container = state.container(id)?;
        let process = container.process.state();
        Ok(match process.phase {
            Phase::Created => ContainerState {
                running: false,
                exit_code: None,
                health: Health::None,
                error: None,
                health_output: None,
            },
            Phase::Running { since } => ContainerState {
                running: true,
                exit_code: None,
                health: health(container.health, since.elapsed()),
                error: None,
                health_output: None,
            },
            Phase::Exited(code) => ContainerState {
                running: false,
                exit_code: Some(code),
                health: Health::None,
                error: None,
                health_output: None,
            },
        })
    }

    async fn probe(&self, id: &str, _test: &[String], _timeout: Duration) -> Result<bool> {
        // A probe is a `docker exec`, which takes the engine a while; a container that
        // exits meanwhile fails it as the engine does ("task … not found").
        tokio::time::sleep(Duration::from_millis(50)).await;
        let state = self.container_state(id).await?;
        if !state.running {
            return Err(RuntimeError {
                kind: slipway_engine::runtime::ErrorKind::CannotRun,
                message: format!("task {id} not found"),
            });
        }
        // The engine's probe is one passing run of the healthcheck: the same answer.
        Ok(state.health == Health::Healthy)
    }

    async fn attach(&self, id: &str, stdin: bool) -> Result<Attached> {
        let process = self.process(id)?;
        let input = if stdin { process.stdin() } else { Box::pin(tokio::io::sink()) };
        Ok(Attached { output: process.follow_output(), input })
    }

    async fn resize_tty(&self, _id: &str, _width: u16, _height: u16) -> Result<()> {
        Err(RuntimeError::other("the fake runtime does not simulate interactive runs"))
    }

    async fn wait_exit(&self, id: &str) -> Result<i64> {
        // Holding the process keeps the wait alive when the container is removed meanwhile.
        let process = self.process(id)?;
        Ok(process.wait_exit().await)
    }

    async fn tail_output(&self, id: &str, lines: usize) -> Result<Vec<String>> {
        Ok(self.process(id)?.tail(lines))
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let mut state = self.lock();
        state.record(Call::RemoveContainer(id.to_string()));
        // Like the Docker runtime, a container that is already gone is not an error.
        if let Some(container) = state.containers.remove(id) {
            container.process.kill();
        }
        Ok(())
    }

    async fn rename_container(&self, id: &str, name: &str) -> Result<()> {
        let mut state = self.lock();
        if state.containers.iter().any(|(other, c)| other != id && c.name == name) {
            return Err(RuntimeError::other(format!("Conflict. The container name \"/{name}\" is already in use")));
        }
        match state.containers.get_mut(id) {
            Some(container) => {
                container.name = name.to_string();
                Ok(())
            }
            None => Err(not_found(format!("No such container: {id}"))),
        }
    }

    async fn containers_labelled(&self, filter: &Labels) -> Result<Vec<ContainerSummary>> {
        let state = self.lock();
        let matches =
            |labels: &Labels| filter.iter().all(|(k, v)| labels.get(k).is_some_and(|value| v.is_empty() || value == v));
        Ok(state
            .containers
            .iter()
            .filter(|(_, c)| matches(&c.labels))
            .map(|(id, c)| ContainerSummary {
                id: id.clone(),
                name: c.name.clone(),
                labels: c.labels.clone(),
                running: c.process.is_running(),
            })
            .collect())
    }

    async fn find_labelled(&self, filter: &Labels) -> Result<Leftovers> {
        let state = self.lock();
        let matches =
            |labels: &Labels| filter.iter().all(|(k, v)| labels.get(k).is_some_and(|value| v.is_empty() || value == v));
        Ok(Leftovers {
            containers: state
                .containers
                .iter()
                .filter(|(_, c)| matches(&c.labels))
                .map(|(id, c)| (id.clone(), c.name.clone(), c.labels.clone()))
                .collect(),
            networks: state
                .networks
                .iter()
                .filter(|(_, n)| matches(&n.labels))
                .map(|(id, n)| (id.clone(), n.name.clone(), n.labels.clone()))
                .collect(),
            volumes: state
                .volumes
                .iter()
                .filter(|(_, labels)| matches(labels))
                .map(|(name, labels)| (name.clone(), name.clone(), labels.clone()))
                .collect(),
        })
    }
}

fn health(rule: HealthRule, running_for: Duration) -> Health {
    match rule {
        HealthRule::NoHealthcheck => Health::None,
        HealthRule::HealthyAfter(delay) if running_for >= delay => Health::Healthy,
        HealthRule::UnhealthyAfter(delay) if running_for >= delay => Health::Unhealthy,
        HealthRule::HealthyAfter(_) | HealthRule::UnhealthyAfter(_) | HealthRule::NeverHealthy => Health::Starting,
    }
}

/// Ids of the containers created for `service`.
fn ids_of(state: &State, service: &str) -> Vec<String> {
    state
        .calls
        .iter()
        .filter_map(|r| match &r.call {
            Call::CreateContainer { id, service: s, .. } if s == service => Some(id.clone()),
            _ => None,
        })
        .collect()
}

fn label(labels: &Labels, key: &str) -> String {
    labels.get(key).cloned().unwrap_or_default()
}

fn not_found(message: String) -> RuntimeError {
    RuntimeError { kind: ErrorKind::NotFound, message }
}

//! [`Runtime`] on the Docker Engine API.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HealthStatusEnum, HostConfig, Mount as DockerMount, MountType,
    NetworkCreateRequest, NetworkingConfig, VolumeCreateRequest,
};
use bollard::query_parameters::{
    AttachContainerOptions, BuildImageOptions, CreateContainerOptions, CreateImageOptions,
    DownloadFromContainerOptions, ListContainersOptions, ListImagesOptions, ListNetworksOptions, ListVolumesOptions,
    LogsOptions, PushImageOptions, RemoveContainerOptions, RemoveImageOptions, RemoveVolumeOptions,
    RenameContainerOptions, ResizeContainerTTYOptions, TagImageOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use slipway_engine::registry::Credentials;
use slipway_engine::runtime::{
    Attached, BuildOptions, ContainerSpec, ContainerState, ContainerSummary, ExecCommand, Health, ImageInfo,
    ImageSummary, Labels, Leftovers, MountSource, OutputChunk, ProgressFn, Result, Runtime, RuntimeError, Stream,
};
use slipway_plan::BuildSpec;

use crate::build_context::tar_context;
use crate::connect::{connect, local_socket_path};
use crate::errors::{ignore_not_found, runtime_error};
use crate::image_ref::split_reference;

/// Where `add_docker` services find the engine.
const DOCKER_SOCKET_IN_CONTAINER: &str = "/var/run/docker.sock";

#[derive(Clone)]
pub struct DockerRuntime {
    docker: Docker,
}

impl DockerRuntime {
    /// Connect to the engine (DOCKER_HOST or the local socket), negotiating the API version.
    pub async fn connect() -> Result<Self> {
        Ok(Self { docker: connect().await? })
    }

    /// Running containers carrying all of these labels (for the server's metrics).
    pub async fn count_running(&self, labels: &Labels) -> Result<usize> {
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: false,
                filters: Some(label_filters(labels)),
                ..Default::default()
            }))
            .await
            .map_err(runtime_error)?;
        Ok(containers.len())
    }

    /// The engine's version, for reports.
    pub async fn engine_version(&self) -> Result<String> {
        let v = self.docker.version().await.map_err(runtime_error)?;
        Ok(format!("{} (API {})", v.version.unwrap_or_default(), v.api_version.unwrap_or_default()))
    }

    pub fn client(&self) -> &Docker {
        &self.docker
    }
}

/// One engine call in the debug log (`--debug` or SLIPWAY_LOG=debug): what, on what,
/// how long, and how it ended — the first place to look when a run is slow or stuck.
fn traced<T>(op: &str, target: &str, started: Instant, result: Result<T>) -> Result<T> {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match &result {
        Ok(_) => tracing::debug!(target: "slipway::engine_api", "{op} {target}: {ms:.1} ms"),
        Err(e) => {
            tracing::debug!(target: "slipway::engine_api", "{op} {target}: failed after {ms:.1} ms: {}", e.message)
        }
    }
    result
}

fn docker_credentials(c: &Credentials) -> DockerCredentials {
    DockerCredentials {
        username: c.username.clone(),
        password: c.password.clone(),
        serveraddress: Some(c.server.clone()),
        identitytoken: c.identity_token.clone(),
        ..Default::default()
    }
}

/// One progress line of a pull or push: `layer: Downloading 12.0/40.0 MB`.
fn report_progress(
    progress: ProgressFn<'_>,
    id: Option<String>,
    status: Option<String>,
    detail: Option<bollard::models::ProgressDetail>,
) {
    let amount = detail.and_then(|p| match (p.current, p.total) {
        (Some(c), Some(t)) if t > 0 => Some(format!("{:.1}/{:.1} MB", c as f64 / 1e6, t as f64 / 1e6)),
        _ => None,
    });
    let line = [id, status, amount].into_iter().flatten().collect::<Vec<_>>().join(" ");
    if !line.is_empty() {
        progress(line);
    }
}

fn nanos(d: Option<Duration>) -> Option<i64> {
    d.map(|d| d.as_nanos().min(i64::MAX as u128) as i64)
}

fn label_map(labels: &Labels) -> HashMap<String, String> {
    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn label_filters(labels: &Labels) -> HashMap<String, Vec<String>> {
    // An empty value matches any value of the key.
    let values = labels.iter().map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k}={v}") }).collect();
    HashMap::from([("label".to_string(), values)])
}

fn chunk(output: LogOutput) -> Option<OutputChunk> {
    match output {
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            Some(OutputChunk { stream: Stream::Stdout, bytes: message.to_vec() })
        }
        LogOutput::StdErr { message } => Some(OutputChunk { stream: Stream::Stderr, bytes: message.to_vec() }),
        LogOutput::StdIn { .. } => None,
    }
}

impl DockerRuntime {
    /// Local images the engine's list filters select.
    async fn images_matching(&self, filters: HashMap<String, Vec<String>>) -> Result<Vec<ImageSummary>> {
        let images = self
            .docker
            .list_images(Some(ListImagesOptions { filters: Some(filters), ..Default::default() }))
            .await
            .map_err(runtime_error)?;
        Ok(images
            .into_iter()
            .map(|i| ImageSummary {
                id: i.id,
                parent: i.parent_id,
                tags: i.repo_tags,
                labels: i.labels.into_iter().collect(),
                created: i.created,
                size: i.size,
            })
            .collect())
    }

    async fn create_network_untraced(&self, name: &str, labels: &Labels) -> Result<String> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".to_string()),
            labels: Some(label_map(labels)),
            ..Default::default()
        };
        let response = self.docker.create_network(request).await.map_err(runtime_error)?;
        Ok(response.id)
    }

    async fn remove_network_untraced(&self, id: &str) -> Result<()> {
        ignore_not_found(self.docker.remove_network(id).await)
    }

    async fn create_container_untraced(&self, spec: &ContainerSpec) -> Result<String> {
        // Host paths go through `Binds`, which creates a missing host folder as
        // `docker run -v` and compose do; volumes through `Mounts`.
        let mut binds = Vec::new();
        let mut mounts = Vec::new();
        for m in &spec.mounts {
            match &m.source {
                MountSource::Bind(path) => {
                    binds.push(format!("{path}:{}{}", m.target, if m.read_only { ":ro" } else { "" }))
                }
                MountSource::Volume(name) => mounts.push(DockerMount {
                    typ: Some(MountType::VOLUME),
                    source: Some(name.clone()),
                    target: Some(m.target.clone()),
                    read_only: Some(m.read_only),
                    ..Default::default()
                }),
            }
        }
        let mut env = spec.env.clone();
        if spec.add_docker {
            let socket = local_socket_path().unwrap_or_else(|| DOCKER_SOCKET_IN_CONTAINER.to_string());
            binds.push(format!("{socket}:{DOCKER_SOCKET_IN_CONTAINER}"));
            env.push(format!("DOCKER_HOST=unix://{DOCKER_SOCKET_IN_CONTAINER}"));
        }
        let (network_mode, networking_config) = match &spec.network {
            Some((network, aliases)) => (
                network.clone(),
                Some(NetworkingConfig {
                    endpoints_config: Some(HashMap::from([(
                        network.clone(),
                        EndpointSettings { aliases: Some(aliases.clone()), ..Default::default() },
                    )])),
                }),
            ),
            None => ("none".to_string(), None),
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: spec.cmd.clone(),
            entrypoint: spec.entrypoint.clone(),
            env: Some(env),
            working_dir: spec.working_dir.clone(),
            user: spec.user.clone(),
            hostname: spec.hostname.clone(),
            labels: Some(label_map(&spec.labels)),
            tty: Some(spec.tty),
            open_stdin: Some(spec.stdin),
            stdin_once: Some(spec.stdin),
            attach_stdin: Some(spec.stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            healthcheck: spec.healthcheck.as_ref().map(|h| HealthConfig {
                test: Some(h.test.clone()),
                interval: nanos(h.interval),
                timeout: nanos(h.timeout),
                start_period: nanos(h.start_period),
                retries: h.retries.map(|r| r as i64),
                start_interval: None,
            }),
            host_config: Some(HostConfig {
                binds: (!binds.is_empty()).then_some(binds),
                mounts: Some(mounts),
                volumes_from: (!spec.volumes_from.is_empty()).then(|| spec.volumes_from.clone()),
                extra_hosts: (!spec.extra_hosts.is_empty()).then(|| spec.extra_hosts.clone()),
                shm_size: spec.shm_size.and_then(|bytes| i64::try_from(bytes).ok()),
                tmpfs: (!spec.tmpfs.is_empty()).then(|| {
                    spec.tmpfs
                        .iter()
                        .map(|t| match t.split_once(':') {
                            Some((path, options)) => (path.to_string(), options.to_string()),
                            None => (t.clone(), String::new()),
                        })
                        .collect()
                }),
                cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
                cap_drop: (!spec.cap_drop.is_empty()).then(|| spec.cap_drop.clone()),
                network_mode: Some(network_mode),
                ..Default::default()
            }),
            networking_config,
            ..Default::default()
        };
        let options = CreateContainerOptions { name: Some(spec.name.clone()), ..Default::default() };
        let response = self.docker.create_container(Some(options), body).await.map_err(runtime_error)?;
        Ok(response.id)
    }

    async fn start_container_untraced(&self, id: &str) -> Result<()> {
        self.docker.start_container(id, None).await.map_err(runtime_error)
    }

    async fn wait_exit_untraced(&self, id: &str) -> Result<i64> {
        let options = WaitContainerOptions { condition: "not-running".to_string() };
        let mut stream = self.docker.wait_container(id, Some(options));
        match stream.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            // bollard reports a non-zero exit as an error; it is the step's exit code.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(runtime_error(e)),
            None => Err(RuntimeError::other("the engine ended the wait without an exit code")),
        }
    }

    async fn remove_container_untraced(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptions { force: true, v: true, link: false };
        match ignore_not_found(self.docker.remove_container(id, Some(options)).await) {
            // Another process (a run that was killed, a concurrent gc) is removing it: wait.
            Err(e) if e.message.contains("already in progress") => {
                for _ in 0..300 {
                    match self.docker.inspect_container(id, None).await.map_err(runtime_error) {
                        Err(e) if e.kind == slipway_engine::runtime::ErrorKind::NotFound => return Ok(()),
                        _ => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
                Err(e)
            }
            other => other,
        }
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => {
                let config = inspect.config.unwrap_or_default();
                let healthcheck = config.healthcheck.and_then(|h| h.test).filter(|t| !t.is_empty() && t[0] != "NONE");
                Ok(Some(ImageInfo {
                    id: inspect.id.unwrap_or_default(),
                    tags: inspect.repo_tags.unwrap_or_default(),
                    volumes: config.volumes.unwrap_or_default(),
                    healthcheck,
                    entrypoint: config.entrypoint.filter(|e| !e.is_empty()),
                    cmd: config.cmd.filter(|c| !c.is_empty()),
                    working_dir: config.working_dir.filter(|w| !w.is_empty()),
                }))
            }
            Err(e) => match runtime_error(e) {
                e if e.kind == slipway_engine::runtime::ErrorKind::NotFound => Ok(None),
                e => Err(e),
            },
        }
    }

    async fn pull_image(&self, image: &str, credentials: Option<&Credentials>, progress: ProgressFn<'_>) -> Result<()> {
        let (repository, tag) = split_reference(image);
        let options = CreateImageOptions { from_image: Some(repository), tag: Some(tag), ..Default::default() };
        let mut stream = self.docker.create_image(Some(options), None, credentials.map(docker_credentials));
        while let Some(item) = stream.next().await {
            let info = item.map_err(runtime_error)?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(RuntimeError::other(detail));
            }
            report_progress(progress, info.id, info.status, info.progress_detail);
        }
        Ok(())
    }

    async fn build_image(&self, build: &BuildSpec, build_options: &BuildOptions, output: ProgressFn<'_>) -> Result<()> {
        let context = build.context.clone();
        let dockerfile = build.dockerfile.clone();
        let (archive, dockerfile_in_archive) = tokio::task::spawn_blocking(move || tar_context(&context, &dockerfile))
            .await
            .map_err(|e| RuntimeError::other(e.to_string()))?
            .map_err(RuntimeError::other)?;
        let options = BuildImageOptions {
            dockerfile: dockerfile_in_archive,
            t: Some(build.image.clone()),
            rm: true,
            forcerm: true,
            buildargs: Some(build.args.iter().cloned().collect()),
            labels: Some(label_map(&build_options.labels)),
            cachefrom: (!build_options.cache_from.is_empty()).then(|| build_options.cache_from.clone()),
            target: build.target.clone().unwrap_or_default(),
            ..Default::default()
        };
        // X-Registry-Config: credentials for every registry a FROM may name.
        let credentials: HashMap<String, DockerCredentials> =
            build_options.credentials.iter().map(|c| (c.server.clone(), docker_credentials(c))).collect();
        let credentials = (!credentials.is_empty()).then_some(credentials);
        let mut stream = self.docker.build_image(options, credentials, Some(bollard::body_full(archive.into())));
        let mut pending = String::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(runtime_error)?;
            if let Some(text) = info.stream {
                pending.push_str(&text);
                while let Some(i) = pending.find('\n') {
                    let line: String = pending.drain(..=i).collect();
                    output(line.trim_end().to_string());
                }
            }
            if let Some(message) = info.error_detail.and_then(|d| d.message) {
                if !pending.is_empty() {
                    output(std::mem::take(&mut pending));
                }
                return Err(RuntimeError::other(message));
            }
        }
        if !pending.trim().is_empty() {
            output(pending.trim_end().to_string());
        }
        Ok(())
    }

    async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        let (repo, tag) = split_reference(target);
        let started = Instant::now();
        let result = self.docker.tag_image(source, Some(TagImageOptions { repo: Some(repo), tag: Some(tag) })).await;
        traced("tag image", target, started, result.map_err(runtime_error))
    }

    async fn push_image(
        &self,
        target: &str,
        credentials: Option<&Credentials>,
        progress: ProgressFn<'_>,
    ) -> Result<()> {
        let (repo, tag) = split_reference(target);
        if tag.is_empty() {
            // The engine would push every local tag of the repository.
            return Err(RuntimeError::other(format!("refusing to push `{target}`: it has no tag")));
        }
        let options = PushImageOptions { tag: Some(tag), ..Default::default() };
        let mut stream = self.docker.push_image(&repo, Some(options), credentials.map(docker_credentials));
        while let Some(item) = stream.next().await {
            let info = item.map_err(runtime_error)?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(RuntimeError::other(detail));
            }
            report_progress(progress, None, info.status, info.progress_detail);
        }
        Ok(())
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        let options = RemoveImageOptions { force: false, noprune: false, ..Default::default() };
        ignore_not_found(self.docker.remove_image(image, Some(options), None).await.map(|_| ()))
    }

    async fn list_images(&self, prefix: &str) -> Result<Vec<ImageSummary>> {
        self.images_matching(HashMap::from([("reference".to_string(), vec![format!("{prefix}*")])])).await
    }

    async fn list_dangling_images(&self, key: Option<&str>) -> Result<Vec<ImageSummary>> {
        let mut filters = HashMap::from([("dangling".to_string(), vec!["true".to_string()])]);
        if let Some(key) = key {
            filters.insert("label".to_string(), vec![key.to_string()]);
        }
        self.images_matching(filters).await
    }

    async fn read_file(&self, id: &str, path: &str) -> Result<Vec<u8>> {
        let mut stream = self.read_archive(id, path).await?;
        let mut archive = Vec::new();
        while let Some(chunk) = stream.next().await {
            archive.extend_from_slice(&chunk?);
        }
        // The engine sends a tar archive holding the one file.
        let mut entries = tar::Archive::new(archive.as_slice());
        let mut entry = entries
            .entries()
            .map_err(|e| RuntimeError::other(e.to_string()))?
            .next()
            .ok_or_else(|| RuntimeError::other(format!("{path} is empty")))?
            .map_err(|e| RuntimeError::other(e.to_string()))?;
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).map_err(|e| RuntimeError::other(e.to_string()))?;
        Ok(content)
    }

    async fn read_archive(&self, id: &str, path: &str) -> Result<BoxStream<'static, Result<bytes::Bytes>>> {
        let options = DownloadFromContainerOptions { path: path.to_string() };
        Ok(self.docker.download_from_container(id, Some(options)).map_err(runtime_error).boxed())
    }

    async fn exec(&self, id: &str, command: &ExecCommand) -> Result<(BoxStream<'static, Result<OutputChunk>>, String)> {
        let config = bollard::models::ExecConfig {
            cmd: Some(command.cmd.clone()),
            env: (!command.env.is_empty()).then(|| command.env.clone()),
            working_dir: command.working_dir.clone(),
            user: command.user.clone(),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = self.docker.create_exec(id, config).await.map_err(runtime_error)?;
        let started = self
            .docker
            .start_exec(&exec.id, Some(StartExecOptions { detach: false, ..Default::default() }))
            .await
            .map_err(runtime_error)?;
        let output = match started {
            StartExecResults::Attached { output, .. } => output
                .filter_map(|item| async move {
                    match item {
                        Ok(output) => chunk(output).map(Ok),
                        Err(e) => Some(Err(runtime_error(e))),
                    }
                })
                .boxed(),
            StartExecResults::Detached => futures::stream::empty().boxed(),
        };
        Ok((output, exec.id))
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<i64> {
        // The output ends a moment before the engine records the exit code.
        for _ in 0..100 {
            let inspect = self.docker.inspect_exec(exec_id).await.map_err(runtime_error)?;
            if inspect.running != Some(true) {
                return inspect
                    .exit_code
                    .ok_or_else(|| RuntimeError::other("the engine gave no exit code for the command"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(RuntimeError::other("the command still runs after its output ended"))
    }

    async fn create_network(&self, name: &str, labels: &Labels) -> Result<String> {
        let started = Instant::now();
        traced("create network", name, started, self.create_network_untraced(name, labels).await)
    }

    async fn remove_network(&self, id: &str) -> Result<()> {
        let started = Instant::now();
        traced("remove network", id, started, self.remove_network_untraced(id).await)
    }

    async fn create_volume(&self, name: &str, labels: &Labels) -> Result<()> {
        let request =
            VolumeCreateRequest { name: Some(name.to_string()), labels: Some(label_map(labels)), ..Default::default() };
        self.docker.create_volume(request).await.map_err(runtime_error)?;
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        ignore_not_found(self.docker.remove_volume(name, Some(RemoveVolumeOptions { force: true })).await)
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        let started = Instant::now();
        traced("create container", &spec.name, started, self.create_container_untraced(spec).await)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let started = Instant::now();
        traced("start container", id, started, self.start_container_untraced(id).await)
    }

    async fn container_state(&self, id: &str) -> Result<ContainerState> {
        let inspect = self.docker.inspect_container(id, None).await.map_err(runtime_error)?;
        let state = inspect.state.unwrap_or_default();
        let running = state.running.unwrap_or(false);
        let last_check = state.health.as_ref().and_then(|h| h.log.as_ref()).and_then(|log| log.last());
        let health_output = last_check
            .filter(|c| c.exit_code.unwrap_or(0) != 0)
            .and_then(|c| c.output.as_deref())
            .map(|o| o.trim().chars().take(300).collect::<String>())
            .filter(|o| !o.is_empty());
        let health = match state.health.and_then(|h| h.status) {
            Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
            Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
            Some(HealthStatusEnum::STARTING) => Health::Starting,
            _ => Health::None,
        };
        Ok(ContainerState {
            running,
            exit_code: if running { None } else { state.exit_code },
            health,
            // The kernel's OOM killer leaves no error text, only this flag.
            error: state.error.filter(|e| !e.is_empty()).or_else(|| {
                (state.oom_killed == Some(true)).then(|| {
                    "out of memory: the kernel killed it (the container's memory limit, or the machine's)".to_string()
                })
            }),
            health_output,
        })
    }

    async fn probe(&self, id: &str, test: &[String], timeout: Duration) -> Result<bool> {
        let cmd = match test.first().map(String::as_str) {
            Some("CMD") => test[1..].to_vec(),
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
            _ => return Ok(false),
        };
        let exec = self
            .docker
            .create_exec(
                id,
                bollard::models::ExecConfig {
                    cmd: Some(cmd),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(runtime_error)?;
        let run = async {
            let mut said = String::new();
            if let StartExecResults::Attached { mut output, .. } = self
                .docker
                .start_exec(&exec.id, Some(StartExecOptions { detach: false, ..Default::default() }))
                .await
                .map_err(runtime_error)?
            {
                while let Some(chunk) = output.next().await {
                    if let Ok(chunk) = chunk {
                        if said.len() < 2000 {
                            said.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                        }
                    }
                }
            }
            let inspect = self.docker.inspect_exec(&exec.id).await.map_err(runtime_error)?;
            // The check's program is not in the image: it will never pass.
            if crate::probe_output::program_missing(inspect.exit_code, &said) {
                return Err(RuntimeError {
                    kind: slipway_engine::runtime::ErrorKind::CannotRun,
                    message: said.trim().to_string(),
                });
            }
            Ok(inspect.exit_code == Some(0))
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(result) => result,
            Err(_) => Ok(false),
        }
    }

    async fn attach(&self, id: &str, stdin: bool) -> Result<Attached> {
        let options = AttachContainerOptions {
            stream: true,
            stdin,
            stdout: true,
            stderr: true,
            logs: false,
            ..Default::default()
        };
        let attached = self.docker.attach_container(id, Some(options)).await.map_err(runtime_error)?;
        let output = attached
            .output
            .filter_map(|item| async move {
                match item {
                    Ok(output) => chunk(output).map(Ok),
                    Err(e) => Some(Err(runtime_error(e))),
                }
            })
            .boxed();
        Ok(Attached { output, input: attached.input })
    }

    async fn resize_tty(&self, id: &str, width: u16, height: u16) -> Result<()> {
        self.docker
            .resize_container_tty(id, ResizeContainerTTYOptions { w: i32::from(width), h: i32::from(height) })
            .await
            .map_err(runtime_error)
    }

    async fn wait_exit(&self, id: &str) -> Result<i64> {
        let started = Instant::now();
        traced("wait exit", id, started, self.wait_exit_untraced(id).await)
    }

    async fn tail_output(&self, id: &str, lines: usize) -> Result<Vec<String>> {
        let options = LogsOptions { stdout: true, stderr: true, tail: lines.to_string(), ..Default::default() };
        let mut stream = self.docker.logs(id, Some(options));
        let mut text = Vec::new();
        while let Some(item) = stream.next().await {
            if let Some(c) = chunk(item.map_err(runtime_error)?) {
                text.extend_from_slice(&c.bytes);
            }
        }
        Ok(String::from_utf8_lossy(&text).lines().map(str::to_string).collect())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let started = Instant::now();
        traced("remove container", id, started, self.remove_container_untraced(id).await)
    }

    async fn rename_container(&self, id: &str, name: &str) -> Result<()> {
        let started = Instant::now();
        let options = RenameContainerOptions { name: name.to_string() };
        traced("rename container", id, started, self.docker.rename_container(id, options).await.map_err(runtime_error))
    }

    async fn containers_labelled(&self, labels: &Labels) -> Result<Vec<ContainerSummary>> {
        let options = ListContainersOptions { all: true, filters: Some(label_filters(labels)), ..Default::default() };
        Ok(self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(runtime_error)?
            .into_iter()
            .map(|c| ContainerSummary {
                name: container_name(c.names),
                id: c.id.unwrap_or_default(),
                labels: c.labels.unwrap_or_default().into_iter().collect(),
                running: c.state.as_ref().is_some_and(|s| s.to_string() == "running"),
            })
            .collect())
    }

    async fn find_labelled(&self, labels: &Labels) -> Result<Leftovers> {
        let filters = label_filters(labels);
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters.clone()),
                ..Default::default()
            }))
            .await
            .map_err(runtime_error)?
            .into_iter()
            .map(|c| {
                (c.id.unwrap_or_default(), container_name(c.names), c.labels.unwrap_or_default().into_iter().collect())
            })
            .collect();
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions { filters: Some(filters.clone()) }))
            .await
            .map_err(runtime_error)?
            .into_iter()
            .map(|n| {
                (
                    n.id.unwrap_or_default(),
                    n.name.unwrap_or_default(),
                    n.labels.unwrap_or_default().into_iter().collect(),
                )
            })
            .collect();
        let volumes = self
            .docker
            .list_volumes(Some(ListVolumesOptions { filters: Some(filters) }))
            .await
            .map_err(runtime_error)?
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.name.clone(), v.name, v.labels.into_iter().collect()))
            .collect();
        Ok(Leftovers { containers, networks, volumes })
    }
}

/// A listed container's name, without the engine's leading `/`.
fn container_name(names: Option<Vec<String>>) -> String {
    names.and_then(|n| n.first().cloned()).unwrap_or_default().trim_start_matches('/').to_string()
}

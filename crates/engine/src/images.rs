//! Images for a run: built or pulled once, shared by every step that needs them, with
//! registry credentials and (for `cached: true` services) the previous build as cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use slipway_plan::StepId;
use tokio::sync::OnceCell;

use crate::dockerfile_lines::instruction_line;
use crate::events::{Event, ImageAction};
use crate::labels::{object_name, with, IMAGE, IMAGE_ID, IMAGE_LAYER, IMAGE_REPLACED, PROJECT, RUN, SERVICE};
use crate::run::Run;
use crate::runtime::{BuildOptions, ContainerSpec, ErrorKind, ImageInfo, Labels, Runtime, RuntimeError};

type Cell = Arc<OnceCell<Result<ImageInfo, String>>>;

/// What the run did to images, so the end of the run knows what to remove.
#[derive(Default)]
pub(crate) struct Images {
    cells: Mutex<HashMap<String, Cell>>,
    /// Images built for this run, by name and id: removed at the end.
    built: Mutex<Vec<BuiltImage>>,
    /// Images pushed by a push step: kept.
    pushed: Mutex<Vec<String>>,
    /// Builds that did not finish, by building service: an interrupted or failed build
    /// leaves its last layer (and its untagged parents) with no name.
    unfinished: Mutex<HashMap<String, UnfinishedBuild>>,
    /// Every layer the run's builds committed anew (not taken from the cache): the
    /// stages of a multi-stage build that the image does not build on are left with no
    /// name, and go at the end of the run.
    committed: Mutex<Vec<String>>,
}

/// Where a build that has not finished is: what the run must remove if it never does.
#[derive(Clone, Debug, Default)]
pub(crate) struct UnfinishedBuild {
    /// The last layer it committed (at first, the base image's id), short form.
    pub last_layer: Option<String>,
    /// The container the engine runs the current `RUN` step in.
    pub builder: Option<String>,
    /// When it started, in seconds since the epoch, as the engine dates images.
    pub started: i64,
    /// The engine said how it ended (it failed): it commits nothing more.
    pub ended: bool,
}

/// An image a run built: the name it was tagged with and the id it got.
#[derive(Clone, Debug)]
pub(crate) struct BuiltImage {
    pub name: String,
    pub id: String,
    /// The image the name meant before the build took it (the user's own, or one
    /// `slipway load` made): given its name back when the run removes its build.
    pub replaced: Option<String>,
}

impl Images {
    /// What the run built and did not push.
    pub fn built(&self) -> Vec<BuiltImage> {
        let pushed = self.pushed.lock().expect("images").clone();
        self.built.lock().expect("images").iter().filter(|i| !pushed.contains(&i.name)).cloned().collect()
    }

    /// An image to remove at the end of the run as if the run had built it.
    pub fn note_built(&self, name: &str, id: &str, replaced: Option<String>) {
        self.built.lock().expect("images").push(BuiltImage { name: name.to_string(), id: id.to_string(), replaced });
    }

    pub fn mark_pushed(&self, image: &str) {
        self.pushed.lock().expect("images").push(image.to_string());
    }

    /// The layers the run's builds committed anew.
    pub fn committed(&self) -> Vec<String> {
        self.committed.lock().expect("images").clone()
    }

    /// The builds that did not finish.
    pub(crate) fn unfinished(&self) -> Vec<UnfinishedBuild> {
        self.unfinished.lock().expect("images").values().cloned().collect()
    }

    fn update_unfinished(&self, service: &str, change: impl FnOnce(&mut UnfinishedBuild)) {
        if let Some(build) = self.unfinished.lock().expect("images").get_mut(service) {
            change(build);
        }
    }
}

/// The container id in a classic build's ` ---> Running in 0a1b2c3d4e5f` line.
fn builder_container(line: &str) -> Option<&str> {
    let id = line.trim().strip_prefix("---> Running in ")?;
    (id.len() >= 12 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// N of a classic build's `Step N/M : RUN …` line.
fn builder_step(line: &str) -> Option<usize> {
    let (step, _) = line.strip_prefix("Step ")?.split_once('/')?;
    step.parse().ok()
}

/// The layer id in a classic build's ` ---> 5d0da3dc9764` line (not ` ---> Running in …`).
fn committed_layer(line: &str) -> Option<&str> {
    let id = line.trim().strip_prefix("---> ")?;
    (id.len() >= 12 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

impl Run {
    /// The image of `service`, ready to run: built from its Dockerfile once per run, or
    /// taken from the engine, or pulled. `step` is the step that needs it, for output.
    /// The error is the message to show.
    pub async fn image(&self, service: &str, step: Option<StepId>) -> Result<ImageInfo, String> {
        // Services sharing a build, or running what another service builds, get one build.
        let builder = self.plan.image_builder(service);
        let build = builder.map(|b| &self.plan.builds[b]);
        let image = self.plan.image_name(service).unwrap_or_default().to_string();
        let key = match builder {
            Some(builder) => format!("build:{builder}"),
            None => format!("image:{image}"),
        };
        let service = builder.unwrap_or(service);
        let cell = self.images.cells.lock().expect("images").entry(key).or_default().clone();
        cell.get_or_init(|| async {
            // Steps waiting for the image of a build the cancel stopped: none starts it again.
            if self.cancel.is_cancelled() {
                return Err("cancelled".to_string());
            }
            if build.is_none() {
                if let Some(info) = self.runtime.inspect_image(&image).await.map_err(|e| e.message)? {
                    return Ok(info);
                }
            }
            let action = if build.is_some() { ImageAction::Build } else { ImageAction::Pull };
            self.events.send(Event::ImageStarted { image: image.clone(), service: service.to_string(), action, step });
            let started = Instant::now();
            // What the name means before the build takes it: that image is not the run's.
            let before = match build {
                Some(_) => self.runtime.inspect_image(&image).await.ok().flatten().map(|i| i.id),
                None => None,
            };
            let result = match build {
                Some(_) => self.build(service, &image, step).await,
                None => self.pull(service, &image, step).await,
            };
            let result = match result {
                Ok(()) => match self.runtime.inspect_image(&image).await {
                    Ok(Some(info)) => {
                        // An unchanged build (every layer cached) is the image that was
                        // there: it stays, as the engine had it — unless another run built
                        // it and still runs: then the last of the two to end removes it.
                        let unchanged = before.as_deref() == Some(info.id.as_str());
                        let built_by =
                            if unchanged && build.is_some() { self.other_run_built(&info.id).await } else { None };
                        if build.is_some() && (!unchanged || built_by.is_some()) {
                            let replaced = if unchanged { built_by.flatten() } else { before };
                            self.mark_for_gc(service, &image, &info.id, replaced.as_deref()).await;
                            self.images.note_built(&image, &info.id, replaced);
                        }
                        Ok(info)
                    }
                    Ok(None) => Err(format!("image `{image}` is missing after it was made")),
                    Err(e) => Err(format!("cannot inspect image `{image}`: {}", e.message)),
                },
                Err(e) => Err(e),
            };
            self.events.send(Event::ImageFinished {
                image: image.clone(),
                action,
                duration: started.elapsed(),
                error: result.as_ref().err().cloned(),
            });
            result
        })
        .await
        .clone()
    }

    fn image_output(&self, image: &str, step: Option<StepId>) -> impl Fn(String) + Send + Sync + '_ {
        let image = image.to_string();
        move |line: String| self.events.send(Event::ImageOutput { image: image.clone(), line, step })
    }

    async fn pull(&self, service: &str, image: &str, step: Option<StepId>) -> Result<(), String> {
        let spec = &self.plan.services[service];
        let config = self.docker_config(&spec.registry_auth).await?;
        let credentials = config.as_ref().and_then(|c| c.for_image(image));
        self.runtime.pull_image(image, credentials, &self.image_output(image, step)).await.map_err(|e| {
            format!(
                "cannot pull image `{image}` for service `{service}` ({}): {} ({})",
                spec.image_at,
                e.message,
                pull_advice(&e.message)
            )
        })
    }

    async fn build(&self, service: &str, image: &str, step: Option<StepId>) -> Result<(), String> {
        let spec = &self.plan.services[service];
        let shown = self.image_output(image, step);
        let from_cache = std::sync::atomic::AtomicBool::new(false);
        let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.images.unfinished.lock().expect("images").insert(
            service.to_string(),
            UnfinishedBuild { started: i64::try_from(started).unwrap_or(0), ..UnfinishedBuild::default() },
        );
        // The layer after a FROM is the base image: not the run's.
        let base_next = std::sync::atomic::AtomicBool::new(false);
        // The builder's `Step N/M` it was last in: where a failed build failed.
        let last_step = std::sync::atomic::AtomicUsize::new(0);
        let output = |line: String| {
            if let Some(n) = builder_step(&line) {
                last_step.store(n, std::sync::atomic::Ordering::Relaxed);
            }
            if let Some(container) = builder_container(&line) {
                self.images.update_unfinished(service, |b| b.builder = Some(container.to_string()));
            } else if let Some(layer) = committed_layer(&line) {
                self.images.update_unfinished(service, |b| {
                    b.last_layer = Some(layer.to_string());
                    b.builder = None;
                });
                let base = base_next.swap(false, std::sync::atomic::Ordering::Relaxed);
                if !from_cache.swap(false, std::sync::atomic::Ordering::Relaxed) {
                    self.images.committed.lock().expect("images").push(layer.to_string());
                    if !base {
                        self.mark_layer(service, layer);
                    }
                }
            } else if line.split_once(" : ").is_some_and(|(step, instruction)| {
                step.starts_with("Step ") && instruction.trim_start().to_ascii_uppercase().starts_with("FROM ")
            }) {
                base_next.store(true, std::sync::atomic::Ordering::Relaxed);
            } else if line.trim() == "---> Using cache" {
                from_cache.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            shown(line);
        };
        let config = self.docker_config(&spec.registry_auth).await?;
        let cache_from = if spec.cached { self.cache_source(service, &output).await } else { None };
        // Only the project label, which `gc` finds untagged images by: a per-run label
        // would change the image and defeat the layer cache on every run, and the engine
        // adds a build step per label, each a container commit when the context changed
        // (seconds each on a slow storage driver).
        let labels: Labels =
            self.labels.iter().filter(|(k, _)| k.as_str() == PROJECT).map(|(k, v)| (k.clone(), v.clone())).collect();
        let options = BuildOptions {
            labels,
            cache_from: cache_from.into_iter().collect(),
            credentials: config.map(|c| c.auths.into_values().collect()).unwrap_or_default(),
        };
        let build = &self.plan.builds[service];
        self.runtime.build_image(build, &options, &output).await.map_err(|e| {
            self.images.update_unfinished(service, |b| b.ended = true);
            let dockerfile = build.context.join(&build.dockerfile);
            let step = last_step.load(std::sync::atomic::Ordering::Relaxed);
            let line = std::fs::read_to_string(&dockerfile).ok().and_then(|text| instruction_line(&text, step));
            let fix = match line {
                Some(line) => format!("step {step} of the build: fix {}:{line}", dockerfile.display()),
                None => format!("the build output above shows the step; fix {}", dockerfile.display()),
            };
            format!("building the image of service `{service}` ({}) failed: {} ({fix})", spec.image_at, e.message)
        })?;
        self.images.unfinished.lock().expect("images").remove(service);
        if spec.cached {
            self.save_cache(service, image, &output).await;
        }
        // A cached image lives on under its cache tag (`slipway cache ls`); its run name
        // goes like any built image's (at the end of the run), so the only thing a run
        // keeps is what `cache rm` removes.
        Ok(())
    }

    /// A created container of a layer a build just committed, labelled with the run: if
    /// slipway is killed mid-build, `gc` finds the layer by it (the layer has no label).
    fn mark_layer(&self, service: &str, layer: &str) {
        self.creations.create_container_soon(ContainerSpec {
            name: object_name(&["slipway", &self.plan.run_id, "layer", layer]),
            image: layer.to_string(),
            cmd: Some(vec!["slipway-layer-marker".to_string()]),
            labels: with(&self.labels, &[(SERVICE, service), (IMAGE_LAYER, layer)]),
            ..ContainerSpec::default()
        });
    }

    /// Whether another run built image `id` and has not removed it yet (its marker is
    /// there), and if so the image its name meant before that build.
    async fn other_run_built(&self, id: &str) -> Option<Option<String>> {
        let labels = image_markers(self.runtime.as_ref(), id)
            .await
            .into_iter()
            .find(|labels| labels.get(RUN) != Some(&self.plan.run_id))?;
        Some(labels.get(IMAGE_REPLACED).cloned())
    }

    /// A created (never started) container of the built image, labelled with the run:
    /// if slipway dies before the end of the run, `gc` finds it and removes the image.
    async fn mark_for_gc(&self, service: &str, image: &str, id: &str, replaced: Option<&str>) {
        let mut labels = with(&self.labels, &[(SERVICE, service), (IMAGE, image), (IMAGE_ID, id)]);
        if let Some(previous) = replaced {
            labels.insert(IMAGE_REPLACED.into(), previous.into());
        }
        let spec = ContainerSpec {
            name: object_name(&["slipway", &self.plan.run_id, "image", service]),
            image: id.to_string(),
            cmd: Some(vec!["slipway-image-marker".to_string()]),
            labels,
            ..ContainerSpec::default()
        };
        if let Err(e) = self.runtime.create_container(&spec).await {
            self.notice(format!("cannot mark image `{image}` for clean-up after a crash: {}", e.message));
        }
    }
}

/// Give `name` back to the image it meant before a run's build took it (`previous`),
/// unless another build took the name since, or that image is gone.
pub async fn restore_replaced_name(runtime: &dyn Runtime, name: &str, previous: &str) {
    if matches!(runtime.inspect_image(name).await, Ok(None)) {
        let _ = runtime.tag_image(previous, name).await;
    }
}

/// Remove image `id` if no name means it any more. The engine, asked to remove an image by
/// id, also removes its one remaining name — which is not ours to remove.
pub async fn remove_if_nameless(runtime: &dyn Runtime, id: &str) -> Result<bool, RuntimeError> {
    match runtime.inspect_image(id).await? {
        Some(info) if info.tags.is_empty() => match runtime.remove_image(id).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind == ErrorKind::Conflict => Ok(false),
            Err(e) => Err(e),
        },
        _ => Ok(false),
    }
}

/// Remove an image a run built: by name while the name still means it, else by id, so a
/// build of the same name by another project or branch since then is left alone. An id
/// that still has another name (a `cached: true` image's cache tag) or runs in a container
/// (another run that built the same) stays: `Ok(false)`.
pub async fn remove_built_image(runtime: &dyn Runtime, name: &str, id: &str) -> Result<bool, RuntimeError> {
    let still_ours = match runtime.inspect_image(name).await {
        Ok(Some(info)) => id.is_empty() || info.id == id,
        Ok(None) => false,
        Err(e) => return Err(e),
    };
    if !still_ours && !id.is_empty() {
        return remove_if_nameless(runtime, id).await;
    }
    match runtime.remove_image(name).await {
        Ok(()) => Ok(true),
        // Another run built the same image and runs it: it removes it at its end.
        Err(e) if e.kind == ErrorKind::Conflict && other_marker(runtime, id).await => Ok(false),
        Err(e) => Err(e),
    }
}

/// An image id as the docker CLI shows it: 12 hex digits, without `sha256:`.
pub fn short_image_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// What [`remove_built_image`] would remove, said for `gc --dry-run`; `None` when it
/// would remove nothing (the image is gone, or a later build took its name and the image
/// keeps another).
pub async fn built_image_to_remove(runtime: &dyn Runtime, name: &str, id: &str) -> Option<String> {
    match runtime.inspect_image(name).await {
        Ok(Some(info)) if id.is_empty() || info.id == id => Some(format!("image {name}")),
        Ok(_) if !id.is_empty() => match runtime.inspect_image(id).await {
            Ok(Some(info)) if info.tags.is_empty() => {
                Some(format!("untagged image {} (built as {name}, a name a later build has taken)", short_image_id(id)))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether another run (its marker container) still claims built image `id`.
async fn other_marker(runtime: &dyn Runtime, id: &str) -> bool {
    !id.is_empty() && !image_markers(runtime, id).await.is_empty()
}

/// The labels of the image markers (of any run) that claim built image `id`.
async fn image_markers(runtime: &dyn Runtime, id: &str) -> Vec<Labels> {
    let markers = runtime.find_labelled(&Labels::from([(IMAGE_ID.to_string(), id.to_string())])).await;
    markers.map(|m| m.containers.into_iter().map(|(_, _, labels)| labels).collect()).unwrap_or_default()
}

/// What to do about a failed pull, from the engine's message. Registries answer "denied"
/// both for a private image and for one that does not exist, so those share one advice.
fn pull_advice(message: &str) -> &'static str {
    let message = message.to_ascii_lowercase();
    let unreachable = ["no such host", "dial tcp", "i/o timeout", "connection refused", "tls handshake timeout"];
    if unreachable.iter().any(|m| message.contains(m)) {
        "the engine cannot reach the registry: check its network or proxy, or load the image into the engine first"
    } else {
        "check the image name and tag in the services file; for a private image, give its registry's credentials with `dockercfg_service` or `encrypted_dockercfg_path`"
    }
}

#[cfg(test)]
mod tests {
    use super::{builder_container, committed_layer, pull_advice};

    #[test]
    fn pull_advice_tells_an_unreachable_registry_from_a_wrong_name() {
        let offline = "Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host";
        assert!(pull_advice(offline).contains("cannot reach the registry"));
        let missing = "pull access denied for nobody/nothing, repository does not exist or may require 'docker login'";
        assert!(pull_advice(missing).contains("check the image name and tag"));
    }

    #[test]
    fn only_committed_layer_lines_name_a_layer() {
        assert_eq!(committed_layer(" ---> 5d0da3dc9764"), Some("5d0da3dc9764"));
        assert_eq!(committed_layer(" ---> Running in 0a1b2c3d4e5f"), None);
        assert_eq!(builder_container(" ---> Running in 0a1b2c3d4e5f"), Some("0a1b2c3d4e5f"));
        assert_eq!(builder_container(" ---> 5d0da3dc9764"), None);
        assert_eq!(committed_layer(" ---> Using cache"), None);
        assert_eq!(committed_layer("Step 2/3 : RUN true"), None);
    }
}

//! The end of a run: remove whatever still carries its label (shared containers, named
//! volumes, anything a cancelled step could not remove), or say what `--no-remove` kept.

use futures::future::join_all;

use crate::events::Event;
use crate::images::{remove_built_image, restore_replaced_name, UnfinishedBuild};
use crate::labels::{with, IMAGE_LAYER, PROJECT, RUN};
use crate::run::Run;
use crate::runtime::{ImageSummary, Labels, Leftovers, Runtime};

pub(crate) async fn sweep_run(run: &Run) {
    // A cancelled step may have asked for a container or network the engine is still
    // creating: find it too.
    run.creations.settled().await;
    let filter = with(&Labels::new(), &[(RUN, &run.plan.run_id)]);
    let found = match run.runtime.find_labelled(&filter).await {
        Ok(found) => found,
        Err(e) => {
            run.events.send(Event::Cleanup {
                removed: 0,
                kept: Vec::new(),
                errors: vec![format!("cannot list what the run created: {}", e.message)],
            });
            return;
        }
    };
    if run.options.keep {
        let kept = found
            .containers
            .iter()
            .map(|(_, name, _)| format!("container {name}"))
            .chain(found.networks.iter().map(|(_, name, _)| format!("network {name}")))
            .chain(found.volumes.iter().map(|(_, name, _)| format!("volume {name}")))
            .collect();
        run.events.send(Event::Cleanup { removed: 0, kept, errors: Vec::new() });
        return;
    }
    // A layer's marker goes only once the run's interrupted builds have stopped: a second
    // Ctrl-C while the run waits for them must leave `gc` a way to the layers.
    let (layer_markers, containers): (Vec<_>, Vec<_>) =
        found.containers.into_iter().partition(|(_, _, labels)| labels.contains_key(IMAGE_LAYER));
    let found = Leftovers { containers, ..found };
    let (mut removed, mut errors) = remove_all(run.runtime.as_ref(), &found).await;
    let builds = run.images.unfinished();
    let interrupted: Vec<&UnfinishedBuild> = builds.iter().filter(|b| !b.ended).collect();
    if !interrupted.is_empty() {
        let_go_of(run.runtime.as_ref(), &interrupted).await;
    }
    // The markers hold their layers, a built image's last among them.
    let markers = Leftovers { containers: layer_markers, ..Leftovers::default() };
    let (markers_removed, marker_errors) = remove_all(run.runtime.as_ref(), &markers).await;
    removed += markers_removed;
    errors.extend(marker_errors);
    // After the containers: an image still used by a container cannot go. While
    // `slipway warm` keeps environments of the project, its containers run the images
    // this run built too (one build, one image): they stay until the pool stops.
    let built = if run.options.keep_images { Vec::new() } else { run.images.built() };
    let warm_pool = !built.is_empty() && !run.warm_sockets().await.is_empty();
    if !warm_pool {
        for image in built {
            match remove_built_image(run.runtime.as_ref(), &image.name, &image.id).await {
                Ok(true) => removed += 1,
                Ok(false) => {}
                Err(e) => errors.push(format!("image {}: {}", image.name, e.message)),
            }
            if let Some(previous) = &image.replaced {
                restore_replaced_name(run.runtime.as_ref(), &image.name, previous).await;
            }
        }
    }
    // What interrupted or failed builds committed last, if it has no name (a build that
    // failed at its FROM names the base image, which stays) and nothing builds on it.
    // Removing it removes its untagged parents too. Unless images are kept, so do the
    // other stages of multi-stage builds: what they committed is left with no name.
    let mut layers: Vec<String> = builds.iter().filter_map(|b| b.last_layer.clone()).collect();
    if !run.options.keep_images && !warm_pool {
        layers.extend(run.images.committed());
    }
    layers.sort();
    layers.dedup();
    // An interrupted build may commit one more layer after the cancel, which the run
    // never hears of: an untagged child of its last layer (or of its base image).
    let since = interrupted.iter().map(|b| b.started).min();
    let (layers_removed, layer_errors) =
        remove_build_layers(run.runtime.as_ref(), &layers, since, &run.plan.project, OWN_BUILD_PATIENCE).await;
    removed += layers_removed;
    errors.extend(layer_errors);
    run.events.send(Event::Cleanup { removed, kept: Vec::new(), errors });
}

/// How long an interrupted build's engine side may take to stop, at most.
const BUILD_STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(20);
/// The engine may commit the step it was in when the build was cancelled (a `COPY`
/// has no container to wait for): give it this long.
const BUILD_STEP_SETTLE: std::time::Duration = std::time::Duration::from_millis(1500);

/// Wait until the engine has stopped the interrupted builds: their `RUN` containers are
/// gone, and a moment has passed for a step without one.
async fn let_go_of(runtime: &dyn Runtime, builds: &[&UnfinishedBuild]) {
    let started = std::time::Instant::now();
    for builder in builds.iter().filter_map(|b| b.builder.as_deref()) {
        while started.elapsed() < BUILD_STOP_WAIT && runtime.container_state(builder).await.is_ok() {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    if let Some(rest) = BUILD_STEP_SETTLE.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
}

/// The untagged images to remove, children before parents: those whose id starts with
/// one of `layers`, and — made since `since` — their untagged descendants and those of
/// a layer that has a name (a base image). Images another project labelled are not ours.
pub fn leftover_layers(dangling: &[ImageSummary], layers: &[String], since: Option<i64>, project: &str) -> Vec<String> {
    let short = |id: &str| id.trim_start_matches("sha256:").to_string();
    let is_layer = |id: &str| layers.iter().any(|l| short(id).starts_with(l.as_str()));
    let ours = |i: &ImageSummary| i.labels.get(PROJECT).is_none_or(|p| p == project);
    // (id, depth below a layer)
    let mut found: Vec<(String, usize)> =
        dangling.iter().filter(|i| is_layer(&i.id) && ours(i)).map(|i| (i.id.clone(), 0)).collect();
    if let Some(since) = since {
        loop {
            let next = dangling.iter().find_map(|i| {
                if found.iter().any(|(id, _)| *id == i.id) || i.created < since || !ours(i) || i.parent.is_empty() {
                    return None;
                }
                let depth = if is_layer(&i.parent) {
                    1
                } else {
                    found.iter().find(|(id, _)| *id == i.parent).map(|(_, d)| d + 1)?
                };
                Some((i.id.clone(), depth))
            });
            match next {
                Some(child) => found.push(child),
                None => break,
            }
        }
    }
    found.sort_by_key(|(_, depth)| std::cmp::Reverse(*depth));
    found.into_iter().map(|(id, _)| id).collect()
}

/// Remove what builds of a run that was killed mid-build committed: the layers its
/// markers name, when nothing has a name for them or builds on them, and the layers the
/// engine committed after them. Returns how many images went, and the errors.
pub async fn remove_killed_build_layers(
    runtime: &dyn Runtime,
    layers: &[String],
    project: &str,
) -> (usize, Vec<String>) {
    remove_build_layers(runtime, layers, Some(0), project, std::time::Duration::ZERO).await
}

/// The layers [`remove_killed_build_layers`] would remove (for `gc --dry-run`).
pub async fn killed_build_layers(runtime: &dyn Runtime, layers: &[String], project: &str) -> Vec<String> {
    if layers.is_empty() {
        return Vec::new();
    }
    let dangling = runtime.list_dangling_images(None).await.unwrap_or_default();
    leftover_layers(&dangling, layers, Some(0), project)
}

/// Remove the untagged `layers` a run's builds committed (see [`leftover_layers`] for
/// which, and `since`), children first, each waited for up to `patience` while a
/// container holds it. Returns how many images went, and the errors.
async fn remove_build_layers(
    runtime: &dyn Runtime,
    layers: &[String],
    since: Option<i64>,
    project: &str,
    patience: std::time::Duration,
) -> (usize, Vec<String>) {
    let (mut removed, mut errors) = (0, Vec::new());
    if layers.is_empty() {
        return (removed, errors);
    }
    let dangling = runtime.list_dangling_images(None).await.unwrap_or_default();
    for image in leftover_layers(&dangling, layers, since, project) {
        let short = crate::images::short_image_id(&image);
        match remove_soon(runtime, &image, patience).await {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(e) => errors.push(format!("layer {short} of a build of the run: {}", e.message)),
        }
    }
    (removed, errors)
}

/// How long a run's own cancelled build may hold a layer it committed: its step
/// container goes when the engine gets to it.
const OWN_BUILD_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Remove a layer, trying for up to `patience` while a container holds it. `Ok(false)`:
/// it is in use — an image builds on it (a later build took it from the cache), or,
/// with no patience (the run is gone, so no build of its own holds it), a container
/// runs it — so it is not left over: it stays.
async fn remove_soon(
    runtime: &dyn Runtime,
    image: &str,
    patience: std::time::Duration,
) -> Result<bool, crate::runtime::RuntimeError> {
    use crate::runtime::ErrorKind::{Conflict, NotFound};
    let deadline = std::time::Instant::now() + patience;
    loop {
        match runtime.remove_image(image).await {
            Ok(()) => return Ok(true),
            // Gone already: with an image removed before it that it was the parent of.
            Err(e) if e.kind == NotFound => return Ok(true),
            Err(e) if e.kind == Conflict && (patience.is_zero() || e.message.contains("dependent child images")) => {
                return Ok(false)
            }
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Remove containers first (they hold networks and volumes), then networks and volumes.
/// Returns how many objects were removed and the errors.
pub async fn remove_all(runtime: &dyn Runtime, found: &Leftovers) -> (usize, Vec<String>) {
    let mut removed = 0;
    let mut errors = Vec::new();
    let mut tally = |results: Vec<Result<(), String>>| {
        for r in results {
            match r {
                Ok(()) => removed += 1,
                Err(e) => errors.push(e),
            }
        }
    };
    tally(
        join_all(found.containers.iter().map(|(id, name, _)| async move {
            runtime.remove_container(id).await.map_err(|e| format!("container {name}: {}", e.message))
        }))
        .await,
    );
    tally(
        join_all(found.networks.iter().map(|(id, name, _)| async move {
            runtime.remove_network(id).await.map_err(|e| format!("network {name}: {}", e.message))
        }))
        .await,
    );
    tally(
        join_all(found.volumes.iter().map(|(_, name, _)| async move {
            runtime.remove_volume(name).await.map_err(|e| format!("volume {name}: {}", e.message))
        }))
        .await,
    );
    (removed, errors)
}

#[cfg(test)]
mod tests {
    use super::leftover_layers;
    use crate::runtime::{ImageSummary, Labels};

    fn image(id: &str, parent: &str, created: i64, project: Option<&str>) -> ImageSummary {
        let labels: Labels = project.map(|p| ("io.slipway.project".to_string(), p.to_string())).into_iter().collect();
        ImageSummary {
            id: format!("sha256:{id}"),
            parent: format!("sha256:{parent}"),
            created,
            labels,
            ..ImageSummary::default()
        }
    }

    #[test]
    fn an_interrupted_builds_late_layers_go_children_first() {
        let dangling = [
            image("aaaaaaaaaaaa01", "base00000000", 100, None), // the last layer the run saw
            image("bbbbbbbbbbbb01", "aaaaaaaaaaaa01", 101, None), // committed after the cancel
            image("cccccccccccc01", "bbbbbbbbbbbb01", 101, None), // and its child
            image("dddddddddddd01", "base00000000", 50, None),  // older: someone else's
            image("eeeeeeeeeeee01", "aaaaaaaaaaaa01", 101, Some("other")), // another project's
        ];
        let layers = ["aaaaaaaaaaaa".to_string()];
        assert_eq!(
            leftover_layers(&dangling, &layers, Some(100), "mine"),
            ["sha256:cccccccccccc01", "sha256:bbbbbbbbbbbb01", "sha256:aaaaaaaaaaaa01"]
        );
        // Nothing committed yet: the base image's new children.
        assert_eq!(
            leftover_layers(&dangling, &["base00000000".to_string()], Some(100), "mine")[0],
            "sha256:cccccccccccc01"
        );
        // A finished build's layers only: no descendants looked for.
        assert_eq!(leftover_layers(&dangling, &layers, None, "mine"), ["sha256:aaaaaaaaaaaa01"]);
    }
}

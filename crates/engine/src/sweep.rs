//! The end of a run: remove whatever still carries its label (shared containers, named
//! volumes, anything a cancelled step could not remove), or say what `--no-remove` kept.

use futures::future::join_all;

use crate::events::Event;
use crate::images::{remove_built_image, restore_replaced_name};
use crate::labels::{with, RUN};
use crate::run::Run;
use crate::runtime::{Labels, Leftovers, Runtime};

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
    let (mut removed, mut errors) = remove_all(run.runtime.as_ref(), &found).await;
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
    let mut unfinished = run.images.unfinished();
    if !run.options.keep_images && !warm_pool {
        unfinished.extend(run.images.committed());
    }
    unfinished.sort();
    unfinished.dedup();
    if !unfinished.is_empty() {
        let dangling = run.runtime.list_dangling_images(None).await.unwrap_or_default();
        for layer in unfinished {
            let Some(image) = dangling.iter().find(|i| i.id.trim_start_matches("sha256:").starts_with(&layer)) else {
                continue;
            };
            match remove_soon(run.runtime.as_ref(), &image.id).await {
                Ok(()) => removed += 1,
                Err(e) => errors.push(format!("image {layer} of a build of the run: {}", e.message)),
            }
        }
    }
    run.events.send(Event::Cleanup { removed, kept: Vec::new(), errors });
}

/// Remove an image that a cancelled build's step container may still hold for a moment
/// (the engine kills and removes it on its own time): try for up to 5 s.
async fn remove_soon(runtime: &dyn Runtime, image: &str) -> Result<(), crate::runtime::RuntimeError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match runtime.remove_image(image).await {
            // Gone already: with an image removed before it that it was the parent of.
            Err(e) if e.kind == crate::runtime::ErrorKind::NotFound => return Ok(()),
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            result => return result,
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

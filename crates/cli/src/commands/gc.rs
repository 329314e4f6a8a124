//! `slipway gc` (Jet's `cleanup`): remove what runs whose process is gone left behind.
//! A run is alive if its pid still runs slipway on this host; runs from other hosts
//! sharing the engine are left alone unless `--all`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use slipway_engine::labels::{HOST, IMAGE, IMAGE_ID, IMAGE_LAYER, IMAGE_REPLACED, PID, PROJECT, RUN};
use slipway_engine::liveness::slipway_runs;
use slipway_engine::runtime::{Labels, Leftovers, Runtime};
use slipway_engine::warm::WARM_SOCKET;
use slipway_engine::{
    built_image_to_remove, killed_build_layers, remove_all, remove_built_image, remove_killed_build_layers,
    restore_replaced_name, short_image_id, stale_pool_sockets,
};

use super::{connect, error, this_host, EXIT_FAILURE};
use crate::cli::GcArgs;

/// Whether a run is still going, and why not if it is not.
enum Liveness {
    Alive(String),
    Dead,
}

fn liveness(labels: &Labels, host: &str) -> Liveness {
    let (Some(pid), Some(run_host)) = (labels.get(PID), labels.get(HOST)) else {
        return Liveness::Dead;
    };
    if run_host != host {
        return Liveness::Alive(format!("started on host {run_host}"));
    }
    let Ok(pid) = pid.parse::<u32>() else {
        return Liveness::Dead;
    };
    if slipway_runs(pid) {
        Liveness::Alive(format!("process {pid} is still running"))
    } else {
        Liveness::Dead
    }
}

pub async fn gc(args: &GcArgs) -> ExitCode {
    let runtime = match connect().await {
        Ok(r) => r,
        Err(code) => return code,
    };
    let all = match runtime.find_labelled(&Labels::from([(RUN.to_string(), String::new())])).await {
        Ok(found) => found,
        Err(e) => {
            error(e.message);
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // Group by run; a run's liveness is read from any of its objects' labels.
    let mut runs: BTreeMap<String, (Leftovers, Labels)> = BTreeMap::new();
    let mut add = |kind: usize, item: &(String, String, Labels)| {
        let run = item.2.get(RUN).cloned().unwrap_or_default();
        let entry = runs.entry(run).or_default();
        if !entry.1.contains_key(PID) {
            entry.1 = item.2.clone();
        }
        match kind {
            0 => entry.0.containers.push(item.clone()),
            1 => entry.0.networks.push(item.clone()),
            _ => entry.0.volumes.push(item.clone()),
        }
    };
    all.containers.iter().for_each(|c| add(0, c));
    all.networks.iter().for_each(|n| add(1, n));
    all.volumes.iter().for_each(|v| add(2, v));

    // Untagged images built by slipway (a build interrupted after its labels, or an image
    // whose name went to a newer build): no use to anyone. A live run's build may hold
    // one for a moment, so its project's are left alone.
    let dangling = runtime.list_dangling_images(Some(PROJECT)).await.unwrap_or_default();
    // A killed `slipway warm` leaves its socket file in its temporary folder too; its
    // containers name it.
    let labelled: Vec<std::path::PathBuf> = all
        .containers
        .iter()
        .filter(|(_, _, labels)| labels.get(HOST).is_none_or(|h| *h == this_host()))
        .filter_map(|(_, _, labels)| labels.get(WARM_SOCKET).map(std::path::PathBuf::from))
        .collect();
    let sockets = stale_pool_sockets(&labelled);
    for socket in &sockets {
        if args.dry_run {
            outln!("would remove the socket of a stopped `slipway warm`: {}", socket.display());
        } else if std::fs::remove_file(socket).is_ok() {
            outln!("removed the socket of a stopped `slipway warm`: {}", socket.display());
        }
    }
    if runs.is_empty() && dangling.is_empty() {
        if sockets.is_empty() {
            outln!("nothing to clean up: no containers, networks, volumes or untagged images of slipway runs");
        }
        return ExitCode::SUCCESS;
    }
    let host = this_host();
    let mut failed = false;
    let mut busy_projects: Vec<String> = Vec::new();
    for run in image_order(&runs) {
        let (found, labels) = &runs[run];
        // Images the run built and would have removed at its end (and what their names
        // meant before): their markers tell.
        let images: Vec<(&String, &str, Option<&String>)> = found
            .containers
            .iter()
            .filter_map(|(_, _, labels)| {
                let id = labels.get(IMAGE_ID).map_or("", String::as_str);
                labels.get(IMAGE).map(|name| (name, id, labels.get(IMAGE_REPLACED)))
            })
            .collect();
        // Layers of a build it was in when it was killed: their markers tell.
        let layers: Vec<String> =
            found.containers.iter().filter_map(|(_, _, labels)| labels.get(IMAGE_LAYER).cloned()).collect();
        let project = labels.get(PROJECT).map_or("", String::as_str);
        let count = found.containers.len() + found.networks.len() + found.volumes.len() + images.len();
        if let (Liveness::Alive(why), false) = (liveness(labels, &host), args.all) {
            busy_projects.extend(labels.get(PROJECT).cloned());
            outln!("run {run}: kept {count} object(s): {why} (pass --all to remove anyway)");
            continue;
        }
        if args.dry_run {
            // What gc would really remove: built images whose names are still theirs, the
            // killed build's layers no later build uses.
            let mut built = Vec::new();
            for (image, id, replaced) in &images {
                if let Some(what) = built_image_to_remove(&runtime, image, id).await {
                    built.push((what, *replaced));
                }
            }
            let layers = killed_build_layers(&runtime, &layers, project).await;
            let count =
                found.containers.len() + found.networks.len() + found.volumes.len() + built.len() + layers.len();
            outln!("run {run}: would remove {count} object(s):");
            for (_, name, _) in &found.containers {
                outln!("  container {name}");
            }
            for (_, name, _) in &found.networks {
                outln!("  network {name}");
            }
            for (_, name, _) in &found.volumes {
                outln!("  volume {name}");
            }
            for (what, replaced) in &built {
                match replaced {
                    Some(previous) => {
                        outln!(
                            "  {what} (the name goes back to the image it named before, {})",
                            short_image_id(previous)
                        )
                    }
                    None => outln!("  {what}"),
                }
            }
            for layer in &layers {
                outln!(
                    "  layer {} (and the untagged layers under it) of a build the run was in when it was killed",
                    short_image_id(layer)
                );
            }
            continue;
        }
        let (mut removed, mut errors) = remove_all(&runtime, found).await;
        let (layers_removed, layer_errors) = remove_killed_build_layers(&runtime, &layers, project).await;
        removed += layers_removed;
        errors.extend(layer_errors);
        for (image, id, replaced) in images {
            match remove_built_image(&runtime, image, id).await {
                Ok(true) => removed += 1,
                Ok(false) => {}
                Err(e) => errors.push(format!("image {image}: {}", e.message)),
            }
            if let Some(previous) = replaced {
                restore_replaced_name(&runtime, image, previous).await;
            }
        }
        outln!("run {run}: removed {removed} object(s)");
        for e in errors {
            failed = true;
            error(format!("run {run}: {e}"));
        }
    }
    let untagged: Vec<_> =
        dangling.iter().filter(|i| !i.labels.get(PROJECT).is_some_and(|p| busy_projects.contains(p))).collect();
    for image in untagged {
        let short = short_image_id(&image.id);
        let project = image.labels.get(PROJECT).map_or("", String::as_str);
        if args.dry_run {
            outln!("would remove untagged image {short} (project {project})");
            continue;
        }
        match runtime.remove_image(&image.id).await {
            Ok(()) => outln!("removed untagged image {short} (project {project})"),
            // Still used (say by a container slipway did not make): not gc's to force.
            Err(e) => outln!("kept untagged image {short} (project {project}): {}", e.message),
        }
    }
    if failed {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

/// The runs in the order their built images are to go: a run whose build took a name
/// from an image another run built goes first — it gives the name back to that image,
/// which the other run's turn then removes, giving the name back to what it meant
/// before. The other way round, the name would end up meaning nothing.
fn image_order(runs: &BTreeMap<String, (Leftovers, Labels)>) -> Vec<&String> {
    let marker_labels = |run: &str, key: &str| -> Vec<String> {
        runs[run].0.containers.iter().filter_map(|(_, _, labels)| labels.get(key).cloned()).collect()
    };
    // How many runs in turn took a name from the images `run` built.
    fn later_builds(
        run: &str,
        runs: &[&String],
        marker_labels: &dyn Fn(&str, &str) -> Vec<String>,
        depth: usize,
    ) -> usize {
        if depth > runs.len() {
            return 0;
        }
        let built = marker_labels(run, IMAGE_ID);
        runs.iter()
            .filter(|other| marker_labels(other, IMAGE_REPLACED).iter().any(|r| built.contains(r)))
            .map(|other| 1 + later_builds(other, runs, marker_labels, depth + 1))
            .max()
            .unwrap_or(0)
    }
    let ids: Vec<&String> = runs.keys().collect();
    let mut order = ids.clone();
    order.sort_by_key(|run| later_builds(run, &ids, &marker_labels, 0));
    order
}

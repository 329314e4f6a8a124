//! Warm environments: containers that `slipway warm` started ahead of time, each on a
//! network of its own, for steps that need nothing but their own service. A step leases
//! one from the pool over the pool's Unix socket and runs its command there. That skips
//! what makes a step cost more than a command: creating a network, creating and starting
//! a container — and, since the pool passes the command to a shell waiting in the
//! container, even `docker exec`.
//!
//! Only the pool hands its containers out, one run at a time, so no two steps ever share
//! one. Runs on another host than the pool's do not reach its socket: they make their
//! own environments.

use sha2::{Digest, Sha256};
use slipway_plan::{ServiceSpec, VolumeSpec};

use std::path::PathBuf;

use crate::labels::{HOST, IMAGE_ID, PROJECT, SERVICE};
use crate::options::WarmPools;
use crate::run::Run;
use crate::runtime::{ContainerSpec, ContainerSummary, ImageInfo, Labels, Runtime};
use crate::warm_lease::WarmLease;

/// On a warm container: what it was made for, as [`warm_key`] of its spec.
pub const WARM_KEY: &str = "io.slipway.warm.key";
/// On a warm container: its place in the pool.
pub const WARM_SLOT: &str = "io.slipway.warm.slot";
/// On a warm container: the network it is on (the pool's), for `on_fail` containers.
pub const WARM_NETWORK: &str = "io.slipway.warm.network";
/// On a warm container: the pool's socket, where runs lease it.
pub const WARM_SOCKET: &str = "io.slipway.warm.socket";
/// Warm containers are named so.
pub const WARM_PREFIX: &str = "slipway-warm-";

/// The sockets of the `slipway warm` pools that keep environments of `project` on the
/// host named `host` (pools elsewhere cannot be reached).
pub async fn warm_pool_sockets(runtime: &dyn Runtime, project: &str, host: Option<&String>) -> Vec<PathBuf> {
    let filter = Labels::from([(PROJECT.to_string(), project.to_string()), (WARM_KEY.to_string(), String::new())]);
    let mut sockets: Vec<PathBuf> = runtime
        .containers_labelled(&filter)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.labels.get(HOST) == host)
        .filter_map(|c| c.labels.get(WARM_SOCKET).map(PathBuf::from))
        .collect();
    sockets.sort();
    sockets.dedup();
    sockets
}

/// Whether a service can run warm: nothing of its environment may belong to one run
/// (volumes the run creates, containers it lends volumes from).
pub(crate) fn can_run_warm(service: &ServiceSpec, image: &ImageInfo) -> bool {
    service.volumes_from.is_empty()
        && image.volumes.is_empty()
        && service.volumes.iter().all(|v| matches!(v, VolumeSpec::Bind { .. }))
}

/// A fingerprint of everything about a container that `docker exec` cannot change: two
/// specs with one key run a command alike. The environment's names count, not their
/// values, which the exec sets (they hold per-run values such as `CI_BUILD_ID`).
pub(crate) fn warm_key(spec: &ContainerSpec, image: &ImageInfo) -> String {
    let mut env_names: Vec<&str> = spec.env.iter().map(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k)).collect();
    env_names.sort_unstable();
    env_names.dedup();
    let fields = format!(
        "{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}",
        image.id,
        spec.image,
        spec.entrypoint,
        env_names,
        spec.working_dir,
        spec.user,
        spec.hostname,
        spec.extra_hosts,
        spec.mounts,
        spec.volumes_from,
        spec.healthcheck,
        spec.add_docker,
        spec.shm_size,
        spec.tmpfs,
        spec.cap_add,
        spec.cap_drop,
    );
    let digest = Sha256::digest(fields.as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// The words a container of `spec` runs: its entrypoint (or the image's) followed by its
/// command (or, unless the entrypoint was replaced, the image's), as the engine does. An
/// empty entrypoint (compose's `entrypoint: ""`) clears the image's and keeps its CMD.
pub(crate) fn command_line(spec: &ContainerSpec, image: &ImageInfo) -> Vec<String> {
    let entrypoint = spec.entrypoint.clone().or_else(|| image.entrypoint.clone()).unwrap_or_default();
    let command = match (&spec.cmd, &spec.entrypoint) {
        (Some(cmd), _) => cmd.clone(),
        (None, Some(entrypoint)) if !entrypoint.is_empty() => Vec::new(),
        (None, _) => image.cmd.clone().unwrap_or_default(),
    };
    entrypoint.into_iter().chain(command).collect()
}

impl Run {
    /// A warm container made for `key`, leased until the lease is dropped; `None` when
    /// there is none to be had (then the step makes its own environment).
    pub(crate) async fn claim_warm(&self, service: &str, key: &str, image_id: &str) -> Option<WarmLease> {
        for socket in self.warm_sockets().await {
            if let Some(lease) = WarmLease::claim(socket, key).await {
                return Some(lease);
            }
        }
        self.tell_misfit(service, key, image_id).await;
        None
    }

    /// The pool keeps `service` warm, but none is free, or from an image this run has
    /// rebuilt, or as another run would configure it (a user who passed `-e` to `steps`
    /// and not to `warm`): say which, once, or the step is slow without a word.
    async fn tell_misfit(&self, service: &str, key: &str, image_id: &str) {
        if self.warm_misfits.lock().expect("warm misfits").contains(service) {
            return;
        }
        let filter = Labels::from([
            (PROJECT.to_string(), self.plan.project.clone()),
            (SERVICE.to_string(), service.to_string()),
            (WARM_KEY.to_string(), String::new()),
        ]);
        let kept: Vec<ContainerSummary> = self.runtime.containers_labelled(&filter).await.unwrap_or_default();
        let (fitting, others): (Vec<ContainerSummary>, Vec<ContainerSummary>) =
            kept.into_iter().partition(|c| c.labels.get(WARM_KEY).is_some_and(|k| k == key));
        if (others.is_empty() && fitting.is_empty())
            || !self.warm_misfits.lock().expect("warm misfits").insert(service.to_string())
        {
            return;
        }
        if others.is_empty() {
            // Every environment fits but none is free: leased by other steps or runs, or
            // still starting while the pool refills after the last run.
            self.notice(format!(
                "`slipway warm` keeps {} environment(s) of `{service}`, but none was free (in use, or still starting while the pool refills after a run); steps that found none make their own. `slipway warm --size N` keeps more",
                fitting.len()
            ));
        } else if others.iter().all(|c| c.labels.get(IMAGE_ID).is_some_and(|id| id != image_id)) {
            self.notice(format!(
                "`slipway warm` keeps environments of `{service}` made from its previous image; this run's image is new (a changed Dockerfile or build context), so its steps make their own. The pool warms the new image within seconds, for the next run"
            ));
        } else {
            self.notice(format!(
                "`slipway warm` keeps environments of `{service}`, but none fits how this run configures it (image, entrypoint, the names of its variables, working dir, user, hostname or mounts differ — for instance `-e` given to this run and not to the pool); its steps make their own. Start `slipway warm` with this run's flags to use them"
            ));
        }
    }

    /// The sockets of the pools this run may lease from: looked up once, if not given.
    pub(crate) async fn warm_sockets(&self) -> &[PathBuf] {
        match &self.options.warm {
            WarmPools::Off => &[],
            WarmPools::Known(sockets) => sockets,
            WarmPools::Find => {
                self.warm_pools
                    .get_or_init(|| {
                        warm_pool_sockets(
                            self.runtime.as_ref(),
                            &self.plan.project,
                            self.options.extra_labels.get(HOST),
                        )
                    })
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(env: &[&str], cmd: Option<&[&str]>, entrypoint: Option<&[&str]>) -> ContainerSpec {
        ContainerSpec {
            name: "x".into(),
            image: "busybox".into(),
            env: env.iter().map(|e| e.to_string()).collect(),
            cmd: cmd.map(|c| c.iter().map(|w| w.to_string()).collect()),
            entrypoint: entrypoint.map(|c| c.iter().map(|w| w.to_string()).collect()),
            ..ContainerSpec::default()
        }
    }

    fn image() -> ImageInfo {
        ImageInfo {
            id: "sha256:1".into(),
            entrypoint: Some(vec!["/entry".into()]),
            cmd: Some(vec!["serve".into()]),
            ..ImageInfo::default()
        }
    }

    #[test]
    fn the_key_ignores_values_and_commands_but_not_what_exec_cannot_change() {
        let a = warm_key(&spec(&["A=1", "CI_BUILD_ID=x"], None, None), &image());
        assert_eq!(a, warm_key(&spec(&["CI_BUILD_ID=y", "A=2"], Some(&["pytest"]), None), &image()));
        assert_ne!(a, warm_key(&spec(&["A=1"], None, None), &image()), "a variable fewer");
        assert_ne!(a, warm_key(&spec(&["A=1", "CI_BUILD_ID=x"], None, Some(&["sh"])), &image()), "entrypoint");
        let rebuilt = ImageInfo { id: "sha256:2".into(), ..image() };
        assert_ne!(a, warm_key(&spec(&["A=1", "CI_BUILD_ID=x"], None, None), &rebuilt), "another image");
    }

    #[test]
    fn the_command_line_is_what_the_container_would_run() {
        assert_eq!(command_line(&spec(&[], Some(&["test"]), None), &image()), ["/entry", "test"]);
        assert_eq!(command_line(&spec(&[], None, None), &image()), ["/entry", "serve"]);
        // A replaced entrypoint drops the image's command, as `docker run --entrypoint` does.
        assert_eq!(command_line(&spec(&[], None, Some(&["sh"])), &image()), ["sh"]);
    }
}

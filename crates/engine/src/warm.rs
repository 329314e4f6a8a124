//! Warm environments: containers that `slipway warm` started ahead of time, each on a
//! network of its own, for steps that need nothing but their own service. A step claims
//! one and runs its command in it with `docker exec`. That skips what makes a step cost
//! more than a command: creating a network, creating and starting a container.
//!
//! Claiming: a step creates a marker container (never started) named after the warm
//! container. The engine gives a name to one container only, so of everyone claiming a
//! warm container exactly one succeeds. When the step is done it renames its marker from
//! "claim" to "done", and the pool removes the container in its own time: the step does
//! not wait for the engine to kill and remove it. Markers carry the pool's run labels
//! (`gc` treats them as the pool's) and the claimer's process, so the pool can tell a
//! live claimer from a dead one.

use sha2::{Digest, Sha256};
use slipway_plan::{ServiceSpec, VolumeSpec};

use crate::labels::{HOST, PID, PROJECT, RUN, SERVICE};
use crate::run::Run;
use crate::runtime::{ContainerSpec, ContainerSummary, ImageInfo, Labels, Runtime};

/// On a warm container: what it was made for, as [`warm_key`] of its spec.
pub const WARM_KEY: &str = "io.slipway.warm.key";
/// On a warm container: its place in the pool.
pub const WARM_SLOT: &str = "io.slipway.warm.slot";
/// On a warm container: the network it is on (the pool's), for `on_fail` containers.
pub const WARM_NETWORK: &str = "io.slipway.warm.network";
/// On a claim marker: the run id of the pool whose container it claims.
pub const WARM_CLAIM: &str = "io.slipway.warm.claim";
/// On a claim marker: the claiming process and its host (`io.slipway.pid`/`host` are
/// the pool's, as on everything of the pool).
pub const CLAIMER_PID: &str = "io.slipway.warm.claimer.pid";
pub const CLAIMER_HOST: &str = "io.slipway.warm.claimer.host";
/// Warm containers are named so.
pub const WARM_PREFIX: &str = "slipway-warm-";

/// What a step claimed: the running container, the network it is on, and the marker
/// that claims it.
pub(crate) struct Claimed {
    pub container: String,
    pub network: String,
    pub marker: String,
}

const CLAIM_PREFIX: &str = "slipway-claim-";
const DONE_PREFIX: &str = "slipway-done-";

/// The name of the marker that claims a warm container, or says its claimer is done.
fn marker_name(container_id: &str, done: bool) -> String {
    let short: String = container_id.chars().take(12).collect();
    format!("{}{short}", if done { DONE_PREFIX } else { CLAIM_PREFIX })
}

/// The warm container a marker is about (its id's first 12 characters), and whether
/// its claimer is done with it.
pub(crate) fn read_marker(marker_name: &str) -> Option<(&str, bool)> {
    if let Some(short) = marker_name.strip_prefix(CLAIM_PREFIX) {
        return Some((short, false));
    }
    marker_name.strip_prefix(DONE_PREFIX).map(|short| (short, true))
}

/// Claim `container` for the process whose `pid`/`host` labels are in `claimer`; the
/// marker's id, or `None` if another claimed it first.
pub(crate) async fn claim(
    runtime: &dyn Runtime,
    container: &ContainerSummary,
    image: &str,
    claimer: &Labels,
) -> Option<String> {
    let mut labels: Labels = container
        .labels
        .iter()
        .filter(|(k, _)| [RUN, PROJECT, PID, HOST].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(WARM_CLAIM.into(), container.labels.get(RUN).cloned().unwrap_or_default());
    for (from, to) in [(PID, CLAIMER_PID), (HOST, CLAIMER_HOST)] {
        if let Some(value) = claimer.get(from) {
            labels.insert(to.into(), value.clone());
        }
    }
    let marker = ContainerSpec {
        name: marker_name(&container.id, false),
        image: image.to_string(),
        cmd: Some(vec!["slipway-claim-marker".to_string()]),
        labels,
        ..ContainerSpec::default()
    };
    runtime.create_container(&marker).await.ok()
}

/// Whether `slipway warm` keeps any environment of `project` on the engine.
pub async fn warm_pool_running(runtime: &dyn Runtime, project: &str) -> bool {
    let filter = Labels::from([(PROJECT.to_string(), project.to_string()), (WARM_KEY.to_string(), String::new())]);
    runtime.containers_labelled(&filter).await.is_ok_and(|found| !found.is_empty())
}

/// The claimer is done with `container`: the pool removes it. If the marker cannot say
/// so, the claimer removes both itself.
pub(crate) async fn release(runtime: &dyn Runtime, marker: &str, container: &str) {
    if runtime.rename_container(marker, &marker_name(container, true)).await.is_err() {
        let _ = runtime.remove_container(container).await;
        let _ = runtime.remove_container(marker).await;
    }
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
        "{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
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
    );
    let digest = Sha256::digest(fields.as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// The words a container of `spec` runs: its entrypoint (or the image's) followed by its
/// command (or, unless the entrypoint was replaced, the image's), as the engine does.
pub(crate) fn command_line(spec: &ContainerSpec, image: &ImageInfo) -> Vec<String> {
    let entrypoint = spec.entrypoint.clone().or_else(|| image.entrypoint.clone()).unwrap_or_default();
    let command = match (&spec.cmd, &spec.entrypoint) {
        (Some(cmd), _) => cmd.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => image.cmd.clone().unwrap_or_default(),
    };
    entrypoint.into_iter().chain(command).collect()
}

impl Run {
    /// A warm container made for `key`; `None` when there is none to be had (then the
    /// step makes its own environment). `image` is the step's image, for the marker.
    pub(crate) async fn claim_warm(&self, service: &str, key: &str, image: &str, turn: usize) -> Option<Claimed> {
        if !self.options.warm || !self.warm_pool_exists().await {
            return None;
        }
        let filter =
            Labels::from([(PROJECT.to_string(), self.plan.project.clone()), (WARM_KEY.to_string(), key.to_string())]);
        let mut free: Vec<ContainerSummary> =
            self.runtime.containers_labelled(&filter).await.ok()?.into_iter().filter(|c| c.running).collect();
        if free.is_empty() {
            self.tell_misfit(service, key).await;
            return None;
        }
        // Parallel steps try the free containers from different places, so few of them
        // race for the same one.
        let start = turn % free.len();
        free.rotate_left(start);
        for candidate in free {
            if let Some(marker) = claim(self.runtime.as_ref(), &candidate, image, &self.options.extra_labels).await {
                let network = candidate.labels.get(WARM_NETWORK).cloned().unwrap_or_default();
                return Some(Claimed { container: candidate.id, network, marker });
            }
        }
        None
    }

    /// The pool keeps `service` warm, but as another run would configure it (a user who
    /// passed `-e` to `steps` and not to `warm`): say so once, or it silently does nothing.
    async fn tell_misfit(&self, service: &str, key: &str) {
        if self.warm_misfits.lock().expect("warm misfits").contains(service) {
            return;
        }
        let filter = Labels::from([
            (PROJECT.to_string(), self.plan.project.clone()),
            (SERVICE.to_string(), service.to_string()),
            (WARM_KEY.to_string(), String::new()),
        ]);
        // Only others: one of this key may be starting while the pool refills its slot.
        let kept = self
            .runtime
            .containers_labelled(&filter)
            .await
            .is_ok_and(|found| found.iter().any(|c| c.labels.get(WARM_KEY).is_some_and(|k| k != key)));
        if kept && self.warm_misfits.lock().expect("warm misfits").insert(service.to_string()) {
            self.notice(format!(
                "`slipway warm` keeps environments of `{service}`, but none fits how this run configures it (image, entrypoint, the names of its variables, working dir, user, hostname or mounts differ — for instance `-e` given to this run and not to the pool); its steps make their own. Start `slipway warm` with this run's flags to use them"
            ));
        }
    }

    /// Whether `slipway warm` keeps any environment of this project: asked once per run,
    /// so a run without a pool pays one engine call for it.
    async fn warm_pool_exists(&self) -> bool {
        *self.warm_pool.get_or_init(|| warm_pool_running(self.runtime.as_ref(), &self.plan.project)).await
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

    #[test]
    fn a_marker_names_the_container_it_claims_and_whether_its_claimer_is_done() {
        let id = "0123456789abcdef0123";
        assert_eq!(read_marker(&marker_name(id, false)), Some(("0123456789ab", false)));
        assert_eq!(read_marker(&marker_name(id, true)), Some(("0123456789ab", true)));
        assert_eq!(read_marker("slipway-warm-r1-3"), None);
    }
}

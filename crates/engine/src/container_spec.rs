//! A service's resolved configuration turned into a container to create: mounts with
//! labelled volumes, the healthcheck, the command.

use slipway_plan::{HealthcheckSpec, ServiceSpec, VolumeSpec};

use crate::runtime::{ContainerSpec, Healthcheck, ImageInfo, Labels, Mount, MountSource};

pub(crate) struct SpecRequest<'a> {
    pub service: &'a ServiceSpec,
    pub image: &'a ImageInfo,
    pub name: String,
    pub labels: Labels,
    /// Network and names on it.
    pub network: Option<(String, Vec<String>)>,
    /// `Some(words)` replaces the command (a run step's `command`).
    pub command: Option<Vec<String>>,
    /// Prefix for the names of this container's own volumes.
    pub volume_prefix: String,
    /// Maps a run-wide named volume (`name:/path`) to its engine name.
    pub named_volume: &'a dyn Fn(&str) -> String,
    /// Containers lending volumes, as `id` or `id:ro`.
    pub volumes_from: Vec<String>,
}

/// The container spec, and the volumes to create for it first (labelled, so a crash
/// cannot leave anonymous volumes nobody can attribute).
pub(crate) fn container_spec(req: SpecRequest<'_>) -> (ContainerSpec, Vec<String>) {
    let service = req.service;
    let mut mounts = Vec::new();
    let mut own_volumes = Vec::new();
    let mut own_volume = |target: &str, mounts: &mut Vec<Mount>| {
        let name = format!("{}-v{}", req.volume_prefix, own_volumes.len() + 1);
        own_volumes.push(name.clone());
        mounts.push(Mount { source: MountSource::Volume(name), target: target.to_string(), read_only: false });
    };
    for volume in &service.volumes {
        match volume {
            VolumeSpec::Anonymous { target } => own_volume(target, &mut mounts),
            VolumeSpec::Bind { source, target, read_only } => mounts.push(Mount {
                source: MountSource::Bind(source.to_string_lossy().into_owned()),
                target: target.clone(),
                read_only: *read_only,
            }),
            VolumeSpec::Named { name, target, read_only } => mounts.push(Mount {
                source: MountSource::Volume((req.named_volume)(name)),
                target: target.clone(),
                read_only: *read_only,
            }),
        }
    }
    // Image VOLUMEs would become unlabelled anonymous volumes. With volumes_from the
    // lender may provide the same path, so those are left to the engine (and removed
    // with the container).
    if req.volumes_from.is_empty() {
        for path in &req.image.volumes {
            if !mounts.iter().any(|m| m.target == *path) {
                own_volume(path, &mut mounts);
            }
        }
    }
    let spec = ContainerSpec {
        name: req.name,
        // By id, not name: another project (or a run of another branch) may build the
        // same name while this run goes on, and its steps must keep running this image.
        image: if req.image.id.is_empty() { service.image.clone() } else { req.image.id.clone() },
        cmd: req.command.or_else(|| service.command.clone()),
        entrypoint: service.entrypoint.clone(),
        env: service.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        working_dir: service.working_dir.clone(),
        user: service.user.clone(),
        hostname: service.hostname.clone(),
        shm_size: service.shm_size,
        tmpfs: service.tmpfs.clone(),
        cap_add: service.cap_add.clone(),
        cap_drop: service.cap_drop.clone(),
        extra_hosts: service.extra_hosts.clone(),
        labels: req.labels,
        network: req.network,
        mounts,
        volumes_from: req.volumes_from,
        healthcheck: service.healthcheck.as_ref().map(|h| healthcheck(h, req.image)),
        add_docker: service.add_docker,
        tty: false,
        stdin: false,
    };
    (spec, own_volumes)
}

/// The compose healthcheck for the engine; without its own `test` it keeps the image's.
fn healthcheck(h: &HealthcheckSpec, image: &ImageInfo) -> Healthcheck {
    let test = if h.disable {
        vec!["NONE".to_string()]
    } else {
        h.test.clone().or_else(|| image.healthcheck.clone()).unwrap_or_else(|| vec!["NONE".to_string()])
    };
    Healthcheck { test, interval: h.interval, timeout: h.timeout, start_period: h.start_period, retries: h.retries }
}

/// The test slipway waits on: the service's, else the image's; `None` if there is none
/// or it is disabled.
pub(crate) fn readiness_test(service: &ServiceSpec, image: &ImageInfo) -> Option<Vec<String>> {
    let test = match &service.healthcheck {
        Some(h) if h.disable => return None,
        Some(h) => h.test.clone().or_else(|| image.healthcheck.clone()),
        None => image.healthcheck.clone(),
    }?;
    match test.first().map(String::as_str) {
        Some("CMD" | "CMD-SHELL") if test.len() > 1 => Some(test),
        _ => None,
    }
}

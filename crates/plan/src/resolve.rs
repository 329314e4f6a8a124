//! A service's container configuration, resolved for one run: environment merged in
//! Jet's order, host paths made absolute, build args rendered.

use std::path::{Component, Path, PathBuf};

use indexmap::IndexMap;
use slipway_config::{Diagnostics, Project, Service, Volume};

use crate::context::RunContext;
use crate::model::{BuildSpec, HealthcheckSpec, RegistryAuthSpec, ServiceSpec, VolumeSpec};
use crate::template::{render, TemplateVars};

/// Environment order, later wins: CI variables → `environment` → `env_file` →
/// `encrypted_env_file` → `-e` on the command line; in a compose file `env_file` comes
/// before `environment`, as docker compose has it.
pub(crate) fn resolve_service(project: &Project, service: &Service, ctx: &RunContext) -> ServiceSpec {
    let name = service.name.value.clone();
    let mut env: IndexMap<String, String> = IndexMap::new();
    for (k, v) in &ctx.ci_vars {
        env.insert(k.clone(), v.clone());
    }
    let from_file: Vec<_> = project.env_files.get(&name).into_iter().flatten().collect();
    let declared: Vec<_> = if project.files.compose {
        from_file.into_iter().chain(&service.environment).collect()
    } else {
        service.environment.iter().chain(from_file).collect()
    };
    for (key, value) in declared {
        match value.clone().or_else(|| ctx.host_env.get(&key.value).cloned()) {
            Some(v) => {
                env.insert(key.value.clone(), v);
            }
            // `- KEY` with KEY unset here: compose leaves it out.
            None => {
                env.shift_remove(&key.value);
            }
        }
    }
    for (k, v) in ctx.decrypted_env.get(&name).into_iter().flatten().chain(&ctx.overrides) {
        env.insert(k.clone(), v.clone());
    }

    let volumes = service
        .volumes
        .iter()
        .map(|v| match &v.value {
            Volume::Anonymous { target } => VolumeSpec::Anonymous { target: target.clone() },
            Volume::Bind { source, target, read_only } => VolumeSpec::Bind {
                source: host_path(&project.dir, source, ctx),
                target: target.clone(),
                read_only: *read_only,
            },
            Volume::Named { name, target, read_only } => {
                VolumeSpec::Named { name: name.clone(), target: target.clone(), read_only: *read_only }
            }
        })
        .collect();

    ServiceSpec {
        // What its containers run: its own build's tag if it builds (which may differ from
        // the name it gives, see `build_tag_of`).
        image: project.build_tag_of(&name).or_else(|| project.image_of(&name)).expect("service exists"),
        // Where a failed build or pull points: the `build:` of a service that builds.
        image_at: service
            .build
            .as_ref()
            .map(|b| &b.span)
            .or(service.image.as_ref().map(|i| &i.span))
            .unwrap_or(&service.name.span)
            .to_string(),
        name,
        env: env.into_iter().collect(),
        command: service.command.as_ref().map(|c| c.words.clone()),
        entrypoint: service.entrypoint.as_ref().map(|c| c.words.clone()),
        working_dir: service.working_dir.as_ref().map(|s| s.value.clone()),
        user: service.user.as_ref().map(|s| s.value.clone()),
        hostname: service.hostname.as_ref().map(|s| s.value.clone()),
        shm_size: service.shm_size,
        tmpfs: service.tmpfs.iter().map(|t| t.value.clone()).collect(),
        cap_add: service.cap_add.iter().map(|c| c.value.clone()).collect(),
        cap_drop: service.cap_drop.iter().map(|c| c.value.clone()).collect(),
        extra_hosts: service.extra_hosts.iter().map(|s| s.value.clone()).collect(),
        volumes,
        volumes_from: service.volumes_from.iter().map(|v| (v.service.value.clone(), v.read_only)).collect(),
        healthcheck: service.healthcheck.as_ref().map(|h| HealthcheckSpec {
            test: h.test.clone(),
            interval: h.interval,
            timeout: h.timeout,
            start_period: h.start_period,
            retries: h.retries,
            disable: h.disable,
        }),
        add_docker: service.add_docker,
        registry_auth: RegistryAuthSpec {
            encrypted_dockercfg_path: service.encrypted_dockercfg_path.as_ref().map(|p| p.value.clone()),
            dockercfg_service: service.dockercfg_service.as_ref().map(|s| s.value.clone()),
        },
        cached: service.cached,
        default_cache_branch: service
            .default_cache_branch
            .as_ref()
            .map_or_else(|| "master".to_string(), |b| b.value.clone()),
    }
}

/// The build of a service, with its args rendered as templates.
pub(crate) fn resolve_build(
    project: &Project,
    service: &Service,
    ctx: &RunContext,
    diags: &mut Diagnostics,
) -> Option<BuildSpec> {
    let build = service.build.as_ref()?;
    let name = service.name.value.clone();
    let image = project.build_tag_of(&name).expect("service builds");
    let mut vars: TemplateVars = ctx.template_vars.clone();
    vars.insert("ServiceName".into(), name.clone());
    vars.insert("ImageName".into(), project.image_of(&name).expect("service exists"));
    vars.entry("StepName".into()).or_default();
    let mut args = Vec::new();
    for (key, value) in &build.args {
        let Some(value) = value.clone().or_else(|| ctx.host_env.get(&key.value).cloned()) else {
            continue;
        };
        match render(&value, &vars) {
            Ok(rendered) => args.push((key.value.clone(), rendered)),
            Err(problem) => {
                diags.error(&key.span, format!("build arg `{}` of service `{name}`: {problem}", key.value));
            }
        }
    }
    for (key, value) in ctx.decrypted_build_args.get(&name).into_iter().flatten() {
        args.retain(|(k, _): &(String, String)| k != key);
        args.push((key.clone(), value.clone()));
    }
    Some(BuildSpec {
        service: name,
        image,
        context: clean(&project.dir.join(&build.context.value)),
        dockerfile: build.dockerfile.as_ref().map_or_else(|| "Dockerfile".to_string(), |d| d.value.clone()),
        args,
        target: build.target.as_ref().map(|t| t.value.clone()),
    })
}

/// `./x` and `x` are relative to the project dir, `~/x` to $HOME.
fn host_path(dir: &Path, source: &str, ctx: &RunContext) -> PathBuf {
    if let Some(rest) = source.strip_prefix("~/") {
        if let Some(home) = ctx.host_env.get("HOME") {
            return clean(&Path::new(home).join(rest));
        }
    }
    clean(&dir.join(source))
}

/// Remove `.` and `..` without touching the file system (the path may not exist yet).
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clean;
    use std::path::Path;

    #[test]
    fn cleans_lexically() {
        assert_eq!(clean(Path::new("/p/./a/../b")), Path::new("/p/b"));
    }
}

//! The services file: one entry per service, compose-style, as Jet read it.

use std::time::Duration;

use indexmap::IndexMap;

use crate::command::{command, Command};
use crate::diagnostic::Diagnostics;
use crate::duration::parse_duration;
use crate::ignored_keys::IgnoredKey;
use crate::reader::{boolean, key_values, non_empty_string, string, string_list, string_or_list, unsigned, Fields};
use crate::source::{Span, Spanned};
use crate::yaml::{Node, Value};

#[derive(Clone, Debug)]
pub struct Service {
    pub name: Spanned<String>,
    pub image: Option<Spanned<String>>,
    pub build: Option<Build>,
    /// `(KEY, Some(value))`, or `(KEY, None)` to take KEY from slipway's own environment.
    pub environment: Vec<(Spanned<String>, Option<String>)>,
    pub env_file: Vec<EnvFile>,
    pub encrypted_env_file: Vec<Spanned<String>>,
    /// Inline encrypted `KEY=VALUE` lines (Jet's `encrypted_environment`): one encrypted
    /// value, or a list of them, as `environment` may be a list.
    pub encrypted_environment: Vec<Spanned<String>>,
    pub links: Vec<Link>,
    pub depends_on: Vec<Dependency>,
    pub volumes: Vec<Spanned<Volume>>,
    pub volumes_from: Vec<VolumesFrom>,
    pub command: Option<Command>,
    pub entrypoint: Option<Command>,
    pub working_dir: Option<Spanned<String>>,
    pub user: Option<Spanned<String>>,
    pub hostname: Option<Spanned<String>>,
    /// `host:ip` entries for /etc/hosts.
    pub extra_hosts: Vec<Spanned<String>>,
    /// Size of /dev/shm in bytes (compose's `shm_size`; browsers need more than 64 MB).
    pub shm_size: Option<u64>,
    /// Paths mounted as tmpfs, each with its options (`/run:size=64m`).
    pub tmpfs: Vec<Spanned<String>>,
    /// Kernel capabilities added to and dropped from the engine's default set
    /// (`SYS_ADMIN` for a browser's sandbox, `NET_ADMIN` for a VPN client).
    pub cap_add: Vec<Spanned<String>>,
    pub cap_drop: Vec<Spanned<String>>,
    pub healthcheck: Option<Healthcheck>,
    pub cached: bool,
    pub default_cache_branch: Option<Spanned<String>>,
    pub add_docker: bool,
    pub encrypted_dockercfg_path: Option<Spanned<String>>,
    pub dockercfg_service: Option<Spanned<String>>,
    /// The service's whole entry, for messages about the service as a whole.
    pub span: Span,
    /// The entry has an `image` or `build` key, valid or not: a value of the wrong type is
    /// reported as such, not also as missing.
    pub image_or_build_given: bool,
}

#[derive(Clone, Debug)]
pub struct Build {
    /// Build context, relative to the project dir.
    pub context: Spanned<String>,
    /// Dockerfile path, relative to the context.
    pub dockerfile: Option<Spanned<String>>,
    /// Name to tag the built image with.
    pub image: Option<Spanned<String>>,
    /// Build args; values may be templates like `{{ .Branch }}`.
    pub args: Vec<(Spanned<String>, Option<String>)>,
    pub target: Option<Spanned<String>>,
    pub encrypted_args_file: Option<Spanned<String>>,
    /// Inline encrypted args (base64 of an encrypted `KEY=VALUE` list).
    pub encrypted_args: Option<Spanned<String>>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Link {
    pub service: Spanned<String>,
    pub alias: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    Started,
    Healthy,
    CompletedSuccessfully,
}

#[derive(Clone, Debug)]
pub struct Dependency {
    pub service: Spanned<String>,
    pub condition: Condition,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Volume {
    /// `/ctr`: a fresh volume for each container.
    Anonymous { target: String },
    /// `./host:/ctr[:ro]`: a host path, relative to the project dir.
    Bind { source: String, target: String, read_only: bool },
    /// `name:/ctr[:ro]`: a volume shared by the whole run.
    Named { name: String, target: String, read_only: bool },
}

#[derive(Clone, Debug)]
pub struct VolumesFrom {
    pub service: Spanned<String>,
    pub read_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`; `None` keeps the image's test.
    pub test: Option<Vec<String>>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub retries: Option<u64>,
    pub disable: bool,
}

pub(crate) const SERVICE_KEYS: &[&str] = &[
    "image",
    "build",
    "dockerfile",
    "environment",
    "env_file",
    "encrypted_env_file",
    "encrypted_environment",
    "links",
    "depends_on",
    "volumes",
    "volumes_from",
    "command",
    "entrypoint",
    "working_dir",
    "user",
    "hostname",
    "extra_hosts",
    "shm_size",
    "tmpfs",
    "cap_add",
    "cap_drop",
    "healthcheck",
    "cached",
    "default_cache_branch",
    "add_docker",
    "encrypted_dockercfg_path",
    "dockercfg_service",
];

/// Compose keys Jet ignored or refused; slipway accepts them with a warning.
pub(crate) const IGNORED_SERVICE_KEYS: &[&str] = &[
    "container_name",
    "networks",
    "network_mode",
    "logging",
    "stop_signal",
    "stop_grace_period",
    "tty",
    "ulimits",
    "privileged",
    "pid",
    "ipc",
    "devices",
    "cgroup_parent",
    "extends",
    "ports",
    "expose",
    "external_links",
    "stdin_open",
    "labels",
    "restart",
    "deploy",
    "domainname",
    "mem_limit",
    "cpus",
    "cpu_shares",
    "security_opt",
    "dns",
    "dns_search",
    "init",
    "platform",
    "profiles",
    "sysctls",
    "cpu_quota",
    "cpuset",
    "group_add",
    "isolation",
    "log_driver",
    "log_opt",
    "mac_address",
    "mem_reservation",
    "memswap_limit",
    "mem_swappiness",
    "oom_score_adj",
    "read_only",
    "volume_driver",
    "stdin_open",
];

/// Parse one service. `compose` relaxes Jet's rules the way docker compose does
/// (`image` next to `build` names the built image).
pub(crate) fn parse_service(
    name: Spanned<String>,
    node: &Node,
    compose: bool,
    ignored: &mut Vec<IgnoredKey>,
    diags: &mut Diagnostics,
) -> Option<Service> {
    let what = format!("service `{}`", name.value);
    let mut f = Fields::of(node, &what, diags)?;
    let str_field = |f: &mut Fields, key: &str, diags: &mut Diagnostics| {
        f.take(key).and_then(|n| string(n, &format!("`{key}` of {what}"), diags))
    };

    let image_or_build_given = f.has("image") || f.has("build");
    let mut image = f.take("image").and_then(|n| non_empty_string(n, &format!("`image` of {what}"), diags));
    let sibling_dockerfile =
        f.take("dockerfile").and_then(|n| non_empty_string(n, &format!("`dockerfile` of {what}"), diags));
    let mut build = f.take("build").and_then(|n| parse_build(n, &what, diags));
    if let (Some(build), Some(dockerfile)) = (&mut build, sibling_dockerfile) {
        if build.dockerfile.is_none() {
            build.dockerfile = Some(dockerfile);
        }
    }
    if compose {
        // docker compose: `image` next to `build` is the name for the built image.
        if let (Some(build), Some(_)) = (&mut build, &image) {
            if build.image.is_none() {
                build.image = image.take();
            }
        }
    }

    let environment =
        f.take("environment").map(|n| key_values(n, &format!("`environment` of {what}"), diags)).unwrap_or_default();
    if !compose {
        warn_uninterpolated(&environment, &what, diags);
    }
    let env_file =
        f.take("env_file").map(|n| env_files(n, &format!("`env_file` of {what}"), diags)).unwrap_or_default();
    let encrypted_env_file = f
        .take("encrypted_env_file")
        .map(|n| string_or_list(n, &format!("`encrypted_env_file` of {what}"), diags))
        .unwrap_or_default();
    let encrypted_environment = f
        .take("encrypted_environment")
        .map(|n| string_or_list(n, &format!("`encrypted_environment` of {what}"), diags))
        .unwrap_or_default();
    let links = f.take("links").map(|n| parse_links(n, &what, diags)).unwrap_or_default();
    let depends_on = f.take("depends_on").map(|n| parse_depends_on(n, &what, diags)).unwrap_or_default();
    let volumes = f.take("volumes").map(|n| parse_volumes(n, &what, compose, diags)).unwrap_or_default();
    let volumes_from = f
        .take("volumes_from")
        .map(|n| string_list(n, &format!("`volumes_from` of {what}"), diags))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|entry| parse_volumes_from(entry, diags))
        .collect();
    let command_ = f.take("command").and_then(|n| command(n, &format!("`command` of {what}"), diags));
    let entrypoint = f.take("entrypoint").and_then(|n| match n.scalar_text().as_deref() {
        // `entrypoint: ""` (or `[]`) clears the image's ENTRYPOINT, as in compose.
        Some("") => Some(Command { words: Vec::new(), text: String::new(), span: n.span.clone() }),
        _ if n.as_seq().is_some_and(|items| items.is_empty()) => {
            Some(Command { words: Vec::new(), text: String::new(), span: n.span.clone() })
        }
        _ => command(n, &format!("`entrypoint` of {what}"), diags),
    });
    let working_dir = str_field(&mut f, "working_dir", diags);
    if let Some(dir) = working_dir.as_ref().filter(|d| !d.value.starts_with('/') && !d.value.contains('$')) {
        // The engine refuses it only when the container is created, far from this line.
        diags
            .error(
                &dir.span,
                format!("`working_dir` of {what} must be an absolute path in the container, not `{}`", dir.value),
            )
            .hint("start it with `/`, e.g. `/app`");
    }
    let user = str_field(&mut f, "user", diags);
    let hostname = str_field(&mut f, "hostname", diags);
    let extra_hosts = f.take("extra_hosts").map(|n| parse_extra_hosts(n, &what, diags)).unwrap_or_default();
    let shm_size = f.take("shm_size").and_then(|n| parse_byte_size(n, &format!("`shm_size` of {what}"), diags));
    let tmpfs = f.take("tmpfs").map(|n| string_or_list(n, &format!("`tmpfs` of {what}"), diags)).unwrap_or_default();
    for path in &tmpfs {
        if !path.value.starts_with('/') {
            diags
                .error(
                    &path.span,
                    format!("`tmpfs` of {what} must be an absolute path in the container, not `{}`", path.value),
                )
                .hint("write `/path`, optionally with options: `/path:size=64m`");
        }
        let size = path
            .value
            .split_once(':')
            .and_then(|(_, options)| options.split(',').find_map(|o| o.strip_prefix("size=")).map(str::to_string));
        if let Some(size) = size.filter(|s| !is_byte_size(s)) {
            diags
                .error(&path.span, format!("`tmpfs` of {what}: `size={size}` is not a size"))
                .hint("write a number of bytes, or one with a unit: `size=64m`, `size=1g`");
        }
    }
    let mut capabilities = |key: &str| {
        let list = f.take(key).map(|n| string_or_list(n, &format!("`{key}` of {what}"), diags)).unwrap_or_default();
        for name in &list {
            if let Err(near) = capability(&name.value) {
                let hint = match near {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "write a name as `man 7 capabilities` gives it, with or without `CAP_`: `SYS_ADMIN`, `NET_ADMIN`, or `ALL`".to_string(),
                };
                diags
                    .error(&name.span, format!("`{key}` of {what}: `{}` is not a capability name", name.value))
                    .hint(hint);
            }
        }
        list
    };
    let cap_add = capabilities("cap_add");
    let cap_drop = capabilities("cap_drop");
    let healthcheck = f.take("healthcheck").and_then(|n| parse_healthcheck(n, &what, diags));
    let cached = f.take("cached").and_then(|n| boolean(n, &format!("`cached` of {what}"), diags)).unwrap_or(false);
    let default_cache_branch = str_field(&mut f, "default_cache_branch", diags);
    let add_docker =
        f.take("add_docker").and_then(|n| boolean(n, &format!("`add_docker` of {what}"), diags)).unwrap_or(false);
    let encrypted_dockercfg_path = str_field(&mut f, "encrypted_dockercfg_path", diags);
    let dockercfg_service = str_field(&mut f, "dockercfg_service", diags);
    // Resolved before parsing in a compose file; Jet's services files had no `extends`.
    if let Some(extends) = f.take("extends").filter(|_| !compose) {
        diags.warning(&extends.span, format!("`extends` in {what} is not read: only compose files have it")).hint(
            "copy the settings into this service; compose files (docker-compose.yml, compose.yaml) have `extends`",
        );
    }

    let service = &name.value;
    ignored.extend(f.take_listed(IGNORED_SERVICE_KEYS).into_iter().map(|(key, node)| IgnoredKey {
        key,
        span: node.span.clone(),
        service: service.clone(),
    }));
    f.warn_rest(&what, &[], "", SERVICE_KEYS, diags);

    Some(Service {
        image_or_build_given,
        span: name.span.clone(),
        name,
        image,
        build,
        environment,
        env_file,
        encrypted_env_file,
        encrypted_environment,
        links,
        depends_on,
        volumes,
        volumes_from,
        command: command_,
        entrypoint,
        working_dir,
        user,
        hostname,
        extra_hosts,
        shm_size,
        tmpfs,
        cap_add,
        cap_drop,
        healthcheck,
        cached,
        default_cache_branch,
        add_docker,
        encrypted_dockercfg_path,
        dockercfg_service,
    })
}

/// Compose build keys slipway accepts with a warning.
const IGNORED_BUILD_KEYS: &[&str] =
    &["cache_from", "labels", "network", "shm_size", "extra_hosts", "ssh", "secrets", "platforms", "no_cache", "pull"];

/// Keys of a push step that real Jet files put under a service's `build:`.
const PUSH_STEP_KEYS: &[&str] = &["image_name", "image_tag", "registry"];

fn parse_build(node: &Node, service: &str, diags: &mut Diagnostics) -> Option<Build> {
    let what = format!("`build` of {service}");
    if let Some(context) = node.scalar_text() {
        return Some(Build {
            context: Spanned::new(context, node.span.clone()),
            dockerfile: None,
            image: None,
            args: Vec::new(),
            target: None,
            encrypted_args_file: None,
            encrypted_args: None,
            span: node.span.clone(),
        });
    }
    let mut f = Fields::of(node, &what, diags)?;
    let mut take_str = |f: &mut Fields, keys: &[&str]| {
        let mut found = None;
        for key in keys {
            if let Some(n) = f.take(key) {
                if found.is_some() {
                    diags.error(&n.span, format!("{what} sets both `{}` and `{key}`; keep one", keys[0]));
                } else {
                    found = non_empty_string(n, &format!("`{key}` of {what}"), diags);
                }
            }
        }
        found
    };
    let context = take_str(&mut f, &["context", "path"]);
    let dockerfile = take_str(&mut f, &["dockerfile", "dockerfile_path"]);
    let image = take_str(&mut f, &["image"]);
    let target = take_str(&mut f, &["target"]);
    let encrypted_args_file = take_str(&mut f, &["encrypted_args_file"]);
    let encrypted_args = take_str(&mut f, &["encrypted_args"]);
    let args = f.take("args").map(|n| key_values(n, &format!("`args` of {what}"), diags)).unwrap_or_default();
    // A service's or a push step's key written under `build:` (`cached: true` there is
    // common in real Jet files): as written it does nothing, so say where it belongs.
    let misplaced: Vec<&str> =
        SERVICE_KEYS.iter().chain(PUSH_STEP_KEYS).copied().filter(|key| !IGNORED_BUILD_KEYS.contains(key)).collect();
    for (key, node) in f.take_listed(&misplaced) {
        let (owner, fix) = if PUSH_STEP_KEYS.contains(&key.as_str()) {
            ("a push step (`type: push`)", "move it to the push step that pushes this image")
        } else if key == "environment" {
            (service, "move it up one level; values for the build itself are `args`")
        } else {
            (service, "move it up one level, beside `build:`")
        };
        diags
            .warning(&node.span, format!("`{key}` belongs to {owner}, not to {what}: as written it is not used"))
            .hint(fix);
    }
    f.warn_rest(
        &what,
        IGNORED_BUILD_KEYS,
        "slipway does not pass it to the builder",
        &[
            "context",
            "path",
            "dockerfile",
            "dockerfile_path",
            "image",
            "args",
            "target",
            "encrypted_args_file",
            "encrypted_args",
        ],
        diags,
    );
    Some(Build {
        context: context.unwrap_or_else(|| Spanned::new(".".to_string(), node.span.clone())),
        dockerfile,
        image,
        args,
        target,
        encrypted_args_file,
        encrypted_args,
        span: node.span.clone(),
    })
}

fn parse_links(node: &Node, service: &str, diags: &mut Diagnostics) -> Vec<Link> {
    string_list(node, &format!("`links` of {service}"), diags)
        .into_iter()
        .filter_map(|entry| match entry.value.split_once(':') {
            // An alias is a host name on the step's network.
            Some((_, alias))
                if alias.is_empty() || !alias.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) =>
            {
                diags
                    .error(&entry.span, format!("`links` of {service}: `{alias}` is no host name to reach it by"))
                    .hint("write `service` or `service:alias`, the alias of letters, digits, `.`, `_` and `-`");
                None
            }
            Some((name, alias)) => {
                Some(Link { service: Spanned::new(name.to_string(), entry.span), alias: Some(alias.to_string()) })
            }
            None => Some(Link { service: entry, alias: None }),
        })
        .collect()
}

fn parse_depends_on(node: &Node, service: &str, diags: &mut Diagnostics) -> Vec<Dependency> {
    let what = format!("`depends_on` of {service}");
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .filter_map(|(key, value)| {
                let name = string(key, &what, diags)?;
                // Compose's long form: `condition` (and `restart`/`required`, which say
                // nothing to a run of steps).
                let entry = format!("`{}` in {what}", name.value);
                let fields = if value.is_null() { None } else { Fields::of(value, &entry, diags) };
                let condition_node = match fields {
                    Some(mut f) => {
                        let condition = f.take("condition");
                        f.warn_rest(
                            &entry,
                            &["restart", "required"],
                            "slipway starts every dependency for each step",
                            &["condition", "restart", "required"],
                            diags,
                        );
                        condition
                    }
                    None => None,
                };
                let condition = match condition_node.map(|c| (c, c.scalar_text())) {
                    None => Condition::Started,
                    Some((_, Some(c))) if c == "service_started" => Condition::Started,
                    Some((_, Some(c))) if c == "service_healthy" => Condition::Healthy,
                    Some((_, Some(c))) if c == "service_completed_successfully" => Condition::CompletedSuccessfully,
                    Some((c, _)) => {
                        diags
                            .error(&c.span, format!("unknown condition in {what}"))
                            .hint("use service_started, service_healthy or service_completed_successfully");
                        Condition::Started
                    }
                };
                Some(Dependency { service: name, condition })
            })
            .collect(),
        _ => string_list(node, &what, diags)
            .into_iter()
            .map(|service| Dependency { service, condition: Condition::Started })
            .collect(),
    }
}

fn parse_volumes(node: &Node, service: &str, compose: bool, diags: &mut Diagnostics) -> Vec<Spanned<Volume>> {
    let what = format!("`volumes` of {service}");
    let Some(items) = node.as_seq() else {
        if !node.is_null() {
            diags.error(&node.span, format!("{what} must be a list, found {}", node.kind()));
        }
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let volume = match item.as_map() {
                Some(_) => parse_long_volume(item, &what, diags)?,
                None => {
                    let text = string(item, &format!("each entry of {what}"), diags)?;
                    match parse_short_volume(&text.value, compose) {
                        Ok(volume) => volume,
                        Err(problem) => {
                            diags.error(&item.span, format!("{what}: {problem}")).hint(
                                "write `/container/path`, `./host/path:/container/path[:ro]` or `name:/container/path`",
                            );
                            return None;
                        }
                    }
                }
            };
            Some(Spanned::new(volume, item.span.clone()))
        })
        .collect()
}

/// `/ctr`, `./host:/ctr[:ro|rw]`, `name:/ctr[:ro]`. A bare `name` is a named volume in
/// compose files; Jet read it as a folder of the project (`name:/ctr` = `./name:/ctr`).
pub fn parse_short_volume(text: &str, compose: bool) -> Result<Volume, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let read_only = |mode: &str| match mode {
        "ro" => Ok(true),
        "rw" | "z" | "Z" | "cached" | "delegated" | "consistent" => Ok(false),
        other if other.split(',').all(|m| ["ro", "rw", "z", "Z", "nocopy"].contains(&m)) => {
            Ok(other.split(',').any(|m| m == "ro"))
        }
        other => Err(format!("unknown volume mode `{other}` in `{text}`")),
    };
    let (source, target, ro) = match parts.as_slice() {
        [target] => return absolute_target(target, text).map(|target| Volume::Anonymous { target }),
        [source, target] => (*source, *target, false),
        [source, target, mode] => (*source, *target, read_only(mode)?),
        _ => return Err(format!("`{text}` has too many `:`")),
    };
    let target = absolute_target(target, text)?;
    if source.is_empty() {
        return Err(format!("`{text}` has an empty host path"));
    }
    Ok(if source.starts_with(['.', '/', '~']) {
        Volume::Bind { source: source.to_string(), target, read_only: ro }
    } else if !compose {
        Volume::Bind { source: format!("./{source}"), target, read_only: ro }
    } else {
        Volume::Named { name: source.to_string(), target, read_only: ro }
    })
}

fn absolute_target(target: &str, text: &str) -> Result<String, String> {
    if target.starts_with('/') {
        Ok(target.to_string())
    } else {
        Err(format!("the container path in `{text}` must be absolute"))
    }
}

fn parse_long_volume(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<Volume> {
    let mut f = Fields::of(node, what, diags)?;
    let kind = f.take("type").and_then(|n| string(n, what, diags)).map(|s| s.value);
    let source = f.take("source").and_then(|n| string(n, what, diags)).map(|s| s.value);
    let target = f.take("target").and_then(|n| string(n, what, diags));
    let read_only = f.take("read_only").and_then(|n| boolean(n, what, diags)).unwrap_or(false);
    f.warn_rest(
        what,
        &["volume", "bind", "consistency"],
        "slipway uses the defaults",
        &["type", "source", "target", "read_only"],
        diags,
    );
    let Some(target) = target else {
        diags.error(&node.span, format!("{what}: a volume needs `target`"));
        return None;
    };
    let target = match absolute_target(&target.value, &target.value) {
        Ok(t) => t,
        Err(e) => {
            diags.error(&target.span, e);
            return None;
        }
    };
    match (kind.as_deref(), source) {
        (Some("bind"), Some(source)) => Some(Volume::Bind { source, target, read_only }),
        (Some("volume") | None, Some(name)) => Some(Volume::Named { name, target, read_only }),
        (Some("volume") | None, None) => Some(Volume::Anonymous { target }),
        (Some("tmpfs"), _) => {
            diags.warning(&node.span, format!("{what}: tmpfs volumes are ignored"));
            None
        }
        (Some(other), _) => {
            diags.error(&node.span, format!("{what}: unsupported volume type `{other}`")).hint("use bind or volume");
            None
        }
    }
}

fn parse_volumes_from(entry: Spanned<String>, diags: &mut Diagnostics) -> Option<VolumesFrom> {
    let text = entry.value.strip_prefix("service:").unwrap_or(&entry.value);
    let (name, mode) = match text.split_once(':') {
        Some((name, mode)) => (name, Some(mode)),
        None => (text, None),
    };
    if entry.value.starts_with("container:") {
        diags
            .error(&entry.span, "volumes_from a container outside the pipeline is not supported")
            .hint("name a service of this file");
        return None;
    }
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(other) => {
            diags.error(&entry.span, format!("unknown volumes_from mode `{other}`")).hint("use ro or rw");
            return None;
        }
    };
    Some(VolumesFrom { service: Spanned::new(name.to_string(), entry.span), read_only })
}

/// A size as compose writes it: bytes (`67108864`), or a number with `b`, `k`, `m` or `g`
/// (binary units, an optional `b` after them: `2gb`).
/// `256m`, `2g`, `1024` as bytes; `None` if it is no size.
fn byte_size(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let factor: u64 = match unit.trim().trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => 0,
    };
    number.parse::<u64>().ok().and_then(|n| n.checked_mul(factor)).filter(|n| *n > 0)
}

fn is_byte_size(text: &str) -> bool {
    byte_size(text).is_some()
}

fn parse_byte_size(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<u64> {
    let text = node.scalar_text().unwrap_or_default().trim().to_ascii_lowercase();
    match byte_size(&text) {
        Some(bytes) => Some(bytes),
        None => {
            diags
                .error(&node.span, format!("{what} is not a size: `{text}`"))
                .hint("write a number of bytes, or one with a unit: `256m`, `2g`");
            None
        }
    }
}

fn parse_extra_hosts(node: &Node, service: &str, diags: &mut Diagnostics) -> Vec<Spanned<String>> {
    let what = format!("`extra_hosts` of {service}");
    match &node.value {
        Value::Map(_) => key_values(node, &what, diags)
            .into_iter()
            .filter_map(|(host, ip)| {
                let Some(ip) = ip else {
                    diags.error(&host.span, format!("{what}: `{}` needs an address", host.value));
                    return None;
                };
                Some(Spanned::new(format!("{}:{ip}", host.value), host.span))
            })
            .collect(),
        _ => string_list(node, &what, diags)
            .into_iter()
            .filter_map(|entry| {
                // compose also accepts `host=ip`
                let entry = match entry.value.split_once('=') {
                    Some((h, ip)) => Spanned::new(format!("{h}:{ip}"), entry.span),
                    None => entry,
                };
                match entry.value.split_once(':') {
                    Some((host, ip)) if !host.is_empty() && (ip.parse::<std::net::IpAddr>().is_ok() || ip == "host-gateway") => {
                        Some(entry)
                    }
                    Some((host, ip)) if !host.is_empty() && !ip.is_empty() => {
                        diags
                            .error(&entry.span, format!("{what}: `{ip}` is not an IP address"))
                            .hint("write host:address with an IPv4 or IPv6 address (or host-gateway), e.g. `db.local:10.0.0.5`");
                        None
                    }
                    _ => {
                        diags
                            .error(&entry.span, format!("{what}: `{}` needs a host and an address", entry.value))
                            .hint("write host:address, e.g. `db.local:10.0.0.5`");
                        None
                    }
                }
            })
            .collect(),
    }
}

fn parse_healthcheck(node: &Node, service: &str, diags: &mut Diagnostics) -> Option<Healthcheck> {
    let what = format!("`healthcheck` of {service}");
    let mut f = Fields::of(node, &what, diags)?;
    let test = f.take("test").and_then(|n| match &n.value {
        Value::Seq(_) => {
            let words: Vec<String> =
                string_list(n, &format!("`test` of {what}"), diags).into_iter().map(|s| s.value).collect();
            match words.first().map(String::as_str) {
                Some("CMD" | "CMD-SHELL" | "NONE") => Some(words),
                _ => {
                    diags.error(&n.span, format!("`test` of {what} must start with CMD, CMD-SHELL or NONE"));
                    None
                }
            }
        }
        _ => string(n, &format!("`test` of {what}"), diags).map(|s| vec!["CMD-SHELL".to_string(), s.value]),
    });
    let mut duration = |f: &mut Fields, key: &str| {
        let node = f.take(key)?;
        let text = string(node, &format!("`{key}` of {what}"), diags)?;
        match parse_duration(&text.value) {
            Ok(d) => Some(d),
            Err(problem) => {
                diags.error(&node.span, format!("`{key}` of {what}: {problem}"));
                None
            }
        }
    };
    let interval = duration(&mut f, "interval");
    let timeout = duration(&mut f, "timeout");
    let start_period = duration(&mut f, "start_period");
    f.take("start_interval"); // Engine API ≥ 1.44 only; slipway polls fast anyway.
    let retries = f.take("retries").and_then(|n| unsigned(n, &format!("`retries` of {what}"), diags));
    let disable = f.take("disable").and_then(|n| boolean(n, &format!("`disable` of {what}"), diags)).unwrap_or(false);
    f.warn_rest(
        &what,
        &[],
        "",
        &["test", "interval", "timeout", "start_period", "start_interval", "retries", "disable"],
        diags,
    );
    Some(Healthcheck { test, interval, timeout, start_period, retries, disable })
}

/// All services of a file, in file order.
pub type Services = IndexMap<String, Service>;

/// A Jet services file fills in no variables (a compose file does, before this): a value
/// written as `${API_HOST:-localhost}` or `$USER` reaches the step as written.
fn warn_uninterpolated(environment: &[(Spanned<String>, Option<String>)], what: &str, diags: &mut Diagnostics) {
    for (key, value) in environment {
        let Some(value) = value.as_deref() else { continue };
        let whole_variable = value.strip_prefix('$').is_some_and(|name| {
            name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if value.contains("${") || whole_variable {
            diags
                .warning(&key.span, format!("`{}` of {what} is `{value}`, which the step gets as written", key.value))
                .hint("a Jet services file fills in no variables: write the value, give it with `-e KEY=VALUE` or an `env_file`, write just `KEY` to take it from slipway's environment, or use a docker-compose.yml, where slipway fills it in as compose does");
        }
    }
}

/// Linux's capabilities (capabilities(7)), as the engine names them without `CAP_`.
const CAPABILITIES: &[&str] = &[
    "ALL",
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "BPF",
    "CHECKPOINT_RESTORE",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "PERFMON",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "WAKE_ALARM",
];

/// `SYS_ADMIN`, `cap_sys_admin`, `ALL`: a capability as the engine takes it, or the
/// closest one to suggest.
fn capability(name: &str) -> Result<(), Option<&'static str>> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if name == name.trim() && CAPABILITIES.contains(&bare) {
        Ok(())
    } else {
        Err(crate::reader::closest(bare, CAPABILITIES))
    }
}

/// One `env_file` entry: a path, or compose's `{path, required}` form.
#[derive(Clone, Debug)]
pub struct EnvFile {
    pub path: Spanned<String>,
    /// `required: false`: a missing file is skipped.
    pub required: bool,
}

fn env_files(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<EnvFile> {
    let Some(items) = node.as_seq() else {
        return string_or_list(node, what, diags).into_iter().map(|path| EnvFile { path, required: true }).collect();
    };
    items
        .iter()
        .filter_map(|item| {
            if item.as_map().is_none() {
                return string(item, &format!("each entry of {what}"), diags)
                    .map(|path| EnvFile { path, required: true });
            }
            let mut f = Fields::of(item, &format!("an entry of {what}"), diags)?;
            let path = match f.take("path") {
                Some(path) => string(path, &format!("`path` in {what}"), diags)?,
                None => {
                    diags
                        .error(&item.span, format!("an entry of {what} has no `path`"))
                        .hint("write `- path: ./file.env` (and `required: false` for a file that may be missing)");
                    return None;
                }
            };
            let required =
                f.take("required").and_then(|n| boolean(n, &format!("`required` in {what}"), diags)).unwrap_or(true);
            f.warn_rest(&format!("an entry of {what}"), &[], "", &["path", "required", "format"], diags);
            Some(EnvFile { path, required })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_volumes() {
        assert_eq!(parse_short_volume("/data", false).unwrap(), Volume::Anonymous { target: "/data".into() });
        assert_eq!(
            parse_short_volume("./src:/app:ro", false).unwrap(),
            Volume::Bind { source: "./src".into(), target: "/app".into(), read_only: true }
        );
        assert_eq!(
            parse_short_volume("cache:/root/.cache", true).unwrap(),
            Volume::Named { name: "cache".into(), target: "/root/.cache".into(), read_only: false }
        );
        assert_eq!(
            parse_short_volume("build:/build", false).unwrap(),
            Volume::Bind { source: "./build".into(), target: "/build".into(), read_only: false }
        );
        assert!(parse_short_volume("./src:app", false).is_err());
        assert!(parse_short_volume("./src:/app:bogus", false).is_err());
    }
}

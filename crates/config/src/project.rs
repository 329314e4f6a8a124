//! Loading a project: find the files, parse them, read env files, validate — collecting
//! every problem on the way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::discover::{discover, missing_steps, ProjectFiles};
use crate::env_file::parse_env_file;
use crate::ignored_keys::warn_ignored_keys;
use crate::interpolate::interpolate;
use crate::reader::Fields;
use crate::service::{parse_service, Services};
use crate::source::{SourceFile, Spanned};
use crate::steps::{parse_steps_file, Step};
use crate::validate::validate;
use crate::yaml::{self, Value};

#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Project directory; paths in the files are relative to it.
    pub dir: PathBuf,
    pub services_path: Option<PathBuf>,
    pub steps_path: Option<PathBuf>,
    /// Whether a steps file must exist and be loaded (`steps`, `validate`), or is not
    /// needed (`run`, `load`).
    pub with_steps: bool,
    /// Variables for compose-file interpolation (usually slipway's own environment).
    pub variables: HashMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct Project {
    pub dir: PathBuf,
    /// Lower-case name derived from the directory; prefixes default image names.
    pub name: String,
    pub files: ProjectFiles,
    pub services: Services,
    /// Present when loaded `with_steps`.
    pub steps: Option<Vec<Step>>,
    /// Values read from each service's `env_file`s, in file order (later wins).
    pub env_files: HashMap<String, Vec<(Spanned<String>, Option<String>)>>,
}

impl Project {
    /// The image a service runs: its `image`, its build's `image`, or `<project>_<service>`.
    pub fn image_of(&self, service: &str) -> Option<String> {
        let s = self.services.get(service)?;
        Some(match (&s.image, &s.build) {
            (Some(image), _) => image.value.clone(),
            (None, Some(build)) => {
                build.image.as_ref().map_or_else(|| self.default_image(service), |i| i.value.clone())
            }
            (None, None) => self.default_image(service),
        })
    }

    /// `<project>_<service>`, lower-cased as image names must be.
    pub fn default_image(&self, service: &str) -> String {
        format!("{}_{}", crate::image_name_part(&self.name), crate::image_name_part(service))
    }
}

/// Load and validate. `Ok` carries the warnings; `Err` carries every error (and warning).
pub fn load(options: &LoadOptions) -> Result<(Project, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::new();
    let files =
        discover(&options.dir, options.services_path.as_deref(), options.steps_path.as_deref()).map_err(single)?;
    if options.with_steps && files.steps.is_none() {
        return Err(single(missing_steps(&options.dir)));
    }
    // Absolute, so bind mounts and build contexts never depend on the current directory.
    let dir = files.dir.canonicalize().unwrap_or_else(|_| files.dir.clone());
    let name = project_name(&dir);

    let services_file = read_source(&files.services, &dir).map_err(single)?;
    let mut services_parsed = true;
    let services = match yaml::parse(&services_file) {
        Ok(mut root) => {
            let compose = files.compose.then(|| {
                // A file given with --services-path is the one meant (`docker compose -f`
                // reads no override either).
                if options.services_path.is_none() {
                    warn_unread_compose_files(&files.services, &mut diags);
                }
                let variables = compose_variables(&files.services, &dir, &options.variables, &mut diags);
                ComposeContext { dir: dir.clone(), variables }
            });
            if let Some(compose) = &compose {
                interpolate(&mut root, &compose.variables, &mut diags);
            }
            parse_services_file(&root, compose.as_ref(), &mut diags)
        }
        Err(d) => {
            diags.push(d);
            services_parsed = false;
            Services::new()
        }
    };

    let steps = match (&files.steps, options.with_steps) {
        (Some(path), true) => {
            let source = read_source(path, &dir).map_err(single)?;
            match yaml::parse(&source) {
                Ok(root) => Some(parse_steps_file(&root, &mut diags)),
                Err(d) => {
                    diags.push(d);
                    Some(Vec::new())
                }
            }
        }
        _ => None,
    };

    let mut env_files = HashMap::new();
    for service in services.values() {
        let mut values = Vec::new();
        for entry in &service.env_file {
            let path = &entry.path;
            if !entry.required && !dir.join(&path.value).exists() {
                continue;
            }
            match read_source(&dir.join(&path.value), &dir) {
                Ok(file) => values.extend(parse_env_file(&file, &mut diags)),
                Err(problem) => {
                    let full = dir.join(&path.value);
                    let what = if full.is_dir() {
                        "is a directory, not a file".to_string()
                    } else if full.exists() {
                        format!("cannot be read: {}", problem.message)
                    } else {
                        "does not exist".to_string()
                    };
                    diags
                        .error(
                            &path.span,
                            format!("env_file `{}` of service `{}` {what}", path.value, service.name.value),
                        )
                        .hint(format!("paths are relative to the project dir `{}`", dir.display()));
                }
            }
        }
        let encrypted_args_file = service.build.as_ref().and_then(|b| b.encrypted_args_file.as_ref());
        let needed = service.encrypted_env_file.iter().map(|p| ("encrypted_env_file", p));
        for (key, path) in needed.chain(encrypted_args_file.map(|p| ("encrypted_args_file", p))) {
            if !dir.join(&path.value).is_file() {
                diags
                    .error(
                        &path.span,
                        format!("{key} `{}` of service `{}` does not exist", path.value, service.name.value),
                    )
                    .hint(format!("paths are relative to the project dir `{}`", dir.display()));
            }
        }
        if let Some(path) = &service.encrypted_dockercfg_path {
            let what = format!("service `{}`", service.name.value);
            warn_missing_dockercfg(path, &what, "pulling its image", &dir, &mut diags);
        }
        env_files.insert(service.name.value.clone(), values);
    }
    for step in steps.iter().flatten() {
        step.walk(&mut |step| {
            if let Some(path) = &step.registry_auth.encrypted_dockercfg_path {
                let what = format!("step `{}`", step.display_name());
                warn_missing_dockercfg(path, &what, "its pushes and pulls", &dir, &mut diags);
            }
        });
    }

    let project = Project { dir, name, files, services, steps, env_files };
    if services_parsed && !project.services.is_empty() {
        // Without services, every step would name an "unknown" service: noise.
        validate(&project, &mut diags);
    }
    let diags = diags.sorted();
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok((project, diags))
    }
}

/// Registry credentials are needed only by a pull or push that asks for them (push steps
/// run only with `--push`), so a missing file is a warning.
fn warn_missing_dockercfg(path: &Spanned<String>, what: &str, use_: &str, dir: &Path, diags: &mut Diagnostics) {
    if !dir.join(&path.value).is_file() {
        diags.warning(&path.span, format!("encrypted_dockercfg_path `{}` of {what} does not exist", path.value)).hint(
            format!(
                "{use_} will have no registry credentials; paths are relative to the project dir `{}`",
                dir.display()
            ),
        );
    }
}

fn single(d: Diagnostic) -> Diagnostics {
    let mut diags = Diagnostics::new();
    diags.push(d);
    diags
}

/// Pipeline files are small; a bigger one is a mistake (a log or a build artefact under a
/// pipeline file's name) and would cost seconds and gigabytes to parse.
const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// A run's named volumes are its own, fresh and removed at its end: a compose volume
/// marked `external` (one that lives outside the project) is not used, so say so.
fn warn_external_volumes(root: &yaml::Node, diags: &mut Diagnostics) {
    let volumes = root.as_map().and_then(|m| m.iter().find(|(k, _)| k.scalar_text().as_deref() == Some("volumes")));
    let Some(volumes) = volumes.and_then(|(_, v)| v.as_map()) else { return };
    for (name, settings) in volumes {
        let external = settings.as_map().and_then(|m| {
            m.iter().find(|(k, _)| k.scalar_text().as_deref() == Some("external")).map(|(_, v)| v.clone())
        });
        if external.is_some_and(|v| !matches!(v.value, Value::Bool(false) | Value::Null)) {
            diags
                .warning(
                    &name.span,
                    format!(
                        "volume `{}` is external, but each run mounts a fresh volume of its own under that name",
                        name.scalar_text().unwrap_or_default()
                    ),
                )
                .hint("runs are isolated and leave nothing behind; to share files with the host, mount a host path (`./dir:/path`)");
        }
    }
}

/// docker compose also reads an override file, and picks among several compose files
/// by its own order: say which files slipway leaves out, rather than run other settings
/// than compose would without a word.
fn warn_unread_compose_files(compose_file: &Path, diags: &mut Diagnostics) {
    let Some(folder) = compose_file.parent() else { return };
    let read = compose_file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let others = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"]
        .into_iter()
        .chain([
            "compose.override.yaml",
            "compose.override.yml",
            "docker-compose.override.yaml",
            "docker-compose.override.yml",
        ])
        .filter(|name| *name != read && folder.join(name).is_file());
    for other in others {
        let help = if other.contains(".override.") {
            format!("slipway reads one services file: merge what it sets into `{read}`, or pass the file to use with --services-path")
        } else {
            "rename or remove the one you do not use, or pass the file to use with --services-path".to_string()
        };
        diags.push(
            Diagnostic::new(Severity::Warning, None, format!("`{other}` is not read: this run uses `{read}`"))
                .with_help(help),
        );
    }
}

/// The variables a compose file is interpolated with: the `.env` file beside it, as
/// docker compose reads it, under slipway's own environment (which wins).
fn compose_variables(
    compose_file: &Path,
    dir: &Path,
    environment: &HashMap<String, String>,
    diags: &mut Diagnostics,
) -> HashMap<String, String> {
    let dot_env = compose_file.parent().unwrap_or(dir).join(".env");
    if !dot_env.is_file() {
        return environment.clone();
    }
    let mut variables: HashMap<String, String> = match read_source(&dot_env, dir) {
        Ok(file) => parse_env_file(&file, diags)
            .into_iter()
            .filter_map(|(key, value)| {
                let value = value.or_else(|| environment.get(&key.value).cloned())?;
                Some((key.value, value))
            })
            .collect(),
        Err(problem) => {
            diags.push(problem);
            HashMap::new()
        }
    };
    variables.extend(environment.iter().map(|(k, v)| (k.clone(), v.clone())));
    variables
}

fn read_source(path: &Path, dir: &Path) -> Result<Arc<SourceFile>, Diagnostic> {
    let display = path.strip_prefix(dir).unwrap_or(path).display().to_string();
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.is_file() && meta.len() > MAX_FILE_BYTES {
            return Err(Diagnostic::error(
                None,
                format!(
                    "`{}` is {:.1} MB; a pipeline file may be at most 10 MB",
                    path.display(),
                    meta.len() as f64 / (1024.0 * 1024.0)
                ),
            )
            .with_help("check that the path names the services or steps file"));
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok(SourceFile::new(path, display, text)),
            Err(e) => Err(not_utf8(path, e.as_bytes(), e.utf8_error().valid_up_to())),
        },
        Err(e) => Err(Diagnostic::error(None, format!("cannot read `{}`: {e}", path.display()))),
    }
}

/// Where a file stops being UTF-8, or that it is UTF-16.
fn not_utf8(path: &Path, bytes: &[u8], valid_up_to: usize) -> Diagnostic {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Diagnostic::error(None, format!("`{}` is UTF-16 text", path.display()))
            .with_help("save the file as UTF-8");
    }
    let before = &bytes[..valid_up_to];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    Diagnostic::error(
        None,
        format!("`{}` is not UTF-8 text: the byte at line {line}, column {column} is not UTF-8", path.display()),
    )
    .with_help("save the file as UTF-8")
}

/// What reading a compose file needs beyond the file: the project dir and the variables
/// it is interpolated with (also those of files it `extends` from).
struct ComposeContext {
    dir: PathBuf,
    variables: HashMap<String, String>,
}

/// The service entries of another compose file, named by `extends: {file: …}`.
fn read_compose_services(
    path: &Path,
    context: &ComposeContext,
    diags: &mut Diagnostics,
) -> Result<Vec<(yaml::Node, yaml::Node)>, String> {
    if !path.is_file() {
        return Err(if path.exists() { "it is not a file" } else { "no such file" }.to_string());
    }
    let source = read_source(path, &context.dir).map_err(|d| d.message)?;
    let mut root = yaml::parse(&source).map_err(|d| d.render(false))?;
    interpolate(&mut root, &context.variables, diags);
    let table = root.get("services").unwrap_or(&root);
    table.as_map().map(<[_]>::to_vec).ok_or_else(|| format!("it holds no services mapping, but {}", table.kind()))
}

/// `version:` is ignored; services sit at the top level or under `services:`.
fn parse_services_file(root: &yaml::Node, compose: Option<&ComposeContext>, diags: &mut Diagnostics) -> Services {
    let mut services = Services::new();
    let table = match &root.value {
        Value::Null => {
            diags
                .error(&root.span, "the services file is empty")
                .hint("add at least one service, e.g. `app:\n  image: busybox`");
            return services;
        }
        Value::Map(_) => match root.get("services") {
            Some(inner) if inner.as_map().is_some() => inner,
            Some(inner) => {
                diags
                    .error(&inner.span, format!("`services` must be a mapping of services, found {}", inner.kind()))
                    .hint("put each service under `services:` as `name:` with its keys indented below it");
                return services;
            }
            None => root,
        },
        _ => {
            let problem = diags.error(
                &root.span,
                format!("the services file must be a mapping of service names, found {}", root.kind()),
            );
            if matches!(root.value, Value::Seq(_)) {
                problem.hint(
                    "name each service as a key with its settings indented below it, `app:` rather than `- name: app`",
                );
            }
            return services;
        }
    };
    let nested = !std::ptr::eq(table, root);
    if nested {
        // Top-level compose keys beside `services:`.
        if let Some(mut f) = Fields::of(root, "the services file", diags) {
            f.take("services");
            f.take("version");
            f.take("name");
            for (key, node) in f.rest() {
                if !key.starts_with("x-") && !["volumes", "networks", "secrets", "configs"].contains(&key.as_str()) {
                    diags.warning(&node.span, format!("unknown top-level key `{key}` in the services file"));
                }
            }
            warn_external_volumes(root, diags);
        }
    }
    let Some(entries) = table.as_map() else {
        return services;
    };
    let with_extends;
    let entries = match compose {
        Some(context) => {
            let mut read = |path: &Path, diags: &mut Diagnostics| read_compose_services(path, context, diags);
            with_extends = crate::extends::resolve_extends(entries, &context.dir, &mut read, diags);
            &with_extends[..]
        }
        None => entries,
    };
    let mut ignored = Vec::new();
    for (key, value) in entries {
        let Some(name) = key.scalar_text() else {
            diags.error(&key.span, format!("a service name must be a string, found {}", key.kind()));
            continue;
        };
        if !nested && (name == "version" || name.starts_with("x-")) {
            continue;
        }
        if !valid_service_name(&name) {
            diags
                .error(&key.span, format!("`{name}` is not a valid service name"))
                .hint("use letters, digits, `_`, `-`, `.` and `/`, starting with a letter or digit");
            continue;
        }
        if let Some(service) =
            parse_service(Spanned::new(name.clone(), key.span.clone()), value, compose.is_some(), &mut ignored, diags)
        {
            services.insert(name, service);
        }
    }
    warn_ignored_keys(&ignored, diags);
    // Only `version:` or `x-` keys: said here, not as every step's "unknown service".
    if services.is_empty() && !diags.has_errors() {
        diags
            .error(&table.span, "the services file defines no services")
            .hint("add at least one service, e.g. `app:\n  image: busybox`");
    }
    services
}

/// Jet accepted `/` in names (`test/php-7.2`); slipway turns names into object names
/// itself, so only what cannot be a name at all is refused.
fn valid_service_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
}

/// The directory name in lower case with only `[a-z0-9_-]`, like docker compose.
pub fn project_name(dir: &Path) -> String {
    let base = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "project".to_string());
    let name: String =
        base.to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
    let name = name.trim_start_matches(['_', '-']).to_string();
    if name.is_empty() {
        "project".to_string()
    } else {
        name
    }
}

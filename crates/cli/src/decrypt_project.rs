//! What is encrypted in the services and steps a run uses, decrypted before the run with
//! the project's key: env files, inline encrypted environments and build args, docker
//! configs. Every decrypted value becomes a secret that output masks. What only skipped
//! steps use is left alone, so they need no key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use slipway_config::env_file::parse_env_file;
use slipway_config::{Diagnostics, Project, SourceFile, Span, Spanned, StepKind};
use slipway_engine::registry::DockerConfig;
use slipway_plan::InUse;
use slipway_secrets::{decrypt, Key, KEY_ENV_VAR};

#[derive(Default)]
pub struct Decrypted {
    /// Per service: `encrypted_env_file`s, then `encrypted_environment`, in order.
    pub env: HashMap<String, Vec<(String, String)>>,
    /// Per service: `encrypted_args_file`, then `encrypted_args`.
    pub build_args: HashMap<String, Vec<(String, String)>>,
    /// Decrypted `encrypted_dockercfg_path`s, by the path the pipeline names.
    pub docker_configs: HashMap<String, DockerConfig>,
    /// Values to mask.
    pub secrets: Vec<String>,
}

/// The key: `SLIPWAY_AES_KEY`, else the key file (relative to the current directory,
/// else to the project dir). `Ok(None)` when there is neither.
pub fn find_key(key_path: &Path, project_dir: &Path) -> Result<Option<Key>, String> {
    if let Ok(value) = std::env::var(KEY_ENV_VAR) {
        return Key::from_env_value(&value).map(Some).map_err(|e| e.to_string());
    }
    let candidates: Vec<PathBuf> = if key_path.is_absolute() {
        vec![key_path.to_path_buf()]
    } else {
        vec![key_path.to_path_buf(), project_dir.join(key_path)]
    };
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => Key::from_file(path).map(Some).map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

/// Decrypt what the run uses. Errors name the file or key and say what to do.
pub fn decrypt_project(project: &Project, key_path: &Path, in_use: &InUse) -> Result<Decrypted, Vec<String>> {
    let services: Vec<_> = project.services.values().filter(|s| in_use.services.contains(&s.name.value)).collect();
    let dockercfgs: Vec<&Spanned<String>> = services
        .iter()
        .filter_map(|s| s.encrypted_dockercfg_path.as_ref())
        .chain(step_dockercfg_paths(project).into_iter().filter(|p| in_use.dockercfg_paths.contains(&p.value)))
        .collect();
    let mut needed: Vec<(String, &Span)> = Vec::new();
    for service in &services {
        for file in &service.encrypted_env_file {
            needed.push((file.value.clone(), &file.span));
        }
        if let Some(build) = &service.build {
            if let Some(file) = &build.encrypted_args_file {
                needed.push((file.value.clone(), &file.span));
            }
        }
    }
    needed.extend(dockercfgs.iter().map(|p| (p.value.clone(), &p.span)));
    let inline_needed = services
        .iter()
        .any(|s| !s.encrypted_environment.is_empty() || s.build.as_ref().is_some_and(|b| b.encrypted_args.is_some()));
    if needed.is_empty() && !inline_needed {
        return Ok(Decrypted::default());
    }
    let key = match find_key(key_path, &project.dir) {
        Ok(Some(key)) => key,
        Ok(None) => {
            let (what, span) = needed
                .first()
                .map_or(("an inline encrypted value".to_string(), None), |(p, s)| (format!("`{p}`"), Some(*s)));
            return Err(vec![format!(
                "{}{what} is encrypted, and there is no key: put the project's key in {} (or pass --key-path FILE), or set {KEY_ENV_VAR}",
                span.map_or_else(String::new, |s| format!("{s}: ")),
                key_path.display()
            )]);
        }
        Err(e) => return Err(vec![e]),
    };

    let mut out = Decrypted::default();
    let mut errors = Vec::new();
    let open = |path: &str, span: &Span| -> Result<String, String> {
        let full = project.dir.join(path);
        let bytes = std::fs::read(&full).map_err(|e| format!("{span}: cannot read `{path}`: {e}"))?;
        let plain = decrypt(&key, &bytes).map_err(|e| format!("{span}: `{path}`: {e}"))?;
        String::from_utf8(plain).map_err(|_| format!("{span}: `{path}` does not decrypt to text"))
    };
    let inline = |value: &Spanned<String>, what: &str| -> Result<String, String> {
        let plain = decrypt(&key, value.value.as_bytes()).map_err(|e| format!("{}: {what}: {e}", value.span))?;
        String::from_utf8(plain).map_err(|_| format!("{}: {what} does not decrypt to text", value.span))
    };
    for service in &services {
        let name = &service.name.value;
        let mut env = Vec::new();
        for file in &service.encrypted_env_file {
            match open(&file.value, &file.span).and_then(|text| key_values(&text, &file.value)) {
                Ok(values) => env.extend(values),
                Err(e) => errors.push(e),
            }
        }
        for value in &service.encrypted_environment {
            match inline(value, "encrypted_environment").and_then(|text| key_values(&text, "encrypted_environment")) {
                Ok(values) => env.extend(values),
                Err(e) => errors.push(e),
            }
        }
        if !env.is_empty() {
            out.secrets.extend(env.iter().map(|(_, v)| v.clone()));
            out.env.insert(name.clone(), env);
        }
        let mut args = Vec::new();
        if let Some(build) = &service.build {
            if let Some(file) = &build.encrypted_args_file {
                match open(&file.value, &file.span).and_then(|text| key_values(&text, &file.value)) {
                    Ok(values) => args.extend(values),
                    Err(e) => errors.push(e),
                }
            }
            if let Some(value) = &build.encrypted_args {
                match inline(value, "encrypted_args").and_then(|text| key_values(&text, "encrypted_args")) {
                    Ok(values) => args.extend(values),
                    Err(e) => errors.push(e),
                }
            }
        }
        if !args.is_empty() {
            out.secrets.extend(args.iter().map(|(_, v)| v.clone()));
            out.build_args.insert(name.clone(), args);
        }
    }
    for path in dockercfgs {
        if out.docker_configs.contains_key(&path.value) {
            continue;
        }
        match open(&path.value, &path.span).and_then(|text| {
            DockerConfig::parse(&text).map_err(|e| format!("{}: `{}` decrypts, but {e}", path.span, path.value))
        }) {
            Ok(config) => {
                out.secrets.extend(config.secrets());
                out.docker_configs.insert(path.value.clone(), config);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A docker config named on the command line (`--encrypted-dockercfg-path`).
pub fn decrypt_docker_config(path: &Path, key_path: &Path, project_dir: &Path) -> Result<DockerConfig, String> {
    let key = find_key(key_path, project_dir)?.ok_or_else(|| {
        format!("`{}` is encrypted, and there is no key: pass --key-path FILE or set {KEY_ENV_VAR}", path.display())
    })?;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let plain = decrypt(&key, &bytes).map_err(|e| format!("`{}`: {e}", path.display()))?;
    DockerConfig::parse(&String::from_utf8_lossy(&plain)).map_err(|e| format!("`{}` decrypts, but {e}", path.display()))
}

/// `KEY=VALUE` lines of a decrypted env file (the same syntax as `env_file`), or — as
/// Jet also accepted — a YAML mapping `KEY: value`.
fn key_values(text: &str, name: &str) -> Result<Vec<(String, String)>, String> {
    let file = SourceFile::new(name, format!("{name} (decrypted)"), text);
    let mut diags = Diagnostics::new();
    let values = parse_env_file(&file, &mut diags);
    if let Some(first) = diags.errors().next() {
        if let Some(values) = yaml_mapping(&file) {
            return Ok(values);
        }
        // The line itself may hold a secret: name the line, not its text.
        let line = first.span.as_ref().map_or(0, |s| s.line);
        return Err(format!(
            "`{name}` decrypts, but its line {line} is not KEY=VALUE (nor is the file a YAML mapping)"
        ));
    }
    Ok(values.into_iter().filter_map(|(k, v)| v.map(|v| (k.value, v))).collect())
}

/// A YAML mapping of scalars, as `(key, value)` in order.
fn yaml_mapping(file: &std::sync::Arc<SourceFile>) -> Option<Vec<(String, String)>> {
    let root = slipway_config::yaml::parse(file).ok()?;
    root.as_map()?.iter().map(|(k, v)| Some((k.scalar_text()?, v.scalar_text().unwrap_or_default()))).collect()
}

fn step_dockercfg_paths(project: &Project) -> Vec<&Spanned<String>> {
    fn walk<'a>(steps: &'a [slipway_config::Step], out: &mut Vec<&'a Spanned<String>>) {
        for step in steps {
            if let Some(path) = &step.registry_auth.encrypted_dockercfg_path {
                out.push(path);
            }
            match &step.kind {
                StepKind::Group(g) => walk(&g.steps, out),
                StepKind::Manual(m) => walk(&m.steps, out),
                StepKind::Run(_) | StepKind::Push(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(project.steps.as_deref().unwrap_or_default(), &mut out);
    out
}

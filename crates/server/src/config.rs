//! The server's settings: `slipway-server.toml`, overridden by flags and environment
//! variables (the CLI maps those onto [`Overrides`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// SQLite databases, build logs and workspaces.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Builds running at once, all projects together.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Pages and the read API without a token (a wall screen on a trusted network).
    #[serde(default)]
    pub public_read: bool,
    /// The `slipway` binary that runs builds (default: this one).
    #[serde(default)]
    pub slipway_bin: Option<PathBuf>,
    #[serde(default, rename = "project")]
    pub projects: Vec<ProjectConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub name: String,
    /// Anything `git fetch` understands: https, ssh, `file://`, a local path.
    pub git: String,
    /// Branches that build: exact names or globs (`release/*`); empty means every branch.
    #[serde(default)]
    pub branches: Vec<String>,
    /// Verifies GitHub's `X-Hub-Signature-256` and Bitbucket's `X-Hub-Signature`.
    /// `SLIPWAY_PROJECT_<NAME>_WEBHOOK_SECRET` overrides it.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// `owner/name` as the webhooks name the repository; default: from the git URL.
    #[serde(default)]
    pub repository: Option<String>,
    /// Key for the pipeline's encrypted files (`--key-path`).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Builds of this project running at once.
    #[serde(default = "one")]
    pub concurrency: usize,
    /// A newer build of a branch cancels the older queued or running builds of it.
    #[serde(default)]
    pub auto_cancel: bool,
    /// Extra `slipway steps` flags, e.g. `["--push"]`.
    #[serde(default)]
    pub steps_args: Vec<String>,
    /// A build that runs longer is cancelled and fails (`slipway steps --timeout`), so a
    /// hung test cannot hold a build slot for ever; `"0"`: no limit.
    #[serde(default = "default_timeout")]
    pub timeout: String,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("slipway-data")
}
fn default_concurrency() -> usize {
    2
}
fn one() -> usize {
    1
}
/// GitLab's and Woodpecker's default job timeout.
fn default_timeout() -> String {
    "1h".to_string()
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            data_dir: default_data_dir(),
            concurrency: default_concurrency(),
            public_read: false,
            slipway_bin: None,
            projects: Vec::new(),
        }
    }
}

/// Settings given as flags or environment variables: they win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub concurrency: Option<usize>,
    pub public_read: Option<bool>,
    /// `NAME=GIT_URL`: a project with default settings.
    pub projects: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl ServerConfig {
    /// The file (when given or present), then the overrides, then checks.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<ServerConfig, ConfigError> {
        let mut config = match path {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
                Self::parse(&text).map_err(|message| ConfigError::Parse { path: path.into(), message })?
            }
            None => ServerConfig::default(),
        };
        if let Some(listen) = overrides.listen {
            config.listen = listen;
        }
        if let Some(dir) = &overrides.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(n) = overrides.concurrency {
            config.concurrency = n;
        }
        if let Some(public) = overrides.public_read {
            config.public_read = public;
        }
        for spec in &overrides.projects {
            let Some((name, git)) = spec.split_once('=') else {
                return Err(ConfigError::Invalid(format!("--project `{spec}`: write NAME=GIT_URL")));
            };
            config.projects.retain(|p| p.name != name);
            config.projects.push(ProjectConfig {
                name: name.to_string(),
                git: git.to_string(),
                branches: Vec::new(),
                webhook_secret: None,
                repository: None,
                key_file: None,
                concurrency: 1,
                auto_cancel: false,
                steps_args: Vec::new(),
                timeout: default_timeout(),
            });
        }
        for project in &mut config.projects {
            if let Ok(secret) = std::env::var(secret_variable(&project.name)) {
                project.webhook_secret = Some(secret);
            }
        }
        config.check()?;
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<ServerConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.concurrency == 0 {
            return Err(ConfigError::Invalid("concurrency must be at least 1".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.projects {
            if !valid_project_name(&p.name) {
                return Err(ConfigError::Invalid(format!(
                    "project name `{}`: use letters, digits, `-`, `_` and `.` (it names the workspace folder)",
                    p.name
                )));
            }
            if !seen.insert(p.name.as_str()) {
                return Err(ConfigError::Invalid(format!("project `{}` is configured twice", p.name)));
            }
            if p.concurrency == 0 {
                return Err(ConfigError::Invalid(format!("project `{}`: concurrency must be at least 1", p.name)));
            }
            slipway_config::duration::parse_duration(&p.timeout).map_err(|e| {
                ConfigError::Invalid(format!("project `{}`: timeout: {e} (\"0\" for no limit)", p.name))
            })?;
            for pattern in &p.branches {
                globset::Glob::new(pattern).map_err(|e| {
                    ConfigError::Invalid(format!("project `{}`: branch pattern `{pattern}`: {e}", p.name))
                })?;
            }
        }
        Ok(())
    }

    pub fn project(&self, name: &str) -> Option<&ProjectConfig> {
        self.projects.iter().find(|p| p.name == name)
    }
}

fn valid_project_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `SLIPWAY_PROJECT_<NAME>_WEBHOOK_SECRET`, the name upper-cased with `-`/`.` as `_`.
pub fn secret_variable(project: &str) -> String {
    let name: String =
        project.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("SLIPWAY_PROJECT_{name}_WEBHOOK_SECRET")
}

impl ProjectConfig {
    /// Whether pushes to `branch` build.
    pub fn builds_branch(&self, branch: &str) -> bool {
        self.branches.is_empty()
            || self.branches.iter().any(|p| {
                p == branch || globset::Glob::new(p).map(|g| g.compile_matcher().is_match(branch)).unwrap_or(false)
            })
    }

    /// `owner/name` for matching webhooks: the setting, else the last two parts of the URL.
    pub fn repository_name(&self) -> Option<String> {
        if let Some(r) = &self.repository {
            return Some(r.to_lowercase());
        }
        let trimmed = self.git.trim_end_matches('/');
        let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
        let mut parts = trimmed.rsplit(['/', ':']);
        let name = parts.next()?;
        let owner = parts.next()?;
        (!owner.is_empty() && !name.is_empty()).then(|| format!("{owner}/{name}").to_lowercase())
    }

    /// The `--timeout` its builds run with, if any: none when `timeout = "0"` or when
    /// `steps_args` gives one of its own.
    pub fn build_timeout(&self) -> Option<&str> {
        let unlimited = slipway_config::duration::parse_duration(&self.timeout).is_ok_and(|d| d.is_zero());
        let own = self.steps_args.iter().any(|a| a == "--timeout" || a.starts_with("--timeout="));
        (!unlimited && !own).then_some(self.timeout.as_str())
    }

    /// The git URL without credentials, for pages and the API.
    pub fn public_git_url(&self) -> String {
        redact_url(&self.git)
    }
}

/// Credentials in URLs anywhere in `text` hidden: `https://user:token@host/x` →
/// `https://***@host/x` (git URLs, and git's messages that quote them).
pub fn redact_url(text: &str) -> String {
    static CREDENTIALS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@").expect("a valid pattern")
    });
    CREDENTIALS.replace_all(text, "${1}***@").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_file_with_defaults() {
        let c = ServerConfig::parse(
            r#"
listen = "0.0.0.0:9000"
[[project]]
name = "shop"
git = "https://github.com/acme/Shop.git"
branches = ["main", "release/*"]
auto_cancel = true
"#,
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.concurrency, 2);
        let p = &c.projects[0];
        assert_eq!(p.concurrency, 1);
        assert!(p.builds_branch("main") && p.builds_branch("release/2.1") && !p.builds_branch("feature/x"));
        assert_eq!(p.repository_name().as_deref(), Some("acme/shop"));
    }

    #[test]
    fn builds_time_out_after_an_hour_unless_set() {
        let parse = |extra: &str| {
            let c = ServerConfig::parse(&format!("[[project]]\nname='a'\ngit='/srv/a.git'\n{extra}")).unwrap();
            c.check().map(|()| c.projects[0].build_timeout().map(str::to_string))
        };
        assert_eq!(parse("").unwrap().as_deref(), Some("1h"));
        assert_eq!(parse("timeout = '20m'").unwrap().as_deref(), Some("20m"));
        assert_eq!(parse("timeout = '0'").unwrap(), None);
        assert_eq!(parse("steps_args = ['--timeout=5m']").unwrap(), None, "the project's own flag wins");
        let error = parse("timeout = 'an hour'").unwrap_err().to_string();
        assert!(error.contains("project `a`: timeout"), "{error}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(ServerConfig::parse("listne = \"x\"").unwrap_err().contains("listne"));
    }

    #[test]
    fn ssh_urls_name_their_repository() {
        let p = ServerConfig::parse("[[project]]\nname='a'\ngit='git@bitbucket.org:team/app.git'\n").unwrap();
        assert_eq!(p.projects[0].repository_name().as_deref(), Some("team/app"));
    }

    #[test]
    fn credentials_in_urls_are_hidden() {
        assert_eq!(redact_url("https://u:secret@github.com/a/b.git"), "https://***@github.com/a/b.git");
        assert_eq!(redact_url("file:///srv/git/a.git"), "file:///srv/git/a.git");
        assert_eq!(
            redact_url("fatal: unable to access 'https://x-token:ghp_abc@github.com/a/b.git/': 403"),
            "fatal: unable to access 'https://***@github.com/a/b.git/': 403"
        );
        assert_eq!(redact_url("git@github.com:a/b.git"), "git@github.com:a/b.git", "no secret in an ssh user");
    }

    #[test]
    fn overrides_win_and_names_are_checked() {
        let o = Overrides {
            concurrency: Some(4),
            projects: vec!["demo=file:///tmp/demo.git".into()],
            ..Default::default()
        };
        let c = ServerConfig::load(None, &o).unwrap();
        assert_eq!(c.concurrency, 4);
        assert_eq!(c.project("demo").unwrap().git, "file:///tmp/demo.git");
        let bad = Overrides { projects: vec!["../x=file:///a".into()], ..Default::default() };
        assert!(ServerConfig::load(None, &bad).is_err());
    }
}

//! Which services and steps files a project uses (jet-format.md, "Finding the files").

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;

pub const SERVICES_CANDIDATES: &[&str] = &[
    "slipway-services.yml",
    "slipway-services.yaml",
    "slipway-services.json",
    "codeship-services.yml",
    "codeship-services.yaml",
    "codeship-services.json",
    "jet-services.yml",
    "jet-services.json",
    "docker-compose.yml",
    "docker-compose.yaml",
    "compose.yaml",
    "compose.yml",
];

pub const STEPS_CANDIDATES: &[&str] = &[
    "slipway-steps.yml",
    "slipway-steps.yaml",
    "slipway-steps.json",
    "codeship-steps.yml",
    "codeship-steps.yaml",
    "codeship-steps.json",
    "jet-steps.yml",
    "jet-steps.json",
];

#[derive(Clone, Debug)]
pub struct ProjectFiles {
    pub dir: PathBuf,
    pub services: PathBuf,
    /// A docker compose file: compose rules apply (variable interpolation, `image` next to `build`).
    pub compose: bool,
    pub steps: Option<PathBuf>,
}

/// Find the files. Explicit paths are taken relative to the current directory.
pub fn discover(
    dir: &Path,
    services_path: Option<&Path>,
    steps_path: Option<&Path>,
) -> Result<ProjectFiles, Diagnostic> {
    if !dir.is_dir() {
        let what = if dir.exists() { "is not a directory" } else { "does not exist" };
        return Err(Diagnostic::error(None, format!("project directory `{}` {what}", dir.display()))
            .with_help("pass the folder that holds the services and steps files with --dir"));
    }
    let steps = match steps_path {
        Some(path) => Some(existing(path, "--steps-path")?),
        None => first_existing(dir, STEPS_CANDIDATES)?,
    };
    let services = match services_path {
        Some(path) => existing(path, "--services-path")?,
        // Both missing usually means the wrong folder: say so once, naming both.
        None if steps.is_none() && steps_path.is_none() => first_existing(dir, SERVICES_CANDIDATES)?.ok_or_else(|| {
            Diagnostic::error(None, format!("no services file and no steps file in `{}`", dir.display())).with_help(
                format!(
                    "point --dir at your project, or create there a services file (one of {}) and a steps file (one of {})",
                    SERVICES_CANDIDATES.join(", "),
                    STEPS_CANDIDATES.join(", ")
                ),
            )
        })?,
        None => first_existing(dir, SERVICES_CANDIDATES)?.ok_or_else(|| {
            Diagnostic::error(None, format!("no services file in `{}`", dir.display())).with_help(format!(
                "create one of {} there, pass --services-path FILE, or point --dir at your project",
                SERVICES_CANDIDATES.join(", ")
            ))
        })?,
    };
    let compose = services.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains("compose"));
    Ok(ProjectFiles { dir: dir.to_path_buf(), services, compose, steps })
}

/// The error for a command that needs a steps file when there is none.
pub fn missing_steps(dir: &Path) -> Diagnostic {
    Diagnostic::error(None, format!("no steps file in `{}`", dir.display()))
        .with_help(format!("create one of {} there, or pass --steps-path FILE", STEPS_CANDIDATES.join(", ")))
}

fn existing(path: &Path, flag: &str) -> Result<PathBuf, Diagnostic> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let what = if path.is_symlink() {
        "is a symbolic link to nothing (or to itself)"
    } else if path.exists() {
        "is not a file"
    } else {
        "does not exist"
    };
    let help =
        if path.is_absolute() { "check the path" } else { "check the path; it is relative to the current directory" };
    Err(Diagnostic::error(None, format!("{flag} `{}` {what}", path.display())).with_help(help))
}

/// The first of `names` in `dir`; a directory by such a name is an error rather than
/// quietly skipped, since the user meant it as the file.
fn first_existing(dir: &Path, names: &[&str]) -> Result<Option<PathBuf>, Diagnostic> {
    for path in names.iter().map(|name| dir.join(name)) {
        if path.is_file() {
            return Ok(Some(path));
        }
        if path.is_dir() {
            return Err(Diagnostic::error(None, format!("`{}` is a directory, not a file", path.display()))
                .with_help("rename or remove that directory, or pass the file with --services-path / --steps-path"));
        }
        // A link that leads nowhere was meant as the file too.
        if path.is_symlink() {
            let target = std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default();
            return Err(Diagnostic::error(
                None,
                format!(
                    "`{}` is a symbolic link to `{target}`, which is not there (or leads back to itself)",
                    path.display()
                ),
            )
            .with_help("fix or remove the link, or pass the file with --services-path / --steps-path"));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_with_neither_file_names_both() {
        let dir = tempfile::tempdir().unwrap();
        let both = discover(dir.path(), None, None).unwrap_err();
        assert!(both.message.contains("no services file and no steps file"), "{}", both.message);
        std::fs::write(dir.path().join("codeship-steps.yml"), "").unwrap();
        let services_only = discover(dir.path(), None, None).unwrap_err();
        assert!(services_only.message.starts_with("no services file in"), "{}", services_only.message);
    }

    #[test]
    fn prefers_slipway_then_codeship_then_compose() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), "").unwrap();
        let found = discover(dir.path(), None, None).unwrap();
        assert!(found.compose);
        assert!(found.steps.is_none());
        std::fs::write(dir.path().join("codeship-services.yml"), "").unwrap();
        std::fs::write(dir.path().join("codeship-steps.json"), "").unwrap();
        let found = discover(dir.path(), None, None).unwrap();
        assert!(found.services.ends_with("codeship-services.yml"));
        assert!(!found.compose);
        assert!(found.steps.unwrap().ends_with("codeship-steps.json"));
        std::fs::write(dir.path().join("slipway-services.yml"), "").unwrap();
        std::fs::write(dir.path().join("slipway-steps.yml"), "").unwrap();
        let found = discover(dir.path(), None, None).unwrap();
        assert!(found.services.ends_with("slipway-services.yml"));
        assert!(found.steps.unwrap().ends_with("slipway-steps.yml"));
    }

    #[test]
    fn a_directory_named_like_a_pipeline_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("codeship-services.yml"), "").unwrap();
        std::fs::create_dir(dir.path().join("codeship-steps.yml")).unwrap();
        let error = discover(dir.path(), None, None).unwrap_err();
        assert!(error.message.contains("codeship-steps.yml` is a directory, not a file"), "{}", error.message);
    }

    #[test]
    fn no_services_file_says_what_was_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        let err = discover(dir.path(), None, None).unwrap_err();
        assert!(err.help.unwrap().contains("codeship-services.yml"));
    }

    #[test]
    fn a_broken_link_with_a_pipeline_file_name_is_an_error_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("codeship-services.yml"), "").unwrap();
        std::fs::write(dir.path().join("codeship-steps.yml"), "").unwrap();
        std::os::unix::fs::symlink("missing-target.yml", dir.path().join("slipway-steps.yml")).unwrap();
        let e = discover(dir.path(), None, None).unwrap_err();
        assert!(e.message.contains("slipway-steps.yml` is a symbolic link to `missing-target.yml`"), "{}", e.message);
        let e = discover(&dir.path().join("codeship-steps.yml"), None, None).unwrap_err();
        assert!(e.message.ends_with("is not a directory"), "{}", e.message);
        let e = discover(dir.path(), None, Some(&dir.path().join("slipway-steps.yml"))).unwrap_err();
        assert!(e.message.contains("is a symbolic link to nothing"), "{}", e.message);
    }
}

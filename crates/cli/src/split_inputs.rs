//! For every `split` step: the test files its glob matches in the project dir, and
//! their recorded durations from the history store.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use globset::{GlobBuilder, GlobSetBuilder};
use slipway_config::{Diagnostics, Project, Spanned};
use slipway_plan::{split_requests, SplitInput};
use walkdir::WalkDir;

/// Folders never searched for test files: version control, slipway's state, dependencies.
const SKIPPED_DIRS: &[&str] = &[".git", ".slipway", "node_modules", "target", "__pycache__", ".venv"];

/// Files under `dir` matching `glob` (`*` stays within a folder, `**` crosses them),
/// relative and sorted.
pub fn matching_files(dir: &Path, glob: &str) -> Result<Vec<String>, String> {
    let matcher = GlobBuilder::new(relative_glob(glob))
        .literal_separator(true)
        .build()
        .map_err(|e| e.to_string())?
        .compile_matcher();
    let mut files = Vec::new();
    let walker = WalkDir::new(dir).min_depth(1).follow_links(false).into_iter().filter_entry(|e| {
        !(e.file_type().is_dir() && e.file_name().to_str().is_some_and(|n| SKIPPED_DIRS.contains(&n)))
    });
    for entry in walker.flatten() {
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(dir).expect("under dir").to_string_lossy().replace('\\', "/");
        if matcher.is_match(&relative) {
            files.push(relative);
        }
    }
    files.sort();
    Ok(files)
}

/// `glob` as matched against paths relative to the project dir: `./tests/*.py` is
/// `tests/*.py`.
fn relative_glob(glob: &str) -> &str {
    let mut glob = glob;
    while let Some(rest) = glob.strip_prefix("./") {
        glob = rest;
    }
    glob
}

/// `files` less those an `exclude` glob matches, and the globs that matched none of them;
/// `Err` names a glob that is not one.
fn without_excluded(
    files: Vec<String>,
    exclude: &[Spanned<String>],
) -> Result<(Vec<String>, Vec<&Spanned<String>>), (Spanned<String>, String)> {
    let mut excluded = GlobSetBuilder::new();
    for glob in exclude {
        let built = GlobBuilder::new(relative_glob(&glob.value)).literal_separator(true).build();
        excluded.add(built.map_err(|e| (glob.clone(), e.to_string()))?);
    }
    let Some(first) = exclude.first() else { return Ok((files, Vec::new())) };
    let excluded = excluded.build().map_err(|e| (first.clone(), e.to_string()))?;
    let mut used = vec![false; exclude.len()];
    let kept = files
        .into_iter()
        .filter(|f| {
            let matches = excluded.matches(f);
            matches.iter().for_each(|&i| used[i] = true);
            matches.is_empty()
        })
        .collect();
    let unused = exclude.iter().zip(used).filter(|(_, used)| !used).map(|(glob, _)| glob).collect();
    Ok((kept, unused))
}

/// `timings(step name)` gives recorded durations by file; `lags(step name, shards)` how
/// much later each shard got going in recent runs.
pub fn split_inputs(
    project: &Project,
    timings: &dyn Fn(&str) -> HashMap<String, Duration>,
    lags: &dyn Fn(&str, usize) -> Vec<Duration>,
) -> Result<HashMap<usize, SplitInput>, Diagnostics> {
    let mut inputs = HashMap::new();
    let mut diags = Diagnostics::new();
    for request in split_requests(project) {
        let (name, glob) = (&request.name, &request.files);
        let files = match matching_files(&project.dir, &glob.value) {
            Ok(files) => files,
            Err(e) => {
                diags.error(&glob.span, format!("step `{name}`: the glob `{}` is invalid: {e}", glob.value));
                continue;
            }
        };
        let matched = files.len();
        let files = match without_excluded(files, &request.exclude) {
            Ok((files, unused)) => {
                // An exclude that leaves out nothing is likely a misspelt path.
                for glob in unused {
                    diags
                        .warning(
                            &glob.span,
                            format!("step `{name}`: `exclude` glob `{}` matches none of its files", glob.value),
                        )
                        .hint("globs are matched against paths relative to the project dir, as `files` is");
                }
                files
            }
            Err((exclude, e)) => {
                diags.error(&exclude.span, format!("step `{name}`: the glob `{}` is invalid: {e}", exclude.value));
                continue;
            }
        };
        if files.is_empty() {
            let why = if matched > 0 {
                format!("its `exclude` leaves none of the {matched} it matches")
            } else {
                "no file matches it".to_string()
            };
            diags
                .error(&glob.span, format!("step `{name}` splits the files matching `{}`, but {why}", glob.value))
                .hint(format!(
                    "the glob is matched against paths relative to the project dir `{}`",
                    project.dir.display()
                ));
            continue;
        }
        inputs
            .insert(request.key, SplitInput { files, timings: timings(name), start_lags: lags(name, request.shards) });
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        crate::commands::print_diagnostics(&diags, crate::commands::use_color());
        Ok(inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["tests/test_a.py", "tests/api/test_b.py", "tests/helper.py", ".git/test_x.py", "other/test_c.py"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        assert_eq!(
            matching_files(dir.path(), "tests/**/test_*.py").unwrap(),
            ["tests/api/test_b.py", "tests/test_a.py"]
        );
        assert_eq!(matching_files(dir.path(), "tests/test_*.py").unwrap(), ["tests/test_a.py"]);
        assert_eq!(matching_files(dir.path(), "./tests/test_*.py").unwrap(), ["tests/test_a.py"]);
        assert_eq!(
            matching_files(dir.path(), "**/test_*.py").unwrap(),
            ["other/test_c.py", "tests/api/test_b.py", "tests/test_a.py"]
        );
    }

    #[test]
    fn excluded_globs_leave_files_out() {
        let file = slipway_config::SourceFile::new("steps.yml", "steps.yml", "tests/api/**  [");
        let glob =
            |text: &str, at: usize| Spanned::new(text.to_string(), slipway_config::Span::new(&file, at, text.len()));
        let files: Vec<String> =
            ["tests/api/test_b.py", "tests/test_a.py", "tests/test_fwd.py"].map(String::from).to_vec();
        let excludes = [glob("tests/api/**", 0), glob("./tests/test_fwd.py", 0)];
        let (kept, unused) = without_excluded(files.clone(), &excludes).unwrap();
        assert_eq!(kept, ["tests/test_a.py"]);
        assert!(unused.is_empty());
        assert_eq!(without_excluded(files.clone(), &[]).unwrap(), (files.clone(), Vec::new()));
        let excludes = [glob("tests/api/**", 0), glob("tests/nope.py", 0)];
        let (_, unused) = without_excluded(files.clone(), &excludes).unwrap();
        assert_eq!(unused.iter().map(|g| g.value.as_str()).collect::<Vec<_>>(), ["tests/nope.py"]);
        let (bad, _) = without_excluded(files, &[glob("[", 14)]).unwrap_err();
        assert_eq!(bad.value, "[");
    }
}

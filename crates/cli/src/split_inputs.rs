//! For every `split` step: the test files its glob matches in the project dir, and
//! their recorded durations from the history store.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use globset::GlobBuilder;
use slipway_config::{Diagnostics, Project};
use slipway_plan::{split_requests, SplitInput};
use walkdir::WalkDir;

/// Folders never searched for test files: version control, slipway's state, dependencies.
const SKIPPED_DIRS: &[&str] = &[".git", ".slipway", "node_modules", "target", "__pycache__", ".venv"];

/// Files under `dir` matching `glob` (`*` stays within a folder, `**` crosses them),
/// relative and sorted.
pub fn matching_files(dir: &Path, glob: &str) -> Result<Vec<String>, String> {
    let matcher = GlobBuilder::new(glob).literal_separator(true).build().map_err(|e| e.to_string())?.compile_matcher();
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
        if files.is_empty() {
            diags
                .error(
                    &glob.span,
                    format!("step `{name}` splits the files matching `{}`, but no file matches it", glob.value),
                )
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
        assert_eq!(
            matching_files(dir.path(), "**/test_*.py").unwrap(),
            ["other/test_c.py", "tests/api/test_b.py", "tests/test_a.py"]
        );
    }
}

//! slipway's test-splitting keys on a run step: `parallelism`, `split`, `reports`, `retry`.

use crate::diagnostic::Diagnostics;
use crate::reader::{non_empty_string, string, whole_number_in, Fields};
use crate::source::{Span, Spanned};
use crate::yaml::{Node, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitBy {
    /// Longest-processing-time-first packing by recorded durations.
    Timings,
    /// The same number of files in every shard.
    Count,
    /// Files in name order, in contiguous runs.
    Name,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitMode {
    /// Each shard gets its files up front, in its own environment.
    Static,
    /// Long-lived workers take batches of files from a queue until it is empty.
    Queue,
}

#[derive(Clone, Debug)]
pub struct Split {
    /// Glob of test files, relative to the project dir.
    pub files: Spanned<String>,
    /// Globs of files `files` matches that are not to run (a runner's own ignore list
    /// does not apply to files named on its command line).
    pub exclude: Vec<Spanned<String>>,
    pub by: SplitBy,
    pub mode: SplitMode,
    pub span: Span,
}

/// The splitting keys of one run step.
#[derive(Clone, Debug, Default)]
pub struct Splitting {
    pub parallelism: Option<Spanned<u64>>,
    pub split: Option<Split>,
    /// Globs of JUnit XML files the command writes in the container.
    pub reports: Vec<Spanned<String>>,
    /// Extra attempts for failed shards (or, in queue mode, failed files).
    pub retry: u64,
}

/// Most shards a step may ask for (each is a container on the engine).
pub const MAX_PARALLELISM: u64 = 64;

/// Most extra attempts a step may ask for: more only delays a failure that is certain.
pub const MAX_RETRY: u64 = 10;

pub(crate) fn parse_splitting(f: &mut Fields, what: &str, diags: &mut Diagnostics) -> Splitting {
    let parallelism = f.take("parallelism").and_then(|n| {
        let value = whole_number_in(n, &format!("`parallelism` of {what}"), 1..=MAX_PARALLELISM, None, diags)?;
        Some(Spanned::new(value, n.span.clone()))
    });
    let split = f.take("split").and_then(|n| parse_split(n, what, diags));
    let reports = f.take("reports").map(|n| glob_list(n, &format!("`reports` of {what}"), diags)).unwrap_or_default();
    let retry = f
        .take("retry")
        .and_then(|n| {
            let hint = "retry re-runs only what failed; a test that fails this often is broken, not flaky";
            whole_number_in(n, &format!("`retry` of {what}"), 0..=MAX_RETRY, Some(hint), diags)
        })
        .unwrap_or(0);
    if let (Some(split), None) = (&split, &parallelism) {
        diags
            .error(&split.span, format!("{what} splits its files but sets no `parallelism`"))
            .hint("add `parallelism: N`, the number of shards");
    }
    Splitting { parallelism, split, reports, retry }
}

fn parse_split(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<Split> {
    let what = format!("`split` of {what}");
    let mut f = Fields::of(node, &what, diags)?;
    let files = f.take("files").and_then(|n| non_empty_string(n, &format!("`files` of {what}"), diags));
    let choice = |f: &mut Fields, key: &str, options: &[&str], diags: &mut Diagnostics| -> Option<Spanned<String>> {
        let value = f.take(key).and_then(|n| string(n, &format!("`{key}` of {what}"), diags))?;
        if options.contains(&value.value.as_str()) {
            Some(value)
        } else {
            diags.error(&value.span, format!("`{key}` of {what} must be one of {}", options.join(", ")));
            None
        }
    };
    let by = match choice(&mut f, "by", &["timings", "count", "name"], diags).as_ref().map(|v| v.value.as_str()) {
        Some("count") => SplitBy::Count,
        Some("name") => SplitBy::Name,
        _ => SplitBy::Timings,
    };
    let mode = match choice(&mut f, "mode", &["static", "queue"], diags).as_ref().map(|v| v.value.as_str()) {
        Some("queue") => SplitMode::Queue,
        _ => SplitMode::Static,
    };
    let exclude = f.take("exclude").map(|n| glob_list(n, &format!("`exclude` of {what}"), diags)).unwrap_or_default();
    f.warn_rest(&what, &[], "", &["files", "exclude", "by", "mode"], diags);
    let Some(files) = files else {
        diags
            .error(&node.span, format!("{what} has no `files`"))
            .hint("set `files` to a glob of test files, e.g. \"tests/**/test_*.py\"");
        return None;
    };
    check_glob(&files, &format!("`files` of {what}"), diags);
    Some(Split { files, exclude, by, mode, span: node.span.clone() })
}

fn glob_list(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<Spanned<String>> {
    let items: Vec<&Node> = match &node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut globs = Vec::new();
    for item in items {
        // `reports: 5` is a slip, not a file named 5: a glob written bare is a word.
        if matches!(item.value, Value::Int(_) | Value::Float(_) | Value::Bool(_)) {
            diags
                .error(&item.span, format!("{what} must be globs of file names, found {}", item.kind()))
                .hint("write a glob such as \"reports/*.xml\"; quote it if a file really has this name");
        } else if let Some(glob) = string(item, what, diags) {
            globs.push(glob);
        }
    }
    globs.into_iter().filter(|g| check_glob(g, what, diags)).collect()
}

fn check_glob(glob: &Spanned<String>, what: &str, diags: &mut Diagnostics) -> bool {
    match globset::Glob::new(&glob.value) {
        Ok(_) => true,
        Err(e) => {
            diags.error(&glob.span, format!("{what} is not a valid glob: {}", e.kind()));
            false
        }
    }
}

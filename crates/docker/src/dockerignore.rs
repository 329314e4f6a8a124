//! `.dockerignore` rules, as the Docker CLI applies them: patterns relative to the
//! context, `*` within one path segment, `**` across segments, `!` re-includes, the last
//! matching rule wins, and a rule matching a directory excludes what is inside it.

use globset::{GlobBuilder, GlobMatcher};

pub struct DockerIgnore {
    rules: Vec<(GlobMatcher, bool)>,
    has_exceptions: bool,
}

impl DockerIgnore {
    pub fn parse(text: &str) -> Self {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                continue;
            }
            if let Ok(glob) = GlobBuilder::new(&pattern).literal_separator(true).build() {
                rules.push((glob.compile_matcher(), exception));
            }
        }
        let has_exceptions = rules.iter().any(|(_, e)| *e);
        Self { rules, has_exceptions }
    }

    pub fn empty() -> Self {
        Self { rules: Vec::new(), has_exceptions: false }
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out.
    pub fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for (glob, exception) in &self.rules {
            // A rule matches the path itself or any of its parent directories.
            let matches = glob.is_match(path) || parents(path).any(|p| glob.is_match(p));
            if matches {
                excluded = !exception;
            }
        }
        excluded
    }

    /// Whether a directory that is excluded can be skipped without looking inside: only
    /// if no `!` rule could bring something inside it back.
    pub fn can_skip_dir(&self, path: &str) -> bool {
        !self.has_exceptions && self.excludes(path)
    }
}

fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.char_indices().filter(|(_, c)| *c == '/').map(move |(i, _)| &path[..i])
}

/// Like Go's `filepath.Clean` for patterns: no leading `/` or `./`, no trailing `/`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_docker_rules() {
        let ignore = DockerIgnore::parse("# comment\n**/__pycache__\n*.log\n/build\n!build/keep.txt\nnode_modules/\n");
        assert!(ignore.excludes("app/__pycache__/x.pyc"));
        assert!(ignore.excludes("__pycache__"));
        assert!(ignore.excludes("debug.log"));
        assert!(!ignore.excludes("logs/debug.log"), "`*` does not cross `/`");
        assert!(ignore.excludes("build/out.bin"));
        assert!(!ignore.excludes("build/keep.txt"));
        assert!(ignore.excludes("node_modules/a/b.js"));
        assert!(!ignore.excludes("src/main.py"));
        assert!(!ignore.can_skip_dir("node_modules"), "there are exceptions");
        assert!(DockerIgnore::parse("node_modules").can_skip_dir("node_modules"));
    }
}

//! `tag` / `exclude` values: an exact branch or tag name, or — only when the value
//! contains `^` or `$` — a regular expression searched in the name (Jet's rule).

use std::fmt;

use regex::Regex;

#[derive(Clone, Debug)]
pub enum TagPattern {
    Exact(String),
    Regex(Regex),
}

impl TagPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.contains('^') || text.contains('$') {
            Regex::new(text).map(TagPattern::Regex).map_err(|e| first_line(&e.to_string()))
        } else {
            Ok(TagPattern::Exact(text.to_string()))
        }
    }

    /// Whether the build tag (branch or git tag) matches. `^(master|staging)` matches
    /// `master-rebase` too: like Go's `MatchString`, the regex is searched, not anchored.
    pub fn matches(&self, tag: &str) -> bool {
        match self {
            TagPattern::Exact(name) => name == tag,
            TagPattern::Regex(re) => re.is_match(tag),
        }
    }
}

impl fmt::Display for TagPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagPattern::Exact(name) => f.write_str(name),
            TagPattern::Regex(re) => f.write_str(re.as_str()),
        }
    }
}

fn first_line(message: &str) -> String {
    // regex errors are multi-line with their own caret drawing; the last line says what is wrong.
    let last = message.lines().rfind(|l| !l.trim().is_empty()).unwrap_or(message).trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_string_is_exact() {
        let p = TagPattern::parse("master").unwrap();
        assert!(p.matches("master"));
        assert!(!p.matches("master-rebase"));
        assert!(!p.matches("my-master"));
    }

    #[test]
    fn dot_without_anchor_is_not_a_regex() {
        let p = TagPattern::parse("release.1").unwrap();
        assert!(p.matches("release.1"));
        assert!(!p.matches("releasex1"));
    }

    #[test]
    fn anchored_value_is_a_searched_regex() {
        let p = TagPattern::parse("^(master|staging)").unwrap();
        assert!(p.matches("master"));
        assert!(p.matches("staging"));
        assert!(p.matches("master-rebase"));
        assert!(!p.matches("feature/master"));
        let p = TagPattern::parse("^v[0-9.]+$").unwrap();
        assert!(p.matches("v1.2.3"));
        assert!(!p.matches("v1.2.3-rc"));
        let p = TagPattern::parse("-rc$").unwrap();
        assert!(p.matches("v1-rc"));
    }

    #[test]
    fn invalid_regex_is_an_error() {
        assert!(TagPattern::parse("^(master").is_err());
    }
}

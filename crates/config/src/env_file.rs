//! `env_file` contents: `KEY=VALUE` lines, `#` comments, optional `export ` and quotes.

use std::sync::Arc;

use crate::diagnostic::Diagnostics;
use crate::source::{SourceFile, Span, Spanned};

/// Parse an env file. A line `KEY` without `=` takes KEY from slipway's environment.
pub fn parse_env_file(file: &Arc<SourceFile>, diags: &mut Diagnostics) -> Vec<(Spanned<String>, Option<String>)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for raw_line in file.text.split_inclusive('\n') {
        let line_offset = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let start = line_offset + (line.len() - trimmed.len());
        let span = Span::new(file, start, trimmed.len());
        let body = trimmed.strip_prefix("export ").unwrap_or(trimmed);
        let (key, value) = match body.split_once('=') {
            Some((k, v)) => (k.trim(), Some(unquote(v.trim()))),
            None => (body.trim(), None),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            diags.error(&span, "not a `KEY=VALUE` line").hint("write KEY=VALUE; start comments with #");
            continue;
        }
        out.push((Spanned::new(key.to_string(), span), value));
    }
    out
}

fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 && bytes[0] == b'"' && bytes[bytes.len() - 1] == b'"' {
        let inner = &value[1..value.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        out
    } else if bytes.len() >= 2 && bytes[0] == b'\'' && bytes[bytes.len() - 1] == b'\'' {
        value[1..value.len() - 1].to_string()
    } else {
        // Unquoted: ` #` starts a comment, as in docker compose.
        match value.find(" #") {
            Some(i) => value[..i].trim_end().to_string(),
            None => value.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        let file = SourceFile::new(
            "a.env",
            "a.env",
            "# comment\n\nA=1\nexport B = two words \nC=\"x\\ny\"\nD='$lit'\nE=v # note\nF\nbad line\n",
        );
        let mut diags = Diagnostics::new();
        let vars: Vec<_> = parse_env_file(&file, &mut diags).into_iter().map(|(k, v)| (k.value, v)).collect();
        assert_eq!(
            vars,
            vec![
                ("A".into(), Some("1".into())),
                ("B".into(), Some("two words".into())),
                ("C".into(), Some("x\ny".into())),
                ("D".into(), Some("$lit".into())),
                ("E".into(), Some("v".into())),
                ("F".into(), None),
            ]
        );
        let errors: Vec<_> = diags.errors().collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].span.as_ref().unwrap().line, 9);
    }
}

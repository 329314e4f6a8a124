//! Commands as written in the files: a string split into words honouring quotes (no shell
//! ever runs it, as in Jet), or a list of words used as they are.

use crate::diagnostic::Diagnostics;
use crate::source::{Span, Spanned};
use crate::yaml::{Node, Value};

/// A command split into words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub words: Vec<String>,
    /// The command as the user wrote it, for default step names and messages.
    pub text: String,
    pub span: Span,
}

/// Split like a POSIX shell would split words, but run nothing: `&&`, `|` and `$VAR`
/// stay literal words.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    shell_words::split(text).map_err(|_| "unmatched quote".to_string())
}

/// The first thing in `text` that a shell would act on but a plain split passes on as
/// a word: an operator, a `$VAR` or a backquote outside quotes, or a leading
/// `NAME=value`. Inside double quotes they are usually meant for the shell the command
/// starts (`sh -c "cd x && make $TARGET"`), so they are left alone there.
fn shell_syntax(text: &str) -> Option<String> {
    let first_word = text.split_whitespace().next().unwrap_or_default();
    if let Some((name, _)) = first_word.split_once('=') {
        let is_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if is_name {
            return Some(format!("{name}="));
        }
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut single, mut double) = (false, false);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\\' if !single => i += 1,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '$' if !single
                && !double
                && next.is_some_and(|n| n.is_ascii_alphabetic() || n == '_' || n == '{' || n == '(') =>
            {
                // `$NAME`, or `${…}` whole.
                let end = if next == Some('(') {
                    i + 2
                } else if next == Some('{') {
                    chars[i..].iter().position(|n| *n == '}').map_or(chars.len(), |e| i + e + 1)
                } else {
                    let name = chars[i + 1..].iter().position(|n| !(n.is_ascii_alphanumeric() || *n == '_'));
                    name.map_or(chars.len(), |e| i + 1 + e)
                };
                return Some(chars[i..end].iter().collect());
            }
            '`' if !single && !double => return Some("`".to_string()),
            '&' | '|' | ';' | '>' | '<' if !single && !double => {
                let twice = next == Some(c) && c != ';';
                return Some(if twice { format!("{c}{c}") } else { c.to_string() });
            }
            _ => {}
        }
        i += 1;
    }
    None
}

pub(crate) fn command(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<Command> {
    match &node.value {
        Value::Seq(items) => {
            let mut words = Vec::new();
            for item in items {
                match item.scalar_text() {
                    Some(word) => words.push(word),
                    None => {
                        diags.error(&item.span, format!("each word of {what} must be a string, found {}", item.kind()));
                        return None;
                    }
                }
            }
            if words.is_empty() {
                diags.error(&node.span, format!("{what} is an empty list"));
                return None;
            }
            let text = shell_words::join(&words);
            Some(Command { words, text, span: node.span.clone() })
        }
        _ => {
            let Spanned { value: text, span } = crate::reader::string(node, what, diags)?;
            match split_words(&text) {
                Ok(words) if words.is_empty() => {
                    diags.error(&span, format!("{what} is empty"));
                    None
                }
                Ok(words) => {
                    if let Some(syntax) = shell_syntax(&text) {
                        diags
                            .warning(
                                &span,
                                format!("{what} uses `{syntax}`, which only a shell understands, and no shell runs it"),
                            )
                            .hint(if syntax.ends_with('=') {
                                format!("`{}` is taken as the program to run, as on Jet; set the variable with `environment:`, or write `sh -c '…'`", words[0])
                            } else {
                                format!(
                                    "`{}` gets `{syntax}` as a word, as on Jet; to run it in a shell, write `sh -c '…'`",
                                    words[0]
                                )
                            });
                    }
                    Some(Command { words, text, span })
                }
                Err(problem) => {
                    diags
                        .error(&span, format!("{what} has an {problem}"))
                        .hint("close the quote, or escape it with a backslash");
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_only_a_shell_understands_is_found_outside_quotes() {
        let found = |text: &str| shell_syntax(text);
        assert_eq!(found("cd /opt/app && coveralls").as_deref(), Some("&&"));
        assert_eq!(found("CI_NAME=codeship deploy.sh").as_deref(), Some("CI_NAME="));
        assert_eq!(found("bin/test > out.txt").as_deref(), Some(">"));
        assert_eq!(found("make test 2>&1").as_deref(), Some(">"));
        assert_eq!(found("echo $HOME").as_deref(), Some("$HOME"));
        assert_eq!(found("echo ${VERSION}").as_deref(), Some("${VERSION}"));
        assert_eq!(found("echo ${HOME}/bin").as_deref(), Some("${HOME}"));
        assert_eq!(found("echo $(date)").as_deref(), Some("$("));
        assert_eq!(found("ls | wc -l").as_deref(), Some("|"));
        assert_eq!(found("true; false").as_deref(), Some(";"));
        for fine in [
            "sh -c 'cd /opt && coveralls > out'",
            "bash -c \"make test || exit 1\"",
            "echo '$HOME'",
            "bash -c \"deploy -k $KEY /code/app.$CI_BRANCH.nupkg\"",
            "sh -c \"export NAME=${CI_BRANCH}_api && ./track\"",
            "psql -c 'select 1;'",
            "pytest -k \"a and not b\" --junitxml=report.xml",
            "echo a\\&\\&b",
            "rake spec SPEC_OPTS=--fail-fast",
            "npm test -- --grep=x",
        ] {
            assert_eq!(found(fine), None, "{fine}");
        }
    }

    #[test]
    fn splits_honouring_quotes_without_a_shell() {
        assert_eq!(split_words("sh -c 'echo $HOME && ls'").unwrap(), ["sh", "-c", "echo $HOME && ls"]);
        assert_eq!(split_words(r#"echo "a b" c\ d"#).unwrap(), ["echo", "a b", "c d"]);
        assert_eq!(split_words("echo a && echo b").unwrap(), ["echo", "a", "&&", "echo", "b"]);
        assert!(split_words("echo 'oops").is_err());
    }
}

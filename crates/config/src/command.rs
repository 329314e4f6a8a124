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
                Ok(words) => Some(Command { words, text, span }),
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
    fn splits_honouring_quotes_without_a_shell() {
        assert_eq!(split_words("sh -c 'echo $HOME && ls'").unwrap(), ["sh", "-c", "echo $HOME && ls"]);
        assert_eq!(split_words(r#"echo "a b" c\ d"#).unwrap(), ["echo", "a b", "c d"]);
        assert_eq!(split_words("echo a && echo b").unwrap(), ["echo", "a", "&&", "echo", "b"]);
        assert!(split_words("echo 'oops").is_err());
    }
}

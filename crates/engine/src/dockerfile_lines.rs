//! Where in a Dockerfile the classic builder's `Step N/M` is: the N-th instruction's line,
//! so a failed build names the line to fix, not only the file.

/// The 1-based line of the `step`-th instruction (counted from 1, as the builder's
/// `Step 3/7` counts them: comments and blank lines are none, an instruction continued
/// over lines with `\` is one).
pub(crate) fn instruction_line(dockerfile: &str, step: usize) -> Option<usize> {
    let escape = escape_char(dockerfile);
    let mut count = 0;
    let mut continued = false;
    for (index, line) in dockerfile.lines().enumerate() {
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            // Blank and comment lines neither start nor end an instruction.
            continue;
        }
        if !continued {
            count += 1;
            if count == step {
                return Some(index + 1);
            }
        }
        continued = text.ends_with(escape);
    }
    None
}

/// The `# escape=` parser directive's character, else `\`.
fn escape_char(dockerfile: &str) -> char {
    for line in dockerfile.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else { break };
        let (key, value) = directive.split_once('=').unwrap_or(("", ""));
        if key.trim().eq_ignore_ascii_case("escape") {
            return value.trim().chars().next().unwrap_or('\\');
        }
    }
    '\\'
}

#[cfg(test)]
mod tests {
    use super::instruction_line;

    #[test]
    fn steps_count_instructions_not_lines() {
        let dockerfile = "# syntax comment\nARG BASE=python:3.11\nFROM $BASE\n\n# install\nRUN apt-get update && \\\n    apt-get install -y \\\n    # a comment inside\n    curl\nCOPY . /app\n";
        assert_eq!(instruction_line(dockerfile, 1), Some(2));
        assert_eq!(instruction_line(dockerfile, 2), Some(3));
        assert_eq!(instruction_line(dockerfile, 3), Some(6));
        assert_eq!(instruction_line(dockerfile, 4), Some(10));
        assert_eq!(instruction_line(dockerfile, 5), None);
    }

    #[test]
    fn the_escape_directive_changes_the_continuation_character() {
        let dockerfile = "# escape=`\nFROM busybox\nRUN echo a `\n    b\nRUN echo c\\\n";
        assert_eq!(instruction_line(dockerfile, 3), Some(5));
    }
}

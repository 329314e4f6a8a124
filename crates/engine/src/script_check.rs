//! Why a program that is there would not run: a script whose `#!` line ends in a
//! carriage return (written on Windows, or checked out with CRLF line endings) asks the
//! kernel for an interpreter such as `/bin/sh\r`, which no image has (or hands it an
//! option such as `-e\r`, which it refuses). The engine and the shell then say "no such
//! file or directory", "not found" or "illegal option" of the script itself.

use crate::runtime::Runtime;

/// What to tell of `program` (the first word the container ran, relative to
/// `working_dir` when not absolute) if it is such a script in `container`.
pub(crate) async fn crlf_script(
    runtime: &dyn Runtime,
    container: &str,
    program: &str,
    working_dir: &str,
) -> Option<String> {
    // A bare name was looked up in $PATH: the "not found" is about the name.
    if !program.contains('/') {
        return None;
    }
    let path = if program.starts_with('/') {
        program.to_string()
    } else {
        format!("{}/{}", working_dir.trim_end_matches('/'), program.trim_start_matches("./"))
    };
    let content = runtime.read_file(container, &path).await.ok()?;
    crlf_interpreter(&content).map(|interpreter| {
        format!(
            "`{program}` has Windows (CRLF) line endings: its `#!` line ends in a carriage return (`#!{interpreter}\\r`), which the interpreter takes as part of its name or option. Convert the file to LF line endings (`dos2unix {program}`; `*.sh text eol=lf` in .gitattributes keeps git from checking it out with CRLF)"
        )
    })
}

/// The interpreter a `#!` line ending in `\r` names (without the `\r`).
fn crlf_interpreter(content: &[u8]) -> Option<String> {
    let first_line = content.split(|b| *b == b'\n').next()?;
    let interpreter = first_line.strip_prefix(b"#!")?.strip_suffix(b"\r")?;
    Some(String::from_utf8_lossy(interpreter).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::crlf_interpreter;

    #[test]
    fn only_a_hash_bang_line_ending_in_a_carriage_return_counts() {
        assert_eq!(crlf_interpreter(b"#!/bin/sh\r\nset -e\r\n").as_deref(), Some("/bin/sh"));
        assert_eq!(crlf_interpreter(b"#!/usr/bin/env bash\r\n").as_deref(), Some("/usr/bin/env bash"));
        assert_eq!(crlf_interpreter(b"#!/bin/sh -e\r\necho hi\r\n").as_deref(), Some("/bin/sh -e"));
        assert_eq!(crlf_interpreter(b"#!/bin/sh\nexec \"$@\"\r\n"), None, "LF on the first line runs");
        assert_eq!(crlf_interpreter(b"\x7fELF\x02\x01\r\n"), None);
        assert_eq!(crlf_interpreter(b""), None);
    }
}

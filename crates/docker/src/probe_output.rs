//! Reading what a healthcheck probe printed: whether its program is missing from the
//! image, so that the check can never pass.

/// Whether a probe that exited with `code` after printing `said` could not run its
/// program: runc says so (126/127, "executable file not found"), or a shell does — also
/// when the check goes on after it (`curl … || exit 1` exits 1 after `sh: curl: not found`).
pub(crate) fn program_missing(code: Option<i64>, said: &str) -> bool {
    let missing = ["not found", "no such file or directory", "permission denied"];
    let runc_or_shell =
        matches!(code, Some(126 | 127)) && missing.iter().any(|m| said.to_ascii_lowercase().contains(m));
    runc_or_shell || shell_says_not_found(said)
}

/// dash's `sh: 1: curl: not found`, busybox's `/bin/sh: curl: not found`, bash's
/// `bash: line 1: curl: command not found` (a program's own "404 Not Found" is not that).
fn shell_says_not_found(said: &str) -> bool {
    said.lines().map(str::trim_end).any(|line| {
        let ends = line.ends_with(": not found") || line.ends_with(": command not found");
        ends && line.split(": ").next().is_some_and(|shell| shell.ends_with("sh"))
    })
}

#[cfg(test)]
mod tests {
    use super::program_missing;

    #[test]
    fn a_shells_or_runcs_not_found_is_told_from_a_programs() {
        assert!(program_missing(Some(1), "/bin/sh: curl: not found\n"));
        assert!(program_missing(Some(1), "sh: 1: curl: not found"));
        assert!(program_missing(Some(127), "bash: line 1: curl: command not found"));
        assert!(program_missing(
            Some(126),
            "OCI runtime exec failed: exec: \"curl\": executable file not found in $PATH"
        ));
        assert!(!program_missing(Some(22), "curl: (22) The requested URL returned error: 404 Not Found"));
        assert!(!program_missing(Some(1), "no response"));
        assert!(!program_missing(Some(2), "pg_isready: server not found"), "the program's own words");
    }
}

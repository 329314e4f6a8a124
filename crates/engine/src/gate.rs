//! Starting a step's container while its dependencies get ready.
//!
//! Starting a container costs the engine a few hundred milliseconds. A step that waits
//! for dependencies need not pay that after they are ready: its container starts at
//! once, held by a tiny `sh` gate that waits for one line on stdin, then `exec`s the
//! real entrypoint and command (so the command is PID 1, with its exit status and
//! signals, as without the gate). If slipway goes away first, stdin closes and the gate
//! exits without running anything. Images without `/bin/sh` fall back to a plain start.

use crate::runtime::{ContainerSpec, ImageInfo};

/// A command the image lacks is said in slipway's words, as for a plain start, rather
/// than the shell's `slipway-gate: exec: line 0: npm: not found`.
const GATE_SCRIPT: &str = r#"read -r _ || exit 125; case $1 in */*) [ -f "$1" ] && [ ! -x "$1" ] && { echo "slipway: \`$1\` is not executable: \`chmod +x\` it and commit that (git keeps the bit), or \`RUN chmod +x\` it in the Dockerfile" >&2; exit 126; };; esac; command -v "$1" >/dev/null || { case $1 in */*) w='does not exist in the container';; *) w='is not in the image'\''s $PATH';; esac; echo "slipway: \`$1\` $w" >&2; exit 127; }; exec "$@""#;
const GATE_NAME: &str = "slipway-gate";

/// The gated form of `spec`, or `None` when there is no command to hold.
pub(crate) fn gated(spec: &ContainerSpec, image: &ImageInfo) -> Option<ContainerSpec> {
    let argv = crate::warm::command_line(spec, image);
    // `exec -1` would be read as an option by the gate's shell (and dash has no `--`):
    // such a command starts plainly, so its error is the engine's "not found".
    if argv.first().is_none_or(|first| first.starts_with('-')) {
        return None;
    }
    Some(ContainerSpec {
        entrypoint: Some(vec!["/bin/sh".into(), "-c".into(), GATE_SCRIPT.into(), GATE_NAME.into()]),
        cmd: Some(argv),
        stdin: true,
        ..spec.clone()
    })
}

/// Whether a start error means the image has no `/bin/sh` for the gate.
pub(crate) fn gate_unsupported(message: &str) -> bool {
    message.contains("/bin/sh") && (message.contains("no such file") || message.contains("not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> ImageInfo {
        ImageInfo {
            entrypoint: entrypoint.map(|e| e.iter().map(|s| s.to_string()).collect()),
            cmd: cmd.map(|c| c.iter().map(|s| s.to_string()).collect()),
            ..ImageInfo::default()
        }
    }

    fn words(w: &[&str]) -> Option<Vec<String>> {
        Some(w.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn keeps_the_image_entrypoint_and_replaces_cmd() {
        let spec = ContainerSpec { cmd: words(&["pytest", "-v"]), ..ContainerSpec::default() };
        let g = gated(&spec, &image(Some(&["/entry.sh"]), Some(&["serve"]))).unwrap();
        assert_eq!(g.cmd, words(&["/entry.sh", "pytest", "-v"]));
        assert_eq!(g.entrypoint.unwrap()[0], "/bin/sh");
        assert!(g.stdin);
    }

    #[test]
    fn image_cmd_is_used_without_a_command() {
        let g = gated(&ContainerSpec::default(), &image(None, Some(&["python3"]))).unwrap();
        assert_eq!(g.cmd, words(&["python3"]));
    }

    #[test]
    fn a_service_entrypoint_drops_the_image_cmd() {
        let spec = ContainerSpec { entrypoint: words(&["echo"]), ..ContainerSpec::default() };
        let g = gated(&spec, &image(None, Some(&["ignored"]))).unwrap();
        assert_eq!(g.cmd, words(&["echo"]));
    }

    #[test]
    fn nothing_to_run_means_no_gate() {
        assert!(gated(&ContainerSpec::default(), &image(None, None)).is_none());
    }

    #[test]
    fn a_command_that_looks_like_an_option_is_not_gated() {
        let spec = ContainerSpec { cmd: words(&["-1"]), ..ContainerSpec::default() };
        assert!(gated(&spec, &image(None, None)).is_none());
    }
}

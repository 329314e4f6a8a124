//! What runs in a warm container: a shell that reads one command line at a time from its
//! stdin and runs it, then writes a marker with the exit status to both of its output
//! streams. The pool keeps every warm container attached, so a step's command reaches it
//! without any call to the engine: no `docker exec`, whose runc start costs 20–30 ms of
//! the engine's CPU per command.
//!
//! The marker goes to both streams because the engine copies stdout and stderr
//! separately: output the command wrote just before it ended may arrive after a marker on
//! the other stream, but never after the one on its own.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use crate::runtime::Stream;

/// The warm container's process. `read -r` keeps backslashes; each line is one command
/// that [`command_script`] wrote.
pub(crate) const AGENT: &str = "while IFS= read -r line; do eval \"$line\"; done";

/// A marker no command prints by chance: it ends with a value drawn for this command.
pub(crate) fn new_marker() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("\u{1e}slipway-exit-{:016x}:", hasher.finish())
}

/// The line that runs `cmd` with `env` (`KEY=VALUE`, added to the container's) and its
/// stdin closed, in a subshell so nothing it does changes the agent, then writes
/// `marker` and the exit status to stdout and stderr. `None` when the line protocol
/// cannot carry it (a newline in a word, a variable name the shell cannot export): the
/// step then uses `docker exec`.
pub(crate) fn command_script(cmd: &[String], env: &[String], marker: &str) -> Option<String> {
    if !can_carry(cmd, env) {
        return None;
    }
    let exports: Vec<String> = env.iter().map(|variable| quote(variable)).collect();
    let export = if exports.is_empty() { String::new() } else { format!("export {}; ", exports.join(" ")) };
    let words: Vec<String> = cmd.iter().map(|w| quote(w)).collect();
    Some(format!(
        "({export}exec {}) </dev/null; s=$?; printf '%s%s\\n' {m} \"$s\"; printf '%s%s\\n' {m} \"$s\" >&2\n",
        words.join(" "),
        m = quote(marker),
    ))
}

/// Whether one line for the agent can carry the command: no line break or NUL in a word
/// or value, and only variable names the shell can `export`.
pub(crate) fn can_carry(cmd: &[String], env: &[String]) -> bool {
    let exportable = |variable: &String| {
        variable.split_once('=').is_some_and(|(name, _)| {
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    !cmd.is_empty() && !cmd.iter().chain(env).any(|w| w.contains(['\n', '\r', '\0'])) && env.iter().all(exportable)
}

/// `word` in single quotes, for the shell.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Reads a command's output streams until the marker has come on both; holds back what
/// might be the start of a marker split across chunks.
pub(crate) struct MarkerScanner {
    marker: Vec<u8>,
    /// Per stream: bytes not yet passed on, and the status once its marker came.
    pending: [Vec<u8>; 2],
    status: [Option<i64>; 2],
}

impl MarkerScanner {
    pub fn new(marker: &str) -> Self {
        Self { marker: marker.as_bytes().to_vec(), pending: [Vec::new(), Vec::new()], status: [None, None] }
    }

    /// Take a chunk of `stream`; what of it is the command's output.
    pub fn push(&mut self, stream: Stream, bytes: &[u8]) -> Vec<u8> {
        let i = index(stream);
        if self.status[i].is_some() {
            // Written after the command ended (by something it left running): not its.
            return Vec::new();
        }
        self.pending[i].extend_from_slice(bytes);
        let pending = &self.pending[i];
        if let Some(at) = find(pending, &self.marker) {
            let rest = &pending[at + self.marker.len()..];
            let Some(end) = rest.iter().position(|b| *b == b'\n') else {
                // The status is still on its way; what came before the marker is output.
                let out = pending[..at].to_vec();
                self.pending[i].drain(..at);
                return out;
            };
            self.status[i] = Some(String::from_utf8_lossy(&rest[..end]).trim().parse().unwrap_or(-1));
            let out = pending[..at].to_vec();
            self.pending[i].clear();
            return out;
        }
        // Keep back a tail that could begin a marker.
        let keep = (1..self.marker.len().min(pending.len() + 1))
            .rev()
            .find(|n| pending.ends_with(&self.marker[..*n]))
            .unwrap_or(0);
        let out = pending[..pending.len() - keep].to_vec();
        self.pending[i].drain(..pending.len() - keep);
        out
    }

    /// The command's exit status, once both streams have said it.
    pub fn status(&self) -> Option<i64> {
        match self.status {
            [Some(code), Some(_)] => Some(code),
            _ => None,
        }
    }

    /// What was held back when the output ended early (the container stopped).
    pub fn rest(&mut self, stream: Stream) -> Vec<u8> {
        std::mem::take(&mut self.pending[index(stream)])
    }
}

fn index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    /// Run lines through the agent in a local shell (the same script a warm container
    /// runs), one after another, and scan its output as the pool does.
    fn through_agent(commands: &[(Vec<String>, Vec<String>)]) -> Vec<(String, String, i64)> {
        let mut child = Command::new("sh")
            .args(["-c", AGENT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sh");
        let markers: Vec<String> = commands.iter().map(|_| new_marker()).collect();
        let mut stdin = child.stdin.take().expect("stdin");
        for ((cmd, env), marker) in commands.iter().zip(&markers) {
            stdin.write_all(command_script(cmd, env, marker).expect("expressible").as_bytes()).expect("write");
        }
        drop(stdin);
        let out = child.wait_with_output().expect("agent");
        // Each command's output, cut at its markers.
        let (mut stdout, mut stderr) = (out.stdout.as_slice(), out.stderr.as_slice());
        markers
            .iter()
            .map(|marker| {
                let mut scanner = MarkerScanner::new(marker);
                // Byte by byte: markers split across chunks must still be found.
                let mut take = |bytes: &mut &[u8], stream| {
                    let mut text = Vec::new();
                    while scanner.status[index(stream)].is_none() && !bytes.is_empty() {
                        text.extend(scanner.push(stream, &bytes[..1]));
                        *bytes = &bytes[1..];
                    }
                    String::from_utf8_lossy(&text).into_owned()
                };
                let (o, e) = (take(&mut stdout, Stream::Stdout), take(&mut stderr, Stream::Stderr));
                (o, e, scanner.status().expect("both markers"))
            })
            .collect()
    }

    #[test]
    fn commands_run_with_their_words_environment_and_status_and_leave_the_agent_as_it_was() {
        let results = through_agent(&[
            (
                // printf, not echo: dash's echo reads backslashes itself.
                words(&["sh", "-c", "printf '%s\\n' \"$A|$1\"; echo err >&2; exit 3", "x", "it's $HOME `a` \\n"]),
                words(&["A=a b"]),
            ),
            (words(&["sh", "-c", "echo ${A:-unset}; cat"]), vec![]),
            (words(&["no-such-command-here"]), vec![]),
        ]);
        assert_eq!(results[0], ("a b|it's $HOME `a` \\n\n".into(), "err\n".into(), 3));
        // The first command's variable did not stay, and its stdin is not the agent's.
        assert_eq!(results[1], ("unset\n".into(), String::new(), 0));
        assert_eq!(results[2].2, 127);
    }

    #[test]
    fn what_the_line_protocol_cannot_carry_is_refused() {
        assert!(command_script(&words(&["echo", "a\nb"]), &[], "m").is_none());
        assert!(command_script(&words(&["true"]), &words(&["NOT-A-NAME=1"]), "m").is_none());
        assert!(command_script(&[], &[], "m").is_none());
    }

    #[test]
    fn output_after_the_marker_is_not_the_commands() {
        let mut scanner = MarkerScanner::new("#M:");
        assert_eq!(scanner.push(Stream::Stdout, b"out#"), b"out");
        assert_eq!(scanner.push(Stream::Stdout, b"M:0"), b"");
        assert_eq!(scanner.push(Stream::Stdout, b"\nlate"), b"");
        assert_eq!(scanner.status(), None, "stderr has not said it yet");
        assert_eq!(scanner.push(Stream::Stderr, b"e#M:0\n"), b"e");
        assert_eq!(scanner.status(), Some(0));
        assert_eq!(scanner.push(Stream::Stdout, b"later"), b"");
    }
}

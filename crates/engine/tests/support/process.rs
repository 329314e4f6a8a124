//! A fake container's process: runs its script on tokio time and publishes its phase
//! and output through a watch channel, so waiting and following output really wait.
//!
//! A gated process (the engine's `sh` gate, see `slipway_engine`'s gate.rs) first waits
//! for one line on stdin, then runs its script; at end of input it exits 125, as the
//! gate's `read -r _ || exit 125` does.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::stream::{self, BoxStream, StreamExt};
use slipway_engine::runtime::{OutputChunk, Result, Stream};
use tokio::io::AsyncWrite;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::script::{Instruction, Script};

/// What `docker kill` leaves as the exit code.
pub const KILLED: i64 = 137;
/// The gate's exit code when its input ends before the line that opens it.
pub const GATE_CLOSED: i64 = 125;
/// A shell's exit code for a command it cannot find.
pub const NOT_FOUND: i64 = 127;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    #[default]
    Created,
    Running {
        since: Instant,
    },
    Exited(i64),
}

#[derive(Clone, Debug, Default)]
pub struct ProcessState {
    pub phase: Phase,
    pub output: Vec<OutputChunk>,
    /// When the container's own command began (for a gated one: when the gate opened).
    pub command_started: Option<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stdin {
    /// Open, nothing written yet.
    Waiting,
    GotLine,
    Closed,
}

pub struct Process {
    state: Arc<watch::Sender<ProcessState>>,
    stdin: Arc<watch::Sender<Stdin>>,
    task: Mutex<Option<AbortHandle>>,
}

impl Process {
    /// `stdin_open`: the container keeps stdin open for an attach (`ContainerSpec::stdin`);
    /// without it, stdin is at end of file from the start.
    pub fn new(stdin_open: bool) -> Self {
        Self {
            state: Arc::new(watch::Sender::new(ProcessState::default())),
            stdin: Arc::new(watch::Sender::new(if stdin_open { Stdin::Waiting } else { Stdin::Closed })),
            task: Mutex::new(None),
        }
    }

    pub fn state(&self) -> ProcessState {
        self.state.borrow().clone()
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state.borrow().phase, Phase::Running { .. })
    }

    /// Start running `script`, behind the gate if `gated`. A second start of a running
    /// process does nothing, as with Docker.
    pub fn start(&self, script: Script, gated: bool) {
        if self.is_running() {
            return;
        }
        self.state.send_modify(|s| s.phase = Phase::Running { since: Instant::now() });
        let task = tokio::spawn(execute(self.state.clone(), self.stdin.subscribe(), script, gated));
        *self.task.lock().expect("task") = Some(task.abort_handle());
    }

    /// Stop it the way removing a running container does.
    pub fn kill(&self) {
        if let Some(task) = self.task.lock().expect("task").take() {
            task.abort();
        }
        self.state.send_if_modified(|s| exit(s, KILLED));
    }

    /// Wait until it is not running (Docker's `not-running` condition); its exit code.
    pub async fn wait_exit(&self) -> i64 {
        let mut watcher = self.state.subscribe();
        // The sender lives in `self`, which the caller holds, so the channel stays open.
        let state = watcher.wait_for(|s| !matches!(s.phase, Phase::Running { .. })).await.expect("process state");
        match state.phase {
            Phase::Exited(code) => code,
            _ => 0,
        }
    }

    /// Output written from now on, ending once it has exited and everything was read
    /// (an attach without logs: whatever came before is not replayed).
    pub fn follow_output(&self) -> BoxStream<'static, Result<OutputChunk>> {
        let watcher = self.state.subscribe();
        let from = watcher.borrow().output.len();
        stream::unfold((watcher, from), |(mut watcher, next)| async move {
            loop {
                let (chunk, exited) = {
                    let state = watcher.borrow_and_update();
                    (state.output.get(next).cloned(), matches!(state.phase, Phase::Exited(_)))
                };
                match chunk {
                    Some(chunk) => return Some((Ok(chunk), (watcher, next + 1))),
                    None if exited => return None,
                    None if watcher.changed().await.is_err() => return None,
                    None => {}
                }
            }
        })
        .boxed()
    }

    /// Its stdin, as an attach with `stdin` gives it.
    pub fn stdin(&self) -> Pin<Box<dyn AsyncWrite + Send>> {
        Box::pin(StdinWriter(self.stdin.clone()))
    }

    /// The last `lines` lines it wrote.
    pub fn tail(&self, lines: usize) -> Vec<String> {
        let state = self.state.borrow();
        let text: Vec<u8> = state.output.iter().flat_map(|c| c.bytes.iter().copied()).collect();
        let all: Vec<String> = String::from_utf8_lossy(&text).lines().map(str::to_string).collect();
        all[all.len().saturating_sub(lines)..].to_vec()
    }
}

async fn execute(
    state: Arc<watch::Sender<ProcessState>>,
    mut stdin: watch::Receiver<Stdin>,
    script: Script,
    gated: bool,
) {
    let write = |stream: Stream, lines: &[String]| {
        // One chunk per instruction, so the engine has to split it into lines.
        let bytes = lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect();
        state.send_modify(|s| s.output.push(OutputChunk { stream, bytes }));
    };
    if gated {
        let opened = stdin.wait_for(|s| *s != Stdin::Waiting).await.is_ok_and(|s| *s == Stdin::GotLine);
        if !opened {
            state.send_if_modified(|s| exit(s, GATE_CLOSED));
            return;
        }
    }
    state.send_modify(|s| s.command_started = Some(Instant::now()));
    let instructions = match script {
        Script::Runs(instructions) => instructions,
        // Only a gated process gets here: the shell started, its `exec` finds nothing.
        Script::FailsToStart => {
            write(Stream::Stderr, &["slipway-gate: exec: fail-start: not found".to_string()]);
            state.send_if_modified(|s| exit(s, NOT_FOUND));
            return;
        }
    };
    for instruction in instructions {
        match instruction {
            Instruction::Print(lines) => write(Stream::Stdout, &lines),
            Instruction::Sleep(duration) => tokio::time::sleep(duration).await,
            Instruction::Exit(code) => {
                state.send_if_modified(|s| exit(s, code));
                return;
            }
            Instruction::Forever => std::future::pending::<()>().await,
        }
    }
    state.send_if_modified(|s| exit(s, 0));
}

/// Only a running process can exit; true if it did.
fn exit(state: &mut ProcessState, code: i64) -> bool {
    if matches!(state.phase, Phase::Running { .. }) {
        state.phase = Phase::Exited(code);
        true
    } else {
        false
    }
}

/// The writing end of a container's stdin: a newline is what the gate reads; shutting
/// it down or dropping it is end of file.
struct StdinWriter(Arc<watch::Sender<Stdin>>);

impl StdinWriter {
    fn settle(&self, to: Stdin) {
        self.0.send_if_modified(|s| {
            let changed = *s == Stdin::Waiting;
            if changed {
                *s = to;
            }
            changed
        });
    }
}

impl AsyncWrite for StdinWriter {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if buf.contains(&b'\n') {
            self.settle(Stdin::GotLine);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.settle(Stdin::Closed);
        Poll::Ready(Ok(()))
    }
}

impl Drop for StdinWriter {
    fn drop(&mut self) {
        self.settle(Stdin::Closed);
    }
}

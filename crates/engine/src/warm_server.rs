//! The pool's side of its socket: it hands each free container to one run at a time (so
//! two steps never share one, whichever run they belong to) and passes the run's
//! commands to the container's agent (see [`crate::warm_agent`]) over the attachment it
//! has held since it started the container.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;

use crate::queue::stopped_container;
use crate::runtime::{Attached, Runtime, Stream};
use crate::warm_agent::{command_script, new_marker, MarkerScanner};
use crate::warm_protocol::{read_frame, write_control, write_output, Frame, Reply, Request};

/// A started container nobody has leased, with the attachment to its agent.
pub(crate) struct Ready {
    pub key: String,
    pub network: String,
    pub attached: Attached,
}

/// The pool's containers as its socket sees them.
#[derive(Default)]
pub(crate) struct Shelf {
    pub free: HashMap<String, Ready>,
    /// Leased to a run now.
    pub leased: HashSet<String>,
    /// Their runs are done with them, since when: to be removed (never leased again,
    /// their file systems have changed).
    pub returned: HashMap<String, Instant>,
}

/// How long a handed-back container may wait for its replacement while other runs' steps
/// still run in the pool's containers.
const REFILL_DELAY: Duration = Duration::from_secs(2);

impl Shelf {
    /// Forget containers that are gone from the engine (removed behind the pool's back),
    /// so their ids do not pile up while the pool runs.
    pub fn keep_only(&mut self, present: &HashSet<&str>) {
        self.free.retain(|id, _| present.contains(id.as_str()));
        self.leased.retain(|id| present.contains(id.as_str()));
        self.returned.retain(|id, _| present.contains(id.as_str()));
    }

    /// Whether to replace `id` now: it was handed back, and no step runs in another of the
    /// pool's containers any more, or it has waited [`REFILL_DELAY`]. Removing a container
    /// and starting its successor take the engine and the CPU for a moment, which steps
    /// still running (often the siblings finishing together) should not have to share.
    pub fn take_returned(&mut self, id: &str) -> bool {
        let due = self.returned.get(id).is_some_and(|at| self.leased.is_empty() || at.elapsed() >= REFILL_DELAY);
        if due {
            self.returned.remove(id);
        }
        due
    }
}

pub(crate) type SharedShelf = Arc<Mutex<Shelf>>;

/// Serve leases on `listener` until the task is aborted; `returned` is told whenever a
/// run hands a container back.
pub(crate) async fn serve(
    listener: UnixListener,
    shelf: SharedShelf,
    runtime: Arc<dyn Runtime>,
    returned: Arc<Notify>,
) {
    loop {
        let Ok((connection, _)) = listener.accept().await else { continue };
        let (shelf, runtime, returned) = (shelf.clone(), runtime.clone(), returned.clone());
        tokio::spawn(async move {
            if let Some(container) = lease(connection, &shelf, runtime.as_ref()).await {
                let mut shelf = shelf.lock().expect("shelf");
                shelf.leased.remove(&container);
                shelf.returned.insert(container, Instant::now());
                drop(shelf);
                returned.notify_one();
            }
        });
    }
}

/// One connection: a claim, then commands until the run hangs up. The container it
/// leased, if any.
async fn lease(mut connection: UnixStream, shelf: &SharedShelf, runtime: &dyn Runtime) -> Option<String> {
    let Ok(Some(Frame::Control(Request::Claim { key }))) = read_frame::<Request>(&mut connection).await else {
        return None;
    };
    let taken = {
        let mut shelf = shelf.lock().expect("shelf");
        let id = shelf.free.iter().find(|(_, r)| r.key == key).map(|(id, _)| id.clone());
        id.and_then(|id| {
            let ready = shelf.free.remove(&id)?;
            shelf.leased.insert(id.clone());
            Some((id, ready))
        })
    };
    let Some((container, mut ready)) = taken else {
        let _ = write_control(&mut connection, &Reply::NoneFree).await;
        return None;
    };
    let claimed = Reply::Claimed { container: container.clone(), network: ready.network.clone() };
    if write_control(&mut connection, &claimed).await.is_err() {
        return Some(container);
    }
    loop {
        let Ok(Some(Frame::Control(Request::Run { cmd, env }))) = read_frame::<Request>(&mut connection).await else {
            // Hung up (done, or its process died) or spoke out of turn: the lease ends.
            return Some(container);
        };
        let ended = {
            let (mut reader, mut writer) = connection.split();
            let mut probe = [0u8; 1];
            tokio::select! {
                ended = run(&mut writer, &mut ready.attached, runtime, &container, &cmd, &env) => ended,
                // The run sends nothing while a command runs: if it hangs up meanwhile, it
                // gave up on the command (cancelled or killed).
                _ = reader.read(&mut probe) => return Some(container),
            }
        };
        let reply = match ended {
            Ok(code) => Reply::Exited { code },
            Err((message, code)) => Reply::Failed { message, code },
        };
        let stopped = matches!(reply, Reply::Failed { .. });
        if write_control(&mut connection, &reply).await.is_err() || stopped {
            return Some(container);
        }
    }
}

/// Run one command through the agent, passing its output on; its exit status, or why
/// there is none.
async fn run(
    connection: &mut (impl AsyncWrite + Unpin),
    attached: &mut Attached,
    runtime: &dyn Runtime,
    container: &str,
    cmd: &[String],
    env: &[String],
) -> Result<i64, (String, Option<i64>)> {
    let marker = new_marker();
    let Some(script) = command_script(cmd, env, &marker) else {
        return Err(("the command cannot be passed to a warm container's shell (a newline in it, or a variable name the shell cannot export)".to_string(), None));
    };
    if attached.input.write_all(script.as_bytes()).await.is_err() || attached.input.flush().await.is_err() {
        return Err(stopped(runtime, container).await);
    }
    let mut scanner = MarkerScanner::new(&marker);
    while let Some(chunk) = attached.output.next().await {
        let Ok(chunk) = chunk else { break };
        let out = scanner.push(chunk.stream, &chunk.bytes);
        if !out.is_empty() && write_output(connection, chunk.stream, &out).await.is_err() {
            return Err(("the run hung up".to_string(), None));
        }
        if let Some(code) = scanner.status() {
            return Ok(code);
        }
    }
    for stream in [Stream::Stdout, Stream::Stderr] {
        let rest = scanner.rest(stream);
        if !rest.is_empty() {
            let _ = write_output(connection, stream, &rest).await;
        }
    }
    Err(stopped(runtime, container).await)
}

/// The container's output ended before the command did: it stopped (killed, out of
/// memory). Its exit code once the engine has it.
async fn stopped(runtime: &dyn Runtime, container: &str) -> (String, Option<i64>) {
    match stopped_container(runtime, container).await {
        Some(state) => {
            let why = state.error.map(|e| format!(": {e}")).unwrap_or_default();
            (format!("the warm container stopped while the command ran{why}"), state.exit_code)
        }
        None => ("the warm container's output ended while the command ran".to_string(), None),
    }
}

const SOCKET_PREFIX: &str = "slipway-warm-";
const SOCKET_SUFFIX: &str = ".sock";

/// The socket's path for the pool of run `run_id`: short, as Unix socket paths must be.
pub(crate) fn socket_path(run_id: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{SOCKET_PREFIX}{run_id}{SOCKET_SUFFIX}"))
}

/// Pools' sockets that nothing listens on any more (their pool was killed): `gc`
/// removes them. Those in this process's temporary folder, and `labelled` ones (a pool's
/// containers name its socket, which may be in another `TMPDIR`).
pub fn stale_pool_sockets(labelled: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
    let is_socket_name = |path: &Path| {
        path.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(SOCKET_PREFIX) && n.ends_with(SOCKET_SUFFIX))
    };
    let in_temp =
        std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().filter_map(Result::ok).map(|e| e.path());
    let mut candidates: Vec<std::path::PathBuf> = in_temp.chain(labelled.iter().cloned()).collect();
    candidates.sort();
    candidates.dedup();
    candidates
        .into_iter()
        .filter(|path| is_socket_name(path))
        .filter(|path| {
            matches!(
                std::os::unix::net::UnixStream::connect(path),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
            )
        })
        .collect()
}

/// Listen on `path`, replacing a file a killed pool of the same id left. Only its owner
/// may connect: a lease runs commands in containers, which is as much as the engine's
/// own socket gives, and the socket sits in a shared temporary folder.
pub(crate) fn listen(path: &Path) -> Result<UnixListener, String> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot make {} private: {e}", path.display()))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_pools_owner_may_connect_to_its_socket() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.sock");
        std::fs::write(&path, "left by a killed pool").unwrap();
        let _listener = listen(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    #[test]
    fn containers_gone_from_the_engine_leave_the_shelf() {
        let mut shelf = Shelf::default();
        shelf.leased.extend(["a".to_string(), "b".to_string()]);
        shelf.returned.extend(["c", "d"].map(|id| (id.to_string(), Instant::now())));
        shelf.keep_only(&HashSet::from(["a", "d"]));
        assert_eq!(shelf.leased, HashSet::from(["a".to_string()]));
        assert_eq!(shelf.returned.keys().collect::<Vec<_>>(), ["d"]);
    }

    #[test]
    fn a_returned_container_is_replaced_once_no_step_runs_in_the_pool_or_it_waited() {
        let mut shelf = Shelf::default();
        shelf.leased.insert("busy".to_string());
        shelf.returned.insert("done".to_string(), Instant::now());
        assert!(!shelf.take_returned("done"), "a sibling still runs");
        assert!(!shelf.take_returned("unknown"));
        shelf.leased.clear();
        assert!(shelf.take_returned("done"), "nothing runs any more");
        assert!(shelf.returned.is_empty());
        shelf.leased.insert("busy".to_string());
        shelf.returned.insert("long ago".to_string(), Instant::now() - REFILL_DELAY);
        assert!(shelf.take_returned("long ago"), "it waited long enough");
    }
}

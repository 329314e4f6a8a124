//! Live build events for the pages and the API: the lines of a build's events file as
//! server-sent events, numbered by line so that a viewer resumes where it was
//! (`Last-Event-ID`), followed while the build runs, then its final status.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use axum::response::sse::Event;
use futures::Stream;
use tokio::sync::{broadcast, watch};

use crate::builds::Status;
use crate::state::Shared;

struct Follow {
    server: Shared,
    id: i64,
    /// Bytes of the events file already read (up to the last complete line).
    offset: u64,
    /// Lines read so far: the next line's SSE id is `line + 1`.
    line: u64,
    /// Lines the viewer already has.
    skip: u64,
    pending: VecDeque<Event>,
    /// Step labels from `run_started`, added to `step_started` for the page.
    labels: std::collections::HashMap<u64, String>,
    statuses: broadcast::Receiver<(i64, Status)>,
    events: Option<watch::Receiver<u64>>,
    last_status: Option<Status>,
    done: bool,
}

/// Events of build `id` after the first `after` lines.
pub fn events(server: Shared, id: i64, after: u64) -> impl Stream<Item = Result<Event, Infallible>> {
    let follow = Follow {
        statuses: server.statuses.subscribe(),
        events: server.live_events(id),
        server,
        id,
        offset: 0,
        line: 0,
        skip: after,
        pending: VecDeque::new(),
        labels: std::collections::HashMap::new(),
        last_status: None,
        done: false,
    };
    futures::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(event) = f.pending.pop_front() {
                return Some((Ok(event), f));
            }
            if f.done {
                return None;
            }
            f.read_new_lines();
            if !f.pending.is_empty() {
                continue;
            }
            let status = f.server.db.build(f.id).ok().flatten().map(|b| b.status);
            if status != f.last_status {
                if let Some(s) = status {
                    f.pending.push_back(status_event(s));
                }
                f.last_status = status;
            }
            match status {
                // Finished and every line sent (the runner records the end after the
                // child exited, so no line can follow).
                Some(s) if s.is_finished() => {
                    f.read_new_lines();
                    f.done = true;
                    continue;
                }
                None => return None,
                _ => {}
            }
            if !f.pending.is_empty() {
                continue;
            }
            f.wait().await;
        }
    })
}

impl Follow {
    fn read_new_lines(&mut self) {
        let Ok(mut file) = std::fs::File::open(self.server.paths.events(self.id)) else { return };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return;
        }
        // Only complete lines: the writer may be in the middle of one.
        let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else { return };
        for raw in bytes[..end].split(|b| *b == b'\n') {
            self.line += 1;
            let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(raw) else { continue };
            match value["event"].as_str() {
                Some("run_started") => {
                    for step in value["steps"].as_array().into_iter().flatten() {
                        if let (Some(id), Some(label)) = (step["id"].as_u64(), step["label"].as_str()) {
                            self.labels.insert(id, label.to_string());
                        }
                    }
                }
                Some("step_started") => {
                    if let Some(label) = value["step"].as_u64().and_then(|s| self.labels.get(&s)) {
                        value["label"] = serde_json::Value::String(label.clone());
                    }
                }
                Some("step_output") => {
                    let html = crate::pages::ansi_to_html_string(value["line"].as_str().unwrap_or_default());
                    value["html"] = serde_json::Value::String(html);
                }
                _ => {}
            }
            if self.line > self.skip {
                self.pending.push_back(Event::default().id(self.line.to_string()).data(value.to_string()));
            }
        }
        self.offset += end as u64 + 1;
    }

    /// Until a new line, a status change, or a second (a safety net).
    async fn wait(&mut self) {
        if self.events.is_none() {
            self.events = self.server.live_events(self.id);
        }
        let id = self.id;
        let statuses = &mut self.statuses;
        let status_change = async {
            loop {
                match statuses.recv().await {
                    Ok((build, _)) if build == id => return,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        };
        let new_line = async {
            match &mut self.events {
                Some(rx) => {
                    if rx.changed().await.is_err() {
                        // The build ended: no more lines; look once more.
                        self.events = None;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = status_change => {}
            () = new_line => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

fn status_event(status: Status) -> Event {
    Event::default().data(serde_json::json!({"event": "build_status", "status": status.as_str()}).to_string())
}

/// The position a viewer resumes from: `Last-Event-ID` (a reconnect) or `?after=N`.
pub fn resume_point(last_event_id: Option<&str>, after: Option<u64>) -> u64 {
    last_event_id.and_then(|v| v.trim().parse().ok()).or(after).unwrap_or(0)
}

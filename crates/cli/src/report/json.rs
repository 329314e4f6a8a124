//! `--events PATH`: every event as one JSON object per line, with milliseconds since the
//! run started, for tools and tests.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use slipway_engine::Event;

use super::Reporter;

pub struct JsonReporter {
    out: BufWriter<File>,
    started: Instant,
    error: Option<String>,
}

impl JsonReporter {
    pub fn create(path: &Path) -> Result<Self, String> {
        let file = File::create(path).map_err(|e| format!("cannot write events to `{}`: {e}", path.display()))?;
        Ok(Self { out: BufWriter::new(file), started: Instant::now(), error: None })
    }
}

impl Reporter for JsonReporter {
    fn event(&mut self, event: &Event) {
        let mut value = serde_json::to_value(event).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("t_ms".into(), (self.started.elapsed().as_millis() as u64).into());
        }
        // Flushed per event: tools (and tests) follow the file while the run goes on.
        if let Err(e) = writeln!(self.out, "{value}").and_then(|()| self.out.flush()) {
            self.error.get_or_insert_with(|| format!("cannot write events: {e}"));
        }
    }

    fn finish(&mut self) -> Result<(), String> {
        self.out.flush().map_err(|e| format!("cannot write events: {e}"))?;
        self.error.take().map_or(Ok(()), Err)
    }
}

//! Reporters: each consumes the run's one event stream and writes one kind of output.

mod history;
mod json;
mod junit;
mod terminal;
mod terminal_text;
mod tests;

pub use history::HistoryReporter;
pub use json::JsonReporter;
pub use junit::JunitReporter;
pub use terminal::{human_duration, TerminalOptions, TerminalReporter};
pub use terminal_text::printable;

use slipway_engine::Event;
use tokio::sync::mpsc::UnboundedReceiver;

pub trait Reporter: Send {
    fn event(&mut self, event: &Event);
    /// Called once the stream has ended.
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Feed every event to every reporter until the engine is done; returns the
/// reporters' errors (e.g. a JUnit file that could not be written).
pub fn spawn_reporters(
    mut events: UnboundedReceiver<Event>,
    mut reporters: Vec<Box<dyn Reporter>>,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            for reporter in reporters.iter_mut() {
                reporter.event(&event);
            }
        }
        reporters.iter_mut().filter_map(|r| r.finish().err()).collect()
    })
}

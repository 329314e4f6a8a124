//! A step's output, sent as one event per line. What is left without a final newline
//! is sent when the output ends — also when the step is stopped mid-line (a `timeout`,
//! `--fail-fast` or a cancel drops the future that streams it): a test runner's progress
//! dots, or the prompt a hung command printed last, are what say where it hung.

use slipway_plan::StepId;

use crate::events::{Event, EventSink};
use crate::lines::LineSplitter;
use crate::runtime::Stream;

pub(crate) struct StepLines<'a> {
    events: &'a EventSink,
    step: StepId,
    lines: LineSplitter,
}

impl<'a> StepLines<'a> {
    pub(crate) fn new(events: &'a EventSink, step: StepId) -> Self {
        Self { events, step, lines: LineSplitter::default() }
    }

    pub(crate) fn push(&mut self, stream: Stream, bytes: &[u8]) {
        for line in self.lines.push(stream, bytes) {
            self.events.send(Event::StepOutput { step: self.step, stream, line });
        }
    }
}

impl Drop for StepLines<'_> {
    fn drop(&mut self) {
        for (stream, line) in self.lines.finish() {
            self.events.send(Event::StepOutput { step: self.step, stream, line });
        }
    }
}

//! The one stream of events a run produces. Reporters (terminal, JUnit, JSON, store)
//! consume it; nothing else writes output.

use std::time::Duration;

use serde::Serialize;
use slipway_plan::StepId;
use std::sync::{Arc, RwLock};

use slipway_secrets::Masker;
use tokio::sync::mpsc;

use crate::reports::TestCaseResult;
use crate::runtime::Stream;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Passed,
    Failed,
    /// Stopped by Ctrl-C or `--fail-fast`.
    Cancelled,
    /// Not selected: tag/exclude, push without `--push`, manual without `--approve`.
    Skipped,
    /// Never started because an earlier step failed or the run was cancelled.
    NotRun,
}

impl StepStatus {
    pub fn is_failure(self) -> bool {
        matches!(self, StepStatus::Failed | StepStatus::Cancelled)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct StepInfo {
    pub id: StepId,
    pub label: String,
    pub name: String,
    /// The service it runs in (the pushed service for push steps).
    pub service: String,
    /// `(index, count)`, 1-based, when it is one shard of a split step.
    pub shard: Option<(u32, u32)>,
    /// Every service of its environment, dependencies first and its own last.
    pub services: Vec<String>,
    /// A shard's share of a split and how it was made (see `RunAction::split_note`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageAction {
    Pull,
    Build,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        run_id: String,
        project: String,
        steps: Vec<StepInfo>,
    },
    /// An image is being pulled or built for `service`, for `step` when a step needs it.
    ImageStarted {
        image: String,
        service: String,
        action: ImageAction,
        step: Option<StepId>,
    },
    /// A progress or build-output line.
    ImageOutput {
        image: String,
        line: String,
        step: Option<StepId>,
    },
    ImageFinished {
        image: String,
        action: ImageAction,
        #[serde(serialize_with = "ms")]
        duration: Duration,
        error: Option<String>,
    },
    /// A step (or a new attempt of it: `attempt` counts from 1) started.
    StepStarted {
        step: StepId,
        attempt: u32,
    },
    /// What a running step is doing now ("starting db", "waiting for db to be healthy").
    StepPhase {
        step: StepId,
        message: String,
    },
    /// The step runs in an environment `slipway warm` started (the store keeps apart how
    /// late shards get going warm and cold).
    StepWarm {
        step: StepId,
    },
    /// A complete line the step's command wrote.
    StepOutput {
        step: StepId,
        stream: Stream,
        line: String,
    },
    /// Raw output of an interactive `slipway run` (not split into lines).
    RawOutput {
        stream: Stream,
        bytes: Vec<u8>,
    },
    StepFinished {
        step: StepId,
        status: StepStatus,
        exit_code: Option<i64>,
        #[serde(serialize_with = "ms")]
        duration: Duration,
        /// Why it failed, was skipped or not run.
        message: Option<String>,
        /// Extra lines to show with a failure (e.g. a dependency's last log lines).
        details: Vec<String>,
        attempt: u32,
        /// A failed attempt that will be tried again; the step's outcome comes later.
        will_retry: bool,
    },
    /// Test cases from the step's reports (`reports:`), for one attempt or queue batch.
    TestResults {
        step: StepId,
        attempt: u32,
        cases: Vec<TestCaseResult>,
    },
    /// Something the user should know that is not a failure.
    Notice {
        message: String,
    },
    /// Clean-up: what was removed, or kept with `--no-remove`.
    Cleanup {
        removed: usize,
        kept: Vec<String>,
        errors: Vec<String>,
    },
    RunFinished {
        success: bool,
        cancelled: bool,
        #[serde(serialize_with = "ms")]
        duration: Duration,
    },
}

fn ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// Where the engine sends events. Cheap to clone; sending never blocks. Every text an
/// event carries passes through the masker first, so no reporter ever sees a secret.
#[derive(Clone, Debug)]
pub struct EventSink {
    tx: mpsc::UnboundedSender<Event>,
    /// The secrets so far, and the masker made of them.
    masker: Arc<RwLock<(Vec<String>, Masker)>>,
}

impl EventSink {
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx, masker: Arc::new(RwLock::new((Vec::new(), Masker::new(Vec::<String>::new())))) }, rx)
    }

    /// Mask these values (and those given before) in everything sent from now on.
    pub fn add_secrets(&self, secrets: impl IntoIterator<Item = String>) {
        let mut guard = self.masker.write().expect("masker");
        guard.0.extend(secrets);
        guard.1 = Masker::new(guard.0.iter());
    }

    /// The current masker, for output that is not split into lines.
    pub fn masker(&self) -> Masker {
        self.masker.read().expect("masker").1.clone()
    }

    pub fn send(&self, mut event: Event) {
        {
            let guard = self.masker.read().expect("masker");
            if !guard.1.is_empty() {
                mask_event(&guard.1, &mut event);
            }
        }
        // The receiver only goes away at shutdown; events after that have nowhere to go.
        let _ = self.tx.send(event);
    }
}

fn mask_event(masker: &Masker, event: &mut Event) {
    let mask = |text: &mut String| {
        if let std::borrow::Cow::Owned(masked) = masker.mask_line(text) {
            *text = masked;
        }
    };
    match event {
        Event::ImageOutput { line, .. } | Event::StepOutput { line, .. } => mask(line),
        Event::ImageFinished { error: Some(message), .. }
        | Event::Notice { message }
        | Event::StepPhase { message, .. } => mask(message),
        Event::StepFinished { message, details, .. } => {
            message.iter_mut().for_each(mask);
            details.iter_mut().for_each(mask);
        }
        Event::TestResults { cases, .. } => {
            for case in cases {
                case.message.iter_mut().for_each(mask);
                mask(&mut case.name);
            }
        }
        Event::Cleanup { errors, kept, .. } => errors.iter_mut().chain(kept.iter_mut()).for_each(mask),
        // Raw output is masked by its sender, which keeps state across chunks.
        Event::RawOutput { .. }
        | Event::RunStarted { .. }
        | Event::ImageStarted { .. }
        | Event::ImageFinished { error: None, .. }
        | Event::StepStarted { .. }
        | Event::StepWarm { .. }
        | Event::RunFinished { .. } => {}
    }
}

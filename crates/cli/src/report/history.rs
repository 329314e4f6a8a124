//! The history store as a reporter: the run, every step attempt (with its log) and every
//! test case go into the project's SQLite history.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use slipway_engine::reports::{TestCaseResult, TestStatus};
use slipway_engine::{Event, StepInfo, StepStatus};
use slipway_plan::StepId;
use slipway_store::{
    LiveLog, NewRun, RunProcess, RunResult, StepRecord, Store, TestCaseRecord, TestStatus as StoredStatus,
};

use super::Reporter;

/// Lines kept per step attempt for its log (the newest are kept beyond it).
const MAX_LOG_LINES: usize = 200_000;

/// A step attempt's log as kept for the history: its newest lines, and how many older
/// ones made way for them (a ring, so a step printing millions of lines costs the same
/// per line as one printing ten).
#[derive(Default)]
struct StepLog {
    lines: std::collections::VecDeque<String>,
    dropped: usize,
}

impl StepLog {
    fn push(&mut self, line: String) {
        if self.lines.len() >= MAX_LOG_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }

    fn into_lines(self) -> Vec<String> {
        let mut lines = Vec::with_capacity(self.lines.len() + 1);
        if self.dropped > 0 {
            lines.push(format!("slipway: the first {} lines of this log are not kept", self.dropped));
        }
        lines.extend(self.lines);
        lines
    }
}

pub struct HistoryReporter {
    store: Arc<Store>,
    branch: Option<String>,
    commit: Option<String>,
    run_id: String,
    steps: Vec<StepInfo>,
    started: HashMap<(StepId, u32), SystemTime>,
    logs: HashMap<(StepId, u32), StepLog>,
    /// The same lines on disk as they come, for a run that dies before its steps end.
    live_logs: HashMap<(StepId, u32), LiveLog>,
    /// The attempt each step is in, for output events (which do not carry it).
    attempts: HashMap<StepId, u32>,
    /// Test cases recorded so far per step attempt (queue batches add up).
    tests: HashMap<(StepId, u32), Vec<TestCaseRecord>>,
    /// Step attempts that ran in an environment `slipway warm` started.
    warm: HashSet<(StepId, u32)>,
    errors: Vec<String>,
}

impl HistoryReporter {
    pub fn new(store: Arc<Store>, branch: Option<String>, commit: Option<String>) -> Self {
        Self {
            store,
            branch,
            commit,
            run_id: String::new(),
            steps: Vec::new(),
            started: HashMap::new(),
            logs: HashMap::new(),
            live_logs: HashMap::new(),
            attempts: HashMap::new(),
            tests: HashMap::new(),
            warm: HashSet::new(),
            errors: Vec::new(),
        }
    }

    /// A step attempt's row with `status`; times, exit code and message still empty.
    fn step_record(&self, step: StepId, attempt: u32, status: &str) -> StepRecord {
        let info = &self.steps[step.0];
        StepRecord {
            run_id: self.run_id.clone(),
            step: step.0 as u32,
            label: info.label.clone(),
            name: info.name.clone(),
            service: info.service.clone(),
            status: status.to_string(),
            exit_code: None,
            started_at: None,
            finished_at: None,
            shard: info.shard.map(|(index, _)| index),
            attempt,
            message: None,
            warm: false,
        }
    }

    /// Add a line to the log of the step's current attempt (the newest [`MAX_LOG_LINES`]).
    fn log(&mut self, step: StepId, line: String) {
        let attempt = self.attempts.get(&step).copied().unwrap_or(1);
        if let Some(live) = self.live_logs.get_mut(&(step, attempt)) {
            let result = live.append(&line);
            self.note(result);
        }
        self.logs.entry((step, attempt)).or_default().push(line);
    }

    fn note<T>(&mut self, result: Result<T, slipway_store::StoreError>) {
        if let Err(e) = result {
            if self.errors.len() < 5 {
                self.errors.push(format!("history: {e}"));
            }
        }
    }
}

fn stored_status(status: TestStatus) -> StoredStatus {
    match status {
        TestStatus::Passed => StoredStatus::Passed,
        TestStatus::Failed => StoredStatus::Failed,
        TestStatus::Error => StoredStatus::Error,
        TestStatus::Skipped => StoredStatus::Skipped,
    }
}

fn record(case: &TestCaseResult) -> TestCaseRecord {
    TestCaseRecord {
        suite: case.classname.clone().unwrap_or_else(|| case.suite.clone()),
        name: case.name.clone(),
        file: case.file.clone(),
        duration: case.duration,
        status: stored_status(case.status),
        message: case.message.clone(),
    }
}

fn status_text(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Passed => "passed",
        StepStatus::Failed => "failed",
        StepStatus::Cancelled => "cancelled",
        StepStatus::Skipped => "skipped",
        StepStatus::NotRun => "not_run",
    }
}

impl Reporter for HistoryReporter {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted { run_id, project, steps } => {
                self.run_id = run_id.clone();
                self.steps = steps.clone();
                let run = NewRun {
                    id: run_id.clone(),
                    project: project.clone(),
                    branch: self.branch.clone(),
                    commit: self.commit.clone(),
                    started_at: SystemTime::now(),
                    process: Some(RunProcess { pid: std::process::id(), host: crate::commands::this_host() }),
                };
                let result = self.store.start_run(&run);
                self.note(result);
            }
            Event::StepWarm { step } => {
                let attempt = self.attempts.get(step).copied().unwrap_or(1);
                self.warm.insert((*step, attempt));
            }
            Event::StepStarted { step, attempt } => {
                self.attempts.insert(*step, *attempt);
                let live = self.store.live_log(&self.run_id, &self.steps[step.0].label, *attempt);
                match live {
                    Ok(live) => drop(self.live_logs.insert((*step, *attempt), live)),
                    Err(e) => self.note::<()>(Err(e)),
                }
                if let Some(split) = self.steps[step.0].split.clone() {
                    self.log(*step, format!("slipway: started: {split}"));
                }
                let now = SystemTime::now();
                self.started.insert((*step, *attempt), now);
                // Recorded as running now, so a run that dies (kill -9, out of memory)
                // still shows which steps it was in.
                let record = StepRecord { started_at: Some(now), ..self.step_record(*step, *attempt, "running") };
                let result = self.store.record_step(&record);
                self.note(result);
            }
            Event::StepOutput { step, line, .. } => self.log(*step, line.replace('\n', " ")),
            // What slipway said of the step as it went (its share of a split, its queue
            // batches, on_fail), so `show --logs` can tell how a split went.
            Event::StepPhase { step, message } if message == "running" => {
                let attempt = self.attempts.get(step).copied().unwrap_or(1);
                let result = self.store.record_command_start(&self.run_id, step.0 as u32, attempt, SystemTime::now());
                self.note(result);
            }
            Event::StepPhase { step, message } => self.log(*step, format!("slipway: {message}")),
            Event::TestResults { step, attempt, cases } => {
                let records: Vec<TestCaseRecord> = cases.iter().map(record).collect();
                // Queue batches add up within an attempt: keep what came before.
                let mut all = self.tests.get(&(*step, *attempt)).cloned().unwrap_or_default();
                all.extend(records);
                let result = self.store.record_tests(&self.run_id, step.0 as u32, *attempt, &all);
                self.note(result);
                self.tests.insert((*step, *attempt), all);
            }
            Event::StepFinished { step, status, exit_code, message, attempt, .. } => {
                let attempt = (*attempt).max(1);
                let started_at = self.started.get(&(*step, attempt)).copied();
                let record = StepRecord {
                    exit_code: *exit_code,
                    started_at,
                    finished_at: started_at.map(|_| SystemTime::now()),
                    message: message.clone(),
                    warm: self.warm.contains(&(*step, attempt)),
                    ..self.step_record(*step, attempt, status_text(*status))
                };
                let result = self.store.record_step(&record);
                self.note(result);
                // Even an empty one, which replaces the live log.
                let started = self.live_logs.remove(&(*step, attempt)).is_some();
                let lines = self.logs.remove(&(*step, attempt));
                if started || lines.is_some() {
                    let lines = lines.map(StepLog::into_lines).unwrap_or_default();
                    let result = self.store.write_log(&self.run_id, &record.label, attempt, &lines);
                    self.note(result);
                }
            }
            Event::RunFinished { success, cancelled, .. } => {
                let result = if *cancelled {
                    RunResult::Cancelled
                } else if *success {
                    RunResult::Passed
                } else {
                    RunResult::Failed
                };
                let outcome = self.store.finish_run(&self.run_id, SystemTime::now(), result);
                self.note(outcome);
            }
            _ => {}
        }
    }

    fn finish(&mut self) -> Result<(), String> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{StepLog, MAX_LOG_LINES};

    #[test]
    fn a_long_log_keeps_its_newest_lines_and_says_how_many_went() {
        let mut log = StepLog::default();
        for i in 0..MAX_LOG_LINES + 3 {
            log.push(i.to_string());
        }
        let lines = log.into_lines();
        assert_eq!(lines.len(), MAX_LOG_LINES + 1);
        assert_eq!(lines[0], "slipway: the first 3 lines of this log are not kept");
        assert_eq!(lines[1], "3");
        assert_eq!(lines.last().map(String::as_str), Some((MAX_LOG_LINES + 2).to_string().as_str()));
    }
}

//! The history store as a reporter: the run, every step attempt (with its log) and every
//! test case go into the project's SQLite history.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use slipway_engine::reports::{TestCaseResult, TestStatus};
use slipway_engine::{Event, StepInfo, StepStatus};
use slipway_plan::StepId;
use slipway_store::{NewRun, RunProcess, RunResult, StepRecord, Store, TestCaseRecord, TestStatus as StoredStatus};

use super::Reporter;

/// Lines kept per step attempt for its log (the newest are kept beyond it).
const MAX_LOG_LINES: usize = 200_000;

pub struct HistoryReporter {
    store: Arc<Store>,
    branch: Option<String>,
    commit: Option<String>,
    run_id: String,
    steps: Vec<StepInfo>,
    started: HashMap<(StepId, u32), SystemTime>,
    logs: HashMap<(StepId, u32), Vec<String>>,
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
            attempts: HashMap::new(),
            tests: HashMap::new(),
            warm: HashSet::new(),
            errors: Vec::new(),
        }
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
                self.started.insert((*step, *attempt), SystemTime::now());
            }
            Event::StepOutput { step, line, .. } => {
                let attempt = self.attempts.get(step).copied().unwrap_or(1);
                let log = self.logs.entry((*step, attempt)).or_default();
                if log.len() >= MAX_LOG_LINES {
                    log.remove(0);
                }
                log.push(line.replace('\n', " "));
            }
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
                let info = self.steps[step.0].clone();
                let attempt = (*attempt).max(1);
                let started_at = self.started.get(&(*step, attempt)).copied();
                let record = StepRecord {
                    run_id: self.run_id.clone(),
                    step: step.0 as u32,
                    label: info.label.clone(),
                    name: info.name.clone(),
                    service: info.service.clone(),
                    status: status_text(*status).to_string(),
                    exit_code: *exit_code,
                    started_at,
                    finished_at: started_at.map(|_| SystemTime::now()),
                    shard: info.shard.map(|(index, _)| index),
                    attempt,
                    message: message.clone(),
                    warm: self.warm.contains(&(*step, attempt)),
                };
                let result = self.store.record_step(&record);
                self.note(result);
                if let Some(lines) = self.logs.remove(&(*step, attempt)) {
                    let result = self.store.write_log(&self.run_id, &info.label, attempt, &lines);
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

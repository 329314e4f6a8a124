//! `--junit PATH`: every step as a JUnit test case, with its output, so any CI system
//! can show slipway's results.

use std::collections::HashMap;
use std::path::PathBuf;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use slipway_engine::reports::{TestCaseResult, TestStatus};
use slipway_engine::{Event, StepInfo, StepStatus};
use slipway_plan::StepId;

use super::Reporter;

/// Output kept per step for the report; older lines are dropped beyond it.
const MAX_OUTPUT_BYTES: usize = 1 << 20;

pub struct JunitReporter {
    path: PathBuf,
    project: String,
    steps: Vec<StepInfo>,
    output: HashMap<StepId, (String, usize)>,
    cases: Vec<TestCase>,
    /// Test cases from the steps' reports, with their attempt.
    tests: HashMap<StepId, Vec<(u32, TestCaseResult)>>,
}

impl JunitReporter {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            project: String::new(),
            steps: Vec::new(),
            output: HashMap::new(),
            cases: Vec::new(),
            tests: HashMap::new(),
        }
    }
}

impl Reporter for JunitReporter {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted { project, steps, .. } => {
                self.project = project.clone();
                self.steps = steps.clone();
            }
            Event::StepOutput { step, line, .. } => {
                let (text, dropped) = self.output.entry(*step).or_default();
                text.push_str(line);
                text.push('\n');
                if text.len() > MAX_OUTPUT_BYTES {
                    let cut = text.len() - MAX_OUTPUT_BYTES / 2;
                    let cut = (cut..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
                    text.drain(..cut);
                    *dropped += cut;
                }
            }
            Event::TestResults { step, attempt, cases } => {
                crate::report::tests::add_results(&mut self.tests, &self.steps, *step, *attempt, cases);
            }
            // A failed attempt that is tried again: its outcome is the next attempt's.
            Event::StepFinished { will_retry: true, .. } => {}
            Event::StepFinished { step, status, exit_code, duration, message, details, .. } => {
                let info = &self.steps[step.0];
                let mut status_value = match status {
                    StepStatus::Passed => TestCaseStatus::success(),
                    StepStatus::Skipped | StepStatus::NotRun => TestCaseStatus::skipped(),
                    StepStatus::Failed if exit_code.is_some() => TestCaseStatus::non_success(NonSuccessKind::Failure),
                    StepStatus::Failed | StepStatus::Cancelled => TestCaseStatus::non_success(NonSuccessKind::Error),
                };
                if let Some(message) = message {
                    status_value.set_message(message.as_str());
                }
                if !details.is_empty() {
                    status_value.set_description(details.join("\n"));
                }
                let mut case = TestCase::new(info.label.as_str(), status_value);
                case.set_classname(format!("{}.{}", self.project, info.service));
                case.set_time(*duration);
                if let Some((text, dropped)) = self.output.remove(step) {
                    let text = if dropped > 0 { format!("[{dropped} earlier bytes not kept]\n{text}") } else { text };
                    case.set_system_out(text);
                }
                self.cases.push(case);
            }
            _ => {}
        }
    }

    fn finish(&mut self) -> Result<(), String> {
        // Cases in plan order, whatever order they finished in.
        let order: HashMap<&str, usize> = self.steps.iter().map(|s| (s.label.as_str(), s.id.0)).collect();
        self.cases.sort_by_key(|c| order.get(c.name.as_str()).copied().unwrap_or(usize::MAX));
        let mut suite = TestSuite::new(self.project.as_str());
        suite.add_test_cases(std::mem::take(&mut self.cases));
        let mut report = Report::new("slipway");
        report.add_test_suite(suite);
        // The steps' own test reports, one suite per step.
        for info in &self.steps {
            let Some(cases) = self.tests.get(&info.id).filter(|c| !c.is_empty()) else { continue };
            let mut suite = TestSuite::new(info.label.as_str());
            for (_, case) in cases {
                let mut status = match case.status {
                    TestStatus::Passed => TestCaseStatus::success(),
                    TestStatus::Skipped => TestCaseStatus::skipped(),
                    TestStatus::Failed => TestCaseStatus::non_success(NonSuccessKind::Failure),
                    TestStatus::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
                };
                if let Some(message) = &case.message {
                    status.set_message(message.as_str());
                }
                let mut test = TestCase::new(case.name.as_str(), status);
                if let Some(classname) = &case.classname {
                    test.set_classname(classname.as_str());
                }
                if let Some(file) = &case.file {
                    test.extra.insert("file".into(), file.as_str().into());
                }
                test.set_time(case.duration);
                suite.add_test_case(test);
            }
            report.add_test_suite(suite);
        }
        let xml = report.to_string().map_err(|e| format!("cannot write JUnit report: {e}"))?;
        std::fs::write(&self.path, xml).map_err(|e| format!("cannot write JUnit report `{}`: {e}", self.path.display()))
    }
}

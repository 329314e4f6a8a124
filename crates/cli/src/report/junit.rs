//! `--junit PATH`: every step as a JUnit test case, with its output, so any CI system
//! can show slipway's results.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

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
    /// The run's wall time, the steps' suite's `time`.
    duration: Option<std::time::Duration>,
}

impl JunitReporter {
    /// A reporter for `path`, its folders made (as pytest's `--junitxml` makes them) and
    /// the file checked writable now: the report is written when the run is over, and a
    /// bad path must fail the run before it starts, not turn a passed run red at its end.
    pub fn create(path: PathBuf) -> Result<Self, String> {
        prepare_report_path(&path).map_err(|e| {
            format!(
                "cannot write the JUnit report `{}`: {e}; give --junit a path in a folder you can write to",
                path.display()
            )
        })?;
        Ok(Self::new(path))
    }

    fn new(path: PathBuf) -> Self {
        Self {
            path,
            project: String::new(),
            steps: Vec::new(),
            output: HashMap::new(),
            cases: Vec::new(),
            tests: HashMap::new(),
            duration: None,
        }
    }
}

/// Make the folders of `path` and check the file can be opened for writing, leaving
/// neither a new empty file (a CI system would read it as a broken report) nor a change
/// to an existing one.
fn prepare_report_path(path: &Path) -> Result<(), String> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|e| match e.kind() {
            // The bare "File exists" would not say which part of the path is in the way.
            std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::NotADirectory => {
                format!("cannot create its folder `{}`: a file in that path is in the way", folder.display())
            }
            _ => format!("cannot create its folder `{}`: {e}", folder.display()),
        })?;
    }
    let existed = path.symlink_metadata().is_ok();
    OpenOptions::new().append(true).create(true).open(path).map_err(|e| e.to_string())?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
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
            Event::RunFinished { duration, .. } => self.duration = Some(*duration),
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
        if let Some(duration) = self.duration {
            suite.set_time(duration);
            report.set_time(duration);
        }
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
            // As test runners write it: the sum of its cases' times.
            suite.set_time(cases.iter().map(|(_, case)| case.duration).sum());
            report.add_test_suite(suite);
        }
        let xml = report.to_string().map_err(|e| format!("cannot write JUnit report: {e}"))?;
        std::fs::write(&self.path, xml).map_err(|e| format!("cannot write JUnit report `{}`: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn suites_carry_their_time_the_steps_the_runs_and_a_steps_tests_their_sum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.xml");
        let mut reporter = JunitReporter::new(path.clone());
        let step = StepId(0);
        let info = StepInfo {
            id: step,
            label: "tests".into(),
            name: "tests".into(),
            service: "app".into(),
            shard: None,
            services: vec!["app".into()],
            split: None,
        };
        let case = |name: &str, ms: u64| TestCaseResult {
            suite: "s".into(),
            name: name.into(),
            classname: None,
            file: None,
            duration: Duration::from_millis(ms),
            status: TestStatus::Passed,
            message: None,
        };
        reporter.event(&Event::RunStarted { run_id: "r".into(), project: "p".into(), steps: vec![info] });
        reporter.event(&Event::TestResults { step, attempt: 1, cases: vec![case("a", 1500), case("b", 250)] });
        reporter.event(&Event::StepFinished {
            step,
            status: StepStatus::Passed,
            exit_code: Some(0),
            duration: Duration::from_secs(2),
            message: None,
            details: Vec::new(),
            attempt: 1,
            will_retry: false,
        });
        reporter.event(&Event::RunFinished { success: true, cancelled: false, duration: Duration::from_secs(3) });
        reporter.finish().expect("report written");
        let xml = std::fs::read_to_string(&path).unwrap();
        assert!(
            xml.contains(r#"<testsuite name="p" tests="1" skipped="0" errors="0" failures="0" time="3.000">"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testsuite name="tests" tests="2" skipped="0" errors="0" failures="0" time="1.750">"#),
            "{xml}"
        );
    }

    #[test]
    fn create_makes_missing_folders_and_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/junit.xml");
        let mut reporter = JunitReporter::create(path.clone()).expect("folders made");
        assert!(path.parent().unwrap().is_dir());
        assert!(!path.exists(), "no empty report before the run ends");
        reporter.finish().expect("report written");
        assert!(std::fs::read_to_string(&path).unwrap().contains("<testsuites"));
    }

    #[test]
    fn create_keeps_an_existing_report_until_the_run_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.xml");
        std::fs::write(&path, "old report").unwrap();
        JunitReporter::create(path.clone()).expect("writable");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old report");
    }

    #[test]
    fn create_fails_when_the_folder_cannot_be_made() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a-file"), "").unwrap();
        let path = dir.path().join("a-file/sub/junit.xml");
        let Err(message) = JunitReporter::create(path.clone()) else { panic!("a file cannot hold a folder") };
        assert!(message.contains(&format!("`{}`", path.display())), "{message}");
        assert!(message.contains("a file in that path is in the way"), "{message}");
        assert!(message.contains("give --junit a path"), "{message}");
    }

    #[test]
    fn create_fails_when_the_path_is_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let Err(message) = JunitReporter::create(dir.path().to_path_buf()) else { panic!("a folder is not a file") };
        assert!(message.contains("cannot write the JUnit report"), "{message}");
    }
}

//! A step's test results across attempts and queue batches.

use std::collections::HashMap;

use slipway_engine::reports::TestCaseResult;
use slipway_engine::StepInfo;
use slipway_plan::StepId;

/// Every step's test results, with the attempt that reported each.
pub type StepTests = HashMap<StepId, Vec<(u32, TestCaseResult)>>;

/// Add one step's results of an attempt (or queue batch), as the reporters that list
/// tests keep them. A later attempt replaces the earlier result of the same test in this
/// step and, for a shard, in its sibling shards: a queue retries a failed file in
/// whichever worker is free.
pub fn add_results(tests: &mut StepTests, steps: &[StepInfo], step: StepId, attempt: u32, cases: &[TestCaseResult]) {
    if attempt > 1 {
        let name = steps.iter().find(|s| s.id == step).map(|s| &s.name);
        for sibling in steps.iter().filter(|s| s.id != step && s.shard.is_some() && Some(&s.name) == name) {
            if let Some(results) = tests.get_mut(&sibling.id) {
                replace_earlier(results, attempt, cases);
            }
        }
    }
    add_attempt(tests.entry(step).or_default(), attempt, cases);
}

/// Add one attempt's (or queue batch's) results: a test that ran again replaces its
/// earlier result, so a retry's outcome counts and the other tests' results stay.
fn add_attempt(results: &mut Vec<(u32, TestCaseResult)>, attempt: u32, cases: &[TestCaseResult]) {
    replace_earlier(results, attempt, cases);
    results.extend(cases.iter().cloned().map(|c| (attempt, c)));
}

/// Drop the results of earlier attempts of these tests.
fn replace_earlier(results: &mut Vec<(u32, TestCaseResult)>, attempt: u32, cases: &[TestCaseResult]) {
    let same =
        |a: &TestCaseResult, b: &TestCaseResult| a.suite == b.suite && a.classname == b.classname && a.name == b.name;
    results.retain(|(earlier, old)| *earlier >= attempt || !cases.iter().any(|new| same(old, new)));
}

#[cfg(test)]
mod unit {
    use std::time::Duration;

    use slipway_engine::reports::TestStatus;

    use super::*;

    fn case(name: &str, status: TestStatus) -> TestCaseResult {
        TestCaseResult {
            suite: "s".into(),
            name: name.into(),
            classname: None,
            file: None,
            duration: Duration::ZERO,
            status,
            message: None,
        }
    }

    #[test]
    fn a_retried_test_replaces_its_failure_and_keeps_the_rest() {
        let mut results = Vec::new();
        add_attempt(&mut results, 1, &[case("a", TestStatus::Passed), case("b", TestStatus::Failed)]);
        add_attempt(&mut results, 2, &[case("b", TestStatus::Passed)]);
        let now: Vec<(&str, TestStatus)> = results.iter().map(|(_, c)| (c.name.as_str(), c.status)).collect();
        assert_eq!(now, [("a", TestStatus::Passed), ("b", TestStatus::Passed)]);
    }

    #[test]
    fn a_file_a_queue_retried_in_another_worker_replaces_its_failure_there() {
        let shard = |id: usize, index: u32| StepInfo {
            id: StepId(id),
            label: format!("tests [{index}/2]"),
            name: "tests".into(),
            service: "app".into(),
            shard: Some((index, 2)),
            services: vec!["app".into()],
            split: None,
        };
        let steps = [shard(0, 1), shard(1, 2)];
        let mut tests = StepTests::new();
        add_results(&mut tests, &steps, StepId(0), 1, &[case("a", TestStatus::Passed), case("b", TestStatus::Failed)]);
        add_results(&mut tests, &steps, StepId(1), 2, &[case("b", TestStatus::Passed)]);
        let names = |id: usize| tests[&StepId(id)].iter().map(|(_, c)| (c.name.clone(), c.status)).collect::<Vec<_>>();
        assert_eq!(names(0), [("a".to_string(), TestStatus::Passed)]);
        assert_eq!(names(1), [("b".to_string(), TestStatus::Passed)]);
    }
}

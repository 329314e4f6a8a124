//! A step's test results across attempts and queue batches.

use slipway_engine::reports::TestCaseResult;

/// Add one attempt's (or queue batch's) results: a test that ran again replaces its
/// earlier result, so a retry's outcome counts and the other tests' results stay.
pub fn add_attempt(results: &mut Vec<(u32, TestCaseResult)>, attempt: u32, cases: &[TestCaseResult]) {
    replace_earlier(results, attempt, cases);
    results.extend(cases.iter().cloned().map(|c| (attempt, c)));
}

/// Drop the results of earlier attempts of these tests. Also for the sibling shards of a
/// queue step: a failed file is retried by whichever worker is free.
pub fn replace_earlier(results: &mut Vec<(u32, TestCaseResult)>, attempt: u32, cases: &[TestCaseResult]) {
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
}

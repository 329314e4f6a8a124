//! A build's test results: what failed first, with its message; passing tests folded away.

use maud::{html, Markup};

use super::format::{css_token, duration};
use super::views::{BuildView, TestRow};
use super::{badge, links};

/// The `<section id="tests">` of the build page.
pub fn test_results(view: &BuildView) -> Markup {
    let mut tests: Vec<&TestRow> = view.tests.iter().collect();
    // Stable: within a group the tests keep the order they ran in.
    tests.sort_by_key(|t| rank(&t.status));
    let (passed, rest): (Vec<&TestRow>, Vec<&TestRow>) = tests.into_iter().partition(|t| t.status == "passed");
    html! {
        section #tests .tests {
            div.section-head {
                h2 { "Tests" }
                @if !view.tests.is_empty() {
                    span.counts { (counts(&view.tests)) }
                }
                @if let Some(url) = &view.junit_url {
                    a.download href=(url) download { "JUnit XML" }
                }
            }
            @if view.tests.is_empty() {
                p.muted {
                    @if view.live { "Test results appear as steps report them." } @else { "No test reports." }
                }
            }
            @if !rest.is_empty() {
                (table(&rest))
            }
            @if !passed.is_empty() {
                details.passed-tests open[rest.is_empty() && passed.len() <= 20] {
                    summary { (passed.len()) " passed" }
                    (table(&passed))
                }
            }
        }
    }
}

/// Failed and errored first, then skipped, then passed; anything unexpected before passed.
fn rank(status: &str) -> u8 {
    match status {
        "failed" | "error" => 0,
        "skipped" => 1,
        "passed" => 3,
        _ => 2,
    }
}

/// "2 failed · 1 skipped · 40 passed", leaving out zeros.
fn counts(tests: &[TestRow]) -> Markup {
    let count = |status: &str| tests.iter().filter(|t| t.status == status).count();
    let known = ["failed", "error", "skipped", "passed"];
    let other = tests.iter().filter(|t| !known.contains(&t.status.as_str())).count();
    let parts: Vec<(usize, &str)> = [
        (count("failed"), "failed"),
        (count("error"), "error"),
        (count("skipped"), "skipped"),
        (count("passed"), "passed"),
        (other, "other"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .collect();
    html! {
        @for (i, (n, status)) in parts.iter().enumerate() {
            @if i > 0 { " · " }
            span class=(format!("count status-{status}")) { (n) " " (status) }
        }
    }
}

fn table(tests: &[&TestRow]) -> Markup {
    html! {
        div.table-wrap {
            table.test-table {
                thead {
                    tr { th { "status" } th { "test" } th { "suite" } th { "step" } th.num { "duration" } }
                }
                tbody {
                    @for test in tests {
                        tr class=(format!("status-{}", css_token(&test.status))) {
                            td { (badge::step_status(&test.status)) }
                            td.test-name {
                                a href=(links::test_history(&test.suite, &test.name)) { (test.name) }
                                @if let Some(file) = &test.file { div.file { (file) } }
                            }
                            td { (test.suite) }
                            td { (test.step_label) }
                            td.num { (duration(test.duration)) }
                        }
                        @if let Some(message) = test.message.as_ref().filter(|_| rank(&test.status) < 3) {
                            tr.failure-row {
                                td colspan="5" { pre.failure { (message) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

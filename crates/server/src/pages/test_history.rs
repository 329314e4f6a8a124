//! One test across builds: how long it took and whether it passed, run after run.

use maud::{html, Markup};

use super::charts::{self, DurationPoint};
use super::format::{css_token, duration, duration_ms, short_commit, timestamp};
use super::views::TestHistoryView;
use super::{badge, layout, links};

pub fn test_history(view: &TestHistoryView) -> Markup {
    let failed = view.runs.iter().filter(|r| matches!(r.status.as_str(), "failed" | "error")).count();
    // The chart reads left to right, oldest first; the runs come newest first.
    let points: Vec<DurationPoint> = view
        .runs
        .iter()
        .rev()
        .map(|run| DurationPoint {
            ms: u64::try_from(run.duration.as_millis()).unwrap_or(u64::MAX),
            status: run.status.clone(),
            title: format!(
                "#{} {} · {} · {}",
                run.build_id,
                run.branch,
                duration(run.duration),
                run.at.format("%Y-%m-%d %H:%M UTC")
            ),
        })
        .collect();
    let mut durations: Vec<u64> = points.iter().map(|p| p.ms).collect();
    durations.sort_unstable();
    let median = durations.get(durations.len() / 2).copied();
    let body = html! {
        div.page-head.test-head {
            h1 {
                span.suite { (view.suite) }
                " "
                span.test-title { (view.name) }
            }
            @if view.flaky {
                span.flaky-badge title="This test both passed and failed on the same code" { "flaky" }
            }
        }
        @if let Some(file) = &view.file {
            p.file { (file) }
        }
        dl.build-meta {
            div { dt { "runs" } dd { (view.runs.len()) } }
            div { dt { "failed" } dd { (failed) } }
            @if let Some(median) = median {
                div { dt { "median" } dd { (duration_ms(median)) } }
            }
        }
        @if view.runs.is_empty() {
            p.empty { "No runs recorded for this test." }
        } @else {
            section.chart-section {
                div.section-head { h2 { "Duration" } }
                (charts::durations(&points))
            }
            div.table-wrap {
                table.runs {
                    thead {
                        tr { th { "build" } th { "status" } th { "branch" } th { "commit" } th { "when" } th.num { "duration" } }
                    }
                    tbody {
                        @for run in &view.runs {
                            tr class=(format!("status-{}", css_token(&run.status))) {
                                td { a href=(links::build(run.build_id)) { "#" (run.build_id) } }
                                td { (badge::step_status(&run.status)) }
                                td.branch { (run.branch) }
                                td { @if let Some(commit) = &run.commit { code.commit { (short_commit(commit)) } } }
                                td { (timestamp(run.at)) }
                                td.num { (duration(run.duration)) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::layout(&format!("{} · test history", view.name), &view.viewer, body)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::pages::testdata;
    use crate::pages::views::TestRun;

    fn run(build_id: i64, status: &str, ms: u64) -> TestRun {
        TestRun {
            build_id,
            branch: testdata::EVIL.into(),
            commit: Some("abcdef0123456789".into()),
            at: testdata::at(build_id * 60),
            duration: Duration::from_millis(ms),
            status: status.into(),
        }
    }

    #[test]
    fn runs_chart_and_flaky_marker() {
        let view = TestHistoryView {
            viewer: Default::default(),
            suite: "unit".into(),
            name: testdata::EVIL.into(),
            file: Some("tests/x.py".into()),
            flaky: true,
            runs: vec![run(3, "failed", 3_000), run(2, "passed", 1_000), run(1, "passed", 2_000)],
        };
        let page = test_history(&view).into_string();
        assert!(page.contains("class=\"flaky-badge\""));
        assert!(page.contains("href=\"/builds/3\""));
        assert!(page.contains("abcdef01"));
        assert!(page.contains("<svg"));
        assert_eq!(page.matches("<circle").count(), 3);
        // Oldest on the left: build 1's point comes first.
        assert!(page.find("#1 ").unwrap_or(usize::MAX) < page.find("#3 ").unwrap_or(0));
        assert!(page.contains("<dd>2.0s</dd>"));
        testdata::assert_escaped(&page);

        let steady = TestHistoryView { flaky: false, runs: vec![], ..view };
        let page = test_history(&steady).into_string();
        assert!(!page.contains("flaky-badge"));
        assert!(page.contains("No runs recorded"));
    }
}

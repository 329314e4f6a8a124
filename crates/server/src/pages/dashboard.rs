//! The dashboard: one tile per project, readable from across the room, refreshed by the
//! script every few seconds from `/fragments/dashboard`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use maud::{html, Markup};

use super::format::{duration, first_line, short_commit, timestamp};
use super::views::{BuildRow, DashboardView, ProjectTile, FLAKY_WINDOW};
use super::{badge, charts, layout, links};

/// Where the script fetches fresh tiles from.
pub const TILES_URL: &str = "/fragments/dashboard";

pub fn dashboard(view: &DashboardView) -> Markup {
    let body = html! {
        div.dashboard {
            div.page-head {
                h1 { "Projects" }
                span.conn-lost role="status" { "Connection lost, retrying…" }
                button.link type="button" data-action="toggle-tv" aria-pressed="false" title="Large type, for a screen across the room" {
                    "Large type"
                }
            }
            (dashboard_tiles(view))
        }
    };
    layout::layout("Dashboard", &view.viewer, body)
}

/// The part that refreshes: `<div id="tiles">`, with the queue summary and the tiles.
pub fn dashboard_tiles(view: &DashboardView) -> Markup {
    html! {
        div #tiles data-refresh-url=(TILES_URL) {
            div.summary {
                span.stat { b { (view.queue_length) } " queued" }
                span.stat { b { (view.running) } " running" }
                span.updated { "updated " (timestamp(view.generated_at)) }
            }
            @if view.tiles.is_empty() {
                p.empty { "No projects yet. A project appears here when a webhook or the API queues its first build." }
            } @else {
                div.tile-grid {
                    @for tile in &view.tiles {
                        (project_tile(tile, view.generated_at))
                    }
                }
            }
        }
    }
}

fn project_tile(tile: &ProjectTile, now: DateTime<Utc>) -> Markup {
    let status = tile.last_build.as_ref().map(|b| b.status.as_str()).unwrap_or("none");
    let class = if tile.running > 0 { format!("tile status-{status} busy") } else { format!("tile status-{status}") };
    html! {
        article class=(class) {
            header.tile-head {
                h2 { a href=(links::project_builds(&tile.name)) { (tile.name) } }
                @if let Some(build) = &tile.last_build {
                    (badge::build_status(build.status))
                }
            }
            @match &tile.last_build {
                Some(build) => (last_build(build, now)),
                None => p.muted { "No builds yet" },
            }
            div.metrics {
                (success_rate(tile))
                (median(tile))
                div.metric {
                    span.metric-label { "now" }
                    span.metric-value { (tile.running) " running" }
                    span.metric-sub { (tile.queued) " queued" }
                }
            }
            @if !tile.builds_per_day.is_empty() {
                div.per-day {
                    (charts::builds_per_day(&tile.builds_per_day))
                    span.metric-sub { "builds per day, last " (tile.builds_per_day.len()) " days" }
                }
            }
            @if !tile.slowest_tests.is_empty() || !tile.flaky_tests.is_empty() {
                div.test-lists {
                    @if !tile.slowest_tests.is_empty() {
                        section {
                            h3 { "Slowest tests" }
                            ol.test-list {
                                @for test in &tile.slowest_tests {
                                    li {
                                        a href=(links::test_history(&test.suite, &test.name)) title=(test_title(&test.suite, test.file.as_deref())) {
                                            (test.name)
                                        }
                                        span.num { (duration(test.median)) }
                                    }
                                }
                            }
                        }
                    }
                    @if !tile.flaky_tests.is_empty() {
                        section {
                            h3 title=(format!("Passed and failed on the same commit, in the last {FLAKY_WINDOW} runs")) { "Flaky tests" }
                            ol.test-list {
                                @for test in &tile.flaky_tests {
                                    li {
                                        a href=(links::test_history(&test.suite, &test.name)) title=(test.suite) { (test.name) }
                                        span.num.flaky-count { (test.failed) " of " (test.passed + test.failed) " failed" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn last_build(build: &BuildRow, now: DateTime<Utc>) -> Markup {
    html! {
        div.last-build {
            div.build-ref {
                a href=(links::build(build.id)) { "#" (build.id) }
                " "
                span.branch { (build.branch) }
                @if let Some(commit) = &build.commit {
                    " " code.commit { (short_commit(commit)) }
                }
            }
            @if let Some(message) = &build.message {
                p.message { (first_line(message)) }
            }
            p.when {
                @match (build.finished_at, build.started_at) {
                    (Some(at), _) => { "finished " (timestamp(at)) },
                    (None, Some(at)) => { "started " (timestamp(at)) },
                    (None, None) => { "queued " (timestamp(build.queued_at)) },
                }
                @if let Some(took) = build.duration_at(now) {
                    " · " (duration(took))
                }
            }
            @if let Some(note) = &build.note {
                p.note { (note) }
            }
        }
    }
}

fn success_rate(tile: &ProjectTile) -> Markup {
    html! {
        div.metric {
            span.metric-label { "success" }
            @match tile.success_rate {
                Some(rate) => {
                    @let class = if rate >= 0.9 { "good" } else if rate >= 0.7 { "warn" } else { "bad" };
                    span class=(format!("metric-value {class}")) { (format!("{:.0}%", rate * 100.0)) }
                    span.metric-sub { "of last " (tile.rate_window) }
                },
                None => span.metric-value.muted { "–" },
            }
        }
    }
}

fn median(tile: &ProjectTile) -> Markup {
    html! {
        div.metric {
            span.metric-label { "median" }
            @match tile.median_duration {
                Some(median) => {
                    span.metric-value {
                        (duration(median))
                        @if let Some((arrow, class, text)) = trend(median, tile.previous_median) {
                            " " span class=(format!("trend {class}")) title=(text) { (arrow) }
                        }
                    }
                    span.metric-sub { "last 10 builds" }
                },
                None => span.metric-value.muted { "–" },
            }
        }
    }
}

/// Slower or faster than the 10 builds before, ignoring changes under 10 % as noise.
fn trend(current: Duration, previous: Option<Duration>) -> Option<(&'static str, &'static str, String)> {
    let previous = previous.filter(|p| !p.is_zero())?;
    let ratio = current.as_secs_f64() / previous.as_secs_f64();
    let before = duration(previous);
    Some(if ratio > 1.1 {
        ("▲", "worse", format!("slower than before ({before})"))
    } else if ratio < 0.9 {
        ("▼", "better", format!("faster than before ({before})"))
    } else {
        ("≈", "same", format!("about as fast as before ({before})"))
    })
}

fn test_title(suite: &str, file: Option<&str>) -> String {
    match file {
        Some(file) => format!("{suite} ({file})"),
        None => suite.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::testdata;
    use crate::pages::views::{BuildStatus, FlakyStat, TestStat};

    fn view() -> DashboardView {
        let evil = testdata::EVIL;
        let mut build = testdata::build_row(7, BuildStatus::Failed);
        build.branch = evil.into();
        build.message = Some(format!("{evil}\nsecond line"));
        build.note = Some(evil.into());
        let tile = ProjectTile {
            name: "web app".into(),
            last_build: Some(build),
            success_rate: Some(0.5),
            rate_window: 20,
            median_duration: Some(Duration::from_secs(200)),
            previous_median: Some(Duration::from_secs(100)),
            builds_per_day: testdata::days(14),
            queued: 2,
            running: 1,
            slowest_tests: vec![TestStat {
                suite: "suite a".into(),
                name: evil.into(),
                file: Some("a.py".into()),
                median: Duration::from_millis(4200),
            }],
            flaky_tests: vec![FlakyStat { suite: "s".into(), name: "flaky one".into(), passed: 7, failed: 3 }],
        };
        let empty = ProjectTile {
            name: "quiet".into(),
            last_build: None,
            success_rate: None,
            rate_window: 0,
            median_duration: None,
            previous_median: None,
            builds_per_day: vec![],
            queued: 0,
            running: 0,
            slowest_tests: vec![],
            flaky_tests: vec![],
        };
        DashboardView {
            viewer: Default::default(),
            tiles: vec![tile, empty],
            queue_length: 3,
            running: 1,
            generated_at: testdata::at(600),
        }
    }

    #[test]
    fn renders_tiles() {
        let page = dashboard(&view()).into_string();
        assert!(page.contains("<div id=\"tiles\""));
        assert!(page.contains("data-refresh-url=\"/fragments/dashboard\""));
        assert!(page.contains("href=\"/builds?project=web+app\""));
        assert!(page.contains("href=\"/builds/7\""));
        assert!(page.contains("50%"));
        assert!(page.contains("of last 20"));
        assert!(page.contains("3m 20s"));
        assert!(page.contains("class=\"trend worse\""));
        assert!(page.contains("3 of 10 failed"));
        assert!(page.contains("No builds yet"));
        assert!(page.contains("<svg"));
        assert!(page.contains("/tests?suite=suite+a&amp;name="));
        assert!(!page.contains("second line"));
        testdata::assert_escaped(&page);
    }

    #[test]
    fn fragment_is_only_the_tiles() {
        let fragment = dashboard_tiles(&view()).into_string();
        assert!(fragment.starts_with("<div id=\"tiles\""));
        assert!(fragment.ends_with("</div>"));
        assert!(!fragment.contains("<html"));
        assert!(fragment.contains("<b>3</b> queued"));
    }

    #[test]
    fn trend_needs_a_real_change() {
        let s = Duration::from_secs;
        assert_eq!(trend(s(100), Some(s(105))).map(|t| t.1), Some("same"));
        assert_eq!(trend(s(80), Some(s(100))).map(|t| t.1), Some("better"));
        assert_eq!(trend(s(100), None), None);
        assert_eq!(trend(s(100), Some(s(0))), None);
    }
}

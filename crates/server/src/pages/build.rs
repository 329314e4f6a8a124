//! One build: what it is, the admin actions, its timeline, tests and logs. While it runs
//! (`live`), the script follows `/builds/{id}/events` and updates the page in place.

use chrono::Utc;
use maud::{html, Markup};

use super::format::{duration, first_line, short_commit, timestamp};
use super::logs::logs;
use super::test_results::test_results;
use super::timeline::timeline;
use super::views::{BuildRow, BuildView, Viewer};
use super::{badge, layout, links};

pub fn build(view: &BuildView) -> Markup {
    let b = &view.build;
    let title = format!("#{} {} {} · {}", b.id, b.project, b.branch, b.status.as_str());
    let body = html! {
        div id="build-page" class="build-page" data-build-id=(b.id) data-live=(view.live) data-last-event-id=(view.last_event_id) {
            (header(b))
            (actions(b, &view.viewer))
            section.timeline-section {
                div.section-head { h2 { "Timeline" } }
                (timeline(view))
            }
            div #notices .notices {}
            (test_results(view))
            (logs(view))
        }
    };
    layout::layout(&title, &view.viewer, body)
}

fn header(b: &BuildRow) -> Markup {
    let now = Utc::now();
    html! {
        div.page-head.build-head {
            h1 {
                a href=(links::project_builds(&b.project)) { (b.project) }
                " "
                span.branch { (b.branch) }
                " "
                span.build-id { "#" (b.id) }
            }
            span #build-status { (badge::build_status(b.status)) }
        }
        @if let Some(message) = &b.message {
            p.commit-message title=(message) { (first_line(message)) }
        }
        dl.build-meta {
            @if let Some(commit) = &b.commit {
                div { dt { "commit" } dd { code.commit title=(commit) { (short_commit(commit)) } } }
            }
            div { dt { "trigger" } dd { (b.trigger) } }
            div { dt { "queued" } dd { (timestamp(b.queued_at)) } }
            @if let Some(waited) = b.wait_at(now) {
                div { dt { "waited" } dd { (duration(waited)) } }
            }
            @if let Some(started) = b.started_at {
                div { dt { "started" } dd { (timestamp(started)) } }
            }
            @if let Some(finished) = b.finished_at {
                div { dt { "finished" } dd { (timestamp(finished)) } }
            }
            @if let Some(took) = b.duration_at(now) {
                div {
                    dt { "duration" }
                    @if b.status.is_finished() {
                        dd { (duration(took)) }
                    } @else {
                        // The script counts on from what it took so far (not from the start
                        // time, so the viewer's clock does not matter).
                        dd.live-duration data-elapsed-ms=(took.as_millis()) { (duration(took)) }
                    }
                }
            }
        }
        @if let Some(note) = &b.note {
            p.note { (note) }
        }
    }
}

/// Cancel while it may still run, rerun once it is over: admins with a session only.
fn actions(b: &BuildRow, viewer: &Viewer) -> Markup {
    let Some(csrf) = viewer.admin_csrf() else { return html! {} };
    html! {
        div.actions {
            @if b.status.is_finished() {
                form method="post" action=(format!("/builds/{}/rerun", b.id)) {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Rerun" }
                }
            } @else {
                form method="post" action=(format!("/builds/{}/cancel", b.id)) data-confirm=(format!("Cancel build #{}?", b.id)) {
                    input type="hidden" name="csrf" value=(csrf);
                    button.danger type="submit" { "Cancel build" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::pages::testdata;
    use crate::pages::views::{BuildStatus, Role, StepBar, StepLog, TestRow};

    fn test(name: &str, status: &str, message: Option<&str>) -> TestRow {
        TestRow {
            step_label: "tests [1/2]".into(),
            suite: "unit suite".into(),
            name: name.into(),
            file: Some("tests/test_x.py".into()),
            duration: Duration::from_millis(1500),
            status: status.into(),
            message: message.map(Into::into),
        }
    }

    fn view(status: BuildStatus, viewer: Viewer) -> BuildView {
        let evil = testdata::EVIL;
        let mut build = testdata::build_row(12, status);
        build.branch = evil.into();
        build.trigger = evil.into();
        build.note = Some(evil.into());
        BuildView {
            viewer,
            build,
            steps: vec![StepBar {
                step: 1,
                label: evil.into(),
                service: "app".into(),
                services: vec!["db".into(), "app".into()],
                status: "failed".into(),
                attempt: 1,
                start_ms: 0,
                end_ms: Some(4_000),
                lane: 0,
            }],
            span_ms: 8_000,
            tests: vec![
                test("test_passes", "passed", None),
                test("test skipped", "skipped", Some("not on CI")),
                test(evil, "failed", Some("AssertionError: <b>1 != 2</b>")),
                test("test_errors", "error", Some("boom")),
            ],
            logs: vec![
                StepLog {
                    step: 1,
                    label: "tests [1/2]".into(),
                    status: "failed".into(),
                    lines: vec!["\x1b[31mFAIL\x1b[0m <script>alert(1)</script>".into(), evil.into()],
                },
                StepLog { step: 2, label: "lint".into(), status: "passed".into(), lines: vec!["ok".into()] },
            ],
            live: !status.is_finished(),
            junit_url: Some("/builds/12/junit.xml".into()),
            last_event_id: 57,
        }
    }

    fn admin() -> Viewer {
        Viewer { role: Some(Role::Admin), csrf: Some("csrf-token-123".into()) }
    }

    #[test]
    fn failures_come_first() {
        let page = build(&view(BuildStatus::Failed, Viewer::default())).into_string();
        let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
        assert!(at("&lt;img src=x onerror=alert(1)&gt;</a>") < at("test_errors"));
        assert!(at("test_errors") < at("test skipped"));
        assert!(at("test skipped") < at("test_passes"));
        assert!(page.contains("AssertionError: &lt;b&gt;1 != 2&lt;/b&gt;"));
        assert!(page.contains("not on CI"));
        assert!(page.contains("1 failed"));
        assert!(page.contains("1 error"));
        assert!(page.contains("1 passed"));
        assert!(page.contains("href=\"/tests?suite=unit+suite&amp;name=test_passes\""));
        assert!(page.contains("href=\"/tests?suite=unit+suite&amp;name=%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E\""));
        assert!(page.contains("href=\"/builds/12/junit.xml\""));
    }

    #[test]
    fn header_and_logs() {
        let page = build(&view(BuildStatus::Failed, Viewer::default())).into_string();
        assert!(page.contains("data-build-id=\"12\" data-live=\"false\" data-last-event-id=\"57\""));
        assert!(page.contains("<span id=\"build-status\"><span class=\"badge status-failed\""));
        assert!(page.contains("01234567"));
        assert!(page.contains("Fix the thing"));
        assert!(!page.contains("Longer explanation</p>"));
        assert!(page.contains("2m 00s"));
        assert!(page.contains("<div id=\"timeline\""));
        assert!(page.contains("<details class=\"log\" id=\"log-1\" data-step=\"1\" data-label=\"tests [1/2]\" open>"));
        assert!(page.contains("<details class=\"log\" id=\"log-2\" data-step=\"2\" data-label=\"lint\">"));
        assert!(page.contains("<span class=\"ansi-fg-1\">FAIL</span> &lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<script>alert"));
        testdata::assert_escaped(&page);
    }

    #[test]
    fn admin_forms_only_for_admins() {
        let anonymous = build(&view(BuildStatus::Running, Viewer::default())).into_string();
        assert!(!anonymous.contains("/cancel"));
        assert!(!anonymous.contains("/rerun"));
        let viewer = Viewer { role: Some(Role::Viewer), csrf: Some("v".into()) };
        assert!(!build(&view(BuildStatus::Running, viewer)).into_string().contains("/cancel"));
        // An admin without a session (no CSRF token) cannot post forms.
        let tokenless = Viewer { role: Some(Role::Admin), csrf: None };
        assert!(!build(&view(BuildStatus::Running, tokenless)).into_string().contains("/cancel"));

        let running = build(&view(BuildStatus::Running, admin())).into_string();
        assert!(running.contains("action=\"/builds/12/cancel\""));
        assert!(running.contains("<input type=\"hidden\" name=\"csrf\" value=\"csrf-token-123\">"));
        assert!(running.contains("data-confirm=\"Cancel build #12?\""));
        assert!(!running.contains("/rerun"));
        assert!(running.contains("data-live=\"true\""));
        assert!(running.contains("class=\"live-duration\""));

        let queued = build(&view(BuildStatus::Queued, admin())).into_string();
        assert!(queued.contains("action=\"/builds/12/cancel\""));

        let passed = build(&view(BuildStatus::Passed, admin())).into_string();
        assert!(passed.contains("action=\"/builds/12/rerun\""));
        assert!(passed.contains("value=\"csrf-token-123\""));
        assert!(!passed.contains("/cancel"));
    }

    #[test]
    fn passing_tests_fold_when_something_failed() {
        let mut v = view(BuildStatus::Passed, Viewer::default());
        v.tests.retain(|t| t.status == "passed");
        let page = build(&v).into_string();
        assert!(page.contains("<details class=\"passed-tests\" open>"));
        let failed = build(&view(BuildStatus::Failed, Viewer::default())).into_string();
        assert!(failed.contains("<details class=\"passed-tests\">"));
    }
}

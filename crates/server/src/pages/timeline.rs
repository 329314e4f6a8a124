//! The build's timeline: a time axis and one row per lane, each step attempt a bar placed
//! by its start and length. The script re-fetches it when steps start or finish and
//! stretches it every second in between, using the `data-*` values rendered here.

use maud::{html, Markup};

use super::format::{css_token, duration_ms, status_text};
use super::lanes::lanes_of;
use super::views::{BuildStatus, BuildView, StepBar};

/// Tick spacings to choose from, in milliseconds: the smallest that gives at most
/// [`MAX_TICKS`] ticks wins. The script has the same list.
const TICK_STEPS: [u64; 18] = [
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000,
    7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];
const MAX_TICKS: u64 = 8;

/// The `<div id="timeline">` fragment.
pub fn timeline(view: &BuildView) -> Markup {
    let span = axis_span(view.span_ms, &view.steps);
    // Lanes are computed here, so a view whose `lane`s were never assigned still draws right.
    let lanes = lanes_of(&view.steps);
    let lane_count = lanes.iter().max().map_or(0, |last| last + 1);
    let running = view.build.status == BuildStatus::Running;
    html! {
        div id="timeline" class="timeline" data-span-ms=(span) data-running=(running) {
            @if view.steps.is_empty() {
                p.empty {
                    @match view.build.status {
                        BuildStatus::Queued => "Waiting in the queue…",
                        BuildStatus::Running => "Starting…",
                        _ => "No steps ran.",
                    }
                }
            } @else {
                div.tl-ticks aria-hidden="true" {
                    @for ms in ticks(span) {
                        span.tick style=(format!("left:{}", percent(ms, span))) data-ms=(ms) {
                            span.tick-label { (tick_label(ms)) }
                        }
                    }
                }
                div.tl-lanes {
                    @for lane in 0..lane_count {
                        div.lane {
                            @for (bar, _) in view.steps.iter().zip(&lanes).filter(|(_, l)| **l == lane) {
                                (step_bar(bar, span))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The axis covers the run so far and every bar, and is never zero.
fn axis_span(span_ms: u64, steps: &[StepBar]) -> u64 {
    steps.iter().map(|s| s.end_ms.unwrap_or(0).max(s.start_ms)).fold(span_ms, u64::max).max(1)
}

fn step_bar(bar: &StepBar, span: u64) -> Markup {
    let status = css_token(&bar.status);
    let start = bar.start_ms.min(span);
    // A running bar reaches the end of the axis, which is "now".
    let end = bar.end_ms.unwrap_or(span).max(start);
    let took = end - start;
    let own = bar.services.last().map_or(bar.service.as_str(), |s| s.as_str());
    let dependencies: Vec<&str> = bar.services.iter().map(|s| s.as_str()).filter(|s| *s != own).collect();
    let mut title = format!("{} · {} · {}", bar.label, status_text(&bar.status), duration_ms(took));
    if bar.attempt > 1 {
        title.push_str(&format!(" · attempt {}", bar.attempt));
    }
    title.push_str(&format!("\nservice: {}", bar.service));
    if !dependencies.is_empty() {
        title.push_str(&format!(" (with {})", dependencies.join(", ")));
    }
    html! {
        a class=(format!("bar status-{status}")) href=(format!("#log-{}", bar.step))
            style=(format!("left:{};width:{}", percent(start, span), percent(took, span)))
            title=(title) data-step=(bar.step) data-label=(bar.label) data-attempt=(bar.attempt)
            data-start-ms=(bar.start_ms) data-end-ms=[bar.end_ms] {
            span.bar-label {
                (bar.label)
                @if bar.attempt > 1 { " ↻" (bar.attempt) }
            }
            // The stylesheet shows these only when the bar is wide enough for them.
            span.bar-dur { (duration_ms(took)) }
            @if !bar.services.is_empty() {
                span.bar-services { (bar.services.join(" · ")) }
            }
        }
    }
}

/// `part` of `whole` as a CSS percentage: at most 3 decimals, no trailing zeros.
pub fn percent(part: u64, whole: u64) -> String {
    let value = part as f64 * 100.0 / whole.max(1) as f64;
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// Tick positions from 0 to `span`, evenly spaced at a round interval.
pub fn ticks(span: u64) -> Vec<u64> {
    let step = TICK_STEPS.iter().copied().find(|step| span / step <= MAX_TICKS).unwrap_or(span.div_ceil(MAX_TICKS));
    (0..=span / step).map(|i| i * step).collect()
}

/// "0s", "45s", "2m", "2m30s", "1h", "1h30m".
pub fn tick_label(ms: u64) -> String {
    let secs = ms / 1_000;
    let (h, m, s) = (secs / 3_600, secs % 3_600 / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::testdata;

    fn bar(step: usize, status: &str, start_ms: u64, end_ms: Option<u64>) -> StepBar {
        StepBar {
            step,
            label: format!("step {step}"),
            service: "app".into(),
            services: vec!["db".into(), "app".into()],
            status: status.into(),
            attempt: 1,
            start_ms,
            end_ms,
            lane: 0,
        }
    }

    fn view(steps: Vec<StepBar>, span_ms: u64) -> BuildView {
        BuildView {
            viewer: Default::default(),
            build: testdata::build_row(3, BuildStatus::Running),
            steps,
            span_ms,
            tests: vec![],
            logs: vec![],
            live: true,
            junit_url: None,
            last_event_id: 0,
        }
    }

    #[test]
    fn bars_are_placed_by_percent() {
        let steps = vec![
            bar(0, "passed", 0, Some(2_500)),
            bar(1, "failed", 2_500, Some(5_000)),
            bar(2, "running", 2_500, None),
        ];
        let html = timeline(&view(steps, 10_000)).into_string();
        assert!(
            html.starts_with("<div id=\"timeline\" class=\"timeline\" data-span-ms=\"10000\" data-running=\"true\">")
        );
        assert!(html.contains("class=\"bar status-passed\" href=\"#log-0\" style=\"left:0%;width:25%\""));
        assert!(html.contains("class=\"bar status-failed\" href=\"#log-1\" style=\"left:25%;width:25%\""));
        // Running: from its start to the end of the axis.
        assert!(html.contains("class=\"bar status-running\" href=\"#log-2\" style=\"left:25%;width:75%\""));
        // A running bar has no end for the script to keep.
        assert!(html.contains("data-step=\"2\" data-label=\"step 2\" data-attempt=\"1\" data-start-ms=\"2500\">"));
        assert!(html.contains("data-start-ms=\"2500\" data-end-ms=\"5000\">"));
        // Steps 0 and 1 share a lane; 2 overlaps 1 and gets the next one.
        assert_eq!(html.matches("class=\"lane\"").count(), 2);
        assert!(html.contains("service: app (with db)"));
        assert!(html.contains(">db · app<"));
        assert!(html.contains("<span class=\"tick\" style=\"left:40%\" data-ms=\"4000\">"));
        assert!(html.contains(">10s<"));
    }

    #[test]
    fn axis_covers_every_bar_and_is_never_zero() {
        assert_eq!(axis_span(0, &[]), 1);
        assert_eq!(axis_span(1_000, &[bar(0, "passed", 0, Some(4_000))]), 4_000);
        let html = timeline(&view(vec![bar(0, "passed", 0, Some(3_000))], 1_000)).into_string();
        assert!(html.contains("style=\"left:0%;width:100%\""));
        assert!(timeline(&view(vec![], 0)).into_string().contains("Starting…"));
    }

    #[test]
    fn user_text_is_escaped() {
        let mut evil = bar(0, "passed\" onclick=\"x", 0, Some(1));
        evil.label = testdata::EVIL.into();
        evil.services = vec![testdata::EVIL.into()];
        let html = timeline(&view(vec![evil], 1)).into_string();
        assert!(html.contains("class=\"bar status-passedonclickx\""));
        testdata::assert_escaped(&html);
    }

    #[test]
    fn percentages_and_ticks() {
        assert_eq!(percent(1, 3), "33.333%");
        assert_eq!(percent(5, 0), "500%");
        assert_eq!(percent(0, 7), "0%");
        assert_eq!(ticks(10_000), [0, 2_000, 4_000, 6_000, 8_000, 10_000]);
        assert_eq!(ticks(500), [0]);
        assert_eq!(ticks(600_000).len(), 6);
        assert_eq!(tick_label(0), "0s");
        assert_eq!(tick_label(90_000), "1m30s");
        assert_eq!(tick_label(120_000), "2m");
        assert_eq!(tick_label(5_400_000), "1h30m");
        assert_eq!(tick_label(7_200_000), "2h");
    }
}

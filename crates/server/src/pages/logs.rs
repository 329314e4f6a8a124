//! Per-step logs: one collapsible section per step, lines in terminal colours. The script
//! appends live lines to the same markup (`#log-{step} .log-lines`), and builds sections
//! for steps that had none yet the same way.

use maud::{html, Markup};

use super::ansi::ansi_to_html;
use super::badge;
use super::views::{BuildView, StepLog};

/// The `<section id="logs">` of the build page.
pub fn logs(view: &BuildView) -> Markup {
    html! {
        section #logs .logs {
            div.section-head { h2 { "Logs" } }
            @if view.logs.is_empty() {
                p.empty.muted { "No output yet." }
            }
            @for log in &view.logs {
                (step_log(log))
            }
        }
    }
}

fn step_log(log: &StepLog) -> Markup {
    // Open what people come for: a step still running, or the one that failed.
    let open = matches!(log.status.as_str(), "running" | "failed");
    html! {
        details.log id=(format!("log-{}", log.step)) data-step=(log.step) data-label=(log.label) open[open] {
            summary {
                span.log-title { (log.label) }
                " "
                (badge::step_status(&log.status))
                " "
                span.phase {}
            }
            code.log-lines {
                @for line in &log.lines {
                    span.ln { (ansi_to_html(line)) }
                }
            }
        }
    }
}

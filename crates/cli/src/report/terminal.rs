//! The terminal: every log line behind its step's coloured label, live progress of the
//! running steps (a capped number of bars; plain lines when not a terminal or with -T),
//! and a summary at the end.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use console::Style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::terminal_text::printable;
use slipway_engine::reports::{TestCaseResult, TestStatus};
use slipway_engine::runtime::Stream;
use slipway_engine::{Event, ImageAction, StepInfo, StepStatus};
use slipway_plan::StepId;

use super::Reporter;

/// Most step bars shown at once (as nextest); the rest are counted in one line.
const MAX_BARS: usize = 8;
/// Labels longer than this are cut in the prefix column.
const MAX_LABEL: usize = 32;
/// The summary's: an unnamed step's label is its whole command.
const MAX_SUMMARY_LABEL: usize = 60;
/// A service name in the summary.
const MAX_SERVICE: usize = 30;

/// How many terminal columns `text` takes (a wide character, an emoji, takes two).
fn columns(text: &str) -> usize {
    console::measure_text_width(text)
}

/// `text` padded with spaces to `width` terminal columns.
fn padded(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(columns(text))))
}

/// `label`, cut to `max` characters with `…` when longer. What tells copies of one step
/// apart — the trailing ` [2/3]` of a shard, ` [service]` of a `services:` copy — stays:
/// the name before it is cut instead.
fn clip(label: &str, max: usize) -> String {
    let count = |s: &str| s.chars().count();
    if count(label) <= max {
        return label.to_string();
    }
    let (name, suffix) = split_copy_suffix(label);
    if !suffix.is_empty() && count(suffix) + 2 <= max {
        let kept: String = name.chars().take(max - 1 - count(suffix)).collect();
        return format!("{}…{suffix}", kept.trim_end());
    }
    label.chars().take(max - 1).chain(std::iter::once('…')).collect()
}

/// What a terminal would show of a line that redraws itself with carriage returns (a
/// progress counter): the text after the last one. Printed whole, it would also write
/// over the step's label.
fn shown_part(line: &str) -> &str {
    let line = line.strip_suffix('\r').unwrap_or(line);
    line.rsplit('\r').find(|part| !part.is_empty()).unwrap_or(line)
}

/// `label` split before its trailing ` [..]` groups (shard, copy), if any.
fn split_copy_suffix(label: &str) -> (&str, &str) {
    let mut cut = label.len();
    while label[..cut].ends_with(']') {
        let head = &label[..cut];
        let Some(open) = head.rfind(" [") else { break };
        if head[open + 2..head.len() - 1].contains(['[', ']']) {
            break;
        }
        cut = open;
    }
    label.split_at(cut)
}

pub struct TerminalOptions {
    /// Live progress bars (a terminal, and no -T).
    pub live: bool,
    pub color: bool,
    /// Show all of a build's output, layer ids included.
    pub debug: bool,
    /// `slipway run`: raw output, no step decoration, no summary.
    pub raw: bool,
}

struct Finished {
    status: StepStatus,
    /// The attempt this outcome is of (`retry`): later than 1 means earlier ones failed.
    attempt: u32,
    duration: Duration,
    exit_code: Option<i64>,
    message: Option<String>,
    details: Vec<String>,
}

pub struct TerminalReporter {
    options: TerminalOptions,
    steps: Vec<StepInfo>,
    width: usize,
    multi: MultiProgress,
    bars: HashMap<StepId, ProgressBar>,
    /// Running steps without a bar of their own, and the line that counts them.
    overflow: Vec<StepId>,
    overflow_bar: Option<ProgressBar>,
    image_bars: HashMap<String, ProgressBar>,
    image_actions: HashMap<String, ImageAction>,
    /// Images built or pulled during the run, for the summary: a step's time includes
    /// waiting for its image, and the summary says how much of it that was.
    image_times: Vec<String>,
    /// Image errors already printed: a step failing with one says so in short.
    image_errors: Vec<String>,
    finished: HashMap<StepId, Finished>,
    /// Test cases from the steps' reports, with the attempt they came from.
    tests: HashMap<StepId, Vec<(u32, TestCaseResult)>>,
    run_id: String,
}

const PALETTE: [u8; 10] = [39, 208, 41, 171, 220, 75, 203, 113, 141, 44];

impl TerminalReporter {
    pub fn new(options: TerminalOptions) -> Self {
        let multi = if options.live {
            MultiProgress::with_draw_target(ProgressDrawTarget::stderr())
        } else {
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
        };
        Self {
            options,
            steps: Vec::new(),
            width: 0,
            multi,
            bars: HashMap::new(),
            overflow: Vec::new(),
            overflow_bar: None,
            image_bars: HashMap::new(),
            image_actions: HashMap::new(),
            image_errors: Vec::new(),
            image_times: Vec::new(),
            finished: HashMap::new(),
            tests: HashMap::new(),
            run_id: String::new(),
        }
    }

    fn style(&self, color: u8) -> Style {
        if self.options.color {
            Style::new().color256(color).force_styling(true)
        } else {
            Style::new().force_styling(false)
        }
    }

    fn plain(&self) -> Style {
        Style::new().force_styling(self.options.color)
    }

    /// A step's failure message; an image error printed already is only named again.
    fn unrepeated<'m>(&self, message: &'m str) -> std::borrow::Cow<'m, str> {
        match message.split_once(": ") {
            Some((what, _)) if self.image_errors.iter().any(|e| e == message) => {
                format!("{what} (the error is above)").into()
            }
            _ => message.into(),
        }
    }

    fn label_style(&self, id: StepId) -> Style {
        // Stable colour per label, so the same step keeps its colour from run to run.
        let label = &self.steps[id.0].label;
        let hash = label.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        self.style(PALETTE[hash as usize % PALETTE.len()])
    }

    fn prefix(&self, id: StepId) -> String {
        let shown = padded(&clip(&self.steps[id.0].label, MAX_LABEL), self.width);
        format!("{} {}", self.label_style(id).apply_to(shown), self.plain().dim().apply_to("│"))
    }

    /// Print a line above the bars (or plainly).
    fn line(&self, text: String) {
        if self.options.live {
            self.multi.suspend(|| outln!("{text}"));
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
    }

    fn step_line(&self, id: StepId, text: impl std::fmt::Display) {
        self.line(format!("{} {text}", self.prefix(id)));
    }

    fn bar_style() -> ProgressStyle {
        ProgressStyle::with_template("{spinner:.cyan} {prefix} {elapsed:>4} {wide_msg}")
            .expect("valid template")
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
    }

    fn start_bar(&mut self, id: StepId) {
        if !self.options.live {
            return;
        }
        if self.bars.len() >= MAX_BARS {
            self.overflow.push(id);
            self.update_overflow();
            return;
        }
        let bar = self.multi.add(ProgressBar::new_spinner().with_style(Self::bar_style()));
        bar.set_prefix(
            self.label_style(id).apply_to(format!("{:<w$}", self.steps[id.0].label, w = self.width)).to_string(),
        );
        bar.set_message("starting");
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bars.insert(id, bar);
    }

    fn end_bar(&mut self, id: StepId) {
        if let Some(bar) = self.bars.remove(&id) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
            if !self.overflow.is_empty() {
                let next = self.overflow.remove(0);
                self.start_bar(next);
            }
        } else {
            self.overflow.retain(|s| *s != id);
        }
        self.update_overflow();
    }

    fn update_overflow(&mut self) {
        if self.overflow.is_empty() {
            if let Some(bar) = self.overflow_bar.take() {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
            return;
        }
        let bar = self.overflow_bar.get_or_insert_with(|| {
            self.multi.add(
                ProgressBar::new_spinner().with_style(ProgressStyle::with_template("  {msg}").expect("valid template")),
            )
        });
        bar.set_message(format!("… and {} more running", self.overflow.len()));
    }

    fn status_text(&self, status: StepStatus) -> String {
        let (text, color) = match status {
            StepStatus::Passed => ("✓ passed", 2),
            StepStatus::Failed => ("✗ failed", 1),
            StepStatus::Cancelled => ("■ cancelled", 3),
            StepStatus::Skipped => ("- skipped", 8),
            StepStatus::NotRun => ("· not run", 8),
        };
        self.style(color).apply_to(text).to_string()
    }

    fn summary(&self, success: bool, cancelled: bool, duration: Duration) {
        let mut out = Vec::new();
        let service_width =
            self.steps.iter().map(|s| columns(&clip(&s.service, MAX_SERVICE))).max().unwrap_or(0).max(7);
        // Longer names here than in the line prefixes (MAX_LABEL); the table lines up by
        // its own longest label.
        let width = self.steps.iter().map(|s| columns(&clip(&s.label, MAX_SUMMARY_LABEL))).max().unwrap_or(0).max(4);
        out.push(String::new());
        out.push(
            self.plain()
                .bold()
                .apply_to(format!(
                    "{:<w$}  {:<sw$}  {:<11}  {:>8}",
                    "STEP",
                    "SERVICE",
                    "STATUS",
                    "TIME",
                    w = width,
                    sw = service_width
                ))
                .to_string(),
        );
        for step in &self.steps {
            let Some(f) = self.finished.get(&step.id) else {
                continue;
            };
            let time = if matches!(f.status, StepStatus::Skipped | StepStatus::NotRun) {
                String::new()
            } else {
                human_duration(f.duration)
            };
            let status = self.status_text(f.status);
            let pad = 11usize.saturating_sub(console::measure_text_width(&status));
            let label = padded(&clip(&step.label, MAX_SUMMARY_LABEL), width);
            let mut row = format!(
                "{}  {}  {status}{}  {time:>8}",
                self.label_style(step.id).apply_to(label),
                padded(&clip(&step.service, MAX_SERVICE), service_width),
                " ".repeat(pad),
            );
            if let Some(message) = f.message.as_ref().filter(|_| f.status != StepStatus::Passed) {
                row.push_str(&format!("  {}", self.plain().dim().apply_to(self.unrepeated(message))));
            }
            if f.attempt > 1 {
                // The time is the last attempt's; the earlier ones failed.
                row.push_str(&format!("  {}", self.style(3).apply_to(format!("(attempt {})", f.attempt))));
            }
            out.push(row);
            if f.status == StepStatus::Failed {
                for detail in &f.details {
                    out.push(format!("    {}", self.plain().dim().apply_to(detail)));
                }
            }
        }
        if !self.image_times.is_empty() {
            let note = format!(
                "{}; the times of the steps that needed {} include that wait",
                self.image_times.join(", "),
                if self.image_times.len() == 1 { "it" } else { "them" }
            );
            out.push(self.plain().dim().apply_to(note).to_string());
        }
        out.extend(self.test_summary());
        let count = |s: StepStatus| self.finished.values().filter(|f| f.status == s).count();
        let mut parts = Vec::new();
        for (status, word) in [
            (StepStatus::Failed, "failed"),
            (StepStatus::Cancelled, "cancelled"),
            (StepStatus::Passed, "passed"),
            (StepStatus::Skipped, "skipped"),
            (StepStatus::NotRun, "not run"),
        ] {
            let n = count(status);
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        let verdict = if cancelled && crate::signals::timed_out() {
            self.style(1).bold().apply_to("TIMED OUT")
        } else if cancelled {
            self.style(3).bold().apply_to("CANCELLED")
        } else if success {
            self.style(2).bold().apply_to("PASSED")
        } else {
            self.style(1).bold().apply_to("FAILED")
        };
        out.push(format!("{verdict} {} in {} (run {})", parts.join(", "), human_duration(duration), self.run_id));
        self.line(out.join("\n"));
    }
}

impl TerminalReporter {
    /// Counts of the steps' test cases, and every failing one with where it came from.
    fn test_summary(&self) -> Vec<String> {
        if self.tests.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let all: Vec<(&StepInfo, &TestCaseResult)> = self
            .steps
            .iter()
            .flat_map(|info| self.tests.get(&info.id).into_iter().flatten().map(move |(_, c)| (info, c)))
            .collect();
        let count = |s: TestStatus| all.iter().filter(|(_, c)| c.status == s).count();
        let failed = count(TestStatus::Failed) + count(TestStatus::Error);
        out.push(String::new());
        out.push(format!(
            "{} {} tests: {} passed, {failed} failed, {} skipped",
            self.plain().bold().apply_to("TESTS"),
            all.len(),
            count(TestStatus::Passed),
            count(TestStatus::Skipped)
        ));
        // A step that declared reports but wrote none (killed, or crashed before writing):
        // its tests are missing from the counts above.
        let silent = |info: &StepInfo| self.tests.get(&info.id).is_some_and(Vec::is_empty);
        // Killed after some results (a queue worker after its first batches): the files it
        // was running when it stopped are missing from the counts.
        let cut_short = |info: &StepInfo| {
            self.tests.get(&info.id).is_some_and(|t| !t.is_empty())
                && self
                    .finished
                    .get(&info.id)
                    .is_some_and(|f| f.status == StepStatus::Failed && matches!(f.exit_code, Some(137 | 143)))
        };
        for (missing, why) in [
            (&silent as &dyn Fn(&StepInfo) -> bool, "no test results from {}: their tests are not counted"),
            (
                &cut_short,
                "test results cut short from {}: the container stopped, and the tests it was running are not counted",
            ),
        ] {
            let labels: Vec<String> = self
                .steps
                .iter()
                .filter(|info| missing(info))
                .map(|info| self.label_style(info.id).apply_to(&info.label).to_string())
                .collect();
            if !labels.is_empty() {
                out.push(format!("  {} {}", self.style(1).apply_to("!"), why.replace("{}", &labels.join(", "))));
            }
        }
        for (info, case) in all.iter().filter(|(_, c)| matches!(c.status, TestStatus::Failed | TestStatus::Error)) {
            let mut line = format!("  {} {}", self.style(1).apply_to("✗"), case.id());
            line.push_str(&format!("  {}", self.label_style(info.id).apply_to(&info.label)));
            if let Some(message) = &case.message {
                line.push_str(&format!("  {}", self.plain().dim().apply_to(message)));
            }
            out.push(line);
        }
        out
    }
}

/// `4.2s`, `3m05s`: durations as the summary shows them.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

impl Reporter for TerminalReporter {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted { run_id, steps, .. } => {
                self.run_id = run_id.clone();
                self.steps = steps.clone();
                self.width = steps.iter().map(|s| columns(&clip(&s.label, MAX_LABEL))).max().unwrap_or(4).max(4);
            }
            Event::ImageStarted { image, service, action, step: _ } => {
                self.image_actions.insert(image.clone(), *action);
                let verb = match action {
                    ImageAction::Pull => "pulling",
                    ImageAction::Build => "building",
                };
                if self.options.raw {
                    errln!("{}", self.plain().dim().apply_to(format!("{verb} {image} (service {service})")));
                } else if self.options.live {
                    let bar = self.multi.add(ProgressBar::new_spinner().with_style(Self::bar_style()));
                    bar.set_prefix(format!("{verb} {image}"));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.image_bars.insert(image.clone(), bar);
                } else {
                    self.line(format!(
                        "{} {verb} image {image} for service {service}",
                        self.plain().dim().apply_to("slipway:")
                    ));
                }
            }
            Event::ImageOutput { image, line, step } => {
                if let Some(bar) = self.image_bars.get(image) {
                    bar.set_message(line.clone());
                }
                // Build output streams under the label of the step that needed the image;
                // pull progress only moves the progress line.
                let build = self.image_actions.get(image) == Some(&ImageAction::Build);
                let noise = line.starts_with(" ---> ") || line.starts_with("Removing intermediate container");
                if build && (self.options.debug || !noise) {
                    let line = printable(line, self.options.color);
                    let text = self.plain().dim().apply_to(format!("[build] {line}")).to_string();
                    match step {
                        Some(step) if !self.options.raw => self.step_line(*step, text),
                        _ if self.options.raw => errln!("{text}"),
                        _ => self.line(format!("{} {text}", self.plain().dim().apply_to(format!("{image} │")))),
                    }
                }
            }
            Event::ImageFinished { image, action, duration, error } => {
                if let Some(bar) = self.image_bars.remove(image) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                match error {
                    Some(error) if self.options.raw => {
                        errln!("{} {error}", self.style(1).bold().apply_to("error:"));
                        self.image_errors.push(error.clone());
                    }
                    Some(error) => {
                        self.line(format!("{} {error}", self.style(1).bold().apply_to("error:")));
                        self.image_errors.push(error.clone());
                    }
                    None => {
                        let verb = if *action == ImageAction::Build { "built" } else { "pulled" };
                        let text = format!("{verb} image {image} in {}", human_duration(*duration));
                        self.image_times.push(text.clone());
                        if self.options.raw {
                            errln!("{}", self.plain().dim().apply_to(text));
                        } else {
                            self.line(format!("{} {text}", self.plain().dim().apply_to("slipway:")));
                        }
                    }
                }
            }
            Event::StepStarted { step, attempt } => {
                if self.options.raw {
                    return;
                }
                if *attempt > 1 {
                    self.step_line(*step, self.style(3).apply_to(format!("▶ attempt {attempt}")));
                } else if !self.options.live {
                    let started = match self.steps.get(step.0).and_then(|s| s.split.as_deref()) {
                        Some(split) => format!("▶ started: {split}"),
                        None => "▶ started".to_string(),
                    };
                    self.step_line(*step, self.plain().dim().apply_to(started));
                }
                self.start_bar(*step);
            }
            Event::TestResults { step, attempt, cases } => {
                crate::report::tests::add_results(&mut self.tests, &self.steps, *step, *attempt, cases);
            }
            // Its phase ("running in a warm environment") already says so.
            Event::StepWarm { .. } => {}
            Event::StepPhase { step, message } => {
                if self.options.raw {
                    if message != "running" {
                        errln!("{}", self.plain().dim().apply_to(format!("slipway: {message}")));
                    }
                } else if let Some(bar) = self.bars.get(step) {
                    bar.set_message(message.clone());
                } else if !self.options.live && message != "running" {
                    self.step_line(*step, self.plain().dim().apply_to(message));
                }
            }
            Event::StepOutput { step, stream, line } => {
                let line = printable(shown_part(line), self.options.color);
                let line = line.as_ref();
                let text = if *stream == Stream::Stderr && self.options.color {
                    self.style(167).apply_to(line).to_string()
                } else {
                    line.to_string()
                };
                self.step_line(*step, text);
            }
            Event::RawOutput { stream, bytes } => {
                let _ = match stream {
                    Stream::Stdout => {
                        std::io::stdout().lock().write_all(bytes).and_then(|()| std::io::stdout().flush())
                    }
                    Stream::Stderr => std::io::stderr().lock().write_all(bytes),
                };
            }
            Event::StepFinished { step, status, exit_code, duration, message, details, attempt, will_retry } => {
                self.end_bar(*step);
                if *will_retry {
                    let reason = message.as_deref().unwrap_or("failed");
                    self.step_line(
                        *step,
                        self.style(3).apply_to(format!(
                            "✗ attempt {attempt} failed in {}: {reason}; trying again",
                            human_duration(*duration)
                        )),
                    );
                    return;
                }
                if self.options.raw {
                    // A command's exit code is its own business (the shell shows it), unless
                    // slipway found why: a script it could not run, a dependency that crashed.
                    let just_the_exit = |m: &str| {
                        m.starts_with("exited with code") && !m.contains(": `") && !m.contains("; its dependenc")
                    };
                    if *status == StepStatus::Failed
                        && !message
                            .as_deref()
                            .is_some_and(|m| just_the_exit(m) || self.image_errors.iter().any(|e| e == m))
                    {
                        errln!("{} {}", self.style(1).bold().apply_to("error:"), message.clone().unwrap_or_default());
                        for detail in details {
                            errln!("  {detail}");
                        }
                    }
                } else {
                    match status {
                        StepStatus::NotRun => {}
                        StepStatus::Skipped => {
                            self.step_line(
                                *step,
                                self.plain().dim().apply_to(format!("- skipped: {}", message.as_deref().unwrap_or(""))),
                            );
                        }
                        _ => {
                            let mut text = format!("{} in {}", self.status_text(*status), human_duration(*duration));
                            if let Some(m) = message.as_ref().filter(|_| *status != StepStatus::Passed) {
                                text.push_str(&format!(": {}", self.unrepeated(m)));
                            }
                            self.step_line(*step, text);
                            for detail in details {
                                self.step_line(*step, self.plain().dim().apply_to(detail));
                            }
                        }
                    }
                }
                self.finished.insert(
                    *step,
                    Finished {
                        status: *status,
                        attempt: *attempt,
                        duration: *duration,
                        exit_code: *exit_code,
                        message: message.clone(),
                        details: details.clone(),
                    },
                );
            }
            Event::Notice { message } => {
                self.multi.suspend(|| errln!("{} {message}", self.style(3).apply_to("slipway: warning:")));
            }
            Event::Cleanup { removed: _, kept, errors } => {
                for error in errors {
                    self.multi.suspend(|| errln!("{} clean-up: {error}", self.style(3).apply_to("slipway: warning:")));
                }
                if !kept.is_empty() {
                    let mut text =
                        format!("slipway: kept {} object(s) of run {} (--no-remove):", kept.len(), self.run_id);
                    for k in kept {
                        text.push_str(&format!("\n  {k}"));
                    }
                    text.push_str(&format!(
                        "\n  inspect: docker ps -a --filter label=io.slipway.run={id}; docker logs <container>\n  remove:  slipway gc",
                        id = self.run_id
                    ));
                    self.multi.suspend(|| errln!("{text}"));
                }
            }
            Event::RunFinished { success, cancelled, duration } => {
                for bar in self.bars.values().chain(self.image_bars.values()) {
                    bar.finish_and_clear();
                }
                if !self.options.raw {
                    self.summary(*success, *cancelled, *duration);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn wide_characters_are_padded_by_the_columns_they_take() {
        assert_eq!(super::padded("шаг 🚀", 8), "шаг 🚀  ");
        assert_eq!(super::columns(&super::padded("ab", 5)), 5);
    }

    #[test]
    fn a_line_redrawn_with_carriage_returns_shows_its_last_state() {
        assert_eq!(super::shown_part("50%\r100%"), "100%");
        assert_eq!(super::shown_part("done\r"), "done", "a Windows line end");
        assert_eq!(super::shown_part("10%\r\r"), "10%");
        assert_eq!(super::shown_part("plain"), "plain");
    }

    #[test]
    fn a_clipped_label_keeps_what_tells_copies_apart() {
        assert_eq!(clip("integration-tests-against-postgres [2/3]", 32), "integration-tests-against… [2/3]");
        assert_eq!(clip("python -c \"import sys\" [test/py-3.11-redis]", 32), "python -c… [test/py-3.11-redis]");
        assert_eq!(clip("tests [app] [1/8]", 32), "tests [app] [1/8]", "short labels stay whole");
        assert_eq!(clip("a-very-long-step-name-without-any-suffix-at-all", 20), "a-very-long-step-na…");
        // A suffix too long to keep with a name: cut like any label.
        assert_eq!(clip("x [a-service-name-longer-than-the-label]", 20), "x [a-service-name-l…");
        assert_eq!(clip("sh -c \"[ -f x ] && echo long enough\"", 20), "sh -c \"[ -f x ] && …");
    }
}

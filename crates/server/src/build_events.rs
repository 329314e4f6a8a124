//! A build's events file read back: the steps on the time axis, their logs and the test
//! results, for the build page and the API.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// One attempt of one step.
#[derive(Clone, Debug, Serialize)]
pub struct StepAttempt {
    pub step: usize,
    pub label: String,
    pub service: String,
    pub services: Vec<String>,
    pub attempt: u32,
    /// running, passed, failed, cancelled, skipped, not_run
    pub status: String,
    pub start_ms: u64,
    pub end_ms: Option<u64>,
    pub exit_code: Option<i64>,
    pub message: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TestResult {
    pub step: usize,
    pub step_label: String,
    pub attempt: u32,
    pub suite: String,
    pub name: String,
    pub classname: Option<String>,
    pub file: Option<String>,
    pub duration_ms: u64,
    pub status: String,
    pub message: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct BuildEvents {
    pub run_id: Option<String>,
    pub attempts: Vec<StepAttempt>,
    /// Output lines per step, in order (the label is in `labels`).
    #[serde(skip)]
    pub logs: Vec<(usize, Vec<String>)>,
    #[serde(skip)]
    pub labels: HashMap<usize, String>,
    /// The final result of every test (a retried test's last outcome).
    pub tests: Vec<TestResult>,
    /// Milliseconds from the run's start to its last event.
    pub span_ms: u64,
    /// How many events were read.
    pub count: u64,
    pub finished: bool,
}

struct StepMeta {
    label: String,
    service: String,
    services: Vec<String>,
}

/// Reads the events file; a missing or half-written file gives what is there.
pub fn read(path: &Path) -> BuildEvents {
    let Ok(text) = std::fs::read_to_string(path) else { return BuildEvents::default() };
    let mut out = BuildEvents::default();
    let mut meta: HashMap<usize, StepMeta> = HashMap::new();
    let mut logs: HashMap<usize, Vec<String>> = HashMap::new();
    let mut log_order: Vec<usize> = Vec::new();
    // Only complete lines count: the writer may be in the middle of one.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    for line in complete.lines() {
        out.count += 1;
        let Ok(e) = serde_json::from_str::<Value>(line) else { continue };
        let t = e["t_ms"].as_u64().unwrap_or(0);
        out.span_ms = out.span_ms.max(t);
        let step = e["step"].as_u64().map(|s| s as usize);
        match e["event"].as_str().unwrap_or_default() {
            "run_started" => {
                out.run_id = e["run_id"].as_str().map(str::to_string);
                for s in e["steps"].as_array().into_iter().flatten() {
                    let Some(id) = s["id"].as_u64() else { continue };
                    let label = s["label"].as_str().unwrap_or_default().to_string();
                    out.labels.insert(id as usize, label.clone());
                    meta.insert(
                        id as usize,
                        StepMeta {
                            label,
                            service: s["service"].as_str().unwrap_or_default().to_string(),
                            services: s["services"]
                                .as_array()
                                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                                .unwrap_or_default(),
                        },
                    );
                }
            }
            "step_started" => {
                let Some(step) = step else { continue };
                out.attempts.push(new_attempt(meta.get(&step), step, &e, "running", t));
            }
            "step_finished" => {
                let Some(step) = step else { continue };
                let status = e["status"].as_str().unwrap_or("failed").to_string();
                // Skipped and never-run steps have no start: they get a zero-length bar.
                let open = out.attempts.iter_mut().rev().find(|a| a.step == step && a.end_ms.is_none());
                let attempt = match open {
                    Some(a) => a,
                    None => {
                        out.attempts.push(new_attempt(meta.get(&step), step, &e, &status, t));
                        out.attempts.last_mut().expect("just pushed")
                    }
                };
                attempt.status = status;
                attempt.end_ms = Some(t);
                attempt.exit_code = e["exit_code"].as_i64();
                attempt.message = e["message"].as_str().map(str::to_string);
            }
            "step_output" => {
                let Some(step) = step else { continue };
                let line = e["line"].as_str().unwrap_or_default().to_string();
                logs.entry(step)
                    .or_insert_with(|| {
                        log_order.push(step);
                        Vec::new()
                    })
                    .push(line);
            }
            "test_results" => {
                let Some(step) = step else { continue };
                let attempt = e["attempt"].as_u64().unwrap_or(1) as u32;
                let label = out.labels.get(&step).cloned().unwrap_or_default();
                for c in e["cases"].as_array().into_iter().flatten() {
                    let result = TestResult {
                        step,
                        step_label: label.clone(),
                        attempt,
                        // As the history store names it: the classname, else the suite.
                        suite: c["classname"].as_str().or(c["suite"].as_str()).unwrap_or_default().to_string(),
                        name: c["name"].as_str().unwrap_or_default().to_string(),
                        classname: c["classname"].as_str().map(str::to_string),
                        file: c["file"].as_str().map(str::to_string),
                        duration_ms: c["duration"].as_u64().unwrap_or(0),
                        status: c["status"].as_str().unwrap_or_default().to_string(),
                        message: c["message"].as_str().map(str::to_string),
                    };
                    // A later attempt's result replaces the earlier one of the same test.
                    out.tests.retain(|old| {
                        !(old.step == result.step
                            && old.attempt < result.attempt
                            && old.suite == result.suite
                            && old.classname == result.classname
                            && old.name == result.name)
                    });
                    out.tests.push(result);
                }
            }
            "run_finished" => out.finished = true,
            _ => {}
        }
    }
    out.logs = log_order.into_iter().map(|s| (s, logs.remove(&s).unwrap_or_default())).collect();
    out
}

fn new_attempt(meta: Option<&StepMeta>, step: usize, event: &Value, status: &str, t: u64) -> StepAttempt {
    StepAttempt {
        step,
        label: meta.map(|m| m.label.clone()).unwrap_or_else(|| format!("step {step}")),
        service: meta.map(|m| m.service.clone()).unwrap_or_default(),
        services: meta.map(|m| m.services.clone()).unwrap_or_default(),
        attempt: event["attempt"].as_u64().unwrap_or(1) as u32,
        status: status.to_string(),
        start_ms: t,
        end_ms: None,
        exit_code: None,
        message: None,
    }
}

impl TestResult {
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }

    pub fn is_failure(&self) -> bool {
        matches!(self.status.as_str(), "failed" | "error")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_steps_attempts_logs_and_final_test_results() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let lines = [
            r#"{"event":"run_started","run_id":"r1","project":"p","steps":[{"id":0,"label":"lint","name":"lint","service":"app","services":["db","app"]},{"id":1,"label":"tests","name":"tests","service":"app","services":["app"]}],"t_ms":0}"#,
            r#"{"event":"step_started","step":0,"attempt":1,"t_ms":10}"#,
            r#"{"event":"step_started","step":1,"attempt":1,"t_ms":12}"#,
            r#"{"event":"step_output","step":1,"stream":"stdout","line":"hello","t_ms":20}"#,
            r#"{"event":"test_results","step":1,"attempt":1,"cases":[{"suite":"s","name":"a","duration":5,"status":"failed","message":"boom"},{"suite":"s","name":"b","duration":3,"status":"passed"}],"t_ms":30}"#,
            r#"{"event":"step_finished","step":1,"status":"failed","exit_code":1,"attempt":1,"will_retry":true,"t_ms":31}"#,
            r#"{"event":"step_started","step":1,"attempt":2,"t_ms":32}"#,
            r#"{"event":"test_results","step":1,"attempt":2,"cases":[{"suite":"s","name":"a","duration":4,"status":"passed"}],"t_ms":40}"#,
            r#"{"event":"step_finished","step":1,"status":"passed","exit_code":0,"attempt":2,"will_retry":false,"t_ms":41}"#,
            r#"{"event":"step_finished","step":0,"status":"passed","exit_code":0,"attempt":1,"t_ms":50}"#,
            r#"{"event":"run_finished","success":true,"t_ms":51}"#,
            r#"{"event":"half a line"#,
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let e = read(&path);
        assert_eq!(e.run_id.as_deref(), Some("r1"));
        assert_eq!(e.count, 11, "the unfinished last line is not read");
        let attempts: Vec<(&str, u32, &str, Option<u64>)> =
            e.attempts.iter().map(|a| (a.label.as_str(), a.attempt, a.status.as_str(), a.end_ms)).collect();
        assert_eq!(
            attempts,
            [("lint", 1, "passed", Some(50)), ("tests", 1, "failed", Some(31)), ("tests", 2, "passed", Some(41))]
        );
        assert_eq!(e.attempts[0].services, ["db", "app"]);
        assert_eq!(e.logs, [(1, vec!["hello".to_string()])]);
        let tests: Vec<(&str, &str)> = e.tests.iter().map(|t| (t.name.as_str(), t.status.as_str())).collect();
        assert_eq!(tests, [("b", "passed"), ("a", "passed")]);
        assert!(e.finished);
        assert_eq!(e.span_ms, 51);
    }
}

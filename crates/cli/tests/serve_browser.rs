//! `slipway serve` end to end, in a real browser: headless Chromium (Debian's `chromium`
//! package) logs in through the login page, a commit is pushed to a bare repository and a
//! signed GitHub webhook queues its build, and the build page — opened while the build is
//! queued and never reloaded by the test — shows a running step's log lines, the parallel
//! steps side by side on the timeline, and turns green; after its one reload at the end it
//! shows the test results. Screenshots of the dashboard and the build page (live and
//! finished) are kept in `target/e2e-screenshots/`.

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use headless_chrome::protocol::cdp::Page;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;
use slipway_server::hooks::signature::sign;
use support::server::{assert_engine_clean, Repo, TestServer};

const CHROMIUM: &str = "/usr/bin/chromium";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A project name of its own: the engine label tells its containers from other tests'.
fn unique(name: &str) -> String {
    format!("{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e-screenshots")
}

/// Shown even when the test passes (the harness captures only `print!` and `eprint!`).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "serve_browser: {line}");
}

const SERVICES: &str = "app:\n  image: busybox\n  volumes: ['./:/code']\n  working_dir: /code\n";

/// A parallel group — a step that prints a numbered line a second, and one that writes a
/// JUnit report — then a serial step.
const STEPS: &str = r#"- name: checks
  type: parallel
  service: app
  steps:
    - name: ticker
      command: sh -c 'for i in 1 2 3 4 5 6 7 8; do echo "tick $i"; sleep 1; done'
    - name: unit-tests
      reports: ['reports/*.xml']
      command: sh -c 'sleep 2; mkdir -p reports && cp junit.xml reports/junit.xml && echo "4 tests run"'
- name: package
  service: app
  command: sh -c 'echo "packaged $CI_COMMIT_ID"'
"#;

/// The report the tests step "writes": two passed, one skipped, one failed (the command
/// exits 0, so the step and the build still pass).
const REPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="shop.tests" tests="4" failures="1" skipped="1">
    <testcase classname="shop.tests.test_cart" name="test_adds_an_item" file="tests/test_cart.py" time="0.12"/>
    <testcase classname="shop.tests.test_cart" name="test_totals_in_cents" file="tests/test_cart.py" time="0.31"/>
    <testcase classname="shop.tests.test_export" name="test_exports_to_s3" file="tests/test_export.py" time="0.01">
      <skipped message="needs S3 credentials"/>
    </testcase>
    <testcase classname="shop.tests.test_checkout" name="test_checkout_rounds_vat" file="tests/test_checkout.py" time="1.5">
      <failure message="AssertionError: 19.99 != 20.00">assert total == Decimal("20.00")</failure>
    </testcase>
  </testsuite>
</testsuites>
"#;

/// Runs in every document before its own scripts: counts the loads of each path, records
/// every status the build page's badge shows and what the page showed when it was left,
/// in `sessionStorage` (which outlives a reload), so the test can tell what the live page
/// did before it reloaded itself.
const RECORDER: &str = r#"(() => {
  let key, load;
  try {
    key = 'e2e:' + location.pathname;
    load = Number(sessionStorage.getItem(key + ':loads') || 0) + 1;
    sessionStorage.setItem(key + ':loads', String(load));
  } catch (e) { return; }
  window.__e2eLoad = load;
  const record = () => {
    const badge = document.querySelector('#build-status .badge');
    if (!badge) return;
    const list = JSON.parse(sessionStorage.getItem(key + ':statuses') || '[]');
    const entry = load + ':' + badge.dataset.status;
    if (list[list.length - 1] !== entry) {
      list.push(entry);
      sessionStorage.setItem(key + ':statuses', JSON.stringify(list));
    }
  };
  // What the page showed when it went away (the build page's own reload at the end).
  window.addEventListener('pagehide', () => {
    const badge = document.querySelector('#build-status .badge');
    const logs = Array.from(document.querySelectorAll('#logs details.log')).map((d) => ({
      label: d.dataset.label, status: (d.querySelector('summary .badge') || { dataset: {} }).dataset.status,
      lines: Array.from(d.querySelectorAll('.log-lines .ln')).map((l) => l.textContent),
    }));
    sessionStorage.setItem(key + ':left:' + load, JSON.stringify({ status: badge ? badge.dataset.status : null, logs }));
  });
  document.addEventListener('DOMContentLoaded', () => {
    record();
    const status = document.getElementById('build-status');
    if (status) new MutationObserver(record).observe(status, { subtree: true, childList: true, attributes: true, characterData: true });
  });
})();"#;

/// What the build page shows right now.
const BUILD_PROBE: &str = r#"
  const page = document.getElementById('build-page');
  const badge = document.querySelector('#build-status .badge');
  const timeline = document.getElementById('timeline');
  const lanes = Array.from(document.querySelectorAll('#timeline .tl-lanes .lane'));
  const bars = Array.from(document.querySelectorAll('#timeline .bar')).map((b) => {
    const r = b.getBoundingClientRect();
    return {
      step: b.dataset.step, label: b.dataset.label, cls: b.className,
      start: Number(b.dataset.startMs), end: b.dataset.endMs === undefined ? null : Number(b.dataset.endMs),
      lane: lanes.indexOf(b.closest('.lane')), left: r.left, right: r.right, top: r.top, bottom: r.bottom,
    };
  });
  const logs = Array.from(document.querySelectorAll('#logs details.log')).map((d) => {
    const s = d.querySelector('summary .badge');
    return {
      step: d.dataset.step, label: d.dataset.label, open: d.open, status: s ? s.dataset.status : null,
      lines: Array.from(d.querySelectorAll('.log-lines .ln')).map((l) => l.textContent),
      visible: d.getBoundingClientRect().height > 0,
    };
  });
  return {
    load: window.__e2eLoad || null, ready: document.readyState, path: location.pathname,
    live: page ? page.dataset.live : null, status: badge ? badge.dataset.status : null,
    badgeText: badge ? badge.textContent.trim() : null,
    badgeColor: badge ? getComputedStyle(badge).color : null,
    span: timeline ? Number(timeline.dataset.spanMs) : null, lanes: lanes.length, bars, logs,
  };
"#;

/// The browser, its one tab and the server, for waiting on the page and for failure
/// messages that show the page and the server's log.
struct Session<'a> {
    server: &'a TestServer,
    tab: Arc<Tab>,
}

impl Session<'_> {
    /// Runs `body` (a function body that `return`s a JSON-able value) in the page.
    fn eval(&self, body: &str) -> Result<Value, String> {
        let expression = format!("JSON.stringify((() => {{ {body} }})())");
        let object = self.tab.evaluate(&expression, false).map_err(|e| e.to_string())?;
        match &object.value {
            Some(Value::String(text)) => serde_json::from_str(text).map_err(|e| format!("{e}: {text}")),
            _ => Err(format!("no value: {:?} {:?}", object.description, object.subtype)),
        }
    }

    fn url(&self) -> String {
        self.tab.get_url()
    }

    fn html(&self) -> String {
        match self.eval("return document.documentElement.outerHTML") {
            Ok(Value::String(html)) => html,
            other => format!("(no page: {other:?})"),
        }
    }

    /// Fails the test with what the browser shows and what the server logged; keeps a
    /// screenshot of the page as it was.
    fn fail(&self, what: &str) -> ! {
        let shot = self
            .screenshot("failure.png")
            .map(|p| p.display().to_string())
            .unwrap_or_else(|e| format!("(no screenshot: {e})"));
        panic!(
            "{what}\n--- page {} (screenshot {shot})\n{}\n--- server log\n{}",
            self.url(),
            self.html(),
            self.server.logs()
        );
    }

    fn navigate(&self, path: &str) {
        let url = format!("{}{path}", self.server.url);
        if let Err(e) = self.tab.navigate_to(&url).and_then(|t| t.wait_until_navigated()) {
            self.fail(&format!("navigating to {url}: {e}"));
        }
    }

    /// Polls `probe` (a function body) every 100 ms until `done` returns something, or
    /// fails after `timeout` with the last value seen. Errors (e.g. while the page
    /// reloads) count as "not yet".
    fn wait<T>(&self, what: &str, timeout: Duration, probe: &str, mut done: impl FnMut(&Value) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.eval(probe) {
                Ok(value) => {
                    if let Some(found) = done(&value) {
                        return found;
                    }
                    Ok(value)
                }
                Err(e) => Err(e),
            };
            if Instant::now() >= deadline {
                self.fail(&format!("waited {timeout:?} for {what}; last seen: {last:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of the whole page (not only the viewport) in `target/e2e-screenshots/`.
    fn screenshot(&self, name: &str) -> Result<PathBuf, String> {
        let size = self.eval(
            "window.scrollTo(0, 0); const d = document.documentElement; \
             return [Math.max(d.scrollWidth, d.clientWidth), Math.max(d.scrollHeight, d.clientHeight, document.body ? document.body.scrollHeight : 0)]",
        )?;
        let (width, height) = (size[0].as_f64().unwrap_or(1280.0), size[1].as_f64().unwrap_or(900.0));
        let shot = self
            .tab
            .call_method(Page::CaptureScreenshot {
                format: Some(Page::CaptureScreenshotFormatOption::Png),
                quality: None,
                clip: Some(Page::Viewport { x: 0.0, y: 0.0, width, height, scale: 1.0 }),
                from_surface: Some(true),
                capture_beyond_viewport: Some(true),
                optimize_for_speed: None,
            })
            .map_err(|e| e.to_string())?;
        let png = base64::engine::general_purpose::STANDARD.decode(shot.data).map_err(|e| e.to_string())?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let path = dir.canonicalize().map_err(|e| e.to_string())?.join(name);
        std::fs::write(&path, &png).map_err(|e| e.to_string())?;
        Ok(path)
    }

    /// A screenshot that must succeed and be a real PNG; prints its path.
    fn keep_screenshot(&self, name: &str, what: &str) -> PathBuf {
        let path = self.screenshot(name).unwrap_or_else(|e| self.fail(&format!("screenshot of {what}: {e}")));
        let png = std::fs::read(&path).unwrap();
        let (width, height) = png_size(&png).unwrap_or_else(|| self.fail(&format!("{} is not a PNG", path.display())));
        assert!(
            width >= 800 && height >= 400 && png.len() > 10_000,
            "{what}: a {width}x{height} PNG of {} bytes",
            png.len()
        );
        say(&format!("screenshot of {what}: {} ({width}x{height}, {} KiB)", path.display(), png.len() / 1024));
        path
    }
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    Some((be(16), be(20)))
}

/// `(pid, start time)` of a process and all its descendants, from `/proc`.
fn process_tree(root: u32) -> Vec<(u32, u64)> {
    let stat = |pid: u32| -> Option<(u32, char, u64)> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name is in parentheses and may hold spaces: fields start after it.
        let fields: Vec<&str> = text[text.rfind(')')? + 2..].split(' ').collect();
        Some((fields[1].parse().ok()?, fields[0].chars().next()?, fields[19].parse().ok()?))
    };
    let all: Vec<(u32, u32, u64)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| stat(pid).map(|(ppid, _, start)| (pid, ppid, start)))
        .collect();
    let mut tree: Vec<(u32, u64)> = all.iter().filter(|p| p.0 == root).map(|p| (p.0, p.2)).collect();
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i].0;
        tree.extend(all.iter().filter(|p| p.1 == parent).map(|p| (p.0, p.2)));
        i += 1;
    }
    tree
}

/// Whether a process from [`process_tree`] still runs (a zombie has ended).
fn still_runs((pid, start): (u32, u64)) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let Some(close) = text.rfind(')') else { return false };
    let fields: Vec<&str> = text[close + 2..].split(' ').collect();
    fields[0] != "Z" && fields.get(19).and_then(|s| s.parse::<u64>().ok()) == Some(start)
}

fn launch(profile: &Path) -> Browser {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: this test drives headless Chromium; install Debian's `chromium` package \
         (`apt-get install chromium`)"
    );
    let options = LaunchOptions::default_builder()
        .path(Some(PathBuf::from(CHROMIUM)))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1280, 900)))
        .user_data_dir(Some(profile.to_path_buf()))
        // Chromium makes its profile's singleton-socket folder in $TMPDIR and leaves it when
        // it is killed: keep it in the test's own folder, which goes with the test.
        .process_envs(Some(std::collections::HashMap::from([(
            "TMPDIR".to_string(),
            profile.parent().unwrap_or(profile).display().to_string(),
        )])))
        .idle_browser_timeout(Duration::from_secs(300))
        .build()
        .expect("launch options");
    Browser::new(options).unwrap_or_else(|e| panic!("{CHROMIUM} did not start headless: {e:#}"))
}

/// The parallel steps' bars, when they sit in different lanes and overlap in time (by
/// their `data-*` times) and on the screen (by their boxes).
fn overlapping_bars(page: &Value) -> Option<(Value, Value)> {
    let bars = page["bars"].as_array()?;
    let find = |label: &str| bars.iter().find(|b| b["label"].as_str().is_some_and(|l| l.contains(label))).cloned();
    let (ticker, tests) = (find("ticker")?, find("unit-tests")?);
    let span = page["span"].as_f64()?;
    let time = |b: &Value| (b["start"].as_f64().unwrap_or(f64::NAN), b["end"].as_f64().unwrap_or(span));
    let ((a0, a1), (b0, b1)) = (time(&ticker), time(&tests));
    let f = |b: &Value, k: &str| b[k].as_f64().unwrap_or(f64::NAN);
    let in_time = a0 < b1 && b0 < a1;
    let on_screen = f(&ticker, "left") < f(&tests, "right") && f(&tests, "left") < f(&ticker, "right");
    let lanes_apart = ticker["lane"] != tests["lane"]
        && ticker["lane"].as_i64() >= Some(0)
        && tests["lane"].as_i64() >= Some(0)
        && (f(&ticker, "bottom") <= f(&tests, "top") || f(&tests, "bottom") <= f(&ticker, "top"));
    (page["lanes"].as_u64() >= Some(2) && in_time && on_screen && lanes_apart).then_some((ticker, tests))
}

fn log_of<'a>(page: &'a Value, label: &str) -> Option<&'a Value> {
    page["logs"].as_array()?.iter().find(|l| l["label"].as_str().is_some_and(|l| l.contains(label)))
}

#[test]
fn a_pushed_commit_builds_live_in_the_browser() {
    let began = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("e2e");
    let repo = Repo::new(
        tmp.path(),
        &[("codeship-services.yml", SERVICES), ("codeship-steps.yml", STEPS), ("junit.xml", REPORT)],
    );
    let secret = "e2e-hook-secret";
    let server = TestServer::start(
        tmp.path(),
        &format!(
            "[[project]]\nname = \"{name}\"\ngit = \"{}\"\nrepository = \"acme/{name}\"\nwebhook_secret = \"{secret}\"\n",
            repo.url()
        ),
    );

    let profile = tmp.path().join("chromium-profile");
    let chromium_temp = || -> Vec<String> {
        let entries = std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().filter_map(Result::ok);
        entries
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("org.chromium."))
            .collect()
    };
    let chromium_temp_before = chromium_temp();
    let browser = launch(&profile);
    let browser_pid = browser.get_process_id().expect("a browser process of our own");
    let tab = browser.new_tab().expect("a tab");
    tab.set_default_timeout(Duration::from_secs(30));
    tab.call_method(Page::AddScriptToEvaluateOnNewDocument {
        source: RECORDER.into(),
        world_name: None,
        include_command_line_api: None,
        run_immediately: None,
    })
    .expect("the recorder script");
    let s = Session { server: &server, tab };

    // Strangers are sent to the login page; log in there with the admin token.
    s.navigate("/");
    s.wait(
        "the login page",
        Duration::from_secs(15),
        "return [location.pathname, !!document.querySelector('input[name=token]')]",
        |v| (v[0] == "/login" && v[1] == true).then_some(()),
    );
    let input = s.tab.find_element("input[name=token]").unwrap_or_else(|e| s.fail(&format!("token field: {e}")));
    input.click().unwrap_or_else(|e| s.fail(&format!("clicking the token field: {e}")));
    s.tab.type_str(&server.admin).unwrap_or_else(|e| s.fail(&format!("typing the token: {e}")));
    let typed = s.eval("return document.querySelector('input[name=token]').value.length").unwrap();
    assert_eq!(typed.as_u64(), Some(server.admin.len() as u64), "the whole token was typed");
    s.tab
        .find_element("form.login-form button[type=submit]")
        .and_then(|b| b.click().map(|_| ()))
        .unwrap_or_else(|e| s.fail(&format!("submitting the login form: {e}")));
    let dashboard_probe = "return [location.pathname, !!document.getElementById('tiles'), \
                           (document.querySelector('.who .role') || {}).textContent || null]";
    s.wait("the dashboard after logging in", Duration::from_secs(15), dashboard_probe, |v| {
        (v[0] == "/" && v[1] == true && v[2] == "admin").then_some(())
    });
    assert!(!s.html().contains(&server.admin), "the token never appears in a page");
    let logged_in = began.elapsed();

    // A new commit on main, and GitHub's signed push webhook for it.
    let commit = repo.commit(&[("CHANGELOG.md", "- checkout rounds VAT\n")], "Round VAT at checkout");
    let body = serde_json::json!({
        "ref": "refs/heads/main", "after": commit, "deleted": false,
        "head_commit": {"id": commit, "message": "Round VAT at checkout\n\nSee the issue.",
                        "committer": {"name": "Dev Eloper", "email": "dev@example.org"}},
        "repository": {"full_name": format!("acme/{name}")},
        "sender": {"login": "dev"},
    })
    .to_string();
    let signature = sign(secret, body.as_bytes());
    let (status, text) = server.post(
        "/hooks/github",
        &[("X-GitHub-Event", "push"), ("Content-Type", "application/json"), ("X-Hub-Signature-256", &signature)],
        body.as_bytes(),
    );
    assert_eq!(status, 202, "the signed webhook queues a build: {text}\n{}", server.logs());
    let id = serde_json::from_str::<Value>(&text).unwrap()["queued"][0]
        .as_i64()
        .unwrap_or_else(|| panic!("a queued build id in {text}"));
    let hooked = Instant::now();

    // The build page, opened at once; from here on only the page's script changes it.
    let path = format!("/builds/{id}");
    s.navigate(&path);
    let first = s.wait("the build page", Duration::from_secs(15), BUILD_PROBE, |p| {
        (p["load"] == 1 && p["ready"] != "loading" && p["status"].is_string()).then(|| p.clone())
    });
    assert!(
        matches!(first["status"].as_str(), Some("queued" | "running")),
        "the page was opened while the build was queued or running: {first}"
    );
    assert_eq!(first["live"], "true", "a build that has not finished is followed live: {first}");
    let first_ticks = log_of(&first, "ticker").map_or(0, |l| l["lines"].as_array().map_or(0, |a| a.len()));
    assert!(first_ticks < 2, "the page was rendered before the ticker's second line: {first}");

    // Watch without reloading: a line of the running step, and the parallel steps side by side.
    let mut tick_seen: Option<(Duration, Value)> = None;
    let mut overlap_seen: Option<(Duration, Value)> = None;
    let mut live_shot = None;
    s.wait(
        "a live log line of the ticker and the parallel steps overlapping on the timeline, while the build runs",
        Duration::from_secs(120),
        BUILD_PROBE,
        |p| {
            if p["load"] != 1 {
                s.fail(&format!("the build page reloaded before the build finished: {p}"));
            }
            if p["status"] != "running" {
                if matches!(p["status"].as_str(), Some("passed" | "failed" | "error" | "cancelled" | "interrupted")) {
                    s.fail(&format!("the build ended before the page showed it running: {p}"));
                }
                return None;
            }
            if tick_seen.is_none() {
                let log = log_of(p, "ticker")?;
                let lines: Vec<&str> = log["lines"].as_array()?.iter().filter_map(|l| l.as_str()).collect();
                if lines.contains(&"tick 2") {
                    if log["status"] != "running" || lines.contains(&"tick 8") {
                        s.fail(&format!("tick 2 showed only after the ticker finished: {log}"));
                    }
                    if log["open"] != true || log["visible"] != true {
                        s.fail(&format!("the running step's log is not open: {log}"));
                    }
                    tick_seen = Some((hooked.elapsed(), log.clone()));
                }
            }
            if overlap_seen.is_none() {
                if let Some(bars) = overlapping_bars(p) {
                    overlap_seen = Some((hooked.elapsed(), serde_json::json!([bars.0, bars.1])));
                }
            }
            if tick_seen.is_some() && overlap_seen.is_some() && live_shot.is_none() {
                live_shot = Some(s.keep_screenshot("build-live.png", "the build page while the build runs"));
            }
            live_shot.is_some().then_some(())
        },
    );
    let (tick_at, tick_log) = tick_seen.unwrap();
    let (overlap_at, bars) = overlap_seen.unwrap();
    say(&format!("live: tick 2 after {tick_at:?} ({tick_log}), overlap after {overlap_at:?}: {bars}"));

    // Green: the page reloads itself once at the end and shows the final state. (If the
    // server records the end more than half a second after the run's last event, the
    // reloaded page is still live and reloads once more when the status arrives.)
    let done = s.wait("the build to pass and the page to show it", Duration::from_secs(120), BUILD_PROBE, |p| {
        if matches!(p["status"].as_str(), Some("failed" | "error" | "cancelled" | "interrupted")) {
            s.fail(&format!("the build did not pass: {p}\n{}", server.build(id)));
        }
        (p["load"].as_u64() >= Some(2) && p["ready"] == "complete" && p["status"] == "passed").then(|| p.clone())
    });
    let passed_at = hooked.elapsed();
    let stored = |what: &str| {
        s.eval(&format!("return JSON.parse(sessionStorage.getItem('e2e:{path}:{what}') || 'null')"))
            .unwrap_or_else(|e| s.fail(&format!("reading {what}: {e}")))
    };
    let statuses = stored("statuses");
    let loads = done["load"].as_u64().unwrap();
    let of_load = |n: u64| -> Vec<String> {
        let prefix = format!("{n}:");
        statuses
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| Some(v.as_str()?.strip_prefix(&prefix)?.to_string()))
            .collect()
    };
    assert!(of_load(1).contains(&"running".to_string()), "the live page showed the build running: {statuses}");
    assert!(loads <= 3, "the build page reloaded itself {} times: {statuses}", loads - 1);
    if loads == 3 {
        // Only the lagging status justifies the second reload.
        assert_eq!(of_load(2), ["running"], "a second reload only when the first one came too early: {statuses}");
        say(&format!("the build page reloaded twice (the server recorded the end late): {statuses}"));
    }
    // What the live page showed when it reloaded itself: every step finished, every line.
    let left = stored("left:1");
    let live_log = |label: &str| -> Value {
        log_of(&left, label).cloned().unwrap_or_else(|| s.fail(&format!("the live page had no log of {label}: {left}")))
    };
    for label in ["ticker", "unit-tests", "package"] {
        assert_eq!(live_log(label)["status"], "passed", "the live page showed {label} passed: {left}");
    }
    assert_eq!(live_log("ticker")["lines"].as_array().map(Vec::len), Some(8), "every tick arrived live: {left}");
    assert_eq!(live_log("package")["lines"][0], format!("packaged {commit}"), "{left}");
    assert_eq!(done["live"], "false", "the reloaded page is final: {done}");
    assert_eq!(done["badgeText"], "passed");
    assert_eq!(done["badgeColor"], "rgb(63, 185, 80)", "the passed badge is green: {done}");
    let bars = done["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 3, "one bar per step: {done}");
    assert!(bars.iter().all(|b| b["cls"] == "bar status-passed"), "every bar is green: {done}");
    assert!(overlapping_bars(&done).is_some(), "the final timeline keeps the parallel lanes: {done}");
    let package = log_of(&done, "package").unwrap_or_else(|| s.fail("no log of the package step"));
    assert_eq!(package["lines"][0], format!("packaged {commit}"), "the pushed commit was built: {package}");
    let ticks = log_of(&done, "ticker").unwrap()["lines"].clone();
    assert_eq!(ticks, serde_json::json!((1..=8).map(|i| format!("tick {i}")).collect::<Vec<_>>()), "{done}");

    let tests = s
        .eval(
            "const t = document.getElementById('tests'); \
             const rows = Array.from(t.querySelectorAll('tbody tr:not(.failure-row)')).map((r) => ({ \
               status: r.querySelector('.badge').dataset.status, name: r.querySelector('.test-name a').textContent, \
               visible: r.getBoundingClientRect().height > 0 })); \
             return { counts: (t.querySelector('.counts') || {}).textContent || '', rows, \
               failure: Array.from(t.querySelectorAll('pre.failure')).map((p) => p.textContent), \
               junit: !!t.querySelector('a.download[href$=\"junit.xml\"]') }",
        )
        .unwrap_or_else(|e| s.fail(&format!("reading the test results: {e}")));
    let row = |name: &str| {
        tests["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or_else(|| s.fail(&format!("test {name} is not on the page: {tests}")))
    };
    assert_eq!(row("test_checkout_rounds_vat")["status"], "failed", "{tests}");
    assert_eq!(row("test_checkout_rounds_vat")["visible"], true, "the failing test is shown: {tests}");
    assert_eq!(row("test_exports_to_s3")["status"], "skipped", "{tests}");
    assert_eq!(row("test_adds_an_item")["status"], "passed", "{tests}");
    assert_eq!(row("test_totals_in_cents")["status"], "passed", "{tests}");
    assert!(tests["failure"][0].as_str().is_some_and(|f| f.contains("19.99 != 20.00")), "{tests}");
    assert_eq!(tests["counts"], "1 failed · 1 skipped · 2 passed", "{tests}");
    assert_eq!(tests["junit"], true, "{tests}");
    let build_shot = s.keep_screenshot("build.png", "the finished build page with its test results");
    // A finished page stays as it is.
    assert_eq!(stored("loads"), loads, "the final build page did not reload again: {}", stored("statuses"));

    // The dashboard shows the project's tile, green, with this build.
    s.navigate("/");
    let tile = s.wait(
        "the project's tile on the dashboard",
        Duration::from_secs(15),
        "return Array.from(document.querySelectorAll('#tiles article.tile')).map((t) => ({ \
           cls: t.className, name: t.querySelector('h2').textContent.trim(), \
           badge: (t.querySelector('.tile-head .badge') || {}).textContent || null, \
           build: (t.querySelector('.build-ref a') || {}).textContent || null, \
           message: (t.querySelector('.message') || {}).textContent || null }))",
        |tiles| tiles.as_array()?.iter().find(|t| t["name"] == name.as_str()).cloned(),
    );
    assert_eq!(tile["cls"], "tile status-passed", "{tile}");
    assert_eq!(tile["badge"], "passed", "{tile}");
    assert_eq!(tile["build"], format!("#{id}"), "{tile}");
    assert_eq!(tile["message"], "Round VAT at checkout", "{tile}");
    let dashboard_shot = s.keep_screenshot("dashboard.png", "the dashboard after the build");

    let api = server.build(id);
    assert_eq!(api["build"]["status"], "passed", "{api}");
    assert_eq!(api["build"]["commit"], commit.as_str(), "{api}");
    assert_eq!(api["build"]["trigger"], "github push", "{api}");

    // The browser and everything it started are gone once it is dropped.
    let processes = process_tree(browser_pid);
    assert!(!processes.is_empty(), "chromium (pid {browser_pid}) runs");
    drop(s);
    drop(browser);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left: Vec<_> = processes.iter().copied().filter(|p| still_runs(*p)).collect();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "chromium processes still run after the browser was dropped: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let left_in_temp: Vec<String> = chromium_temp().into_iter().filter(|n| !chromium_temp_before.contains(n)).collect();
    assert!(left_in_temp.is_empty(), "chromium left {left_in_temp:?} in {}", std::env::temp_dir().display());

    assert_engine_clean(&name);
    say(&format!(
        "logged in after {logged_in:?}; build #{id}: tick 2 seen {tick_at:?} and the lanes {overlap_at:?} after the \
         webhook, passed and reloaded after {passed_at:?}; {} chromium processes ended; whole test {:?}",
        processes.len(),
        began.elapsed()
    ));
    say(&format!(
        "screenshots: {}, {}, {}",
        dashboard_shot.display(),
        live_shot.unwrap().display(),
        build_shot.display()
    ));
}

//! `slipway serve` over HTTP: webhooks with good, bad and missing signatures, the queue's
//! order and limits, auto-cancel, recovery after the server is killed, roles and forms,
//! metrics. Builds run real pipelines from local bare git repositories on the engine.

mod support;

use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use slipway_server::hooks::signature::sign;
use support::leftovers_with_label;
use support::server::{assert_engine_clean, spawn_serve, Repo, TestServer};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A project name of its own: the engine label tells its containers from other tests'.
fn unique(name: &str) -> String {
    format!("{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

const SERVICES: &str = "app:\n  image: busybox\n";

/// Two parallel steps, then a serial one.
const STEPS: &str = r#"
- type: parallel
  steps:
    - name: unit
      service: app
      command: sh -c 'echo unit running; sleep 1; echo unit done'
    - name: lint
      service: app
      command: sh -c 'echo lint ok'
- name: package
  service: app
  command: echo packaged
"#;

fn slow_steps(seconds: u32) -> String {
    format!("- name: slow\n  service: app\n  command: sh -c 'echo started; sleep {seconds}; echo finished'\n")
}

fn workspace(server: &TestServer, id: i64) -> PathBuf {
    server.data.join("workspaces").join(id.to_string())
}

fn output_log(server: &TestServer, id: i64) -> String {
    std::fs::read_to_string(server.data.join("builds").join(id.to_string()).join("output.log")).unwrap_or_default()
}

/// SIGTERM, then wait for the exit (failing after `timeout`).
fn terminate_and_wait(child: &mut Child, timeout: Duration) -> (ExitStatus, Duration) {
    let sent = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, sent.elapsed());
        }
        if sent.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("slipway serve did not exit within {timeout:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn project_toml(name: &str, repo: &Repo, extra: &str) -> String {
    format!("[[project]]\nname = \"{name}\"\ngit = \"{}\"\nrepository = \"acme/{name}\"\n{extra}\n", repo.url())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn builds(server: &TestServer, project: &str) -> Vec<Value> {
    server.get_json(&format!("/api/builds?project={project}"))["builds"].as_array().cloned().unwrap_or_default()
}

#[test]
fn webhooks_are_verified_before_anything_is_queued() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("hooks");
    let repo = Repo::new(tmp.path(), &[("codeship-services.yml", SERVICES), ("codeship-steps.yml", STEPS)]);
    let secret = "s3cret-hook-key";
    let server = TestServer::start(
        tmp.path(),
        &project_toml(&name, &repo, &format!("webhook_secret = \"{secret}\"\nbranches = [\"main\"]")),
    );
    let push = |branch: &str| {
        serde_json::json!({
            "ref": format!("refs/heads/{branch}"), "after": null, "deleted": false,
            "head_commit": {"message": "Ship it", "committer": {"name": "Dev", "email": "dev@example.org"}},
            "repository": {"full_name": format!("acme/{name}")},
        })
        .to_string()
    };
    let body = push("main");
    let github = |body: &str, signature: Option<&str>, event: &str| {
        let mut headers = vec![("X-GitHub-Event", event), ("Content-Type", "application/json")];
        if let Some(s) = signature {
            headers.push(("X-Hub-Signature-256", s));
        }
        server.post("/hooks/github", &headers, body.as_bytes())
    };

    let (status, text) = github(&body, Some(&sign("wrong secret", body.as_bytes())), "push");
    assert_eq!(status, 401, "{text}");
    let (status, text) = github(&body, None, "push");
    assert_eq!(status, 401, "{text}");
    let tampered = body.replace("main", "mainx");
    let (status, _) = github(&tampered, Some(&sign(secret, body.as_bytes())), "push");
    assert_eq!(status, 401);
    assert!(builds(&server, &name).is_empty(), "a rejected webhook queued a build");
    assert!(server.logs().contains("rejected"), "rejections are logged:\n{}", server.logs());

    let ping =
        serde_json::json!({"zen": "Keep it logically awesome.", "repository": {"full_name": format!("acme/{name}")}})
            .to_string();
    let (status, text) = github(&ping, Some(&sign(secret, ping.as_bytes())), "ping");
    assert_eq!((status, json(&text)["pong"].as_bool()), (200, Some(true)), "{text}");

    let other = push("feature/x");
    let (status, text) = github(&other, Some(&sign(secret, other.as_bytes())), "push");
    assert_eq!(status, 200, "a filtered branch queues nothing: {text}");

    let (status, text) = github(&body, Some(&sign(secret, body.as_bytes())), "push");
    assert_eq!(status, 202, "{text}");
    let id = json(&text)["queued"][0].as_i64().expect("a build id");

    let bitbucket = serde_json::json!({
        "repository": {"full_name": format!("acme/{name}")}, "actor": {"nickname": "dev"},
        "push": {"changes": [{"new": {"type": "branch", "name": "main", "target": {"hash": null, "message": "bb"}}}]},
    })
    .to_string();
    let bb = |signature: Option<&str>| {
        let mut headers = vec![("X-Event-Key", "repo:push"), ("Content-Type", "application/json")];
        if let Some(s) = signature {
            headers.push(("X-Hub-Signature", s));
        }
        server.post("/hooks/bitbucket", &headers, bitbucket.as_bytes())
    };
    assert_eq!(bb(Some(&sign("nope", bitbucket.as_bytes()))).0, 401);
    assert_eq!(bb(None).0, 401);
    let (status, text) = bb(Some(&sign(secret, bitbucket.as_bytes())));
    assert_eq!(status, 202, "{text}");

    let generic = serde_json::json!({"project": name, "branch": "main"}).to_string();
    let viewer = format!("Bearer {}", server.viewer);
    assert_eq!(server.post("/hooks/generic", &[("Authorization", &viewer)], generic.as_bytes()).0, 401);
    assert_eq!(server.post("/hooks/generic", &[], generic.as_bytes()).0, 401);
    assert_eq!(server.post("/hooks/generic", &[("Authorization", "Bearer slw_forged")], generic.as_bytes()).0, 401);
    let admin = format!("Bearer {}", server.admin);
    let (status, text) = server.post("/hooks/generic", &[("Authorization", &admin)], generic.as_bytes());
    assert_eq!(status, 201, "{text}");

    assert_eq!(builds(&server, &name).len(), 3, "exactly the three verified triggers queued builds");
    let done = server.wait_finished(id);
    assert_eq!(done["build"]["status"], "passed", "{done}\n{}", server.logs());
    assert_eq!(done["build"]["trigger"], "github push");
    assert_eq!(done["build"]["committer_name"], "Dev");
    assert!(done["build"]["commit"].as_str().is_some_and(|c| c.len() == 40), "the tip's commit is recorded: {done}");
    let labels: Vec<&str> = done["steps"].as_array().unwrap().iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(labels.len(), 3, "{done}");
    for other in builds(&server, &name) {
        server.wait_finished(other["id"].as_i64().unwrap());
    }
    assert_engine_clean(&name);
}

#[test]
fn builds_wait_for_the_limits_and_run_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (unique("limit-a"), unique("limit-b"));
    let repo = Repo::new(tmp.path(), &[("codeship-services.yml", SERVICES), ("codeship-steps.yml", &slow_steps(2))]);
    // Two at a time overall, one at a time per project.
    let config = format!("concurrency = 2\n{}{}", project_toml(&a, &repo, ""), project_toml(&b, &repo, ""));
    let server = TestServer::start(tmp.path(), &config);
    let ids: Vec<i64> = vec![
        server.trigger(&a, "main"),
        server.trigger(&a, "main"),
        server.trigger(&b, "main"),
        server.trigger(&a, "main"),
    ];
    let done: Vec<Value> = ids.iter().map(|id| server.wait_finished(*id)["build"].clone()).collect();
    for d in &done {
        assert_eq!(d["status"], "passed", "{d}\n{}", server.logs());
    }
    let span = |d: &Value| (d["started_at_ms"].as_i64().unwrap(), d["finished_at_ms"].as_i64().unwrap());
    let (a1, a2, b1, a3) = (span(&done[0]), span(&done[1]), span(&done[2]), span(&done[3]));
    // Project a's builds ran one after another, in the order they were queued.
    assert!(a1.1 <= a2.0 && a2.1 <= a3.0, "a's builds overlapped: {a1:?} {a2:?} {a3:?}");
    // b did not wait for a: it ran beside a's first build.
    assert!(b1.0 < a1.1, "b waited for a although the global limit is 2: {a1:?} {b1:?}");
    assert_engine_clean(&a);
    assert_engine_clean(&b);
}

#[test]
fn a_newer_push_cancels_older_builds_of_its_branch() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("autocancel");
    let repo = Repo::new(tmp.path(), &[("codeship-services.yml", SERVICES), ("codeship-steps.yml", &slow_steps(60))]);
    let server = TestServer::start(tmp.path(), &project_toml(&name, &repo, "auto_cancel = true\nconcurrency = 1"));
    let first = server.trigger(&name, "main");
    server.wait_for(first, "its step to start", Duration::from_secs(120), |b| {
        b["steps"].as_array().is_some_and(|s| !s.is_empty())
    });
    let second = server.trigger(&name, "main");
    let third = server.trigger(&name, "main");
    let first_done = server.wait_finished(first);
    assert_eq!(first_done["build"]["status"], "cancelled", "{first_done}");
    assert_eq!(first_done["build"]["note"], format!("superseded by #{second}"));
    let second_done = server.wait_finished(second);
    assert_eq!(second_done["build"]["status"], "cancelled", "a queued build is superseded too: {second_done}");
    assert_eq!(second_done["build"]["note"], format!("superseded by #{third}"));
    // The third starts once the first's process has gone; the dispatcher may take a moment.
    server.wait_for(third, "the newest build to run", Duration::from_secs(60), |b| b["build"]["status"] == "running");
    // Another branch is not touched.
    let auth = format!("Bearer {}", server.admin);
    let (status, _) = server.post(&format!("/api/builds/{third}/cancel"), &[("Authorization", &auth)], b"");
    assert_eq!(status, 202);
    assert_eq!(server.wait_finished(third)["build"]["status"], "cancelled");
    assert_engine_clean(&name);
}

#[test]
fn a_build_past_its_projects_timeout_is_stopped_and_fails_saying_so() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("timeout");
    let repo = Repo::new(tmp.path(), &[("codeship-services.yml", SERVICES), ("codeship-steps.yml", &slow_steps(120))]);
    let server = TestServer::start(tmp.path(), &project_toml(&name, &repo, "timeout = \"5s\""));
    let id = server.trigger(&name, "main");
    let done = server.wait_finished(id);
    assert_eq!(done["build"]["status"], "failed", "{done}");
    assert_eq!(done["build"]["exit_code"], 124, "{done}");
    assert_eq!(done["build"]["note"], "took longer than its timeout (5s): its steps were stopped", "{done}");
    assert!(output_log(&server, id).contains("longer than --timeout 5.0s"), "{}", output_log(&server, id));
    assert_engine_clean(&name);
}

#[test]
fn a_fetch_that_never_ends_is_bounded_by_the_projects_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("fetch-hangs");
    // A git server that takes connections and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("git://{}/repo", silent.local_addr().unwrap());
    let config = format!("[[project]]\nname = \"{name}\"\ngit = \"{url}\"\ntimeout = \"3s\"\n");
    let server = TestServer::start(tmp.path(), &config);
    let id = server.trigger(&name, "main");
    let done = server.wait_finished(id);
    assert_eq!(done["build"]["status"], "failed", "{done}");
    assert_eq!(done["build"]["note"], "fetching the commit took longer than its timeout (3s)", "{done}");
    let git_left = std::process::Command::new("pgrep").args(["-f", &url]).output().unwrap();
    assert!(git_left.stdout.is_empty(), "git still runs: {}", String::from_utf8_lossy(&git_left.stdout));
    drop(silent);
}

#[test]
fn a_killed_server_requeues_the_interrupted_build_once_and_it_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("recover");
    let repo = Repo::new(tmp.path(), &[("codeship-services.yml", SERVICES), ("codeship-steps.yml", &slow_steps(4))]);
    let mut server = TestServer::start(tmp.path(), &project_toml(&name, &repo, ""));
    let first = server.trigger(&name, "main");
    server.wait_for(first, "its step to start", Duration::from_secs(120), |b| {
        b["steps"].as_array().is_some_and(|s| !s.is_empty())
    });
    server.kill();
    // The build's own process got the parent-death signal and removes its containers —
    // once, however many server threads it was signalled for.
    assert_engine_clean(&name);
    let output = output_log(&server, first);
    assert!(output.contains("the server that started this build is gone"), "the build was not cancelled:\n{output}");
    assert!(!output.contains("exiting without clean-up"), "the build took a second signal:\n{output}");
    assert!(workspace(&server, first).exists(), "a killed server cannot remove the workspace of #{first}");
    server.restart();
    assert!(!workspace(&server, first).exists(), "the start removes the workspace of the interrupted #{first}");
    let interrupted = server.build(first);
    assert_eq!(interrupted["build"]["status"], "interrupted", "{interrupted}");
    let all = builds(&server, &name);
    assert_eq!(all.len(), 2, "requeued exactly once: {all:?}");
    let again = all[0]["id"].as_i64().unwrap();
    assert_eq!(all[0]["trigger"], format!("requeued: #{first} was interrupted"));
    let done = server.wait_finished(again);
    assert_eq!(done["build"]["status"], "passed", "{done}\n{}", server.logs());
    assert!(!workspace(&server, again).exists(), "the workspace of the finished #{again} is left");
    assert_engine_clean(&name);
}

#[test]
fn a_stopped_server_lets_its_build_clean_up_then_queues_it_again() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("stop");
    let steps = "- name: slow\n  service: app\n  command: sh -c 'echo slow; sleep 120'\n\
                 - name: after\n  service: app\n  command: echo after\n";
    let repo = Repo::new(tmp.path(), &[("codeship-services.yml", SERVICES), ("codeship-steps.yml", steps)]);
    let mut server = TestServer::start(tmp.path(), &project_toml(&name, &repo, ""));
    // This test stops the server with SIGTERM itself, so it runs its own process.
    server.kill();
    let (mut serve, url) = spawn_serve(&server.config, &server.log);
    server.url = url.expect("the server listens");
    let id = server.trigger(&name, "main");
    let running = server.wait_for(id, "its step to print", Duration::from_secs(120), |b| {
        b["build"]["run_id"].is_string() && output_log(&server, id).contains("slow\n")
    });
    let run_id = running["build"]["run_id"].as_str().unwrap().to_string();

    let (status, took) = terminate_and_wait(&mut serve, Duration::from_secs(60));
    assert!(status.success(), "slipway serve exited with {status}\n{}", server.logs());
    assert!(took < Duration::from_secs(30), "the clean-up of one busybox step took {took:?}");
    let output = output_log(&server, id);
    assert!(
        output.contains("slipway: cancelling") && output.contains("a second SIGTERM exits at once"),
        "the build got SIGTERM:\n{output}"
    );
    assert!(!output.contains("exiting without clean-up"), "the build got a second signal:\n{output}");
    // The server waited for the clean-up: nothing is left the moment it exited.
    let left = leftovers_with_label(&format!("io.slipway.run={run_id}"));
    assert!(left.is_empty(), "run {run_id} left {left:?}\n{output}");
    assert!(!workspace(&server, id).exists(), "the workspace of #{id} is left");
    // What the databases hold is in their files, not left in write-ahead logs: a copy of
    // the `.db` files is a whole backup.
    for wal in [server.data.join("server.db-wal"), server.data.join("history").join("history.db-wal")] {
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        assert_eq!(size, 0, "{} holds {size} bytes after a clean stop", wal.display());
    }

    server.restart();
    let interrupted = server.build(id);
    assert_eq!(interrupted["build"]["status"], "interrupted", "{interrupted}");
    let again = builds(&server, &name)[0]["id"].as_i64().unwrap();
    assert_ne!(again, id, "the interrupted build is queued again");
    server.wait_for(again, "its step to print", Duration::from_secs(120), |_| {
        output_log(&server, again).contains("slow\n")
    });
    let auth = format!("Bearer {}", server.admin);
    let (status, _) = server.post(&format!("/api/builds/{again}/cancel"), &[("Authorization", &auth)], b"");
    assert_eq!(status, 202);
    assert_eq!(server.wait_finished(again)["build"]["status"], "cancelled");
    assert!(!workspace(&server, again).exists(), "the workspace of the cancelled #{again} is left");
    assert_engine_clean(&name);
}

#[test]
fn roles_sessions_and_forms() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("roles");
    let repo = Repo::new(tmp.path(), &[("codeship-services.yml", SERVICES), ("codeship-steps.yml", STEPS)]);
    let server = TestServer::start(tmp.path(), &project_toml(&name, &repo, ""));

    // Strangers are sent to the login page; the API wants a token.
    let (status, _) = server.get("/", None);
    assert_eq!(status, 303, "pages redirect to /login");
    assert_eq!(server.get("/api/builds", None).0, 401);
    assert_eq!(server.get("/api/builds", Some("slw_forged")).0, 401);
    assert_eq!(server.get("/healthz", None).0, 200);

    let id = server.trigger(&name, "main");
    let viewer = format!("Bearer {}", server.viewer);
    let (status, _) = server.post(&format!("/api/builds/{id}/cancel"), &[("Authorization", &viewer)], b"");
    assert_eq!(status, 403, "viewers cannot cancel");
    let done = server.wait_finished(id);
    assert_eq!(done["build"]["status"], "passed", "{}", server.logs());

    // A browser session: log in with the admin token, then use the re-run form.
    let form = format!("token={}&next=%2Fbuilds%2F{id}", server.admin);
    let (status, _) = server.post("/login", &[("Content-Type", "application/x-www-form-urlencoded")], form.as_bytes());
    assert_eq!(status, 303);
    let mut agent_cookie = String::new();
    {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build(),
        );
        let response = agent
            .post(&format!("{}/login", server.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(form.as_bytes())
            .unwrap();
        let set = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
        assert!(set.contains("HttpOnly") && set.contains("SameSite"), "{set}");
        agent_cookie.push_str(set.split(';').next().unwrap());
    }
    let page = |path: &str| {
        let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build());
        let mut r = agent.get(&format!("{}{path}", server.url)).header("Cookie", &agent_cookie).call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    let (status, html) = page(&format!("/builds/{id}"));
    assert_eq!(status, 200, "{html}");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a form with a csrf field");
    assert!(html.contains("unit") && html.contains("package"), "the steps are on the page");
    assert!(!html.contains(&server.admin), "the token never appears in a page");

    let cookie = [("Cookie", agent_cookie.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
    let (status, _) = server.post(&format!("/builds/{id}/rerun"), &cookie, b"csrf=forged");
    assert_eq!(status, 403, "a forged CSRF token is refused");
    let (status, _) = server.post(&format!("/builds/{id}/rerun"), &cookie, b"");
    assert_eq!(status, 403);
    let mut cross = cookie.to_vec();
    cross.push(("Origin", "https://evil.example"));
    let (status, _) = server.post(&format!("/builds/{id}/rerun"), &cross, format!("csrf={csrf}").as_bytes());
    assert_eq!(status, 403, "a form posted from another site is refused");
    let before = builds(&server, &name).len();
    let (status, _) = server.post(&format!("/builds/{id}/rerun"), &cookie, format!("csrf={csrf}").as_bytes());
    assert_eq!(status, 303);
    let all = builds(&server, &name);
    assert_eq!(all.len(), before + 1);
    assert_eq!(all[0]["trigger"], format!("rerun of #{id}"));
    server.wait_finished(all[0]["id"].as_i64().unwrap());

    // Revoking the token ends the session.
    let out = std::process::Command::new(support::BIN)
        .args(["token", "revoke", "admin", "--config"])
        .arg(&server.config)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(page("/").0, 200, "a redirect to the login page");
    assert!(page("/").1.contains("name=\"token\""), "the login form is shown after the token was revoked");
    assert_engine_clean(&name);
}

#[test]
fn metrics_health_and_the_build_api() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("metrics");
    let services = "app:\n  image: busybox\n  volumes: ['./:/code']\n  working_dir: /code\n";
    let steps = "- name: tests\n  service: app\n  reports: ['reports/*.xml']\n  command: sh -c 'mkdir -p reports && cp report.xml reports/junit.xml && echo done && exit 1'\n";
    let report = r#"<testsuites><testsuite name="s"><testcase classname="t" name="ok" time="0.1"/><testcase classname="t" name="bad" time="0.2"><failure message="boom"/></testcase></testsuite></testsuites>"#;
    let repo = Repo::new(
        tmp.path(),
        &[("codeship-services.yml", services), ("codeship-steps.yml", steps), ("report.xml", report)],
    );
    let server = TestServer::start(tmp.path(), &project_toml(&name, &repo, ""));
    let id = server.trigger(&name, "main");
    let done = server.wait_finished(id);
    assert_eq!(done["build"]["status"], "failed", "{done}");
    assert_eq!(done["tests"]["failed"], 1, "{done}");
    assert_eq!(done["tests"]["failures"][0]["name"], "bad");
    let (status, xml) = server.get(&format!("/builds/{id}/junit.xml"), Some(&server.viewer));
    assert_eq!(status, 200);
    assert!(xml.contains("name=\"bad\""), "{xml}");

    let test = server.get_json("/api/tests?suite=t&name=bad");
    assert_eq!(test["runs"][0]["build"], id, "{test}");
    assert_eq!(test["runs"][0]["status"], "failed");

    let (status, text) = server.get("/metrics", Some(&server.viewer));
    assert_eq!(status, 200);
    assert!(text.contains("slipway_builds{status=\"failed\"} 1"), "{text}");
    assert!(text.contains("slipway_queue_length 0"), "{text}");
    assert!(text.contains("slipway_step_duration_seconds_count 1"), "{text}");
    assert!(text.contains("slipway_step_duration_seconds_bucket{le=\"+Inf\"} 1"), "{text}");
    assert_eq!(server.get("/metrics", None).0, 401);

    let dashboard = server.get_json("/api/dashboard");
    let tile =
        dashboard["projects"].as_array().unwrap().iter().find(|p| p["project"] == name.as_str()).unwrap().clone();
    assert_eq!(tile["success_rate"], 0.0, "{tile}");
    assert_eq!(tile["last_build"]["id"], id);
    assert_engine_clean(&name);
}

#[test]
fn slipway_trigger_queues_a_build_and_waits_for_it() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique("trigger");
    let repo = Repo::new(tmp.path(), &[("codeship-services.yml", SERVICES), ("codeship-steps.yml", STEPS)]);
    let server = TestServer::start(tmp.path(), &project_toml(&name, &repo, ""));
    let run_on = |branch: &str, args: &[&str], token: &str| {
        std::process::Command::new(support::BIN)
            .args(["trigger", &name, "--branch", branch, "--server", &server.url])
            .args(args)
            .env("SLIPWAY_TOKEN", token)
            .output()
            .unwrap()
    };
    let run = |args: &[&str], token: &str| run_on("main", args, token);
    let refused = run(&[], &server.viewer);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("admin"), "{}", String::from_utf8_lossy(&refused.stderr));
    // A build that could not run says why, not only that it did not.
    let missing = run_on("nobranch", &["--wait"], &server.admin);
    let stdout = String::from_utf8_lossy(&missing.stdout);
    assert_eq!(missing.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("error") && stdout.contains("couldn't find remote ref refs/heads/nobranch"), "{stdout}");
    let out = run(&["--wait"], &server.admin);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("queued") && stdout.contains("passed"), "{stdout}");
    let build = &builds(&server, &name)[0];
    assert_eq!(build["status"], "passed");
    // The trigger named no commit: the checkout filled in what the build page shows.
    assert_eq!(build["message"], "first commit", "{build}");
    assert_eq!(build["committer_name"], "Test", "{build}");
    assert_eq!(build["committer_email"], "test@example.org", "{build}");
    assert_engine_clean(&name);
}

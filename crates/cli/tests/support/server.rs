//! A real `slipway serve` for tests: its own data dir and port, a bare git repository
//! with a pipeline to build, HTTP helpers, and a check that builds left nothing behind.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::BIN;

/// `slipway serve --config CONFIG`, its stderr appended to `log`: the process, and its URL
/// once it listens (`None` if it did not within 30 s).
pub fn spawn_serve(config: &Path, log: &Path) -> (Child, Option<String>) {
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .env("NO_COLOR", "1")
        .env("SLIPWAY_LOG", "slipway_server=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slipway serve starts");
    let stderr = child.stderr.take().unwrap();
    let log = log.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = writeln!(file, "{line}");
            if let Some(url) = line.strip_prefix("slipway serve: listening on ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    (child, rx.recv_timeout(Duration::from_secs(30)).ok())
}

pub struct TestServer {
    pub url: String,
    pub data: PathBuf,
    pub config: PathBuf,
    child: Option<Child>,
    pub admin: String,
    pub viewer: String,
    /// stderr of the server, for failure messages.
    pub log: PathBuf,
}

/// A bare repository holding `files`, with one commit on `main`; returns its path and
/// the commit. The directory `name` of the clone is the project's name.
pub struct Repo {
    pub bare: PathBuf,
    work: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.org"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Repo {
    pub fn new(root: &Path, files: &[(&str, &str)]) -> Repo {
        let work = root.join("work");
        let bare = root.join("repo.git");
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        let repo = Repo { bare, work };
        repo.commit(files, "first commit");
        Command::new("git").args(["init", "-q", "--bare", "-b", "main"]).arg(&repo.bare).status().unwrap();
        git(&repo.work, &["remote", "add", "origin", repo.bare.to_str().unwrap()]);
        git(&repo.work, &["push", "-q", "origin", "main"]);
        repo
    }

    /// Commit these files on the current branch and push; returns the commit.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (name, text) in files {
            let path = self.work.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "--allow-empty", "-m", message]);
        if self.bare.exists() {
            git(&self.work, &["push", "-q", "origin", "HEAD"]);
        }
        git(&self.work, &["rev-parse", "HEAD"])
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }
}

impl TestServer {
    /// `config` is the server's TOML without `listen`/`data_dir`.
    pub fn start(root: &Path, config: &str) -> TestServer {
        let data = root.join("data");
        let config_path = root.join("slipway-server.toml");
        std::fs::write(&config_path, format!("listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{config}", data.display()))
            .unwrap();
        let token = |name: &str, role: &str| {
            let out = Command::new(BIN)
                .args(["token", "create", name, "--role", role, "--config"])
                .arg(&config_path)
                .output()
                .expect("slipway token");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let admin = token("admin", "admin");
        let viewer = token("viewer", "viewer");
        let mut server = TestServer {
            url: String::new(),
            data,
            config: config_path,
            child: None,
            admin,
            viewer,
            log: root.join("server.log"),
        };
        server.restart();
        server
    }

    /// Start (again) on a new port; waits until it listens.
    pub fn restart(&mut self) {
        let (child, url) = spawn_serve(&self.config, &self.log);
        self.url = url.unwrap_or_else(|| panic!("server did not start:\n{}", self.logs()));
        self.child = Some(child);
    }

    /// SIGKILL: no clean-up by the server itself.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build())
    }

    /// GET with a token (or none): status and body.
    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut request = Self::agent().get(&format!("{}{path}", self.url));
        if let Some(t) = token {
            request = request.header("Authorization", &format!("Bearer {t}"));
        }
        let mut response = request.call().expect("HTTP GET");
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap_or_default())
    }

    pub fn get_json(&self, path: &str) -> Value {
        let (status, body) = self.get(path, Some(&self.viewer));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// POST a body with these headers: status and body.
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
        let mut request = Self::agent().post(&format!("{}{path}", self.url));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let mut response = request.send(body).expect("HTTP POST");
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap_or_default())
    }

    /// Queue a build through the API; its id.
    pub fn trigger(&self, project: &str, branch: &str) -> i64 {
        let body = serde_json::json!({ "project": project, "branch": branch }).to_string();
        let auth = format!("Bearer {}", self.admin);
        let (status, text) = self.post(
            "/api/builds",
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(status, 201, "{text}");
        serde_json::from_str::<Value>(&text).unwrap()["id"].as_i64().unwrap()
    }

    pub fn build(&self, id: i64) -> Value {
        self.get_json(&format!("/api/builds/{id}"))
    }

    pub fn status(&self, id: i64) -> String {
        self.build(id)["build"]["status"].as_str().unwrap_or_default().to_string()
    }

    /// Wait until `done` holds for the build, or fail with the server's log.
    pub fn wait_for(&self, id: i64, what: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let b = self.build(id);
            if done(&b) {
                return b;
            }
            assert!(
                Instant::now() < deadline,
                "build #{id}: waited {timeout:?} for {what}; it is {b}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_finished(&self, id: i64) -> Value {
        self.wait_for(id, "the end", Duration::from_secs(240), |b| {
            !matches!(b["build"]["status"].as_str(), Some("queued" | "running"))
        })
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM: a clean stop; its builds get the same and remove their containers.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until nothing labelled with the project is left on the engine (builds clean up
/// asynchronously after a cancel or a killed server), then asserts it.
pub fn assert_engine_clean(project: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = super::leftovers_with_label(&format!("io.slipway.project={project}"));
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "project {project} left {left:?} on the engine");
        std::thread::sleep(Duration::from_millis(250));
    }
}

//! A real registry (the `registry:2` image) on the engine for push and pull tests,
//! optionally behind htpasswd basic auth. Removed when dropped.

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Registry {
    container: String,
    /// `localhost:PORT`, as the engine reaches it.
    pub host: String,
    _auth_dir: tempfile::TempDir,
}

impl Registry {
    /// Start a registry; with `auth`, only that user and password may push and pull.
    pub fn start(auth: Option<(&str, &str)>) -> Registry {
        let auth_dir = tempfile::tempdir().expect("temp dir");
        let mut args: Vec<String> =
            ["run", "-d", "--rm", "-p", "127.0.0.1:0:5000", "--label", "io.slipway.test=registry"]
                .map(String::from)
                .to_vec();
        if let Some((user, password)) = auth {
            let hash = bcrypt::hash(password, 4).expect("bcrypt");
            std::fs::write(auth_dir.path().join("htpasswd"), format!("{user}:{hash}\n")).expect("htpasswd");
            args.extend([
                "-v".to_string(),
                format!("{}:/auth:ro", auth_dir.path().display()),
                "-e".to_string(),
                "REGISTRY_AUTH=htpasswd".to_string(),
                "-e".to_string(),
                "REGISTRY_AUTH_HTPASSWD_REALM=slipway-test".to_string(),
                "-e".to_string(),
                "REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd".to_string(),
            ]);
        }
        args.push("registry:2".to_string());
        let out = Command::new("docker").args(&args).output().expect("docker run registry");
        assert!(out.status.success(), "registry did not start: {}", String::from_utf8_lossy(&out.stderr));
        let container = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let port = Command::new("docker").args(["port", &container, "5000/tcp"]).output().expect("docker port");
        let mapped = String::from_utf8_lossy(&port.stdout).lines().next().unwrap_or_default().trim().to_string();
        let port = mapped.rsplit(':').next().expect("a port").to_string();
        let registry = Registry { container, host: format!("localhost:{port}"), _auth_dir: auth_dir };
        registry.wait_until_up();
        registry
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let code = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://{}/v2/", self.host)])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
                .unwrap_or_default();
            if code == "200" || code == "401" {
                return;
            }
            assert!(Instant::now() < deadline, "registry at {} did not answer", self.host);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The digest the registry serves for `repo:tag` (with basic auth if given).
    pub fn manifest_digest(&self, repo: &str, tag: &str, auth: Option<(&str, &str)>) -> Option<String> {
        let mut args = vec![
            "-s".to_string(),
            "-I".to_string(),
            "-H".to_string(),
            "Accept: application/vnd.docker.distribution.manifest.v2+json".to_string(),
        ];
        if let Some((user, password)) = auth {
            args.push("-u".to_string());
            args.push(format!("{user}:{password}"));
        }
        args.push(format!("http://{}/v2/{repo}/manifests/{tag}", self.host));
        let out = Command::new("curl").args(&args).output().ok()?;
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("docker-content-digest:")
                .then(|| l.split_once(':').unwrap().1.trim().to_string())
        })
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", "-v", &self.container]).output();
    }
}

/// A docker config (as `docker login` writes it) for one registry.
pub fn docker_config(host: &str, user: &str, password: &str) -> String {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#)
}

/// Remove images by name, ignoring those already gone.
pub fn remove_images(names: &[&str]) {
    let _ = Command::new("docker").arg("rmi").arg("-f").args(names).output();
}

/// Local repo digests of an image (`repo@sha256:…`).
pub fn repo_digests(image: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{json .RepoDigests}}", image])
        .output()
        .expect("inspect");
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// The engine's id of an image (`sha256:…`); empty when there is none.
pub fn image_id(image: &str) -> String {
    let out =
        Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", image]).output().expect("inspect");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn image_exists(image: &str) -> bool {
    Command::new("docker").args(["image", "inspect", image]).output().is_ok_and(|o| o.status.success())
}

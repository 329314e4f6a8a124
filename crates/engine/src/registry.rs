//! Registry credentials: docker config files (`{"auths": {host: {auth | username,
//! password | identitytoken}}}`, or the older form without `auths`) and which host an
//! image belongs to.

use std::collections::BTreeMap;

use base64::Engine as _;

/// Docker Hub, however it is written.
pub const DOCKER_HUB: &str = "docker.io";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// Registry host as the config wrote it (e.g. `https://index.docker.io/v1/`).
    pub server: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub identity_token: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DockerConfig {
    /// By normalised host.
    pub auths: BTreeMap<String, Credentials>,
}

impl DockerConfig {
    /// Parse a docker config (`config.json`, or a Jet `dockercfg`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not a docker config (JSON): {e}"))?;
        let table = match value.get("auths") {
            Some(auths) => auths,
            None => &value,
        };
        let Some(entries) = table.as_object() else {
            return Err("not a docker config: expected an object of registries".into());
        };
        let mut auths = BTreeMap::new();
        for (server, entry) in entries {
            let field =
                |name: &str| entry.get(name).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_string);
            let (mut username, mut password) = (field("username"), field("password"));
            if let Some(auth) = field("auth") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .map_err(|_| format!("the `auth` of `{server}` is not base64"))?;
                let decoded =
                    String::from_utf8(decoded).map_err(|_| format!("the `auth` of `{server}` is not text"))?;
                let (user, pass) = decoded
                    .split_once(':')
                    .ok_or_else(|| format!("the `auth` of `{server}` is not `user:password`"))?;
                username = Some(user.to_string());
                password = Some(pass.to_string());
            }
            let credentials =
                Credentials { server: server.clone(), username, password, identity_token: field("identitytoken") };
            auths.insert(normalize_host(server), credentials);
        }
        Ok(Self { auths })
    }

    /// Credentials for a registry host (any spelling of Docker Hub counts as one).
    pub fn for_host(&self, host: &str) -> Option<&Credentials> {
        self.auths.get(&normalize_host(host))
    }

    /// Credentials for the registry an image lives on.
    pub fn for_image(&self, image: &str) -> Option<&Credentials> {
        self.for_host(&registry_host(image))
    }

    /// Passwords and tokens, to mask in output.
    pub fn secrets(&self) -> Vec<String> {
        self.auths.values().flat_map(|c| c.password.iter().chain(c.identity_token.iter()).cloned()).collect()
    }
}

/// The registry host of an image reference: the first path part when it looks like a
/// host (has `.` or `:`, or is `localhost`), else Docker Hub.
pub fn registry_host(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => normalize_host(first),
        _ => DOCKER_HUB.to_string(),
    }
}

/// `https://index.docker.io/v1/` → `docker.io`; `https://quay.io` → `quay.io`.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let host = host.strip_prefix("https://").or_else(|| host.strip_prefix("http://")).unwrap_or(host);
    let host = host.split('/').next().unwrap_or(host).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" | "hub.docker.com" | "" => {
            DOCKER_HUB.to_string()
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_auth_and_user_password_forms() {
        let config = DockerConfig::parse(
            r#"{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"}, "localhost:5000": {"username": "u", "password": "p"}}}"#,
        )
        .unwrap();
        let hub = config.for_image("busybox").unwrap();
        assert_eq!((hub.username.as_deref(), hub.password.as_deref()), (Some("user"), Some("pass")));
        assert_eq!(config.for_image("localhost:5000/app:1").unwrap().password.as_deref(), Some("p"));
        assert!(config.for_image("quay.io/x/y").is_none());
        assert_eq!(config.secrets().len(), 2);
    }

    #[test]
    fn reads_the_old_dockercfg_form() {
        let config = DockerConfig::parse(r#"{"quay.io": {"auth": "YTpi", "email": "x@y"}}"#).unwrap();
        assert_eq!(config.for_host("https://quay.io").unwrap().username.as_deref(), Some("a"));
    }

    #[test]
    fn hosts_are_found_in_references() {
        assert_eq!(registry_host("busybox"), "docker.io");
        assert_eq!(registry_host("acme/app:1"), "docker.io");
        assert_eq!(registry_host("localhost:5000/app"), "localhost:5000");
        assert_eq!(registry_host("123.dkr.ecr.us-east-1.amazonaws.com/app"), "123.dkr.ecr.us-east-1.amazonaws.com");
        assert_eq!(normalize_host("https://index.docker.io/v1/"), "docker.io");
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        assert!(DockerConfig::parse("not json").unwrap_err().contains("JSON"));
        assert!(DockerConfig::parse(r#"{"auths": {"h": {"auth": "!!"}}}"#).unwrap_err().contains("base64"));
    }
}

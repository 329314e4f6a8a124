//! Connecting to the engine: DOCKER_HOST or the local socket, API version negotiated
//! (engines as old as 20.10 / API 1.41 must work).

use bollard::Docker;
use slipway_engine::runtime::{ErrorKind, RuntimeError};

use crate::errors::{permission_denied, underlying_cause};

/// Where the engine is expected, for messages.
pub fn engine_address() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

/// The host path of the engine's socket, when it is a local unix socket (for `add_docker`).
pub fn local_socket_path() -> Option<String> {
    let address = engine_address();
    address.strip_prefix("unix://").map(str::to_string)
}

pub async fn connect() -> Result<Docker, RuntimeError> {
    connect_to(&engine_address()).await
}

async fn connect_to(address: &str) -> Result<Docker, RuntimeError> {
    let unavailable = |detail: String, advice: &str| RuntimeError {
        kind: ErrorKind::Unavailable,
        message: format!("cannot reach the Docker Engine at {address}: {detail}\n  {advice}"),
    };
    let not_running =
        "Start it (e.g. `sudo systemctl start docker`, or run `dockerd`), or point DOCKER_HOST at a running engine.";
    let failed = |e: bollard::errors::Error| {
        let advice = if permission_denied(&e) {
            "Add your user to the `docker` group (and log in again), or point DOCKER_HOST at an engine you may use."
        } else {
            not_running
        };
        unavailable(underlying_cause(&e), advice)
    };
    // Not `connect_with_defaults`: it takes an empty DOCKER_HOST for an address, where
    // the docker CLI (and a user) reads it as unset.
    let docker = Docker::connect_with_host(address).map_err(failed)?;
    // Something that accepts connections but never answers would otherwise hold the run
    // for bollard's request timeout (2 minutes) before saying only "Timeout error".
    match tokio::time::timeout(ANSWER_TIMEOUT, docker.negotiate_version()).await {
        Ok(negotiated) => negotiated.map_err(failed),
        Err(_) => Err(unavailable(
            format!("something accepts connections there but did not answer within {} s", ANSWER_TIMEOUT.as_secs()),
            not_running,
        )),
    }
}

/// How long the engine may take to answer the first request (its version).
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_tcp_connection_says_so_and_what_to_do() {
        // Port 1 (tcpmux) has no listener on any machine that runs tests.
        let Err(error) = connect_to("tcp://127.0.0.1:1").await else { panic!("nothing listens on port 1") };
        assert!(
            error.message.starts_with("cannot reach the Docker Engine at tcp://127.0.0.1:1: connection refused"),
            "{}",
            error.message
        );
        assert!(!error.message.contains("hyper"), "{}", error.message);
        assert!(error.message.contains("point DOCKER_HOST at a running engine"), "{}", error.message);
    }

    #[tokio::test]
    async fn a_missing_socket_is_named() {
        let Err(error) = connect_to("unix:///nonexistent/docker.sock").await else { panic!("no such socket") };
        assert!(error.message.contains("Socket not found: /nonexistent/docker.sock"), "{}", error.message);
    }
}

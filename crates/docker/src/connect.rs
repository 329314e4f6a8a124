//! Connecting to the engine: DOCKER_HOST or the local socket, API version negotiated
//! (engines as old as 20.10 / API 1.41 must work).

use bollard::Docker;
use slipway_engine::runtime::{ErrorKind, RuntimeError};

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
    let address = engine_address();
    let unavailable = |detail: String| {
        RuntimeError {
        kind: ErrorKind::Unavailable,
        message: format!(
            "cannot reach the Docker Engine at {address}: {detail}\n  Start it (e.g. `sudo systemctl start docker`, or run `dockerd`), or point DOCKER_HOST at a running engine."
        ),
    }
    };
    // Not `connect_with_defaults`: it takes an empty DOCKER_HOST for an address, where
    // the docker CLI (and a user) reads it as unset.
    let docker = Docker::connect_with_host(&address).map_err(|e| unavailable(e.to_string()))?;
    // Something that accepts connections but never answers would otherwise hold the run
    // for bollard's request timeout (2 minutes) before saying only "Timeout error".
    match tokio::time::timeout(ANSWER_TIMEOUT, docker.negotiate_version()).await {
        Ok(negotiated) => negotiated.map_err(|e| unavailable(e.to_string())),
        Err(_) => Err(unavailable(format!(
            "something accepts connections there but did not answer within {} s",
            ANSWER_TIMEOUT.as_secs()
        ))),
    }
}

/// How long the engine may take to answer the first request (its version).
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

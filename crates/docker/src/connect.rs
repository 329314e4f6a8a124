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
    let docker = Docker::connect_with_defaults().map_err(|e| unavailable(e.to_string()))?;
    docker.negotiate_version().await.map_err(|e| unavailable(e.to_string()))
}

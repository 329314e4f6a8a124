//! Engine errors in slipway's terms, keeping the engine's own message.

use bollard::errors::Error;
use slipway_engine::runtime::{ErrorKind, RuntimeError};

pub fn runtime_error(error: Error) -> RuntimeError {
    match error {
        Error::DockerResponseServerError { status_code, message } => {
            let kind = if status_code == 404 {
                ErrorKind::NotFound
            } else if status_code == 409 {
                ErrorKind::Conflict
            } else if message.contains("non-overlapping IPv4 address pool") || message.contains("no available network")
            {
                ErrorKind::AddressPoolsExhausted
            } else {
                ErrorKind::Other
            };
            RuntimeError { kind, message }
        }
        Error::HyperLegacyError { .. }
        | Error::IOError { .. }
        | Error::SocketNotFoundError(_)
        | Error::RequestTimeoutError => {
            RuntimeError { kind: ErrorKind::Unavailable, message: format!("the Docker Engine did not answer: {error}") }
        }
        // The engine's own words (a failed RUN, a missing base image), without bollard's prefix.
        Error::DockerStreamError { error } => RuntimeError::other(error.trim().to_string()),
        other => RuntimeError::other(other.to_string()),
    }
}

/// `Ok(())` for "already gone": removing something twice is not a failure.
pub fn ignore_not_found(result: Result<(), Error>) -> Result<(), RuntimeError> {
    match result.map_err(runtime_error) {
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

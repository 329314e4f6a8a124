//! Engine errors in slipway's terms, keeping the engine's own message.

use bollard::errors::Error;
use slipway_engine::runtime::{ErrorKind, RuntimeError};

pub fn runtime_error(error: Error) -> RuntimeError {
    match error {
        Error::DockerResponseServerError { status_code, message } => {
            // Engines answer 404 (20.10) or 403 for exhausted pools: the message tells.
            let kind =
                if message.contains("non-overlapping IPv4 address pool") || message.contains("no available network") {
                    ErrorKind::AddressPoolsExhausted
                } else if status_code == 404 {
                    ErrorKind::NotFound
                } else if status_code == 409 {
                    ErrorKind::Conflict
                } else {
                    ErrorKind::Other
                };
            RuntimeError { kind, message }
        }
        Error::HyperLegacyError { .. }
        | Error::IOError { .. }
        | Error::SocketNotFoundError(_)
        | Error::RequestTimeoutError => RuntimeError {
            kind: ErrorKind::Unavailable,
            message: format!("the Docker Engine did not answer: {}", underlying_cause(&error)),
        },
        // The engine's own words (a failed RUN, a missing base image), without bollard's prefix.
        Error::DockerStreamError { error } => RuntimeError::other(error.trim().to_string()),
        other => RuntimeError::other(other.to_string()),
    }
}

/// Why talking to the engine failed, in words a user can act on: the innermost cause
/// (the operating system's "Connection refused"), not the wrappers above it, which name
/// only the library that failed ("Error in the hyper legacy client: client error (Connect)").
pub fn underlying_cause(error: &Error) -> String {
    let mut innermost: &(dyn std::error::Error + 'static) = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    // `IOError` shows its io error as its own text and hides it from `source()`.
    let io = match error {
        Error::IOError { err } => Some(err),
        _ => innermost.downcast_ref::<std::io::Error>(),
    };
    match io {
        Some(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (nothing listens at that address)".to_string()
        }
        Some(io) => io.to_string(),
        None => innermost.to_string(),
    }
}

/// Whether the engine refused us for lack of permission (a socket owned by the `docker`
/// group): starting the engine would not help.
pub fn permission_denied(error: &Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
        {
            return true;
        }
        cause = current.source();
    }
    matches!(error, Error::IOError { err } if err.kind() == std::io::ErrorKind::PermissionDenied)
}

/// `Ok(())` for "already gone": removing something twice is not a failure.
pub fn ignore_not_found(result: Result<(), Error>) -> Result<(), RuntimeError> {
    match result.map_err(runtime_error) {
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> std::io::Error {
        std::io::Error::new(kind, format!("{kind:?} from the system"))
    }

    #[test]
    fn exhausted_address_pools_are_told_apart_whatever_the_status() {
        for status_code in [403, 404, 500] {
            let message = "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".to_string();
            let error = runtime_error(Error::DockerResponseServerError { status_code, message });
            assert_eq!(error.kind, ErrorKind::AddressPoolsExhausted, "status {status_code}");
        }
    }

    #[test]
    fn the_cause_is_the_io_error_under_the_wrappers() {
        let refused = Error::IOError { err: io(std::io::ErrorKind::ConnectionRefused) };
        assert_eq!(underlying_cause(&refused), "connection refused (nothing listens at that address)");
        let denied = Error::IOError { err: io(std::io::ErrorKind::PermissionDenied) };
        assert_eq!(underlying_cause(&denied), "PermissionDenied from the system");
        assert!(permission_denied(&denied));
        assert!(!permission_denied(&refused));
        assert_eq!(underlying_cause(&Error::SocketNotFoundError("/x.sock".into())), "Socket not found: /x.sock");
    }
}

//! Classifies bollard's errors into [`RuntimeError`] in one place.
//!
//! Docker's HTTP status decides most cases (404 → `NotFound`, other 4xx → `Invalid`,
//! 5xx and transport failures → `Unavailable`), but Docker 20.10 answers a few
//! configuration problems with 500 (a host port already taken), so those are recognised by
//! their message (a missing executable is already a 400). Pull failures are classified by the image module, which knows the image.

use bollard::errors::Error;

use crate::RuntimeError;

/// Messages of 5xx answers that mean "your configuration cannot work here", not "retry".
const INVALID_SERVER_MESSAGES: &[&str] = &["port is already allocated", "address already in use"];

/// Map any bollard error to the runtime's error classes.
pub(crate) fn from_bollard(err: Error) -> RuntimeError {
    match err {
        Error::DockerResponseServerError {
            status_code,
            message,
        } => from_status(status_code, message),
        Error::DockerStreamError { error } => RuntimeError::Unavailable(error),
        other => RuntimeError::Unavailable(other.to_string()),
    }
}

/// Classify an HTTP answer of the engine by status code (and message, for 500s).
pub(crate) fn from_status(status_code: u16, message: String) -> RuntimeError {
    match status_code {
        404 => RuntimeError::NotFound(message),
        400..=499 => RuntimeError::Invalid(message),
        _ if is_configuration_problem(&message) => RuntimeError::Invalid(message),
        _ => RuntimeError::Unavailable(message),
    }
}

fn is_configuration_problem(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    INVALID_SERVER_MESSAGES.iter().any(|m| message.contains(m))
}

/// Whether the engine answered 404.
pub(crate) fn is_not_found(err: &Error) -> bool {
    matches!(
        err,
        Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Whether a removal failed only because another removal of it is under way.
pub(crate) fn is_removal_in_progress(err: &Error) -> bool {
    matches!(
        err,
        Error::DockerResponseServerError { status_code: 409, message }
            if message.contains("already in progress")
    )
}

/// Whether the engine answered at all (any HTTP status or a message in a stream), as
/// opposed to failing to be reached.
pub(crate) fn is_engine_answer(err: &Error) -> bool {
    matches!(
        err,
        Error::DockerResponseServerError { .. } | Error::DockerStreamError { .. }
    )
}

/// The engine's own message when it answered, else the error's text.
pub(crate) fn message(err: &Error) -> String {
    match err {
        Error::DockerResponseServerError { message, .. } => message.clone(),
        Error::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> Error {
        Error::DockerResponseServerError {
            status_code,
            message: message.to_string(),
        }
    }

    #[test]
    fn statuses_map_to_classes() {
        assert!(matches!(
            from_bollard(server(404, "No such container: x")),
            RuntimeError::NotFound(m) if m == "No such container: x"
        ));
        assert!(matches!(
            from_bollard(server(
                409,
                "Conflict. The container name is already in use"
            )),
            RuntimeError::Invalid(_)
        ));
        assert!(matches!(
            from_bollard(server(400, "bad")),
            RuntimeError::Invalid(_)
        ));
        assert!(matches!(
            from_bollard(server(500, "containerd is down")),
            RuntimeError::Unavailable(_)
        ));
        assert!(matches!(
            from_bollard(Error::RequestTimeoutError),
            RuntimeError::Unavailable(_)
        ));
    }

    #[test]
    fn taken_host_port_is_invalid_even_as_500() {
        let err = server(
            500,
            "driver failed programming external connectivity on endpoint x: \
             Bind for 0.0.0.0:8080 failed: port is already allocated",
        );
        assert!(matches!(from_bollard(err), RuntimeError::Invalid(_)));
    }

    #[test]
    fn removal_in_progress_is_recognised() {
        assert!(is_removal_in_progress(&server(
            409,
            "removal of container abc is already in progress"
        )));
        assert!(!is_removal_in_progress(&server(409, "name in use")));
    }
}

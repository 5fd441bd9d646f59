//! CloudWatch Logs' errors: the one place where `LogsError`, the log storage's errors and
//! the control plane's errors become the wire codes Logs clients know
//! (`InvalidParameterException`, `ResourceNotFoundException`, ...). Logs answers every
//! client error with status 400.

use flotilla_aws::AwsError;
use flotilla_control::logs::LogsError as E;
use flotilla_control::ControlError;
use flotilla_model::ErrorKind;
use http::StatusCode;

/// What a Logs operation fails with, already in Logs' terms.
#[derive(Debug)]
pub struct LogsWireError(pub AwsError);

fn client(code: &str, message: String) -> AwsError {
    AwsError::new(StatusCode::BAD_REQUEST, code, message)
}

fn control(e: ControlError) -> AwsError {
    if matches!(e, ControlError::Contended(_)) {
        return client("OperationAbortedException", e.to_string());
    }
    match e.kind() {
        ErrorKind::Server => AwsError::server("ServiceUnavailableException", e.to_string()),
        _ => client("InvalidParameterException", e.to_string()),
    }
}

impl From<E> for LogsWireError {
    fn from(e: E) -> Self {
        let message = e.to_string();
        LogsWireError(match e {
            E::NotFound(_) => client("ResourceNotFoundException", message),
            E::AlreadyExists(_) => client("ResourceAlreadyExistsException", message),
            E::InvalidParameter(_) => client("InvalidParameterException", message),
            E::Protected(_) => client("ValidationException", message),
            E::TooManyTags(_) => client("TooManyTagsException", message),
            E::Control(c) => control(c),
        })
    }
}

impl From<AwsError> for LogsWireError {
    fn from(e: AwsError) -> Self {
        LogsWireError(e)
    }
}

impl From<LogsWireError> for AwsError {
    fn from(e: LogsWireError) -> Self {
        e.0
    }
}

/// A request that breaks a rule of the API model.
pub fn invalid(message: impl Into<String>) -> LogsWireError {
    E::InvalidParameter(message.into()).into()
}

/// A query the Insights parser refused.
pub fn malformed_query(message: impl Into<String>) -> LogsWireError {
    LogsWireError(client("MalformedQueryException", message.into()))
}

/// A stream or query that does not exist.
pub fn not_found(message: impl Into<String>) -> LogsWireError {
    E::NotFound(message.into()).into()
}

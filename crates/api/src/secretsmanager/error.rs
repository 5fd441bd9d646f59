//! Secrets Manager's errors: the one place where `SecretsError` and the control plane's
//! errors become the wire codes Secrets Manager clients know
//! (`ResourceNotFoundException`, `InvalidRequestException`, `DecryptionFailure`, ...).
//! Secrets Manager answers every client error with status 400. No message here carries a
//! secret's value: the control plane's messages never hold one, and malformed bodies are
//! described without quoting them (`super::parse`).

use flotilla_aws::AwsError;
use flotilla_control::secrets::crypto::CryptoError;
use flotilla_control::secrets::manager::SecretsError as E;
use flotilla_control::ControlError;
use http::StatusCode;

/// What a Secrets Manager operation fails with, already in Secrets Manager's terms.
#[derive(Debug)]
pub struct SmWireError(pub AwsError);

fn client(code: &str, message: String) -> AwsError {
    AwsError::new(StatusCode::BAD_REQUEST, code, message)
}

fn control(e: ControlError) -> AwsError {
    crate::control_error(e, "InternalServiceError", "InvalidRequestException")
}

impl From<E> for SmWireError {
    fn from(e: E) -> Self {
        let message = e.to_string();
        SmWireError(match e {
            E::NotFound(_) => client("ResourceNotFoundException", message),
            E::Exists(_) => client("ResourceExistsException", message),
            E::InvalidParameter(_) => client("InvalidParameterException", message),
            E::InvalidRequest(_) => client("InvalidRequestException", message),
            E::Validation(_) => client("ValidationException", message),
            E::Limit(_) => client("LimitExceededException", message),
            E::Crypto(CryptoError::Seal) => client("EncryptionFailure", message),
            E::Crypto(c) => {
                tracing::warn!(error = %c, "a secret's value cannot be opened with this server's secrets key");
                client(
                    "DecryptionFailure",
                    format!("Secrets Manager can't decrypt the protected secret text: {c}"),
                )
            }
            E::Control(c) => control(c),
        })
    }
}

impl From<AwsError> for SmWireError {
    fn from(e: AwsError) -> Self {
        SmWireError(e)
    }
}

impl From<SmWireError> for AwsError {
    fn from(e: SmWireError) -> Self {
        e.0
    }
}

/// A parameter value Secrets Manager refuses (InvalidParameterException).
pub fn invalid(message: impl Into<String>) -> SmWireError {
    E::InvalidParameter(message.into()).into()
}

/// A parameter that breaks the API's constraints (ValidationException).
pub fn validation(message: impl Into<String>) -> SmWireError {
    E::Validation(message.into()).into()
}

/// A NextToken that no page handed out.
pub fn bad_token() -> SmWireError {
    SmWireError(client(
        "InvalidNextTokenException",
        "The NextToken value is not valid.".into(),
    ))
}

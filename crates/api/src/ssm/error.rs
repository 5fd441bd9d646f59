//! SSM's errors: the one place where `SsmError` and the control plane's errors become the
//! wire codes SSM clients know (`ParameterNotFound`, `ParameterAlreadyExists`,
//! `InvalidKeyId`, ...). SSM answers every client error with status 400. No message here
//! carries a parameter's value.

use flotilla_aws::AwsError;
use flotilla_control::secrets::parameters::SsmError as E;
use flotilla_control::ControlError;
use flotilla_model::secrets::parameter::FilterErrorKind;
use http::StatusCode;

/// What an SSM operation fails with, already in SSM's terms.
#[derive(Debug)]
pub struct SsmWireError(pub AwsError);

fn client(code: &str, message: String) -> AwsError {
    AwsError::new(StatusCode::BAD_REQUEST, code, message)
}

fn control(e: ControlError) -> AwsError {
    crate::control_error(e, "InternalServerError", "ValidationException")
}

impl From<E> for SsmWireError {
    fn from(e: E) -> Self {
        let message = e.to_string();
        SsmWireError(match e {
            E::NotFound(_) => client("ParameterNotFound", message),
            E::AlreadyExists(_) => client("ParameterAlreadyExists", message),
            E::VersionNotFound(_) => client("ParameterVersionNotFound", message),
            E::Validation(_) => client("ValidationException", message),
            E::TooDeep(_) => client("HierarchyLevelLimitExceededException", message),
            E::InvalidKeyId(_) => client("InvalidKeyId", message),
            E::InvalidAllowedPattern(_) => client("InvalidAllowedPatternException", message),
            E::PatternMismatch(_) => client("ParameterPatternMismatchException", message),
            E::Filter(f) => match f.kind {
                FilterErrorKind::Key => client("InvalidFilterKey", message),
                FilterErrorKind::Option => client("InvalidFilterOption", message),
                FilterErrorKind::Value => client("InvalidFilterValue", message),
            },
            // A SecureString this server's key cannot open: KMS's key is unusable, as
            // SSM says when a parameter's key is.
            E::Crypto(c) => {
                tracing::warn!(error = %c, "a SecureString cannot be opened with this server's secrets key");
                client("InvalidKeyId", message)
            }
            E::Control(c) => control(c),
        })
    }
}

impl From<AwsError> for SsmWireError {
    fn from(e: AwsError) -> Self {
        SsmWireError(e)
    }
}

impl From<SsmWireError> for AwsError {
    fn from(e: SsmWireError) -> Self {
        e.0
    }
}

/// A request that breaks a rule of the API model (ValidationException).
pub fn validation(message: impl Into<String>) -> SsmWireError {
    E::Validation(message.into()).into()
}

/// A NextToken that no page handed out.
pub fn bad_token() -> SsmWireError {
    SsmWireError(client(
        "InvalidNextToken",
        "The specified token is not valid.".into(),
    ))
}

/// A caller who may not decrypt a SecureString (KMS's `kms:Decrypt` refused).
pub fn may_not_decrypt(principal_arn: &str) -> SsmWireError {
    SsmWireError(client(
        "AccessDeniedException",
        format!("User: {principal_arn} is not authorized to perform: kms:Decrypt"),
    ))
}

//! ACM's errors: the one place where `AcmError` and the control plane's errors become the
//! wire codes ACM clients know (`ResourceNotFoundException`, `InvalidArnException`,
//! `ValidationException`, ...). `TagPolicyException` is never sent: Flotilla has no
//! organisation tag policies.

use flotilla_aws::AwsError;
use flotilla_control::acm::AcmError;
use flotilla_control::ControlError;
use flotilla_model::{ErrorKind, ModelError};

/// What an ACM operation fails with, already in ACM's terms.
#[derive(Debug)]
pub struct AcmWireError(pub AwsError);

/// The code of a control-plane error that is not ACM's own.
fn control_code(e: &ControlError) -> &'static str {
    if matches!(e, ControlError::Contended(_)) {
        // A write that kept losing to others: SDKs retry ThrottlingException.
        return "ThrottlingException";
    }
    match e.kind() {
        ErrorKind::NotFound(_) => "ResourceNotFoundException",
        ErrorKind::InUse => "ResourceInUseException",
        ErrorKind::LimitExceeded => "LimitExceededException",
        ErrorKind::Conflict => "ConflictException",
        ErrorKind::Server => "InternalFailure",
        _ => "ValidationException",
    }
}

impl From<AcmError> for AcmWireError {
    fn from(e: AcmError) -> Self {
        let code = match &e {
            AcmError::InvalidArn(_) => "InvalidArnException",
            AcmError::NotFound(_) => "ResourceNotFoundException",
            AcmError::Invalid(_) => "ValidationException",
            AcmError::InvalidParameter(_) => "InvalidParameterException",
            AcmError::InvalidTag(_) => "InvalidTagException",
            AcmError::TooManyTags(_) => "TooManyTagsException",
            AcmError::InUse(_) => "ResourceInUseException",
            AcmError::LimitExceeded(_) => "LimitExceededException",
            AcmError::Control(c) => control_code(c),
        };
        let server = matches!(&e, AcmError::Control(c) if c.kind() == ErrorKind::Server);
        AcmWireError(if server {
            AwsError::server(code, e.to_string())
        } else {
            AwsError::client(code, e.to_string())
        })
    }
}

impl From<ControlError> for AcmWireError {
    fn from(e: ControlError) -> Self {
        AcmError::Control(e).into()
    }
}

impl From<ModelError> for AcmWireError {
    fn from(e: ModelError) -> Self {
        ControlError::from(e).into()
    }
}

impl From<AwsError> for AcmWireError {
    fn from(e: AwsError) -> Self {
        AcmWireError(e)
    }
}

impl From<AcmWireError> for AwsError {
    fn from(e: AcmWireError) -> Self {
        e.0
    }
}

/// A request that breaks a rule of the API model (ValidationException).
pub fn validation(message: impl Into<String>) -> AcmWireError {
    AcmError::Invalid(message.into()).into()
}

/// An argument ListCertificates cannot use, such as a NextToken it did not hand out
/// (InvalidArgsException).
pub fn invalid_args(message: impl Into<String>) -> AcmWireError {
    AcmWireError(AwsError::client("InvalidArgsException", message))
}

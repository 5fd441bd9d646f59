//! Application Auto Scaling's errors: the one place where `AutoScalingError` and the
//! control plane's errors become the wire codes its clients know (`ValidationException`,
//! `ObjectNotFoundException`, `ConcurrentUpdateException`, `LimitExceededException`,
//! `FailedResourceAccessException`, `InternalServiceException`, and for tagging
//! `ResourceNotFoundException` / `TooManyTagsException` with their `ResourceName`).

use flotilla_aws::AwsError;
use flotilla_control::autoscaling::AutoScalingError as E;
use flotilla_control::ControlError;
use flotilla_model::ErrorKind;

/// What an Application Auto Scaling operation fails with, already in its terms.
#[derive(Debug)]
pub struct AsWireError(pub AwsError);

fn control(e: ControlError) -> AwsError {
    match (&e, e.kind()) {
        // A write that kept losing to others: the same request may succeed again.
        (ControlError::Contended(_), _) => {
            AwsError::client("ConcurrentUpdateException", e.to_string())
        }
        (_, ErrorKind::Server) => AwsError::server("InternalServiceException", e.to_string()),
        _ => AwsError::client("ValidationException", e.to_string()),
    }
}

impl From<E> for AsWireError {
    fn from(e: E) -> Self {
        let message = e.to_string();
        AsWireError(match e {
            E::Validation(_) => AwsError::client("ValidationException", message),
            E::ObjectNotFound(_) => AwsError::client("ObjectNotFoundException", message),
            E::LimitExceeded(_) => AwsError::client("LimitExceededException", message),
            E::FailedResourceAccess(_) => {
                AwsError::client("FailedResourceAccessException", message)
            }
            E::ResourceNotFound { arn, .. } => {
                AwsError::client("ResourceNotFoundException", message)
                    .with_field("ResourceName", arn)
            }
            E::TooManyTags { arn, .. } => {
                AwsError::client("TooManyTagsException", message).with_field("ResourceName", arn)
            }
            E::Control(c) => control(c),
        })
    }
}

impl From<flotilla_model::autoscaling::Invalid> for AsWireError {
    fn from(e: flotilla_model::autoscaling::Invalid) -> Self {
        E::from(e).into()
    }
}

impl From<AwsError> for AsWireError {
    fn from(e: AwsError) -> Self {
        AsWireError(e)
    }
}

impl From<AsWireError> for AwsError {
    fn from(e: AsWireError) -> Self {
        e.0
    }
}

/// A request that breaks a rule of the API model (ValidationException).
pub fn invalid(message: impl Into<String>) -> AsWireError {
    E::Validation(message.into()).into()
}

/// A NextToken this server did not hand out.
pub fn bad_token() -> AsWireError {
    AsWireError(AwsError::client(
        "InvalidNextTokenException",
        "The NextToken is not valid: pass the NextToken of the previous answer unchanged.",
    ))
}

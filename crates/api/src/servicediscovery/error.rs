//! Cloud Map's errors: the one place where `ServiceDiscoveryError` and the control plane's
//! errors become the wire codes Cloud Map clients know (`InvalidInput`,
//! `NamespaceNotFound`, `ResourceInUse`, ...), with the members their shapes carry
//! (`NamespaceAlreadyExists` names the namespace, `DuplicateRequest` the operation).

use flotilla_aws::AwsError;
use flotilla_control::servicediscovery::ServiceDiscoveryError as E;
use flotilla_control::ControlError;
use flotilla_model::ErrorKind;
use http::StatusCode;

/// What a Cloud Map operation fails with, already in Cloud Map's terms.
#[derive(Debug)]
pub struct SdWireError(pub AwsError);

fn at(status: u16, code: &str, message: String) -> AwsError {
    AwsError::new(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        code,
        message,
    )
}

fn control(e: ControlError) -> AwsError {
    if matches!(e, ControlError::Contended(_)) {
        // A write that kept losing to others: SDKs retry RequestLimitExceeded (429).
        return at(429, "RequestLimitExceeded", e.to_string());
    }
    match e.kind() {
        ErrorKind::Server => AwsError::server("InternalFailure", e.to_string()),
        _ => AwsError::client("InvalidInput", e.to_string()),
    }
}

impl From<E> for SdWireError {
    fn from(e: E) -> Self {
        let message = e.to_string();
        SdWireError(match e {
            E::InvalidInput(_) => at(400, "InvalidInput", message),
            E::NamespaceNotFound(_) => at(404, "NamespaceNotFound", message),
            E::ServiceNotFound(_) => at(404, "ServiceNotFound", message),
            E::InstanceNotFound(_) => at(404, "InstanceNotFound", message),
            E::OperationNotFound(_) => at(404, "OperationNotFound", message),
            E::NamespaceAlreadyExists {
                namespace_id,
                creator_request_id,
                ..
            } => {
                let mut err = at(400, "NamespaceAlreadyExists", message)
                    .with_field("NamespaceId", namespace_id);
                if let Some(c) = creator_request_id {
                    err = err.with_field("CreatorRequestId", c);
                }
                err
            }
            E::ServiceAlreadyExists {
                service_id,
                service_arn,
                creator_request_id,
                ..
            } => {
                let mut err = at(400, "ServiceAlreadyExists", message)
                    .with_field("ServiceId", service_id)
                    .with_field("ServiceArn", service_arn);
                if let Some(c) = creator_request_id {
                    err = err.with_field("CreatorRequestId", c);
                }
                err
            }
            E::ResourceInUse(_) => at(409, "ResourceInUse", message),
            E::DuplicateRequest { operation_id, .. } => at(409, "DuplicateRequest", message)
                .with_field("DuplicateOperationId", operation_id),
            E::CustomHealthNotFound(_) => at(404, "CustomHealthNotFound", message),
            E::ResourceNotFound(_) => at(404, "ResourceNotFoundException", message),
            E::TooManyTags { resource, .. } => {
                at(400, "TooManyTagsException", message).with_field("ResourceName", resource)
            }
            E::ResourceLimitExceeded(_) => at(400, "ResourceLimitExceeded", message),
            E::ServiceAttributesLimitExceeded(_) => {
                at(400, "ServiceAttributesLimitExceededException", message)
            }
            E::Control(c) => control(c),
        })
    }
}

impl From<AwsError> for SdWireError {
    fn from(e: AwsError) -> Self {
        SdWireError(e)
    }
}

impl From<SdWireError> for AwsError {
    fn from(e: SdWireError) -> Self {
        e.0
    }
}

/// A request that breaks a rule of the API model (InvalidInput).
pub fn invalid(message: impl Into<String>) -> SdWireError {
    E::InvalidInput(message.into()).into()
}

//! The control plane's Route 53 errors as Route 53's wire codes and statuses, in one place.

use flotilla_aws::AwsError;
use flotilla_control::route53::Route53Error;
use http::StatusCode;

/// `InvalidInput` (400): a request that does not fit the API's model.
pub(crate) fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::client("InvalidInput", message)
}

/// A control-plane error as Route 53 answers it.
pub(crate) fn wire(e: Route53Error) -> AwsError {
    let message = e.to_string();
    let (status, code) = match &e {
        Route53Error::NoSuchHostedZone(_) => (StatusCode::NOT_FOUND, "NoSuchHostedZone"),
        Route53Error::NoSuchChange(_) => (StatusCode::NOT_FOUND, "NoSuchChange"),
        Route53Error::HostedZoneAlreadyExists(_) => {
            (StatusCode::CONFLICT, "HostedZoneAlreadyExists")
        }
        Route53Error::TooManyHostedZones(_) => (StatusCode::BAD_REQUEST, "TooManyHostedZones"),
        Route53Error::InvalidDomainName(_) => (StatusCode::BAD_REQUEST, "InvalidDomainName"),
        Route53Error::InvalidInput(_) => (StatusCode::BAD_REQUEST, "InvalidInput"),
        Route53Error::HostedZoneNotEmpty(_) => (StatusCode::BAD_REQUEST, "HostedZoneNotEmpty"),
        Route53Error::NoSuchHealthCheck(_) => (StatusCode::NOT_FOUND, "NoSuchHealthCheck"),
        Route53Error::HealthCheckAlreadyExists(_) => {
            (StatusCode::CONFLICT, "HealthCheckAlreadyExists")
        }
        Route53Error::HealthCheckInUse(_) => (StatusCode::BAD_REQUEST, "HealthCheckInUse"),
        Route53Error::HealthCheckVersionMismatch(_) => {
            (StatusCode::CONFLICT, "HealthCheckVersionMismatch")
        }
        Route53Error::TooManyHealthChecks(_) => (StatusCode::BAD_REQUEST, "TooManyHealthChecks"),
        Route53Error::InvalidChangeBatch(messages) => {
            // Route 53 lists a batch's problems in brackets.
            return AwsError::client("InvalidChangeBatch", format!("[{}]", messages.join(", ")));
        }
        Route53Error::Control(c) if c.is_retriable() => {
            (StatusCode::BAD_REQUEST, "PriorRequestNotComplete")
        }
        Route53Error::Control(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
    };
    AwsError::new(status, code, message)
}

//! CloudWatch's errors: the one place where the model's rule errors, the control plane's
//! `CloudWatchError`, metric math's errors and the metric store's failures become the
//! wire's. Each error's `__type` is its shape's name (`InvalidParameterValueException`)
//! and its `x-amzn-query-error` header carries the code SDKs and the AWS CLI show
//! (`InvalidParameterValue`).

use flotilla_aws::AwsError;
use flotilla_control::cloudwatch::CloudWatchError as E;
use flotilla_control::ControlError;
use flotilla_model::cloudwatch::RuleError;
use flotilla_model::ErrorKind;
use flotilla_telemetry::metrics::math::MathError;
use flotilla_telemetry::metrics::MetricsError;
use http::StatusCode;

/// What a CloudWatch operation fails with, already in CloudWatch's terms.
#[derive(Debug)]
pub struct CwError(pub AwsError);

/// The wire error of shape `shape` with query code `code`.
fn wire(status: u16, shape: &str, code: &str, message: String) -> CwError {
    CwError(
        AwsError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            shape,
            message,
        )
        .with_query_code(code),
    )
}

pub fn invalid(message: impl Into<String>) -> CwError {
    wire(
        400,
        "InvalidParameterValueException",
        "InvalidParameterValue",
        message.into(),
    )
}

pub fn missing(member: &str) -> CwError {
    RuleError::Missing(format!("The parameter {member} is required.")).into()
}

pub fn combination(message: impl Into<String>) -> CwError {
    wire(
        400,
        "InvalidParameterCombinationException",
        "InvalidParameterCombination",
        message.into(),
    )
}

/// A bad metric-math expression or query set (CloudWatch's ValidationError).
pub fn validation(message: impl Into<String>) -> CwError {
    wire(
        400,
        "ValidationException",
        "ValidationError",
        message.into(),
    )
}

pub fn invalid_token() -> CwError {
    wire(
        400,
        "InvalidNextToken",
        "InvalidNextToken",
        "The NextToken is not one this operation gave.".into(),
    )
}

fn internal(message: String) -> CwError {
    wire(500, "InternalServiceFault", "InternalServiceError", message)
}

fn control(e: ControlError) -> CwError {
    let message = e.to_string();
    if matches!(e, ControlError::Contended(_)) {
        return wire(
            429,
            "ConcurrentModificationException",
            "ConcurrentModificationException",
            message,
        );
    }
    match e.kind() {
        ErrorKind::Server => internal(message),
        _ => invalid(message),
    }
}

impl From<RuleError> for CwError {
    fn from(e: RuleError) -> Self {
        match e {
            RuleError::Value(m) => invalid(m),
            RuleError::Missing(m) => wire(
                400,
                "MissingRequiredParameterException",
                "MissingParameter",
                m,
            ),
            RuleError::Combination(m) => combination(m),
        }
    }
}

impl From<E> for CwError {
    fn from(e: E) -> Self {
        let message = e.to_string();
        match e {
            E::Rule(r) => r.into(),
            E::AlarmNotFound(_) => wire(404, "ResourceNotFound", "ResourceNotFound", message),
            E::ResourceNotFound(_) => wire(
                404,
                "ResourceNotFoundException",
                "ResourceNotFoundException",
                message,
            ),
            E::LimitExceeded(_) => wire(400, "LimitExceededFault", "LimitExceeded", message),
            E::InvalidFormat(_) => wire(400, "InvalidFormatFault", "InvalidFormat", message),
            E::Control(c) => control(c),
        }
    }
}

impl From<MathError> for CwError {
    fn from(e: MathError) -> Self {
        validation(e.0)
    }
}

impl From<MetricsError> for CwError {
    fn from(e: MetricsError) -> Self {
        internal(e.to_string())
    }
}

impl From<AwsError> for CwError {
    fn from(e: AwsError) -> Self {
        CwError(e)
    }
}

impl From<CwError> for AwsError {
    fn from(e: CwError) -> Self {
        e.0
    }
}

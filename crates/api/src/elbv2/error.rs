//! ELBv2's errors: the one place where control-plane and model errors become the codes
//! ELBv2 clients know. The query protocol drops the `Exception` suffix of the model's
//! shape names (`LoadBalancerNotFoundException` is `LoadBalancerNotFound` on the wire).

use flotilla_aws::AwsError;
use flotilla_control::ControlError;
use flotilla_model::{ErrorKind, ModelError, Resource};

#[derive(Debug)]
pub struct Elbv2Error(pub AwsError);

/// The wire code of a service-neutral error kind; `limit` names the quota an operation
/// can exceed.
fn code(kind: ErrorKind, limit: &'static str) -> &'static str {
    match kind {
        ErrorKind::NotFound(Resource::LoadBalancer) => "LoadBalancerNotFound",
        ErrorKind::NotFound(Resource::TargetGroup) => "TargetGroupNotFound",
        ErrorKind::NotFound(Resource::Listener) => "ListenerNotFound",
        ErrorKind::NotFound(Resource::Rule) => "RuleNotFound",
        ErrorKind::NotFound(Resource::Target) => "InvalidTarget",
        ErrorKind::NotFound(Resource::Certificate) => "CertificateNotFound",
        ErrorKind::NotFound(Resource::Subnet) => "SubnetNotFound",
        ErrorKind::NotFound(Resource::SecurityGroup) => "InvalidSecurityGroup",
        ErrorKind::AlreadyExists(Resource::LoadBalancer) => "DuplicateLoadBalancerName",
        ErrorKind::AlreadyExists(Resource::TargetGroup) => "DuplicateTargetGroupName",
        ErrorKind::AlreadyExists(Resource::Listener) => "DuplicateListener",
        ErrorKind::AlreadyExists(Resource::Rule) => "PriorityInUse",
        ErrorKind::InUse => "ResourceInUse",
        ErrorKind::Conflict => "OperationNotPermitted",
        ErrorKind::Client | ErrorKind::NotActive(_) | ErrorKind::NotEmpty(_) => {
            "InvalidConfigurationRequest"
        }
        ErrorKind::LimitExceeded => limit,
        ErrorKind::Server => "InternalFailure",
        _ => "ValidationError",
    }
}

impl Elbv2Error {
    /// The error of an operation whose quota is `limit` (TooManyRules, TooManyTargets...).
    pub fn of(e: ControlError, limit: &'static str) -> Elbv2Error {
        let code = code(e.kind(), limit);
        Elbv2Error(if e.kind() == ErrorKind::Server {
            AwsError::server(code, e.to_string())
        } else {
            AwsError::client(code, e.to_string())
        })
    }
}

impl From<ControlError> for Elbv2Error {
    fn from(e: ControlError) -> Self {
        Elbv2Error::of(e, "TooManyLoadBalancers")
    }
}

impl From<ModelError> for Elbv2Error {
    fn from(e: ModelError) -> Self {
        ControlError::from(e).into()
    }
}

impl From<crate::query::ParamError> for Elbv2Error {
    fn from(e: crate::query::ParamError) -> Self {
        invalid(e.message())
    }
}

impl From<AwsError> for Elbv2Error {
    fn from(e: AwsError) -> Self {
        Elbv2Error(e)
    }
}

impl From<Elbv2Error> for AwsError {
    fn from(e: Elbv2Error) -> Self {
        e.0
    }
}

/// A malformed or out-of-range parameter (ValidationError).
pub fn invalid(message: impl Into<String>) -> Elbv2Error {
    ControlError::invalid(message).into()
}

/// A request that is well-formed but cannot be done (InvalidConfigurationRequest).
pub fn configuration(message: impl Into<String>) -> Elbv2Error {
    ControlError::from(ModelError::new(ErrorKind::Client, message)).into()
}

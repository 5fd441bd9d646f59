//! ECS's errors: the one place where control-plane, model and store errors become the
//! wire codes ECS clients know (`ClusterNotFoundException`, `InvalidParameterException`,
//! ...). Handlers return [`EcsError`]; the dispatch turns it into an `AwsError`.

use flotilla_aws::AwsError;
use flotilla_control::ControlError;
use flotilla_model::{ErrorKind, ModelError, Resource};

/// What an ECS operation fails with: a control-plane error (classified by its kind), or
/// an error the wire layer already named (malformed input, an unknown operation).
#[derive(Debug)]
pub enum EcsError {
    /// Raised by the control plane or the model; mapped by [`ecs_code`].
    Control(ControlError),
    /// Already a wire error.
    Wire(AwsError),
}

/// The ECS wire name of a service-neutral error kind.
fn ecs_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidParameter => "InvalidParameterException",
        ErrorKind::Client => "ClientException",
        ErrorKind::NotFound(Resource::Cluster) => "ClusterNotFoundException",
        ErrorKind::NotFound(Resource::Service) => "ServiceNotFoundException",
        ErrorKind::NotFound(Resource::ServiceDeployment) => "ServiceDeploymentNotFoundException",
        ErrorKind::NotFound(Resource::TaskSet) => "TaskSetNotFoundException",
        ErrorKind::NotFound(Resource::AttributeTarget) => "TargetNotFoundException",
        ErrorKind::NotFound(Resource::Daemon) => "DaemonNotFoundException",
        ErrorKind::NotFound(Resource::Gateway) => "GatewayNotFoundException",
        // ECS reports EC2's missing subnets and groups as bad parameters.
        ErrorKind::NotFound(Resource::Vpc | Resource::Subnet | Resource::SecurityGroup) => {
            "InvalidParameterException"
        }
        ErrorKind::NotFound(_) => "ResourceNotFoundException",
        ErrorKind::NotActive(Resource::Service) => "ServiceNotActiveException",
        ErrorKind::NotActive(Resource::Daemon) => "DaemonNotActiveException",
        ErrorKind::NotActive(_) => "ClientException",
        ErrorKind::NotEmpty(Resource::ContainerInstance) => {
            "ClusterContainsContainerInstancesException"
        }
        ErrorKind::NotEmpty(Resource::Service) => "ClusterContainsServicesException",
        ErrorKind::NotEmpty(Resource::Task) => "ClusterContainsTasksException",
        ErrorKind::NotEmpty(_) => "ResourceInUseException",
        ErrorKind::AlreadyExists(_) => "InvalidParameterException",
        ErrorKind::InUse => "ResourceInUseException",
        ErrorKind::Conflict => "ConflictException",
        ErrorKind::LimitExceeded => "LimitExceededException",
        ErrorKind::Server => "ServerException",
    }
}

impl EcsError {
    /// The caller's key may not act on this resource (an agent's key on another instance).
    pub fn access_denied(message: impl Into<String>) -> Self {
        EcsError::Wire(AwsError::client("AccessDeniedException", message))
    }
}

impl From<EcsError> for AwsError {
    fn from(e: EcsError) -> AwsError {
        match e {
            EcsError::Wire(e) => e,
            EcsError::Control(e) => {
                let code = ecs_code(e.kind());
                if e.kind() == ErrorKind::Server {
                    AwsError::server(code, e.to_string())
                } else {
                    AwsError::client(code, e.to_string())
                }
            }
        }
    }
}

impl From<ControlError> for EcsError {
    fn from(e: ControlError) -> Self {
        EcsError::Control(e)
    }
}

impl From<ModelError> for EcsError {
    fn from(e: ModelError) -> Self {
        EcsError::Control(e.into())
    }
}

impl From<AwsError> for EcsError {
    fn from(e: AwsError) -> Self {
        EcsError::Wire(e)
    }
}

/// Shorthands for the errors operations raise most.
pub fn invalid(message: impl Into<String>) -> EcsError {
    ControlError::invalid(message).into()
}

pub fn client(message: impl Into<String>) -> EcsError {
    ControlError::client(message).into()
}

/// A model error, as ECS answers it.
pub fn from_model(e: ModelError) -> EcsError {
    e.into()
}

/// The not-found error of `resource`.
pub fn not_found(resource: Resource, message: impl Into<String>) -> EcsError {
    ControlError::not_found(resource, message).into()
}

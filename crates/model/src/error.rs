//! The one error type of model validation and resource operations, classified by a
//! service-neutral [`ErrorKind`].

/// What kind of resource an error is about; each AWS service's API layer turns
/// (kind, resource) into its own wire code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Cluster,
    ContainerInstance,
    Service,
    ServiceDeployment,
    /// A task set of an EXTERNAL service.
    TaskSet,
    Task,
    TaskDefinition,
    /// The target of an attribute (PutAttributes, DeleteAttributes).
    AttributeTarget,
    /// An ECR repository.
    Repository,
    /// An image in an ECR repository.
    Image,
    /// An image tag in an ECR repository.
    ImageTag,
    /// A repository's lifecycle policy.
    LifecyclePolicy,
    /// A repository's permissions policy.
    RepositoryPolicy,
    /// ELBv2's resources.
    LoadBalancer,
    TargetGroup,
    Listener,
    Rule,
    /// A target of a target group (InvalidTarget on the wire).
    Target,
    /// An ACM certificate.
    Certificate,
    /// An ECS managed daemon.
    Daemon,
    /// An ECS gateway (GatewayNotFoundException).
    Gateway,
    /// EC2's VPCs, subnets and security groups, as other services name them.
    Vpc,
    Subnet,
    SecurityGroup,
    /// Anything else (a tagged resource of an unknown type, an attribute target, ...).
    Other,
}

/// Why an operation failed, independent of any AWS service's wire names. The API layer
/// of each service maps every kind to its wire code in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A parameter is malformed or out of range.
    InvalidParameter,
    /// The request is well-formed but refers to something unusable.
    Client,
    /// The named resource does not exist.
    NotFound(Resource),
    /// The resource exists but is not ACTIVE (e.g. a service being deleted).
    NotActive(Resource),
    /// A resource of this kind with that name already exists (and may not be replaced).
    AlreadyExists(Resource),
    /// The resource cannot be deleted while it still holds resources of this kind.
    NotEmpty(Resource),
    /// The resource is used by another and cannot change now.
    InUse,
    /// The change conflicts with the resource's current state (e.g. a deployment that has
    /// already finished).
    Conflict,
    /// A quota was reached.
    LimitExceeded,
    /// Our fault; the client may retry.
    Server,
}

/// A failed operation, with the message the user reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ModelError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ModelError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ModelError {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }
    pub fn client(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Client, message)
    }
    pub fn server(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Server, message)
    }
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

//! ECR's errors: the one place where control-plane and model errors become the wire codes
//! ECR clients know (`RepositoryNotFoundException`, `ImageTagAlreadyExistsException`, ...).

use flotilla_aws::AwsError;
use flotilla_control::ControlError;
use flotilla_model::{ErrorKind, ModelError, Resource};

/// What an ECR operation fails with, already in ECR's terms.
#[derive(Debug)]
pub struct EcrError(pub AwsError);

/// The ECR wire name of a service-neutral error kind.
fn ecr_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound(Resource::Repository) => "RepositoryNotFoundException",
        ErrorKind::NotFound(Resource::Image | Resource::ImageTag) => "ImageNotFoundException",
        ErrorKind::NotFound(Resource::LifecyclePolicy) => "LifecyclePolicyNotFoundException",
        ErrorKind::NotFound(Resource::RepositoryPolicy) => "RepositoryPolicyNotFoundException",
        ErrorKind::AlreadyExists(Resource::Repository) => "RepositoryAlreadyExistsException",
        ErrorKind::AlreadyExists(Resource::ImageTag) => "ImageTagAlreadyExistsException",
        ErrorKind::NotEmpty(_) => "RepositoryNotEmptyException",
        ErrorKind::LimitExceeded => "LimitExceededException",
        ErrorKind::Server => "ServerException",
        _ => "InvalidParameterException",
    }
}

impl From<ControlError> for EcrError {
    fn from(e: ControlError) -> Self {
        let code = ecr_code(e.kind());
        EcrError(if e.kind() == ErrorKind::Server {
            AwsError::server(code, e.to_string())
        } else {
            AwsError::client(code, e.to_string())
        })
    }
}

impl From<ModelError> for EcrError {
    fn from(e: ModelError) -> Self {
        ControlError::from(e).into()
    }
}

impl From<AwsError> for EcrError {
    fn from(e: AwsError) -> Self {
        EcrError(e)
    }
}

impl From<EcrError> for AwsError {
    fn from(e: EcrError) -> Self {
        e.0
    }
}

/// A malformed or out-of-range parameter (InvalidParameterException).
pub fn invalid(message: impl Into<String>) -> EcrError {
    ControlError::invalid(message).into()
}

/// A tag that ECR refuses: InvalidTagParameterException, or TooManyTagsException past
/// the limit.
pub fn tag_error(e: ModelError, too_many: bool) -> EcrError {
    let code = if too_many {
        "TooManyTagsException"
    } else {
        "InvalidTagParameterException"
    };
    EcrError(AwsError::client(code, e.message))
}

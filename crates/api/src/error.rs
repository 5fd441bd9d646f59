//! The one mapping from model and store errors to the AWS errors clients see.

use flotilla_aws::AwsError;
use flotilla_model::{ErrorKind, ModelError};
use flotilla_store::StoreError;

/// The ECS wire name of a model error kind.
fn ecs_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidParameter => "InvalidParameterException",
        ErrorKind::Client => "ClientException",
        ErrorKind::ClusterNotFound => "ClusterNotFoundException",
        ErrorKind::ClusterContainsContainerInstances => {
            "ClusterContainsContainerInstancesException"
        }
        ErrorKind::ClusterContainsServices => "ClusterContainsServicesException",
        ErrorKind::ClusterContainsTasks => "ClusterContainsTasksException",
        ErrorKind::ResourceNotFound => "ResourceNotFoundException",
        ErrorKind::ResourceInUse => "ResourceInUseException",
        ErrorKind::LimitExceeded => "LimitExceededException",
        ErrorKind::Server => "ServerException",
    }
}

pub fn from_model(e: ModelError) -> AwsError {
    let code = ecs_code(e.kind);
    if e.kind == ErrorKind::Server {
        AwsError::server(code, e.message)
    } else {
        AwsError::client(code, e.message)
    }
}

pub fn from_store(e: StoreError) -> AwsError {
    tracing::error!(error = %e, "store operation failed");
    AwsError::server("ServerException", format!("The state store failed: {e}"))
}

/// Shorthands for the errors operations raise most.
pub fn invalid(message: impl Into<String>) -> AwsError {
    from_model(ModelError::invalid(message))
}

pub fn client(message: impl Into<String>) -> AwsError {
    from_model(ModelError::client(message))
}

/// A compare-and-swap lost to a concurrent change of `what`.
pub fn conflict(what: &str) -> AwsError {
    client(format!(
        "The {what} was changed by another request at the same time; retry the request."
    ))
}

pub fn cluster_not_found() -> AwsError {
    from_model(ModelError::new(
        ErrorKind::ClusterNotFound,
        "Cluster not found.",
    ))
}

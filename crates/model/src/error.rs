//! The one error type of model validation and resource operations, classified by the AWS
//! error type a client should see.

/// The AWS error type a [`ModelError`] is answered with. The API layer maps each kind to
/// its wire name in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `InvalidParameterException`: a parameter is malformed or out of range.
    InvalidParameter,
    /// `ClientException`: the request is well-formed but refers to something unusable.
    Client,
    /// `ClusterNotFoundException`.
    ClusterNotFound,
    /// `ClusterContainsContainerInstancesException`.
    ClusterContainsContainerInstances,
    /// `ClusterContainsServicesException`.
    ClusterContainsServices,
    /// `ClusterContainsTasksException`.
    ClusterContainsTasks,
    /// `ResourceNotFoundException`.
    ResourceNotFound,
    /// `ResourceInUseException`.
    ResourceInUse,
    /// `LimitExceededException`.
    LimitExceeded,
    /// `ServerException`: our fault; the client may retry.
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

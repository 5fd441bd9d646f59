//! The control plane's one error type. Control-plane functions return [`ControlError`];
//! each AWS service in `flotilla-api` maps it to its wire codes in one place, and callers
//! inside the control plane ask [`ControlError::is_retriable`] instead of reading messages.

use flotilla_model::{ErrorKind, ModelError, Resource};
use flotilla_store::StoreError;

/// Why a control-plane operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ControlError {
    /// The request or the resource it names was refused by a rule of the model
    /// (validation, a missing or inactive resource, a quota); the kind says which.
    #[error("{0}")]
    Model(#[from] ModelError),
    /// A compare-and-swap kept losing to concurrent writers; the same request may succeed
    /// if sent again. The message says what kept changing.
    #[error("{0}")]
    Contended(String),
    /// The store failed (I/O, a closed backend).
    #[error("The state store failed: {0}")]
    Store(String),
    /// The control plane is shutting down and no longer takes this work.
    #[error("The server is shutting down: {0}")]
    ShuttingDown(&'static str),
}

impl ControlError {
    /// A parameter is malformed or out of range.
    pub fn invalid(message: impl Into<String>) -> Self {
        ModelError::invalid(message).into()
    }

    /// The request is well-formed but names something that cannot be used.
    pub fn client(message: impl Into<String>) -> Self {
        ModelError::client(message).into()
    }

    /// The named resource does not exist.
    pub fn not_found(resource: Resource, message: impl Into<String>) -> Self {
        ModelError::new(ErrorKind::NotFound(resource), message).into()
    }

    /// The cluster does not exist or is INACTIVE.
    pub fn cluster_not_found() -> Self {
        Self::not_found(Resource::Cluster, "Cluster not found.")
    }

    /// The service does not exist.
    pub fn service_not_found() -> Self {
        Self::not_found(Resource::Service, "Service not found.")
    }

    /// The daemon does not exist.
    pub fn daemon_not_found() -> Self {
        Self::not_found(Resource::Daemon, "Daemon not found.")
    }

    /// The daemon exists but is being deleted.
    pub fn daemon_not_active() -> Self {
        ModelError::new(
            ErrorKind::NotActive(Resource::Daemon),
            "Daemon is not ACTIVE: it is being deleted.",
        )
        .into()
    }

    /// The service exists but is being deleted or was deleted.
    pub fn service_not_active() -> Self {
        ModelError::new(
            ErrorKind::NotActive(Resource::Service),
            "Service was not ACTIVE.",
        )
        .into()
    }

    /// A compare-and-swap on `what` (the cluster, the service, ...) lost to another request
    /// that changed it at the same time (ECS's ClientException).
    pub fn changed_meanwhile(what: &str) -> Self {
        Self::client(format!(
            "The {what} was changed by another request at the same time; retry the request."
        ))
    }

    /// The change conflicts with the resource's current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        ModelError::new(ErrorKind::Conflict, message).into()
    }

    /// Whether sending the same request again later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            ControlError::Model(e) => e.kind == ErrorKind::Server,
            ControlError::Contended(_) | ControlError::Store(_) => true,
            ControlError::ShuttingDown(_) => false,
        }
    }

    /// The service-neutral kind a wire mapping chooses its code by.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ControlError::Model(e) => e.kind,
            ControlError::Contended(_) => ErrorKind::Client,
            ControlError::Store(_) | ControlError::ShuttingDown(_) => ErrorKind::Server,
        }
    }
}

impl From<StoreError> for ControlError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store operation failed");
        ControlError::Store(e.to_string())
    }
}

/// Shorthand for control-plane results.
pub type Result<T, E = ControlError> = std::result::Result<T, E>;

//! The lifecycle of a service and of its deployments, as ordered enums with one owner.
//!
//! ```text
//! service:     ACTIVE ──DeleteService──► DRAINING ──its tasks stopped──► INACTIVE
//! deployment:  PRIMARY ──a newer one starts──► ACTIVE ──its tasks stopped──► INACTIVE
//! rollout:     IN_PROGRESS ──► COMPLETED | FAILED
//! ServiceDeployment.status:
//!              IN_PROGRESS ──► SUCCESSFUL
//!                          ──► STOPPED (replaced by a newer deployment, failed, aborted)
//!                          ──► ROLLBACK_IN_PROGRESS ──► ROLLBACK_SUCCESSFUL
//! ```
//!
//! A deployment's lifecycle fields are private: they change only through the transition
//! methods of [`Deployment`](super::Deployment) (`replace`, `fail`, `fail_and_roll_back`,
//! `complete`, `rollback_succeeded`, `retire`), each of which moves every field that
//! belongs to the step together. The stored and wire spelling of every value is ECS's.

use serde::{Deserialize, Serialize};

/// A service's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceStatus {
    Active,
    /// Deleted; its tasks are stopping.
    Draining,
    /// Deleted and without tasks; describable, and its name can be used again.
    Inactive,
}

/// A deployment's place in its service (`Deployment.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStatus {
    /// The deployment being rolled out: new tasks are of it.
    Primary,
    /// Replaced by a newer one; its tasks are being stopped.
    Active,
    /// Finished; kept in the history.
    Inactive,
}

/// `Deployment.rolloutState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutState {
    InProgress,
    Completed,
    Failed,
}

/// `ServiceDeployment.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceDeploymentStatus {
    Pending,
    InProgress,
    Successful,
    Stopped,
    StopRequested,
    RollbackRequested,
    RollbackInProgress,
    RollbackSuccessful,
    RollbackFailed,
}

macro_rules! wire_names {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            /// ECS's spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(<$t>::$v => $s,)*
                }
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_names!(ServiceStatus {
    Active => "ACTIVE",
    Draining => "DRAINING",
    Inactive => "INACTIVE",
});

wire_names!(DeploymentStatus {
    Primary => "PRIMARY",
    Active => "ACTIVE",
    Inactive => "INACTIVE",
});

wire_names!(RolloutState {
    InProgress => "IN_PROGRESS",
    Completed => "COMPLETED",
    Failed => "FAILED",
});

wire_names!(ServiceDeploymentStatus {
    Pending => "PENDING",
    InProgress => "IN_PROGRESS",
    Successful => "SUCCESSFUL",
    Stopped => "STOPPED",
    StopRequested => "STOP_REQUESTED",
    RollbackRequested => "ROLLBACK_REQUESTED",
    RollbackInProgress => "ROLLBACK_IN_PROGRESS",
    RollbackSuccessful => "ROLLBACK_SUCCESSFUL",
    RollbackFailed => "ROLLBACK_FAILED",
});

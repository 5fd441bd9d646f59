//! A service's deployments: what each runs and how far it got. Their lifecycle fields move
//! only through the transition methods in `lifecycle.rs`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    DeploymentConfiguration, DeploymentStatus, RolloutState, ServiceDeploymentStatus, Shift,
    StrategyConfig,
};
use crate::capacity_provider::StrategyItem;
use crate::timestamp;

/// A `Rollback` of a service deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    pub reason: String,
    #[serde(with = "timestamp")]
    pub started_at: DateTime<Utc>,
    pub service_revision_arn: String,
}

/// One deployment of a service: the `Deployment` of DescribeServices and the
/// `ServiceDeployment` of DescribeServiceDeployments are two views of it. Its lifecycle
/// fields move only through its transition methods (see `service/lifecycle.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// `ecs-svc/` and 19 digits; the `startedBy` of the deployment's tasks.
    pub id: String,
    pub(super) status: DeploymentStatus,
    pub task_definition: String,
    pub launch_type: String,
    /// The Fargate platform version the deployment runs (`LATEST` resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// The capacity provider strategy its tasks are placed with (empty: its launch type).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<StrategyItem>,
    pub desired_count: i64,
    pub failed_tasks: i64,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
    pub(super) rollout_state: RolloutState,
    pub(super) rollout_state_reason: String,
    pub service_deployment_arn: String,
    pub service_revision_arn: String,
    /// The revisions this deployment replaces.
    #[serde(default)]
    pub source_revisions: Vec<String>,
    pub(super) deployment_status: ServiceDeploymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) status_reason: Option<String>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) finished_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) stopped_at: Option<DateTime<Utc>>,
    pub deployment_configuration: DeploymentConfiguration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) rollback: Option<Rollback>,
    /// Its `strategy` and the strategy's settings.
    #[serde(default)]
    pub deployment_strategy: StrategyConfig,
    /// A blue/green, linear or canary deployment's progress (the controller moves it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift: Option<Shift>,
}

/// What a new deployment is made of; [`Deployment::start`] makes it the PRIMARY.
pub struct NewDeployment {
    pub id: String,
    pub task_definition: String,
    pub launch_type: String,
    pub platform_version: Option<String>,
    pub capacity_provider_strategy: Vec<StrategyItem>,
    pub desired_count: i64,
    pub service_deployment_arn: String,
    pub service_revision_arn: String,
    pub source_revisions: Vec<String>,
    pub deployment_configuration: DeploymentConfiguration,
    pub deployment_strategy: StrategyConfig,
    pub shift: Option<Shift>,
    /// Why it started (the rollout state reason).
    pub reason: String,
}

// === impl Deployment ===

impl Deployment {
    /// A new PRIMARY deployment, IN_PROGRESS.
    pub fn start(d: NewDeployment, now: DateTime<Utc>) -> Deployment {
        Deployment {
            id: d.id,
            status: DeploymentStatus::Primary,
            task_definition: d.task_definition,
            launch_type: d.launch_type,
            platform_version: d.platform_version,
            capacity_provider_strategy: d.capacity_provider_strategy,
            desired_count: d.desired_count,
            failed_tasks: 0,
            created_at: now,
            updated_at: now,
            rollout_state: RolloutState::InProgress,
            rollout_state_reason: d.reason,
            service_deployment_arn: d.service_deployment_arn,
            service_revision_arn: d.service_revision_arn,
            source_revisions: d.source_revisions,
            deployment_status: ServiceDeploymentStatus::InProgress,
            status_reason: None,
            finished_at: None,
            stopped_at: None,
            deployment_configuration: d.deployment_configuration,
            rollback: None,
            deployment_strategy: d.deployment_strategy,
            shift: d.shift,
        }
    }

    /// PRIMARY, ACTIVE (being replaced) or INACTIVE (finished, in the history).
    pub fn status(&self) -> DeploymentStatus {
        self.status
    }

    pub fn is_primary(&self) -> bool {
        self.status == DeploymentStatus::Primary
    }

    pub fn rollout_state(&self) -> RolloutState {
        self.rollout_state
    }

    pub fn rollout_state_reason(&self) -> &str {
        &self.rollout_state_reason
    }

    /// Whether its rollout is still going on (neither completed nor failed).
    pub fn in_progress(&self) -> bool {
        self.rollout_state == RolloutState::InProgress
    }

    pub fn deployment_status(&self) -> ServiceDeploymentStatus {
        self.deployment_status
    }

    pub fn status_reason(&self) -> Option<&str> {
        self.status_reason.as_deref()
    }

    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.finished_at
    }

    pub fn stopped_at(&self) -> Option<DateTime<Utc>> {
        self.stopped_at
    }

    pub fn rollback(&self) -> Option<&Rollback> {
        self.rollback.as_ref()
    }

    /// A newer deployment became the PRIMARY: this one is ACTIVE (its tasks are being
    /// replaced) and, if its rollout was still going on, STOPPED.
    pub fn replace(&mut self, now: DateTime<Utc>) {
        if self.status != DeploymentStatus::Primary {
            return;
        }
        self.status = DeploymentStatus::Active;
        self.updated_at = now;
        if matches!(
            self.deployment_status,
            ServiceDeploymentStatus::InProgress | ServiceDeploymentStatus::Pending
        ) {
            self.deployment_status = ServiceDeploymentStatus::Stopped;
            self.status_reason = Some("A new deployment of the service replaced it.".into());
            self.stopped_at = Some(now);
        }
    }

    /// A blue/green rollback: this deployment, replaced but still running its tasks and
    /// taking production traffic again, is the PRIMARY once more.
    pub fn restore(&mut self, now: DateTime<Utc>) {
        if self.status == DeploymentStatus::Active {
            self.status = DeploymentStatus::Primary;
            self.updated_at = now;
        }
    }

    /// The rollout failed (circuit breaker without rollback) or was aborted: FAILED with
    /// `reason`, and the service deployment STOPPED saying `status_reason`.
    pub fn fail(&mut self, reason: &str, status_reason: &str, now: DateTime<Utc>) {
        self.rollout_state = RolloutState::Failed;
        self.rollout_state_reason = reason.to_string();
        self.deployment_status = ServiceDeploymentStatus::Stopped;
        self.status_reason = Some(status_reason.to_string());
        self.stopped_at = Some(now);
        self.updated_at = now;
    }

    /// The rollout failed and the service rolls back to `revision`: FAILED, and the
    /// service deployment ROLLBACK_IN_PROGRESS until the deployment rolled back to
    /// completes.
    pub fn fail_and_roll_back(&mut self, reason: &str, revision: &str, now: DateTime<Utc>) {
        self.rollout_state = RolloutState::Failed;
        self.rollout_state_reason = reason.to_string();
        self.deployment_status = ServiceDeploymentStatus::RollbackInProgress;
        self.status_reason = Some(reason.to_string());
        self.updated_at = now;
        self.rollback = Some(Rollback {
            reason: reason.to_string(),
            started_at: now,
            service_revision_arn: revision.to_string(),
        });
    }

    /// The rollout reached its desired count, healthy: COMPLETED and SUCCESSFUL. False
    /// (and nothing changes) unless it was in progress.
    pub fn complete(&mut self, now: DateTime<Utc>) -> bool {
        if self.rollout_state != RolloutState::InProgress {
            return false;
        }
        self.rollout_state = RolloutState::Completed;
        self.rollout_state_reason = format!("ECS deployment {} completed.", self.id);
        self.deployment_status = ServiceDeploymentStatus::Successful;
        self.finished_at = Some(now);
        self.updated_at = now;
        true
    }

    /// The deployment this one rolled back to completed.
    pub fn rollback_succeeded(&mut self, now: DateTime<Utc>) {
        if self.deployment_status == ServiceDeploymentStatus::RollbackInProgress {
            self.deployment_status = ServiceDeploymentStatus::RollbackSuccessful;
            self.finished_at = Some(now);
        }
    }

    /// Its tasks have all stopped: INACTIVE, into the history.
    pub(super) fn retire(&mut self, now: DateTime<Utc>) {
        self.status = DeploymentStatus::Inactive;
        self.updated_at = now;
        self.finished_at.get_or_insert(now);
    }
}

//! ECS managed daemons: a daemon runs exactly one daemon task on each container instance
//! of its capacity providers. This module holds the stored daemon (its configuration,
//! its revisions and its deployments), the deployment configuration with AWS's bounds,
//! the ARN forms, and name validation; daemon task definitions are in
//! [`task_definition`]. Pure types and functions: the control plane mints ids and times.

pub mod task_definition;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::tag::Tag;
use crate::timestamp;
use crate::{ModelError, Scope};

/// The most deployments a daemon keeps (the newest); older ones are forgotten with the
/// revisions only they named.
pub const KEPT_DEPLOYMENTS: usize = 25;

/// `daemonName`: up to 255 letters, numbers, underscores and hyphens.
pub fn validate_name(name: &str) -> Result<(), ModelError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ModelError::invalid(format!(
            "daemonName '{name}' is invalid: up to 255 letters (uppercase and lowercase), \
             numbers, underscores, and hyphens are allowed."
        )))
    }
}

/// `clientToken`: up to 36 ASCII characters in 33-126.
pub fn validate_client_token(token: &str) -> Result<(), ModelError> {
    if token.is_empty() || token.len() > 36 || !token.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(ModelError::invalid(
            "clientToken is invalid: up to 36 ASCII characters in the range 33-126 are allowed.",
        ));
    }
    Ok(())
}

/// The ARN of daemon `name` in `cluster`.
pub fn arn(scope: &Scope, cluster: &str, name: &str) -> String {
    scope
        .arn("ecs", format!("daemon/{cluster}/{name}"))
        .to_string()
}

/// The ARN of a daemon's deployment `id`.
pub fn deployment_arn(scope: &Scope, cluster: &str, name: &str, id: &str) -> String {
    (scope.arn("ecs", format!("daemon-deployment/{cluster}/{name}/{id}"))).to_string()
}

/// The ARN of a daemon's revision `id`.
pub fn revision_arn(scope: &Scope, cluster: &str, name: &str, id: &str) -> String {
    (scope.arn("ecs", format!("daemon-revision/{cluster}/{name}/{id}"))).to_string()
}

/// What a daemon, daemon deployment or daemon revision ARN names: (cluster, daemon name,
/// id), the id empty for a daemon ARN. `kind` is the ARN's resource type.
pub fn parse_arn(
    arn: &str,
    kind: &str,
    scope: &Scope,
) -> Result<(String, String, String), ModelError> {
    let bad = || {
        ModelError::invalid(format!(
            "'{arn}' is not a valid {kind} ARN ({kind}/CLUSTER/NAME{}).",
            if kind == "daemon" { "" } else { "/ID" }
        ))
    };
    let parsed = crate::Arn::parse(arn)
        .filter(|a| a.service == "ecs")
        .ok_or_else(bad)?;
    parsed.within(scope)?;
    let (k, rest) = parsed.resource_parts();
    if k != kind {
        return Err(bad());
    }
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [cluster, name] if kind == "daemon" && !cluster.is_empty() && !name.is_empty() => {
            Ok((cluster.to_string(), name.to_string(), String::new()))
        }
        [cluster, name, id] if kind != "daemon" && !cluster.is_empty() && !id.is_empty() => {
            Ok((cluster.to_string(), name.to_string(), id.to_string()))
        }
        _ => Err(bad()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DaemonStatus {
    Active,
    DeleteInProgress,
}

/// `DaemonDeploymentStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStatus {
    Pending,
    InProgress,
    Successful,
    StopRequested,
    Stopped,
    RollbackInProgress,
    RollbackSuccessful,
    RollbackFailed,
}

impl DeploymentStatus {
    pub const ALL: &'static [&'static str] = &[
        "PENDING",
        "SUCCESSFUL",
        "STOPPED",
        "STOP_REQUESTED",
        "IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_SUCCESSFUL",
        "ROLLBACK_FAILED",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::InProgress => "IN_PROGRESS",
            Self::Successful => "SUCCESSFUL",
            Self::StopRequested => "STOP_REQUESTED",
            Self::Stopped => "STOPPED",
            Self::RollbackInProgress => "ROLLBACK_IN_PROGRESS",
            Self::RollbackSuccessful => "ROLLBACK_SUCCESSFUL",
            Self::RollbackFailed => "ROLLBACK_FAILED",
        }
    }

    /// Whether the deployment is still moving.
    pub fn live(self) -> bool {
        matches!(
            self,
            Self::Pending | Self::InProgress | Self::StopRequested | Self::RollbackInProgress
        )
    }
}

/// `DaemonAlarmConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmConfiguration {
    #[serde(default)]
    pub alarm_names: Vec<String>,
    #[serde(default)]
    pub enable: bool,
}

/// `DaemonDeploymentConfiguration`, with AWS's defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfiguration {
    pub drain_percent: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<AlarmConfiguration>,
    pub bake_time_in_minutes: i64,
}

/// The drain percentage a deployment uses when none is given.
pub const DEFAULT_DRAIN_PERCENT: f64 = 25.0;

impl Default for DeploymentConfiguration {
    fn default() -> Self {
        DeploymentConfiguration {
            drain_percent: DEFAULT_DRAIN_PERCENT,
            alarms: None,
            bake_time_in_minutes: 0,
        }
    }
}

/// The `deploymentConfiguration` a request gives.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfigurationInput {
    pub drain_percent: Option<f64>,
    pub alarms: Option<AlarmConfiguration>,
    pub bake_time_in_minutes: Option<i64>,
}

impl DeploymentConfiguration {
    /// `input` over `self`, within the model's bounds.
    pub fn merged(&self, input: &DeploymentConfigurationInput) -> Result<Self, ModelError> {
        let drain = input.drain_percent.unwrap_or(self.drain_percent);
        if !(0.0..=100.0).contains(&drain) {
            return Err(ModelError::invalid(format!(
                "deploymentConfiguration.drainPercent {drain} is invalid: use a value between \
                 0.0 and 100.0."
            )));
        }
        let bake = input
            .bake_time_in_minutes
            .unwrap_or(self.bake_time_in_minutes);
        if bake < 0 {
            return Err(ModelError::invalid(
                "deploymentConfiguration.bakeTimeInMinutes must not be negative.",
            ));
        }
        let alarms = input.alarms.clone().or_else(|| self.alarms.clone());
        if let Some(a) = alarms.as_ref().filter(|a| a.enable) {
            if a.alarm_names.is_empty() {
                return Err(ModelError::invalid(
                    "deploymentConfiguration.alarms.alarmNames must name an alarm when enable \
                     is true.",
                ));
            }
        }
        Ok(DeploymentConfiguration {
            drain_percent: drain,
            alarms,
            bake_time_in_minutes: bake,
        })
    }

    /// How many of `instances` daemon tasks may be replaced at once: `drainPercent` of
    /// them, rounded down, but at least one (a deployment always moves).
    pub fn at_once(&self, instances: i64) -> i64 {
        ((instances as f64 * self.drain_percent / 100.0).floor() as i64).max(1)
    }
}

/// `DaemonContainerImage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    pub container_name: String,
    pub image: String,
}

/// A daemon revision: the daemon's configuration when a deployment started (immutable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    pub id: String,
    pub daemon_task_definition_arn: String,
    pub capacity_providers: Vec<String>,
    pub container_images: Vec<ContainerImage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<String>,
    pub enable_ecs_managed_tags: bool,
    pub enable_execute_command: bool,
    pub critical: bool,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
}

/// One daemon deployment: from the revisions it replaces to its target (none for the
/// deployment DeleteDaemon starts, which only drains).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub status: DeploymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_revision: Option<String>,
    #[serde(default)]
    pub source_revisions: Vec<String>,
    pub deployment_configuration: DeploymentConfiguration,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<DateTime<Utc>>,
    /// When every instance first ran the target: the bake time counts from here.
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub settled_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub stopped_at: Option<DateTime<Utc>>,
}

impl Deployment {
    /// A new PENDING deployment.
    pub fn new(
        id: String,
        target: Option<String>,
        sources: Vec<String>,
        config: DeploymentConfiguration,
        now: DateTime<Utc>,
    ) -> Self {
        Deployment {
            id,
            status: DeploymentStatus::Pending,
            status_reason: None,
            target_revision: target,
            source_revisions: sources,
            deployment_configuration: config,
            created_at: now,
            started_at: None,
            settled_at: None,
            finished_at: None,
            stopped_at: None,
        }
    }
}

/// A daemon as stored: `/ecs/daemons/{region}/{cluster}/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonRecord {
    pub daemon_arn: String,
    pub daemon_name: String,
    pub cluster_arn: String,
    pub status: DaemonStatus,
    pub deployment_configuration: DeploymentConfiguration,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Revisions named by a kept deployment, oldest first.
    pub revisions: Vec<Revision>,
    /// Deployments, oldest first; the last is the current one.
    pub deployments: Vec<Deployment>,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

impl Record for DaemonRecord {
    const KIND: &'static str = "daemon";
    const VERSION: u32 = 1;
}

impl DaemonRecord {
    /// The cluster's name (the last part of its ARN).
    pub fn cluster(&self) -> &str {
        self.cluster_arn.rsplit('/').next().unwrap_or("")
    }

    pub fn current(&self) -> Option<&Deployment> {
        self.deployments.last()
    }

    pub fn current_mut(&mut self) -> Option<&mut Deployment> {
        self.deployments.last_mut()
    }

    pub fn revision(&self, id: &str) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.id == id)
    }

    /// The revision the current deployment brings (none while deleting).
    pub fn target(&self) -> Option<&Revision> {
        self.current()
            .and_then(|d| d.target_revision.as_deref())
            .and_then(|id| self.revision(id))
    }

    pub fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.id == id)
    }

    /// Start `deployment` (bringing `revision`, if any): the deployment it replaces, if
    /// still moving, is STOPPED; deployments beyond [`KEPT_DEPLOYMENTS`] are forgotten
    /// with the revisions no kept deployment names.
    pub fn start(
        &mut self,
        revision: Option<Revision>,
        deployment: Deployment,
        now: DateTime<Utc>,
    ) {
        if let Some(d) = self.current_mut().filter(|d| d.status.live()) {
            d.status = DeploymentStatus::Stopped;
            d.status_reason = Some("A newer daemon deployment replaced this one.".into());
            d.stopped_at = Some(now);
        }
        self.revisions.extend(revision);
        self.deployments.push(deployment);
        let excess = self.deployments.len().saturating_sub(KEPT_DEPLOYMENTS);
        self.deployments.drain(..excess);
        let named = |id: &str| {
            self.deployments.iter().any(|d| {
                d.target_revision.as_deref() == Some(id)
                    || d.source_revisions.iter().any(|s| s == id)
            })
        };
        let kept: Vec<Revision> = self
            .revisions
            .iter()
            .filter(|r| named(&r.id))
            .cloned()
            .collect();
        self.revisions = kept;
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests;

//! ECS services: the stored record (configuration, live deployments, recent events and the
//! service-deployment history), the deployment rules that are pure arithmetic, and the
//! validation AWS applies to a service's parameters.
//!
//! One record per service holds everything the API shows about it except the task counts,
//! which are derived from the tasks themselves. The API writes the configuration; the
//! service controller writes deployments and events; both compare-and-swap the record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::capacity_provider::StrategyItem;
use crate::error::{ModelError, Result};
use crate::record::Record;
use crate::tag::Tag;
use crate::timestamp;

mod deployment;
pub mod express;
pub mod launch;
mod lifecycle;
pub mod strategy;
pub mod task_set;

pub use deployment::{Deployment, NewDeployment, Rollback};
pub use lifecycle::{DeploymentStatus, RolloutState, ServiceDeploymentStatus, ServiceStatus};
pub use strategy::{AdvancedConfiguration, LifecycleStage, Shift, Strategy, StrategyConfig};
pub use task_set::{DeploymentController, TaskSet};

pub const REPLICA: &str = "REPLICA";
pub const DAEMON: &str = "DAEMON";

/// How many events a service keeps (ECS shows the last 100).
pub const MAX_EVENTS: usize = 100;
/// How many finished service deployments a service keeps for ListServiceDeployments.
pub const MAX_HISTORY: usize = 25;

/// `deploymentCircuitBreaker`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreaker {
    #[serde(default)]
    pub enable: bool,
    #[serde(default)]
    pub rollback: bool,
}

/// `deploymentConfiguration` with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfiguration {
    pub deployment_circuit_breaker: CircuitBreaker,
    pub maximum_percent: i64,
    pub minimum_healthy_percent: i64,
}

/// The part of a `deploymentConfiguration` a request gives.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfigurationInput {
    pub deployment_circuit_breaker: Option<CircuitBreaker>,
    pub maximum_percent: Option<i64>,
    pub minimum_healthy_percent: Option<i64>,
    /// `strategy` and its settings (see `service/strategy.rs`).
    #[serde(flatten)]
    pub strategy: strategy::StrategyInput,
}

impl DeploymentConfiguration {
    /// The AWS defaults: 100/200 for REPLICA, 0/100 for DAEMON, circuit breaker off.
    pub fn default_for(strategy: &str) -> Self {
        let (min, max) = if strategy == DAEMON {
            (0, 100)
        } else {
            (100, 200)
        };
        DeploymentConfiguration {
            deployment_circuit_breaker: CircuitBreaker::default(),
            maximum_percent: max,
            minimum_healthy_percent: min,
        }
    }

    /// `input` over `self`, validated for a service of `strategy`.
    pub fn merged(&self, input: &DeploymentConfigurationInput, strategy: &str) -> Result<Self> {
        let out = DeploymentConfiguration {
            deployment_circuit_breaker: input
                .deployment_circuit_breaker
                .unwrap_or(self.deployment_circuit_breaker),
            maximum_percent: input.maximum_percent.unwrap_or(self.maximum_percent),
            minimum_healthy_percent: input
                .minimum_healthy_percent
                .unwrap_or(self.minimum_healthy_percent),
        };
        out.validate(strategy)?;
        Ok(out)
    }

    pub fn validate(&self, strategy: &str) -> Result<()> {
        let (min, max) = (self.minimum_healthy_percent, self.maximum_percent);
        if !(0..=100).contains(&min) {
            return Err(ModelError::invalid(format!(
                "deploymentConfiguration.minimumHealthyPercent must be between 0 and 100; got \
                 {min}."
            )));
        }
        if strategy == DAEMON {
            if max != 100 {
                return Err(ModelError::invalid(format!(
                    "deploymentConfiguration.maximumPercent of a DAEMON service must be 100; \
                     got {max}."
                )));
            }
            return Ok(());
        }
        if !(100..=2000).contains(&max) {
            return Err(ModelError::invalid(format!(
                "deploymentConfiguration.maximumPercent must be between 100 and 2000; got \
                 {max}."
            )));
        }
        if max == 100 && min == 100 {
            return Err(ModelError::invalid(
                "deploymentConfiguration: with maximumPercent 100, minimumHealthyPercent must be \
                 below 100, or no task could ever be replaced.",
            ));
        }
        Ok(())
    }
}

/// The failed-task count at which the circuit breaker fails a deployment of `desired`
/// tasks: half the desired count, at least 10 and at most 200.
pub fn circuit_breaker_threshold(desired: i64) -> i64 {
    (desired.saturating_add(1) / 2).clamp(10, 200)
}

/// How many tasks may run at once during a deployment of `desired` tasks, and how many
/// must stay healthy: `floor(desired × max%)` and `ceil(desired × min%)`.
pub fn deployment_bounds(desired: i64, c: &DeploymentConfiguration) -> (i64, i64) {
    // Saturating: a count stored before the API bounded it cannot overflow.
    let max = desired.saturating_mul(c.maximum_percent) / 100;
    let min = desired
        .saturating_mul(c.minimum_healthy_percent)
        .saturating_add(99)
        / 100;
    (max.max(desired.min(1)), min)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacementConstraint {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacementStrategy {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `loadBalancers` entry: stored and validated here, acted on by the load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i64>,
    /// Blue/green, linear and canary deployments: the alternate target group and the
    /// listener rules whose weights shift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_configuration: Option<AdvancedConfiguration>,
}

/// `serviceRegistries` entry: stored and validated here, acted on by service discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRegistry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i64>,
}

/// `ServiceEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEvent {
    pub id: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    pub message: String,
}

/// ECS `NetworkConfiguration` of a service (stored and shown; tasks do not use it yet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awsvpc_configuration: Option<AwsVpcConfiguration>,
}

/// ECS `AwsVpcConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsVpcConfiguration {
    #[serde(default)]
    pub subnets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<String>,
}

/// A service revision: what one deployment runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRevision {
    pub service_revision_arn: String,
    pub task_definition: String,
    pub launch_type: String,
    /// The capacity provider strategy its tasks are placed with (empty: its launch type).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<StrategyItem>,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    pub service_registries: Vec<ServiceRegistry>,
    #[serde(default)]
    pub container_images: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateway_connectors: Vec<crate::gateway::GatewayConnector>,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
}

/// The stored service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRecord {
    pub service_arn: String,
    pub service_name: String,
    pub cluster_arn: String,
    pub status: ServiceStatus,
    pub desired_count: i64,
    pub launch_type: String,
    /// A Fargate service's platform version as given (`LATEST` when none was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// The `role` given for the service's load balancers, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The capacity provider strategy its tasks are placed with (empty: its launch type).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<StrategyItem>,
    pub task_definition: String,
    pub scheduling_strategy: String,
    pub deployment_configuration: DeploymentConfiguration,
    #[serde(default)]
    pub placement_constraints: Vec<PlacementConstraint>,
    #[serde(default)]
    pub placement_strategy: Vec<PlacementStrategy>,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    pub service_registries: Vec<ServiceRegistry>,
    /// `gatewayConnectors`: at most one; the gateway controller makes each a route on
    /// every gateway associated with the service's cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateway_connectors: Vec<crate::gateway::GatewayConnector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfiguration>,
    pub propagate_tags: String,
    pub enable_ecs_managed_tags: bool,
    pub enable_execute_command: bool,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Live deployments, the PRIMARY first.
    pub deployments: Vec<Deployment>,
    /// Finished deployments, newest first, at most [`MAX_HISTORY`].
    #[serde(default)]
    pub history: Vec<Deployment>,
    /// Revisions of the live and remembered deployments.
    #[serde(default)]
    pub revisions: Vec<ServiceRevision>,
    /// Newest first, at most [`MAX_EVENTS`].
    #[serde(default)]
    pub events: Vec<ServiceEvent>,
    /// Whether the controller last found the service in a steady state (it says so in an
    /// event when it gets there).
    #[serde(default)]
    pub steady: bool,
    /// Who deploys it: ECS's rolling update (its `deployments`) or the user (EXTERNAL,
    /// with `task_sets`).
    #[serde(default)]
    pub deployment_controller: DeploymentController,
    /// The task sets of an EXTERNAL service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub task_sets: Vec<TaskSet>,
    /// `deploymentConfiguration.strategy` and its settings.
    #[serde(default)]
    pub deployment_strategy: StrategyConfig,
    /// What CreateExpressGatewayService made this service with (an express service only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub express: Option<Box<express::Express>>,
}

impl Record for ServiceRecord {
    const KIND: &'static str = "service";
    const VERSION: u32 = 1;
}

impl ServiceRecord {
    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.is_primary())
    }

    pub fn primary_mut(&mut self) -> Option<&mut Deployment> {
        self.deployments.iter_mut().find(|d| d.is_primary())
    }

    pub fn is_daemon(&self) -> bool {
        self.scheduling_strategy == DAEMON
    }

    /// Whether the user deploys it with task sets (the EXTERNAL deployment controller).
    pub fn is_external(&self) -> bool {
        self.deployment_controller == DeploymentController::External
    }

    /// The task set `id` (an id or ARN) names.
    pub fn task_set(&self, id: &str) -> Option<&TaskSet> {
        self.task_sets.iter().find(|t| t.is(id))
    }

    /// Whether a task started by `started_by` is one of the service's: of a live
    /// deployment or of a task set.
    pub fn owns(&self, started_by: &str) -> bool {
        self.deployments.iter().any(|d| d.id == started_by)
            || self.task_sets.iter().any(|t| t.id == started_by)
    }

    /// Add an event (newest first), keeping the last [`MAX_EVENTS`].
    pub fn push_event(&mut self, message: String, now: DateTime<Utc>) {
        self.events.insert(
            0,
            ServiceEvent {
                id: uuid::Uuid::new_v4().to_string(),
                created_at: now,
                message,
            },
        );
        self.events.truncate(MAX_EVENTS);
    }

    /// The deployment (live or remembered) with this id or service-deployment ARN.
    pub fn deployment(&self, id_or_arn: &str) -> Option<&Deployment> {
        self.deployments
            .iter()
            .chain(self.history.iter())
            .find(|d| d.id == id_or_arn || d.service_deployment_arn == id_or_arn)
    }

    /// Move a live deployment into the history as INACTIVE, forgetting revisions no
    /// deployment refers to any more.
    pub fn retire(&mut self, id: &str, now: DateTime<Utc>) {
        let Some(i) = self.deployments.iter().position(|d| d.id == id) else {
            return;
        };
        let mut d = self.deployments.remove(i);
        d.retire(now);
        self.history.insert(0, d);
        self.history.truncate(MAX_HISTORY);
        let used: Vec<String> = self
            .deployments
            .iter()
            .chain(self.history.iter())
            .map(|d| d.service_revision_arn.clone())
            .collect();
        self.revisions
            .retain(|r| used.contains(&r.service_revision_arn));
    }

    /// The newest deployment other than the primary that completed: what a rollback
    /// returns to.
    pub fn last_completed(&self) -> Option<&Deployment> {
        self.deployments
            .iter()
            .filter(|d| !d.is_primary())
            .chain(self.history.iter())
            .filter(|d| d.rollout_state == RolloutState::Completed)
            .max_by_key(|d| d.created_at)
    }
}

/// A new deployment id: `ecs-svc/` and 19 digits.
pub fn new_deployment_id() -> String {
    let n = u64::from_le_bytes(
        uuid::Uuid::new_v4().as_bytes()[..8]
            .try_into()
            .unwrap_or([0; 8]),
    );
    format!("ecs-svc/{:019}", n % 10_000_000_000_000_000_000)
}

/// A new id for a service deployment or revision ARN: 22 letters and digits.
pub fn new_resource_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..22].to_string()
}

/// Check a service name: up to 255 letters, numbers, underscores and hyphens.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ModelError::invalid(format!(
            "Service name '{name}' is invalid: up to 255 letters (uppercase and lowercase), \
             numbers, underscores, and hyphens are allowed."
        )))
    }
}

/// Check the `loadBalancers` of a service.
pub fn validate_load_balancers(lbs: &[LoadBalancer]) -> Result<()> {
    for lb in lbs {
        if lb.target_group_arn.is_none() && lb.load_balancer_name.is_none() {
            return Err(ModelError::invalid(
                "loadBalancers: each entry needs a targetGroupArn (or a loadBalancerName).",
            ));
        }
        if let Some(arn) = &lb.target_group_arn {
            if !arn.starts_with("arn:") || !arn.contains(":targetgroup/") {
                return Err(ModelError::invalid(format!(
                    "loadBalancers: '{arn}' is not a target group ARN."
                )));
            }
        }
        if lb.container_name.as_deref().unwrap_or("").is_empty() {
            return Err(ModelError::invalid(
                "loadBalancers: each entry needs a containerName.",
            ));
        }
        match lb.container_port {
            Some(p) if (1..=65535).contains(&p) => {}
            _ => {
                return Err(ModelError::invalid(
                    "loadBalancers: each entry needs a containerPort between 1 and 65535.",
                ))
            }
        }
    }
    Ok(())
}

/// Check a `networkConfiguration` (of CreateService, UpdateService, RunTask) as ECS does:
/// the subnets of an `awsvpcConfiguration` may not be empty (AWS's own sentence), at most
/// 16 subnets and 5 security groups, `assignPublicIp` ENABLED or DISABLED.
pub fn validate_network_configuration(n: &NetworkConfiguration) -> Result<()> {
    let Some(vpc) = &n.awsvpc_configuration else {
        return Ok(());
    };
    if vpc.subnets.is_empty() {
        return Err(ModelError::invalid("subnets can not be empty."));
    }
    if vpc.subnets.len() > 16 {
        return Err(ModelError::invalid(format!(
            "awsvpcConfiguration: at most 16 subnets can be given; got {}.",
            vpc.subnets.len()
        )));
    }
    if vpc.security_groups.len() > 5 {
        return Err(ModelError::invalid(format!(
            "awsvpcConfiguration: at most 5 security groups can be given; got {}.",
            vpc.security_groups.len()
        )));
    }
    match vpc.assign_public_ip.as_deref() {
        None | Some("ENABLED" | "DISABLED") => Ok(()),
        Some(other) => Err(ModelError::invalid(format!(
            "assignPublicIp '{other}' is invalid: use ENABLED or DISABLED."
        ))),
    }
}

/// Check the `serviceRegistries` of a service.
pub fn validate_service_registries(regs: &[ServiceRegistry]) -> Result<()> {
    if regs.len() > 1 {
        return Err(ModelError::invalid(
            "serviceRegistries can name at most one registry.",
        ));
    }
    for r in regs {
        match &r.registry_arn {
            Some(a) if a.starts_with("arn:") && a.contains(":service/") => {}
            other => {
                return Err(ModelError::invalid(format!(
                    "serviceRegistries: '{}' is not a Cloud Map service ARN.",
                    other.as_deref().unwrap_or("")
                )))
            }
        }
        for p in [r.port, r.container_port].into_iter().flatten() {
            if !(1..=65535).contains(&p) {
                return Err(ModelError::invalid(format!(
                    "serviceRegistries: port {p} is out of range 1-65535."
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_is_half_the_desired_count_clamped() {
        assert_eq!(circuit_breaker_threshold(1), 10);
        assert_eq!(circuit_breaker_threshold(3), 10);
        assert_eq!(circuit_breaker_threshold(25), 13);
        assert_eq!(circuit_breaker_threshold(1000), 200);
    }

    #[test]
    fn bounds_follow_the_percentages() {
        let c = DeploymentConfiguration {
            deployment_circuit_breaker: CircuitBreaker::default(),
            maximum_percent: 200,
            minimum_healthy_percent: 50,
        };
        assert_eq!(deployment_bounds(3, &c), (6, 2));
        assert_eq!(deployment_bounds(0, &c), (0, 0));
        let d = DeploymentConfiguration::default_for(REPLICA);
        assert_eq!(deployment_bounds(10, &d), (20, 10));
        let tight = DeploymentConfiguration {
            maximum_percent: 100,
            minimum_healthy_percent: 0,
            ..d
        };
        assert_eq!(deployment_bounds(1, &tight), (1, 0));
    }

    #[test]
    fn configuration_is_validated_per_strategy() {
        let base = DeploymentConfiguration::default_for(REPLICA);
        let bad_min = DeploymentConfigurationInput {
            minimum_healthy_percent: Some(-1),
            ..Default::default()
        };
        assert!(base.merged(&bad_min, REPLICA).is_err());
        let bad_max = DeploymentConfigurationInput {
            maximum_percent: Some(50),
            ..Default::default()
        };
        assert!(base.merged(&bad_max, REPLICA).is_err());
        let daemon = DeploymentConfiguration::default_for(DAEMON);
        assert_eq!(
            daemon.merged(&Default::default(), DAEMON),
            Ok(daemon.clone())
        );
        let daemon_max = DeploymentConfigurationInput {
            maximum_percent: Some(200),
            ..Default::default()
        };
        assert!(daemon.merged(&daemon_max, DAEMON).is_err());
    }

    #[test]
    fn deployment_ids_look_like_ecs() {
        let id = new_deployment_id();
        assert!(id.starts_with("ecs-svc/"));
        assert_eq!(id.len(), 8 + 19);
        assert!(id[8..].chars().all(|c| c.is_ascii_digit()));
    }
}

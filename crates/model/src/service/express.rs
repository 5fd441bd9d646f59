//! Express services (CreateExpressGatewayService and its siblings): what an ECS service
//! made by one call remembers of the call — the infrastructure made for it (a load
//! balancer, its listener and target group), its endpoint, and one configuration per
//! service revision — and the checks of the request's parts against the API's rules.
//!
//! The configuration is stored in the shape the wire shows it
//! (`ExpressGatewayServiceConfiguration`), with AWS's defaults filled in, so describing
//! an express service is reading its record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::task_definition::{KeyValuePair, Secret};
use crate::timestamp;

/// The container port an express service's load balancer forwards to unless told.
pub const DEFAULT_PORT: i64 = 80;
/// The path the load balancer's health check asks unless told.
pub const DEFAULT_HEALTH_CHECK_PATH: &str = "/ping";
/// Task CPU units and memory (MiB) unless told.
pub const DEFAULT_CPU: &str = "256";
pub const DEFAULT_MEMORY: &str = "512";
/// The scaling target unless told: CPU at 60 %, between 1 and 20 tasks.
pub const DEFAULT_MIN_TASKS: i64 = 1;
pub const DEFAULT_MAX_TASKS: i64 = 20;
pub const DEFAULT_METRIC: &str = "AVERAGE_CPU";
pub const DEFAULT_TARGET_VALUE: i64 = 60;
/// The container an express service's task definition runs and its load balancer
/// forwards to (a task definition given by the user must have it too).
pub const MAIN_CONTAINER: &str = "Main";
/// `ExpressGatewayServiceScalingMetric`.
pub const METRICS: &[&str] = &["AVERAGE_CPU", "AVERAGE_MEMORY", "REQUEST_COUNT_PER_TARGET"];
/// `ExpressCpuArchitecture`.
pub const ARCHITECTURES: &[&str] = &["X86_64", "ARM64"];

/// `ExpressGatewayServiceAwsLogsConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsLogs {
    #[serde(default)]
    pub log_group: String,
    #[serde(default)]
    pub log_stream_prefix: String,
}

/// `ExpressGatewayRepositoryCredentials`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryCredentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_parameter: Option<String>,
}

/// `ExpressGatewayContainer`: the one container that serves the traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default)]
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_logs_configuration: Option<AwsLogs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_credentials: Option<RepositoryCredentials>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Vec<KeyValuePair>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<Secret>>,
}

impl Container {
    /// The port the load balancer forwards to.
    pub fn port(&self) -> i64 {
        self.container_port.unwrap_or(DEFAULT_PORT)
    }

    /// The checks of the API: an image, a port in 1-65535, complete log, secret and
    /// environment entries.
    pub fn validate(&self) -> Result<()> {
        if self.image.trim().is_empty() {
            return Err(invalid("primaryContainer.image is required."));
        }
        if !(1..=65535).contains(&self.port()) {
            return Err(invalid(format!(
                "primaryContainer.containerPort must be between 1 and 65535; got {}.",
                self.port()
            )));
        }
        if let Some(l) = &self.aws_logs_configuration {
            if l.log_group.is_empty() || l.log_stream_prefix.is_empty() {
                return Err(invalid(
                    "awsLogsConfiguration needs both logGroup and logStreamPrefix.",
                ));
            }
        }
        for s in self.secrets.iter().flatten() {
            if s.name.is_empty() || s.value_from.is_empty() {
                return Err(invalid("Each secret needs a name and a valueFrom."));
            }
        }
        for e in self.environment.iter().flatten() {
            if e.name.as_deref().unwrap_or("").is_empty() {
                return Err(invalid("Each environment variable needs a name."));
            }
        }
        Ok(())
    }
}

/// `ExpressGatewayServiceNetworkConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<String>>,
}

impl Network {
    /// AWS's limits of an awsvpc configuration: at most 16 subnets and 5 security groups.
    pub fn validate(&self) -> Result<()> {
        if self.subnets.as_ref().is_some_and(|s| s.len() > 16) {
            return Err(invalid(
                "networkConfiguration.subnets can hold at most 16 subnets.",
            ));
        }
        if self.security_groups.as_ref().is_some_and(|s| s.len() > 5) {
            return Err(invalid(
                "networkConfiguration.securityGroups can hold at most 5 security groups.",
            ));
        }
        Ok(())
    }
}

/// `ExpressGatewayScalingTarget`, stored with every default filled in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scaling {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_task_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_task_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling_metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling_target_value: Option<i64>,
}

impl Scaling {
    /// This target with what `over` gives in place of its fields, defaults for the rest.
    pub fn merged(&self, over: Option<&Scaling>) -> Scaling {
        let o = over.cloned().unwrap_or_default();
        Scaling {
            min_task_count: o
                .min_task_count
                .or(self.min_task_count)
                .or(Some(DEFAULT_MIN_TASKS)),
            max_task_count: o
                .max_task_count
                .or(self.max_task_count)
                .or(Some(DEFAULT_MAX_TASKS)),
            auto_scaling_metric: o
                .auto_scaling_metric
                .or_else(|| self.auto_scaling_metric.clone())
                .or_else(|| Some(DEFAULT_METRIC.into())),
            auto_scaling_target_value: o
                .auto_scaling_target_value
                .or(self.auto_scaling_target_value)
                .or(Some(DEFAULT_TARGET_VALUE)),
        }
    }

    pub fn min(&self) -> i64 {
        self.min_task_count.unwrap_or(DEFAULT_MIN_TASKS)
    }

    pub fn max(&self) -> i64 {
        self.max_task_count.unwrap_or(DEFAULT_MAX_TASKS)
    }

    pub fn metric(&self) -> &str {
        self.auto_scaling_metric
            .as_deref()
            .unwrap_or(DEFAULT_METRIC)
    }

    pub fn target_value(&self) -> i64 {
        self.auto_scaling_target_value
            .unwrap_or(DEFAULT_TARGET_VALUE)
    }

    /// A merged target: counts 0 ≤ min ≤ max (max at least 1), a metric of the enum, a
    /// positive target value (a utilisation at most 100).
    pub fn validate(&self) -> Result<()> {
        let (min, max) = (self.min(), self.max());
        if min < 0 || max < 1 || min > max || max > i64::from(i32::MAX) {
            return Err(invalid(format!(
                "scalingTarget needs 0 <= minTaskCount <= maxTaskCount and maxTaskCount >= 1; \
                 got minTaskCount {min} and maxTaskCount {max}."
            )));
        }
        let metric = self.metric();
        if !METRICS.contains(&metric) {
            return Err(invalid(format!(
                "autoScalingMetric '{metric}' is invalid: use {}.",
                METRICS.join(", ")
            )));
        }
        let value = self.target_value();
        let utilisation = metric != "REQUEST_COUNT_PER_TARGET";
        if value < 1 || (utilisation && value > 100) || value > i64::from(i32::MAX) {
            return Err(invalid(format!(
                "autoScalingTargetValue {value} is out of range for {metric}{}.",
                if utilisation { " (1-100)" } else { "" }
            )));
        }
        Ok(())
    }
}

/// `ExpressGatewayServiceConfiguration`: what one service revision of an express service
/// runs, defaults filled in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    /// Empty until the revision's deployment starts (then stamped in the same write).
    #[serde(default)]
    pub service_revision_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    pub task_definition_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<Network>,
    pub health_check_path: String,
    /// `None` when the user gave the task definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_container: Option<Container>,
    pub scaling_target: Scaling,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
}

/// Check a health check path: it starts with `/` and is at most 1024 characters (the
/// target group's limit).
pub fn validate_health_check_path(path: &str) -> Result<()> {
    if !path.starts_with('/') || path.len() > 1024 {
        return Err(invalid(format!(
            "healthCheckPath '{path}' must start with '/' and be at most 1024 characters."
        )));
    }
    Ok(())
}

/// Check a CPU architecture against `ExpressCpuArchitecture`.
pub fn validate_architecture(arch: &str) -> Result<()> {
    if !ARCHITECTURES.contains(&arch) {
        return Err(invalid(format!(
            "cpuArchitecture '{arch}' is invalid: use X86_64 or ARM64."
        )));
    }
    Ok(())
}

/// What an ECS service made by CreateExpressGatewayService carries besides the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Express {
    pub infrastructure_role_arn: String,
    pub load_balancer_arn: String,
    pub listener_arn: String,
    pub target_group_arn: String,
    /// The load balancer's DNS name, which Flotilla's DNS answers.
    pub endpoint: String,
    /// One per service revision, oldest first.
    pub configurations: Vec<Configuration>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
    /// Set once the load balancer and target group are deleted (after the service's
    /// tasks are gone).
    #[serde(default)]
    pub removed: bool,
}

impl Express {
    /// Name the revision that starts now in the configurations waiting for one.
    pub fn stamp(&mut self, service_revision_arn: &str) {
        for c in &mut self.configurations {
            if c.service_revision_arn.is_empty() {
                c.service_revision_arn = service_revision_arn.to_string();
            }
        }
    }

    /// The newest configuration.
    pub fn latest(&self) -> Option<&Configuration> {
        self.configurations.last()
    }

    /// The configurations of the given revisions, in the given order.
    pub fn of_revisions<'a>(&'a self, revisions: &[&str]) -> Vec<&'a Configuration> {
        revisions
            .iter()
            .filter_map(|r| {
                self.configurations
                    .iter()
                    .find(|c| c.service_revision_arn == *r)
            })
            .collect()
    }

    /// Forget configurations whose revision is no longer live, keeping the newest.
    pub fn retain_live(&mut self, live: &[&str]) {
        let newest = self.configurations.len().saturating_sub(1);
        let mut i = 0;
        self.configurations.retain(|c| {
            let keep = i == newest
                || c.service_revision_arn.is_empty()
                || live.contains(&c.service_revision_arn.as_str());
            i += 1;
            keep
        });
    }
}

fn invalid(message: impl Into<String>) -> ModelError {
    ModelError::invalid(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_defaults_and_bounds() {
        let s = Scaling::default().merged(None);
        assert_eq!(
            (s.min(), s.max(), s.metric(), s.target_value()),
            (1, 20, "AVERAGE_CPU", 60)
        );
        s.validate().unwrap();
        let over = Scaling {
            min_task_count: Some(3),
            ..Default::default()
        };
        let m = s.merged(Some(&over));
        assert_eq!((m.min(), m.max()), (3, 20));
        for bad in [
            Scaling {
                min_task_count: Some(5),
                max_task_count: Some(2),
                ..Default::default()
            },
            Scaling {
                max_task_count: Some(0),
                ..Default::default()
            },
            Scaling {
                auto_scaling_metric: Some("P99".into()),
                ..Default::default()
            },
            Scaling {
                auto_scaling_target_value: Some(101),
                ..Default::default()
            },
            Scaling {
                auto_scaling_target_value: Some(0),
                ..Default::default()
            },
        ] {
            assert!(s.merged(Some(&bad)).validate().is_err(), "{bad:?}");
        }
        let requests = Scaling {
            auto_scaling_metric: Some("REQUEST_COUNT_PER_TARGET".into()),
            auto_scaling_target_value: Some(1000),
            ..Default::default()
        };
        s.merged(Some(&requests)).validate().unwrap();
    }

    #[test]
    fn container_and_paths() {
        let mut c = Container {
            image: "web:1".into(),
            ..Default::default()
        };
        c.validate().unwrap();
        assert_eq!(c.port(), 80);
        c.container_port = Some(70000);
        assert!(c.validate().is_err());
        c.container_port = Some(8080);
        c.environment = Some(vec![KeyValuePair::default()]);
        assert!(c.validate().is_err());
        assert!(validate_health_check_path("/ping?format=json").is_ok());
        assert!(validate_health_check_path("ping").is_err());
        assert!(validate_architecture("ARM64").is_ok());
        assert!(validate_architecture("ppc").is_err());
    }

    #[test]
    fn revisions_are_stamped_once_and_retained_while_live() {
        let mut x = Express {
            infrastructure_role_arn: "r".into(),
            load_balancer_arn: String::new(),
            listener_arn: String::new(),
            target_group_arn: String::new(),
            endpoint: String::new(),
            configurations: vec![Configuration::default()],
            updated_at: Utc::now(),
            removed: false,
        };
        x.stamp("rev/1");
        x.configurations.push(Configuration::default());
        x.stamp("rev/2");
        let arns: Vec<_> = x
            .configurations
            .iter()
            .map(|c| c.service_revision_arn.as_str())
            .collect();
        assert_eq!(arns, ["rev/1", "rev/2"]);
        assert_eq!(x.of_revisions(&["rev/2", "rev/1"]).len(), 2);
        x.retain_live(&["rev/2"]);
        assert_eq!(x.configurations.len(), 1);
        x.retain_live(&[]);
        assert_eq!(x.configurations.len(), 1, "the newest stays");
    }
}

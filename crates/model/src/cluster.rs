//! ECS clusters: the stored record, name and settings validation, and the wire shape.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::capacity_provider::StrategyItem;
use crate::error::{ModelError, Result};
use crate::record::Record;
use crate::tag::Tag;

/// Status of a cluster that can be used.
pub const ACTIVE: &str = "ACTIVE";
/// Status of a deleted cluster; still describable, recreated by CreateCluster.
pub const INACTIVE: &str = "INACTIVE";

static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[A-Za-z0-9_-]{1,255}$").expect("static regex"));

/// Check a cluster name: up to 255 letters, numbers, underscores and hyphens.
pub fn validate_name(name: &str) -> Result<()> {
    if NAME.is_match(name) {
        Ok(())
    } else {
        Err(ModelError::invalid(format!(
            "Cluster name '{name}' is invalid: up to 255 letters (uppercase and lowercase), \
             numbers, underscores, and hyphens are allowed."
        )))
    }
}

/// A cluster setting (`containerInsights` is the only name ECS knows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSetting {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// Validate settings and return them with defaults filled in: a new cluster reports
/// `containerInsights` as `disabled` unless told otherwise, as ECS does.
pub fn validate_settings(settings: &[ClusterSetting]) -> Result<()> {
    for s in settings {
        match s.name.as_deref() {
            Some("containerInsights") => match s.value.as_deref() {
                Some("enabled" | "disabled" | "enhanced") => {}
                other => {
                    return Err(ModelError::invalid(format!(
                        "Cluster setting containerInsights has invalid value '{}': use \
                         enabled, disabled or enhanced.",
                        other.unwrap_or("")
                    )))
                }
            },
            other => {
                return Err(ModelError::invalid(format!(
                    "Unknown cluster setting name '{}': the only setting is containerInsights.",
                    other.unwrap_or("")
                )))
            }
        }
    }
    Ok(())
}

/// Apply `updates` over `settings`, replacing values of the same name.
pub fn merge_settings(settings: &mut Vec<ClusterSetting>, updates: Vec<ClusterSetting>) {
    for u in updates {
        match settings.iter_mut().find(|s| s.name == u.name) {
            Some(s) => s.value = u.value,
            None => settings.push(u),
        }
    }
}

/// The stored cluster. Counts (instances, tasks, services) are not stored: they are
/// derived from those resources when the cluster is described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRecord {
    pub cluster_arn: String,
    pub cluster_name: String,
    pub status: String,
    #[serde(default)]
    pub settings: Vec<ClusterSetting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<serde_json::Value>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub capacity_providers: Vec<String>,
    #[serde(default)]
    pub default_capacity_provider_strategy: Vec<StrategyItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_connect_defaults: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl Record for ClusterRecord {
    const KIND: &'static str = "cluster";
    const VERSION: u32 = 1;
}

impl ClusterRecord {
    pub fn is_active(&self) -> bool {
        self.status == ACTIVE
    }
}

/// Counts derived from a cluster's other resources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterCounts {
    pub registered_container_instances: i64,
    pub running_tasks: i64,
    pub pending_tasks: i64,
    pub active_services: i64,
}

/// Which optional parts DescribeClusters includes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterInclude {
    pub tags: bool,
    pub settings: bool,
    pub statistics: bool,
    pub configurations: bool,
    pub attachments: bool,
}

impl ClusterInclude {
    /// Everything, as CreateCluster and UpdateCluster answer.
    pub const ALL: ClusterInclude = ClusterInclude {
        tags: true,
        settings: true,
        statistics: false,
        configurations: true,
        attachments: true,
    };

    /// Parse DescribeClusters' `include` list.
    pub fn parse(fields: &[String]) -> Result<ClusterInclude> {
        let mut inc = ClusterInclude::default();
        for f in fields {
            match f.as_str() {
                "TAGS" => inc.tags = true,
                "SETTINGS" => inc.settings = true,
                "STATISTICS" => inc.statistics = true,
                "CONFIGURATIONS" => inc.configurations = true,
                "ATTACHMENTS" => inc.attachments = true,
                other => {
                    return Err(ModelError::invalid(format!(
                        "include value '{other}' is invalid: use ATTACHMENTS, \
                         CONFIGURATIONS, SETTINGS, STATISTICS or TAGS."
                    )))
                }
            }
        }
        Ok(inc)
    }
}

/// The `Cluster` shape of the ECS API.
pub fn to_wire(c: &ClusterRecord, counts: ClusterCounts, inc: ClusterInclude) -> serde_json::Value {
    let mut out = serde_json::json!({
        "clusterArn": c.cluster_arn,
        "clusterName": c.cluster_name,
        "status": c.status,
        "registeredContainerInstancesCount": counts.registered_container_instances,
        "runningTasksCount": counts.running_tasks,
        "pendingTasksCount": counts.pending_tasks,
        "activeServicesCount": counts.active_services,
        "statistics": [],
        "tags": [],
        "settings": [],
        "capacityProviders": c.capacity_providers,
        "defaultCapacityProviderStrategy": c.default_capacity_provider_strategy,
    });
    let obj = out.as_object_mut().expect("json object literal");
    if inc.tags {
        obj.insert(
            "tags".into(),
            serde_json::to_value(&c.tags).unwrap_or_default(),
        );
    }
    if inc.settings {
        obj.insert(
            "settings".into(),
            serde_json::to_value(&c.settings).unwrap_or_default(),
        );
    }
    if inc.configurations {
        if let Some(cfg) = &c.configuration {
            obj.insert("configuration".into(), cfg.clone());
        }
    }
    if let Some(sc) = &c.service_connect_defaults {
        obj.insert("serviceConnectDefaults".into(), sc.clone());
    }
    if inc.statistics {
        let stat = |name: &str, v: i64| serde_json::json!({"name": name, "value": v.to_string()});
        obj.insert(
            "statistics".into(),
            serde_json::json!([
                stat("runningEC2TasksCount", counts.running_tasks),
                stat("runningFargateTasksCount", 0),
                stat("pendingEC2TasksCount", counts.pending_tasks),
                stat("pendingFargateTasksCount", 0),
                stat("activeEC2ServiceCount", counts.active_services),
                stat("activeFargateServiceCount", 0),
                stat("drainingEC2ServiceCount", 0),
                stat("drainingFargateServiceCount", 0),
            ]),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("default").is_ok());
        assert!(validate_name("web_prod-1").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("has space").is_err());
        assert!(validate_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn settings() {
        let s = |n: &str, v: &str| ClusterSetting {
            name: Some(n.into()),
            value: Some(v.into()),
        };
        assert!(validate_settings(&[s("containerInsights", "enabled")]).is_ok());
        assert!(validate_settings(&[s("containerInsights", "maybe")]).is_err());
        assert!(validate_settings(&[s("other", "enabled")]).is_err());
        let mut cur = vec![s("containerInsights", "disabled")];
        merge_settings(&mut cur, vec![s("containerInsights", "enabled")]);
        assert_eq!(cur, vec![s("containerInsights", "enabled")]);
    }

    #[test]
    fn include_parsing() {
        let inc = ClusterInclude::parse(&["TAGS".into(), "STATISTICS".into()]).unwrap();
        assert!(inc.tags && inc.statistics && !inc.settings);
        assert!(ClusterInclude::parse(&["NOPE".into()]).is_err());
    }
}

//! Targets registered in a target group.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::Record;

/// One registered target: an instance id (with the address its agent reported) or an IP
/// address, and a port. Deregistering sets `deregistered_at`; the record is removed when
/// the group's deregistration delay has passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRecord {
    pub target_group_arn: String,
    pub id: String,
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    pub registered_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregistered_at: Option<DateTime<Utc>>,
    /// The ECS task that registered it, when a service did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
}

impl Record for TargetRecord {
    const KIND: &'static str = "elbv2-target";
    const VERSION: u32 = 1;
}

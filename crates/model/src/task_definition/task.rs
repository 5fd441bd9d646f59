//! The task-level shapes: the `RegisterTaskDefinition` request, the stored and described
//! `TaskDefinition`, and the small structures only they reference.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::container::{ContainerDefinition, KeyValuePair};
use super::de::nullable;
use super::volume::Volume;
use crate::tag::Tag;
use crate::timestamp;

/// The body of `RegisterTaskDefinition` (botocore `RegisterTaskDefinitionRequest`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterTaskDefinitionInput {
    /// Family name: 1-255 letters, digits, hyphens, underscores (required).
    #[serde(default)]
    pub family: String,
    /// IAM role the containers assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// IAM role the agent uses (image pulls, logs, secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// `bridge`, `host`, `awsvpc` or `none`; absent means `bridge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// The containers, 1 to 10 (required).
    #[serde(default, deserialize_with = "nullable")]
    pub container_definitions: Vec<ContainerDefinition>,
    /// Data volumes.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volumes: Vec<Volume>,
    /// Placement constraints, at most 10.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub placement_constraints: Vec<TaskDefinitionPlacementConstraint>,
    /// Launch types to validate against: `EC2`, `FARGATE`, `EXTERNAL`, `MANAGED_INSTANCES`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub requires_compatibilities: Vec<String>,
    /// Task CPU: units (`"1024"`) or vCPUs (`"1 vCPU"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Task memory: MiB (`"2048"`) or GB (`"2 GB"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Tags for the task definition (returned by DescribeTaskDefinition's `tags`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<Tag>,
    /// `host` or `task`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_mode: Option<String>,
    /// `host`, `task` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<String>,
    /// App Mesh proxy configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_configuration: Option<ProxyConfiguration>,
    /// Elastic Inference accelerators.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub inference_accelerators: Vec<InferenceAccelerator>,
    /// Ephemeral storage size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorage>,
    /// Operating system and CPU architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_platform: Option<RuntimePlatform>,
    /// Accept fault injection requests from the task's containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_fault_injection: Option<bool>,
    /// Isolation mode and attestation policy (Managed Instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_execution_configuration: Option<TrustedExecutionConfiguration>,
}

impl RegisterTaskDefinitionInput {
    /// The network mode the task runs with: the given one, or `bridge`.
    pub fn effective_network_mode(&self) -> &str {
        self.network_mode
            .as_deref()
            .unwrap_or(super::DEFAULT_NETWORK_MODE)
    }

    /// Whether `requiresCompatibilities` names `compat`.
    pub fn requires(&self, compat: &str) -> bool {
        self.requires_compatibilities.iter().any(|c| c == compat)
    }
}

/// Lifecycle status of a task definition revision. Only moves forward:
/// `ACTIVE → INACTIVE → DELETE_IN_PROGRESS`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskDefinitionStatus {
    /// Registered and usable.
    #[default]
    Active,
    /// Deregistered: running tasks and services keep it, nothing new may use it.
    Inactive,
    /// Deletion requested.
    DeleteInProgress,
}

/// A registered task definition revision, as `DescribeTaskDefinition` returns it
/// (botocore `TaskDefinition`). Tags are not part of it: AWS returns them separately.
///
/// Timestamps serialise as JSON numbers of epoch seconds with a fractional part, as the
/// AWS JSON protocol sends them (see [`timestamp`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinition {
    /// `arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    /// The containers, with AWS's defaults applied.
    #[serde(default, deserialize_with = "nullable")]
    pub container_definitions: Vec<ContainerDefinition>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// IAM role the containers assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// IAM role the agent uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// Network mode as registered; absent means `bridge` (AWS does not fill it in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// Revision number within the family, from 1.
    #[serde(default)]
    pub revision: i32,
    /// Data volumes.
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: Vec<Volume>,
    /// Lifecycle status.
    #[serde(default)]
    pub status: TaskDefinitionStatus,
    /// Container instance attributes a host needs to run the task.
    #[serde(default, deserialize_with = "nullable")]
    pub requires_attributes: Vec<Attribute>,
    /// Placement constraints.
    #[serde(default, deserialize_with = "nullable")]
    pub placement_constraints: Vec<TaskDefinitionPlacementConstraint>,
    /// Launch types the definition is valid for, computed at registration.
    #[serde(default, deserialize_with = "nullable")]
    pub compatibilities: Vec<String>,
    /// Operating system and CPU architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_platform: Option<RuntimePlatform>,
    /// Launch types requested at registration (omitted when none were).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub requires_compatibilities: Vec<String>,
    /// Task CPU units as an integer string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Task memory in MiB as an integer string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Elastic Inference accelerators.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub inference_accelerators: Vec<InferenceAccelerator>,
    /// PID namespace mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_mode: Option<String>,
    /// IPC namespace mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<String>,
    /// App Mesh proxy configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_configuration: Option<ProxyConfiguration>,
    /// When the revision was registered.
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub registered_at: Option<DateTime<Utc>>,
    /// When the revision was deregistered.
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub deregistered_at: Option<DateTime<Utc>>,
    /// When deletion of the revision was requested.
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub delete_requested_at: Option<DateTime<Utc>>,
    /// Principal that registered the revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_by: Option<String>,
    /// Ephemeral storage size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorage>,
    /// Whether fault injection is enabled (AWS returns `false` when not requested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_fault_injection: Option<bool>,
    /// Isolation mode and attestation policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_execution_configuration: Option<TrustedExecutionConfiguration>,
}

impl TaskDefinition {
    /// The network mode the task runs with: the registered one, or `bridge`.
    pub fn effective_network_mode(&self) -> &str {
        self.network_mode
            .as_deref()
            .unwrap_or(super::DEFAULT_NETWORK_MODE)
    }

    /// `family:revision`, the short form clients use to name a revision.
    pub fn family_revision(&self) -> String {
        format!("{}:{}", self.family.as_deref().unwrap_or(""), self.revision)
    }
}

/// A placement constraint of the definition (botocore `TaskDefinitionPlacementConstraint`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDefinitionPlacementConstraint {
    /// Only `memberOf`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Cluster query language expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// Operating system and CPU architecture (botocore `RuntimePlatform`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimePlatform {
    /// `X86_64` or `ARM64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_architecture: Option<String>,
    /// `LINUX` or one of the `WINDOWS_SERVER_*` families.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system_family: Option<String>,
}

/// Ephemeral storage of the task (botocore `EphemeralStorage`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EphemeralStorage {
    /// Size in GiB, 21-200.
    #[serde(rename = "sizeInGiB", default)]
    pub size_in_gib: i32,
}

/// App Mesh proxy settings (botocore `ProxyConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyConfiguration {
    /// Only `APPMESH`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The container acting as the proxy (required).
    #[serde(default)]
    pub container_name: String,
    /// CNI plugin properties (`IgnoredUID`, `AppPorts`, ...).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub properties: Vec<KeyValuePair>,
}

/// An Elastic Inference accelerator (botocore `InferenceAccelerator`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceAccelerator {
    /// Name containers reference in `resourceRequirements`.
    #[serde(default)]
    pub device_name: String,
    /// Accelerator type.
    #[serde(default)]
    pub device_type: String,
}

/// A container instance attribute (botocore `Attribute`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    /// Attribute name.
    #[serde(default)]
    pub name: String,
    /// Attribute value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Only `container-instance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    /// Target id or ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
}

impl Attribute {
    /// An attribute with only a name, as `requiresAttributes` lists them.
    pub fn named(name: impl Into<String>) -> Self {
        Attribute {
            name: name.into(),
            ..Attribute::default()
        }
    }
}

/// Trusted execution settings (botocore `TrustedExecutionConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustedExecutionConfiguration {
    /// `SHARED`, `ISOLATED_SANDBOX` or `CONFIDENTIAL_SANDBOX`.
    #[serde(default)]
    pub isolation_mode: String,
    /// Base64 attestation policy; required for `CONFIDENTIAL_SANDBOX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation_policy: Option<String>,
}

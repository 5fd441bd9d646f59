//! The container-level shapes of a task definition: `ContainerDefinition` and every structure
//! it references, member for member as botocore's ECS model spells them. Only shapes live
//! here; rules are in `validate_container` and defaults in `defaults`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::de::nullable;

/// One container of a task definition (botocore `ContainerDefinition`).
///
/// The lists AWS always returns (`portMappings`, `environment`, `mountPoints`,
/// `volumesFrom`, `systemControls`) are always serialised, empty or not; the others are
/// omitted when empty, as AWS omits them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefinition {
    /// Container name, unique in the task: 1-255 letters, digits, hyphens, underscores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Image reference (`repository:tag` or `repository@sha256:digest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Private registry credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_credentials: Option<RepositoryCredentials>,
    /// CPU units reserved for the container; AWS returns 0 when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<i32>,
    /// Hard memory limit in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<i32>,
    /// Soft memory limit (reservation) in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i32>,
    /// Legacy Docker links (`name` or `name:alias`), bridge mode only.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub links: Vec<String>,
    /// Port mappings.
    #[serde(default, deserialize_with = "nullable")]
    pub port_mappings: Vec<PortMapping>,
    /// Whether the task stops when this container stops; AWS defaults it to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
    /// Per-container restart policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<ContainerRestartPolicy>,
    /// Docker entrypoint override.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entry_point: Vec<String>,
    /// Docker command override.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub command: Vec<String>,
    /// Plain environment variables.
    #[serde(default, deserialize_with = "nullable")]
    pub environment: Vec<KeyValuePair>,
    /// Environment files (at most 10).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub environment_files: Vec<EnvironmentFile>,
    /// Task volumes mounted into this container.
    #[serde(default, deserialize_with = "nullable")]
    pub mount_points: Vec<MountPoint>,
    /// Containers whose volumes this container mounts.
    #[serde(default, deserialize_with = "nullable")]
    pub volumes_from: Vec<VolumeFrom>,
    /// Linux-specific settings (capabilities, devices, tmpfs, swap, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux_parameters: Option<LinuxParameters>,
    /// Secrets exposed as environment variables.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secrets: Vec<Secret>,
    /// Start-up ordering dependencies on other containers of the task.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub depends_on: Vec<ContainerDependency>,
    /// Seconds to wait for dependencies before giving up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timeout: Option<i32>,
    /// Seconds between SIGTERM and SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i32>,
    /// `enabled` or `disabled`: whether the image tag is resolved to a digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_consistency: Option<String>,
    /// Container hostname (not with `awsvpc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// User (and group) to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// Turn networking off inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_networking: Option<bool>,
    /// Run privileged (not on Fargate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Mount the root filesystem read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readonly_root_filesystem: Option<bool>,
    /// DNS servers.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dns_servers: Vec<String>,
    /// DNS search domains.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dns_search_domains: Vec<String>,
    /// Extra `/etc/hosts` entries (not with `awsvpc`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub extra_hosts: Vec<HostEntry>,
    /// Docker security options (SELinux/AppArmor labels, credential specs).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub docker_security_options: Vec<String>,
    /// Keep stdin open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<bool>,
    /// Allocate a TTY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudo_terminal: Option<bool>,
    /// Docker labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_labels: Option<BTreeMap<String, String>>,
    /// Resource limits.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ulimits: Vec<Ulimit>,
    /// Log driver and its options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfiguration>,
    /// Container health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    /// Namespaced kernel parameters (sysctls).
    #[serde(default, deserialize_with = "nullable")]
    pub system_controls: Vec<SystemControl>,
    /// GPU, Neuron and inference accelerator requirements.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resource_requirements: Vec<ResourceRequirement>,
    /// FireLens log router configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firelens_configuration: Option<FirelensConfiguration>,
    /// Credential spec ARNs for Active Directory (at most one).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub credential_specs: Vec<String>,
}

impl ContainerDefinition {
    /// The container's name, or `""` when it has none (validation rejects that).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// Whether the container is essential; AWS treats an absent `essential` as true.
    pub fn is_essential(&self) -> bool {
        self.essential.unwrap_or(true)
    }
}

/// A port published by a container (botocore `PortMapping`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    /// Port inside the container, 1-65535.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i32>,
    /// Port on the host; 0 or absent means dynamic in bridge mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<i32>,
    /// `tcp` (default) or `udp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Service Connect name of the mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `http`, `http2` or `grpc` (Service Connect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    /// A port range `first-last` instead of `containerPort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port_range: Option<String>,
}

/// A name/value pair: environment variables, proxy properties (botocore `KeyValuePair`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValuePair {
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// An environment file in S3 (botocore `EnvironmentFile`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentFile {
    /// ARN of the S3 object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// File type; only `s3`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A task volume mounted in a container (botocore `MountPoint`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MountPoint {
    /// Name of a volume declared in the task's `volumes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_volume: Option<String>,
    /// Absolute path inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_path: Option<String>,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// Volumes taken from another container (botocore `VolumeFrom`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeFrom {
    /// Name of another container of the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_container: Option<String>,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// A container health check (botocore `HealthCheck`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// `["CMD", exe, args...]` or `["CMD-SHELL", "command line"]`.
    #[serde(default, deserialize_with = "nullable")]
    pub command: Vec<String>,
    /// Seconds between checks, 5-300 (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i32>,
    /// Seconds before a check counts as failed, 2-60 (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i32>,
    /// Consecutive failures before unhealthy, 1-10 (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i32>,
    /// Grace period in seconds, 0-300 (default off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i32>,
}

/// Log driver configuration (botocore `LogConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogConfiguration {
    /// One of the drivers ECS supports (`awslogs`, `json-file`, ...).
    #[serde(default)]
    pub log_driver: String,
    /// Driver options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
    /// Secrets passed as driver options.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secret_options: Vec<Secret>,
}

impl LogConfiguration {
    /// The value of a driver option, if set.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .as_ref()
            .and_then(|o| o.get(key))
            .map(String::as_str)
    }
}

/// A secret reference (botocore `Secret`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// Environment variable or option name.
    #[serde(default)]
    pub name: String,
    /// Secrets Manager or SSM parameter ARN (or parameter name).
    #[serde(default)]
    pub value_from: String,
}

/// A resource limit (botocore `Ulimit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ulimit {
    /// Limit name (`nofile`, `memlock`, ...).
    #[serde(default)]
    pub name: String,
    /// Soft limit; -1 means unlimited.
    #[serde(default)]
    pub soft_limit: i32,
    /// Hard limit; -1 means unlimited.
    #[serde(default)]
    pub hard_limit: i32,
}

/// Linux-specific container settings (botocore `LinuxParameters`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxParameters {
    /// Capabilities added to or dropped from Docker's default set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<KernelCapabilities>,
    /// Host devices exposed to the container.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub devices: Vec<Device>,
    /// Run an init process (`docker run --init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_process_enabled: Option<bool>,
    /// Size of `/dev/shm` in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_memory_size: Option<i32>,
    /// tmpfs mounts.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tmpfs: Vec<Tmpfs>,
    /// Swap in MiB on top of memory; 0 disables swap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_swap: Option<i32>,
    /// Swappiness, 0-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swappiness: Option<i32>,
}

/// Capabilities to add and drop (botocore `KernelCapabilities`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelCapabilities {
    /// Capabilities to add.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub add: Vec<String>,
    /// Capabilities to drop.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub drop: Vec<String>,
}

/// A host device (botocore `Device`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// Path on the host.
    #[serde(default)]
    pub host_path: String,
    /// Path in the container (defaults to the host path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_path: Option<String>,
    /// Any of `read`, `write`, `mknod`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub permissions: Vec<String>,
}

/// A tmpfs mount (botocore `Tmpfs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tmpfs {
    /// Absolute mount path.
    #[serde(default)]
    pub container_path: String,
    /// Size in MiB.
    #[serde(default)]
    pub size: i32,
    /// Mount options.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mount_options: Vec<String>,
}

/// A start-up dependency on another container (botocore `ContainerDependency`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDependency {
    /// The container depended on.
    #[serde(default)]
    pub container_name: String,
    /// `START`, `COMPLETE`, `SUCCESS` or `HEALTHY`.
    #[serde(default)]
    pub condition: String,
}

/// An `/etc/hosts` entry (botocore `HostEntry`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostEntry {
    /// Hostname.
    #[serde(default)]
    pub hostname: String,
    /// IP address.
    #[serde(default)]
    pub ip_address: String,
}

/// A special resource a container needs (botocore `ResourceRequirement`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirement {
    /// Amount: GPU count or `ALL`, accelerator device name, or `ALL` for Neuron devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `GPU`, `InferenceAccelerator` or `NeuronDevice`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// GPU sharing strategy, instead of `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing_strategy: Option<SharingStrategy>,
}

/// How a container shares a GPU (botocore `SharingStrategy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SharingStrategy {
    /// NVIDIA Multi-Process Service allocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvidia_mps: Option<NvidiaMpsAllocation>,
}

/// GPU memory and compute for MPS sharing (botocore `NvidiaMpsAllocation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NvidiaMpsAllocation {
    /// GPU memory in MiB.
    #[serde(default)]
    pub memory: i32,
    /// Maximum share of the GPU's compute, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_compute_percent: Option<i32>,
}

/// FireLens log router settings (botocore `FirelensConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirelensConfiguration {
    /// `fluentd` or `fluentbit`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Router options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
}

/// Private registry credentials (botocore `RepositoryCredentials`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryCredentials {
    /// ARN or name of the secret holding the credentials.
    #[serde(default)]
    pub credentials_parameter: String,
}

/// A namespaced kernel parameter (botocore `SystemControl`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemControl {
    /// Sysctl name, e.g. `net.ipv4.tcp_keepalive_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Container restart policy (botocore `ContainerRestartPolicy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRestartPolicy {
    /// Whether the policy is on (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Exit codes that do not trigger a restart (at most 50).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ignored_exit_codes: Vec<i32>,
    /// Seconds a container must run before it may be restarted, 60-1800 (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_attempt_period: Option<i32>,
}

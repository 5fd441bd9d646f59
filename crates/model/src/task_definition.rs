//! ECS task definitions: the wire shapes of `RegisterTaskDefinition` and
//! `DescribeTaskDefinition` (mirroring botocore's `ecs/2014-11-13` model member for member),
//! the validation AWS applies when a definition is registered, and the defaults AWS fills in
//! when it stores one. Pure types and functions: no store, no clock, no ARN minting — the
//! caller supplies the ARN, revision, time and principal.
//!
//! Flow of one registration: the API layer checks the body with [`validate_size`],
//! deserialises a [`RegisterTaskDefinitionInput`] (a type mismatch is a
//! `SerializationException`), calls [`validate`] and
//! [`check_supported`] (what Flotilla cannot apply), takes the tags out, and builds the stored
//! [`TaskDefinition`] with [`TaskDefinition::from_input`].
//!
//! Enumerated members (network mode, protocol, log driver, ...) are kept as `String`s on the
//! wire types so that an unknown value reaches [`validate`] and gets a message naming the
//! field and the valid values, instead of an opaque deserialisation error.

mod container;
mod de;
mod defaults;
mod fargate;
mod supported;
mod task;

mod units;
mod validate;
mod validate_container;
mod validate_ports;
mod validate_refs;
mod validate_settings;
mod volume;

#[cfg(test)]
mod tests;

pub use crate::tag::Tag;
pub use container::{
    ContainerDefinition, ContainerDependency, ContainerRestartPolicy, Device, EnvironmentFile,
    FirelensConfiguration, HealthCheck, HostEntry, KernelCapabilities, KeyValuePair,
    LinuxParameters, LogConfiguration, MountPoint, NvidiaMpsAllocation, PortMapping,
    RepositoryCredentials, ResourceRequirement, Secret, SharingStrategy, SystemControl, Tmpfs,
    Ulimit, VolumeFrom,
};
pub use defaults::{compatibilities, requires_attributes};
pub use fargate::check_fargate;
pub use supported::check_supported;
pub use task::{
    Attribute, EphemeralStorage, InferenceAccelerator, ProxyConfiguration,
    RegisterTaskDefinitionInput, RuntimePlatform, TaskDefinition,
    TaskDefinitionPlacementConstraint, TaskDefinitionStatus, TrustedExecutionConfiguration,
};
pub use units::{
    fargate_memory_values, is_valid_fargate_size, normalize_cpu, normalize_memory, parse_cpu,
    parse_memory,
};
pub use validate::{
    check_ephemeral_storage, task_cpu_units, task_memory_mib, validate, validate_size,
    MAX_REQUEST_BYTES, MIN_CONTAINER_MEMORY_MIB,
};
pub use volume::{
    DockerVolumeConfiguration, EfsAuthorizationConfig, EfsVolumeConfiguration,
    FsxWindowsFileServerAuthorizationConfig, FsxWindowsFileServerVolumeConfiguration,
    HostVolumeProperties, S3FilesVolumeConfiguration, Volume,
};

/// The network mode a definition without `networkMode` runs with.
pub const DEFAULT_NETWORK_MODE: &str = "bridge";

//! Task volumes: `Volume` and the per-kind configurations it may carry (bind mount, Docker
//! volume, EFS, S3 Files, FSx for Windows, configured at launch), as botocore spells them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A data volume of the task (botocore `Volume`). At most one kind of configuration may be
/// set; none at all means a Docker-managed bind mount (`host: {}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Volume name, referenced by `mountPoints[].sourceVolume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Bind mount from the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostVolumeProperties>,
    /// Docker volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_volume_configuration: Option<DockerVolumeConfiguration>,
    /// Amazon EFS file system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub efs_volume_configuration: Option<EfsVolumeConfiguration>,
    /// Amazon S3 Files file system.
    #[serde(
        rename = "s3filesVolumeConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub s3files_volume_configuration: Option<S3FilesVolumeConfiguration>,
    /// Amazon FSx for Windows File Server file system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsx_windows_file_server_volume_configuration:
        Option<FsxWindowsFileServerVolumeConfiguration>,
    /// The volume is configured when a task or service is launched (EBS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured_at_launch: Option<bool>,
}

impl Volume {
    /// The volume's name, or `""` when it has none.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// How many kinds of configuration the volume sets (valid values are 0 and 1).
    pub(crate) fn kinds_set(&self) -> usize {
        [
            self.host.is_some(),
            self.docker_volume_configuration.is_some(),
            self.efs_volume_configuration.is_some(),
            self.s3files_volume_configuration.is_some(),
            self.fsx_windows_file_server_volume_configuration.is_some(),
            self.configured_at_launch == Some(true),
        ]
        .iter()
        .filter(|set| **set)
        .count()
    }
}

/// A bind mount (botocore `HostVolumeProperties`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostVolumeProperties {
    /// Host path; absent means Docker picks one (not on Fargate when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
}

/// A Docker volume (botocore `DockerVolumeConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerVolumeConfiguration {
    /// `task` (removed with the task) or `shared` (outlives it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Create a `shared` volume when it does not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoprovision: Option<bool>,
    /// Volume driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Driver options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_opts: Option<BTreeMap<String, String>>,
    /// Volume labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// An EFS file system (botocore `EFSVolumeConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EfsVolumeConfiguration {
    /// File system id (required).
    #[serde(default)]
    pub file_system_id: String,
    /// Directory mounted as the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_directory: Option<String>,
    /// `ENABLED` or `DISABLED` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_encryption: Option<String>,
    /// Port for encrypted traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_encryption_port: Option<i32>,
    /// Access point and IAM authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_config: Option<EfsAuthorizationConfig>,
}

/// EFS authorization (botocore `EFSAuthorizationConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EfsAuthorizationConfig {
    /// Access point id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_point_id: Option<String>,
    /// `ENABLED` or `DISABLED`: use the task role for EFS IAM authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam: Option<String>,
}

/// An S3 Files file system (botocore `S3FilesVolumeConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3FilesVolumeConfiguration {
    /// ARN of the file system (required).
    #[serde(default)]
    pub file_system_arn: String,
    /// Directory mounted as the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_directory: Option<String>,
    /// Port for encrypted traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_encryption_port: Option<i32>,
    /// ARN of the access point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_point_arn: Option<String>,
}

/// An FSx for Windows File Server file system
/// (botocore `FSxWindowsFileServerVolumeConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FsxWindowsFileServerVolumeConfiguration {
    /// File system id (required).
    #[serde(default)]
    pub file_system_id: String,
    /// Directory mounted as the root (required).
    #[serde(default)]
    pub root_directory: String,
    /// Credentials and domain (required).
    #[serde(default)]
    pub authorization_config: FsxWindowsFileServerAuthorizationConfig,
}

/// FSx credentials (botocore `FSxWindowsFileServerAuthorizationConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FsxWindowsFileServerAuthorizationConfig {
    /// ARN of the secret or parameter with the credentials.
    #[serde(default)]
    pub credentials_parameter: String,
    /// Active Directory domain.
    #[serde(default)]
    pub domain: String,
}

//! ECS `TaskOverride` and `ContainerOverride`: what RunTask and StartTask may change of a
//! task definition for one task. Typed once here for everyone: the API reads them from the
//! request, placement sizes the task with them, the agent applies them to the containers.

use serde::{Deserialize, Serialize};

use crate::task_definition::{
    EnvironmentFile, EphemeralStorage, KeyValuePair, ResourceRequirement,
};

/// ECS `TaskOverride`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskOverride {
    pub container_overrides: Vec<ContainerOverride>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    pub inference_accelerator_overrides: Vec<InferenceAcceleratorOverride>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorage>,
}

/// ECS `ContainerOverride`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<KeyValuePair>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment_files: Vec<EnvironmentFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_requirements: Vec<ResourceRequirement>,
}

/// ECS `InferenceAcceleratorOverride`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InferenceAcceleratorOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
}

impl TaskOverride {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == TaskOverride::default()
    }

    /// The overrides of the container called `name`, in the order given.
    pub fn of_container<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a ContainerOverride> {
        self.container_overrides
            .iter()
            .filter(move |o| o.name.as_deref() == Some(name))
    }
}

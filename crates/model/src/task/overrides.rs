//! ECS `TaskOverride` and `ContainerOverride`: what RunTask and StartTask may change of a
//! task definition for one task. Typed once here for everyone: the API reads them from the
//! request, placement sizes the task with them, the agent applies them to the containers.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::task_definition::{
    check_ephemeral_storage, task_cpu_units, task_memory_mib, EnvironmentFile, EphemeralStorage,
    KeyValuePair, ResourceRequirement, MIN_CONTAINER_MEMORY_MIB,
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
    /// The overrides checked as RegisterTaskDefinition checks the same settings (task cpu
    /// and memory normalised to units and MiB): a task is never sized by a value its
    /// definition could not have had. ClientException.
    pub fn checked(mut self) -> Result<TaskOverride, ModelError> {
        if let Some(cpu) = &self.cpu {
            self.cpu = Some(task_cpu_units(cpu)?.to_string());
        }
        if let Some(memory) = &self.memory {
            self.memory = Some(task_memory_mib(memory)?.to_string());
        }
        if let Some(es) = &self.ephemeral_storage {
            check_ephemeral_storage(es)?;
        }
        for o in &self.container_overrides {
            let name = o.name.as_deref().unwrap_or("");
            let bad = |what: &str, why: String| {
                ModelError::client(format!(
                    "Invalid '{what}' setting for container '{name}' in overrides: {why}."
                ))
            };
            if let Some(cpu) = o.cpu.filter(|c| *c < 0) {
                return Err(bad("cpu", format!("{cpu} is negative")));
            }
            for (what, value) in [
                ("memory", o.memory),
                ("memoryReservation", o.memory_reservation),
            ] {
                if let Some(v) = value.filter(|v| *v < MIN_CONTAINER_MEMORY_MIB) {
                    return Err(bad(
                        what,
                        format!("{v} MiB is below the minimum of {MIN_CONTAINER_MEMORY_MIB} MiB"),
                    ));
                }
            }
            if let (Some(m), Some(r)) = (o.memory, o.memory_reservation) {
                if r > m {
                    return Err(bad(
                        "memoryReservation",
                        format!("{r} MiB is more than its memory of {m} MiB"),
                    ));
                }
            }
        }
        Ok(self)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn container(cpu: Option<i32>, memory: Option<i32>, reservation: Option<i32>) -> TaskOverride {
        TaskOverride {
            container_overrides: vec![ContainerOverride {
                name: Some("app".into()),
                cpu,
                memory,
                memory_reservation: reservation,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn overrides_are_held_to_the_task_definitions_rules() {
        let task = |cpu: &str, memory: &str| TaskOverride {
            cpu: Some(cpu.into()),
            memory: Some(memory.into()),
            ..Default::default()
        };
        let ok = task("1 vCPU", "2 GB").checked().unwrap();
        assert_eq!(
            (ok.cpu.as_deref(), ok.memory.as_deref()),
            (Some("1024"), Some("2048"))
        );
        for (cpu, memory) in [
            ("-9223372036854775808", "512"),
            ("64", "512"),
            ("1024", "5"),
            ("1024", "99999999999"),
            ("lots", "512"),
        ] {
            assert!(
                task(cpu, memory).checked().is_err(),
                "{cpu}/{memory} accepted"
            );
        }
        assert!(container(Some(-1), None, None).checked().is_err());
        assert!(container(None, Some(5), None).checked().is_err());
        assert!(container(None, Some(64), Some(128)).checked().is_err());
        assert!(container(Some(0), Some(128), Some(64)).checked().is_ok());
        let storage = TaskOverride {
            ephemeral_storage: Some(EphemeralStorage { size_in_gib: 0 }),
            ..Default::default()
        };
        assert!(storage.checked().is_err());
    }
}

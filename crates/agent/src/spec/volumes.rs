//! Task volumes as the runtime gets them: what each volume of the definition is on this host
//! (a host path, a volume of the task, a shared volume) and each container's mounts.
//!
//! As ECS does it: `host.sourcePath` is a bind mount; `host: {}` (or no configuration) is
//! an empty volume that lives as long as the task; `dockerVolumeConfiguration` with scope
//! `task` is a Docker volume created for the task and removed with it, named
//! `ecs-<family>-<revision>-<volume>-<task id>`; with scope `shared` it is the Docker volume
//! of the volume's own name, kept after the task, created when missing only with
//! `autoprovision`. Pure functions: the task actor creates and removes the volumes.

use std::collections::BTreeMap;

use flotilla_model::task_definition::{ContainerDefinition, TaskDefinition, Volume};
use flotilla_runtime::{Mount, MountSource, VolumeSpec};

use super::LABEL_TASK_ARN;

/// What one volume of the definition is on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskVolume {
    /// A bind mount of a host path.
    HostPath(String),
    /// A Docker volume created for this task and removed with it.
    Task(VolumeSpec),
    /// A Docker volume that outlives the task; created when missing only if `autoprovision`.
    Shared {
        spec: VolumeSpec,
        autoprovision: bool,
    },
    /// A kind this agent cannot mount (EFS): why.
    Unsupported(String),
}

impl TaskVolume {
    /// The runtime's name of the volume or path.
    fn source(&self) -> Option<MountSource> {
        match self {
            TaskVolume::HostPath(p) => Some(MountSource::HostPath(p.clone())),
            TaskVolume::Task(s) | TaskVolume::Shared { spec: s, .. } => {
                Some(MountSource::Volume(s.name.clone()))
            }
            TaskVolume::Unsupported(_) => None,
        }
    }
}

/// Every volume of `def`, by name, for the task `task_arn`.
pub(crate) fn task_volumes(def: &TaskDefinition, task_arn: &str) -> BTreeMap<String, TaskVolume> {
    def.volumes
        .iter()
        .map(|v| (v.name().to_string(), task_volume(def, v, task_arn)))
        .collect()
}

fn task_volume(def: &TaskDefinition, v: &Volume, task_arn: &str) -> TaskVolume {
    let task_id = task_arn.rsplit('/').next().unwrap_or(task_arn);
    let labels = BTreeMap::from([(LABEL_TASK_ARN.to_string(), task_arn.to_string())]);
    if let Some(d) = &v.docker_volume_configuration {
        let mut spec = VolumeSpec {
            name: v.name().to_string(),
            driver: d.driver.clone().filter(|d| !d.is_empty()),
            driver_opts: d.driver_opts.clone().unwrap_or_default(),
            labels: d.labels.clone().unwrap_or_default(),
        };
        if d.scope.as_deref() == Some("shared") {
            return TaskVolume::Shared {
                spec,
                autoprovision: d.autoprovision.unwrap_or(false),
            };
        }
        spec.name = task_volume_name(def, v.name(), task_id);
        spec.labels.extend(labels);
        return TaskVolume::Task(spec);
    }
    if v.efs_volume_configuration.is_some() {
        return TaskVolume::Unsupported(format!(
            "volume {}: EFS volumes cannot be mounted by this agent",
            v.name()
        ));
    }
    match v.host.as_ref().and_then(|h| h.source_path.clone()) {
        Some(path) if !path.is_empty() => TaskVolume::HostPath(path),
        _ => TaskVolume::Task(VolumeSpec {
            name: task_volume_name(def, v.name(), task_id),
            driver: None,
            driver_opts: BTreeMap::new(),
            labels,
        }),
    }
}

/// `ecs-<family>-<revision>-<volume>-<task id>`, with what Docker refuses in a volume
/// name turned into `-`. Fixed per task, so a restarted agent finds the same volume.
fn task_volume_name(def: &TaskDefinition, volume: &str, task_id: &str) -> String {
    let raw = format!(
        "ecs-{}-{}-{volume}-{task_id}",
        def.family.as_deref().unwrap_or(""),
        def.revision
    );
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The mounts of container `c`: each mount point's volume at its path. `Err` names a
/// mount point whose volume cannot be mounted here.
pub(crate) fn mounts(
    c: &ContainerDefinition,
    volumes: &BTreeMap<String, TaskVolume>,
) -> Result<Vec<Mount>, String> {
    c.mount_points
        .iter()
        .map(|mp| {
            let name = mp.source_volume.as_deref().unwrap_or("");
            let volume = volumes
                .get(name)
                .ok_or_else(|| format!("mount point volume {name} is not a volume of the task"))?;
            let source = volume.source().ok_or_else(|| match volume {
                TaskVolume::Unsupported(why) => why.clone(),
                _ => format!("volume {name} cannot be mounted"),
            })?;
            Ok(Mount {
                source,
                target: mp.container_path.clone().unwrap_or_default(),
                read_only: mp.read_only.unwrap_or(false),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use flotilla_model::task_definition::MountPoint;
    use serde_json::json;

    use super::*;
    use crate::testutil::definition;

    const ARN: &str = "arn:aws:ecs:us-east-1:000000000000:task/default/abc123";

    fn def() -> TaskDefinition {
        definition(json!({
            "family": "data", "revision": 2,
            "containerDefinitions": [{"name": "app", "image": "busybox"}],
            "volumes": [
                {"name": "logs", "host": {"sourcePath": "/srv/logs"}},
                {"name": "scratch", "host": {}},
                {"name": "cache", "dockerVolumeConfiguration": {"scope": "task", "driver": "local", "labels": {"a": "b"}}},
                {"name": "db", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true, "driverOpts": {"type": "tmpfs", "device": "tmpfs"}}},
                {"name": "nfs", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}
            ]
        }))
    }

    #[test]
    fn each_volume_kind_becomes_what_ecs_makes_of_it() {
        let v = task_volumes(&def(), ARN);
        assert_eq!(v["logs"], TaskVolume::HostPath("/srv/logs".into()));
        let TaskVolume::Task(scratch) = &v["scratch"] else {
            panic!("{:?}", v["scratch"])
        };
        assert_eq!(scratch.name, "ecs-data-2-scratch-abc123");
        assert_eq!(scratch.labels[LABEL_TASK_ARN], ARN);
        let TaskVolume::Task(cache) = &v["cache"] else {
            panic!("{:?}", v["cache"])
        };
        assert_eq!(cache.name, "ecs-data-2-cache-abc123");
        assert_eq!(cache.driver.as_deref(), Some("local"));
        assert_eq!(cache.labels["a"], "b");
        let TaskVolume::Shared {
            spec,
            autoprovision,
        } = &v["db"]
        else {
            panic!("{:?}", v["db"])
        };
        assert_eq!(spec.name, "db");
        assert!(autoprovision);
        assert_eq!(spec.driver_opts["type"], "tmpfs");
        assert!(matches!(v["nfs"], TaskVolume::Unsupported(_)));
    }

    #[test]
    fn mount_points_name_their_volume() {
        let v = task_volumes(&def(), ARN);
        let mp = |vol: &str, path: &str, ro: Option<bool>| MountPoint {
            source_volume: Some(vol.into()),
            container_path: Some(path.into()),
            read_only: ro,
        };
        let c = ContainerDefinition {
            mount_points: vec![mp("logs", "/logs", Some(true)), mp("db", "/db", None)],
            ..Default::default()
        };
        let m = mounts(&c, &v).unwrap();
        assert_eq!(m[0].source, MountSource::HostPath("/srv/logs".into()));
        assert!(m[0].read_only);
        assert_eq!(m[1].source, MountSource::Volume("db".into()));
        assert_eq!(m[1].target, "/db");
        let c = ContainerDefinition {
            mount_points: vec![mp("nfs", "/nfs", None)],
            ..Default::default()
        };
        assert!(mounts(&c, &v).unwrap_err().contains("EFS"));
    }
}

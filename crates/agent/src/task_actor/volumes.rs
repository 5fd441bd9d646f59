//! The task's Docker volumes: created before its first container (task-scoped ones, and
//! shared ones with `autoprovision`), checked (a shared volume without `autoprovision`
//! must exist; an existing one must match the definition's driver), and the task-scoped
//! ones removed with the task's containers. Shared volumes are never removed.

use flotilla_runtime::{VolumeInfo, VolumeSpec};

use super::TaskActor;
use crate::spec::volumes::TaskVolume;

impl TaskActor {
    /// Create or check every volume a container of the task mounts; false (and the task
    /// failing to start) when one cannot be had.
    pub(super) async fn ensure_volumes(&mut self) -> bool {
        let volumes: Vec<TaskVolume> = self.spec.volumes.values().cloned().collect();
        for v in volumes {
            if let Err(why) = self.ensure_volume(&v).await {
                self.fail_to_start(format!("ResourceInitializationError: {why}"));
                return false;
            }
        }
        true
    }

    async fn ensure_volume(&self, v: &TaskVolume) -> Result<(), String> {
        let runtime = &self.ctx.runtime;
        let create = |spec: &VolumeSpec| {
            let spec = spec.clone();
            async move {
                runtime
                    .create_volume(&spec)
                    .await
                    .map_err(|e| format!("failed to create volume {}: {e}", spec.name))
            }
        };
        match v {
            TaskVolume::HostPath(_) | TaskVolume::Unsupported(_) => Ok(()),
            TaskVolume::Task(spec) => create(spec).await,
            TaskVolume::Shared {
                spec,
                autoprovision,
            } => {
                let existing = runtime
                    .inspect_volume(&spec.name)
                    .await
                    .map_err(|e| format!("failed to inspect volume {}: {e}", spec.name))?;
                match existing {
                    Some(found) => shared_matches(spec, &found, *autoprovision),
                    None if *autoprovision => create(spec).await,
                    None => Err(format!(
                        "shared volume {} does not exist and autoprovision is false: create \
                         it on the instance or set autoprovision",
                        spec.name
                    )),
                }
            }
        }
    }

    /// Remove the task-scoped volumes (after the containers using them).
    pub(super) async fn remove_task_volumes(&self) {
        for v in self.spec.volumes.values() {
            if let TaskVolume::Task(spec) = v {
                if let Err(e) = self.ctx.runtime.remove_volume(&spec.name).await {
                    tracing::warn!(task = %self.task_arn, volume = %spec.name, error = %e, "volume removal failed");
                }
            }
        }
    }
}

/// An existing shared volume must have the driver the definition names; with
/// `autoprovision` its options and labels must match too (ECS fails the task otherwise).
fn shared_matches(
    spec: &VolumeSpec,
    found: &VolumeInfo,
    autoprovision: bool,
) -> Result<(), String> {
    let driver = spec.driver.as_deref().unwrap_or("local");
    let mismatch = |what: &str| {
        Err(format!(
            "shared volume {} exists with a different {what} than the task definition gives",
            spec.name
        ))
    };
    if found.driver != driver {
        return mismatch("driver");
    }
    if !autoprovision {
        return Ok(());
    }
    if spec
        .driver_opts
        .iter()
        .any(|(k, v)| found.driver_opts.get(k) != Some(v))
    {
        return mismatch("driverOpts");
    }
    if spec
        .labels
        .iter()
        .any(|(k, v)| found.labels.get(k) != Some(v))
    {
        return mismatch("labels");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_shared_volume_must_match_what_the_definition_asks() {
        let spec = VolumeSpec {
            name: "db".into(),
            driver: None,
            driver_opts: BTreeMap::new(),
            labels: BTreeMap::from([("app".into(), "x".into())]),
        };
        let found = VolumeInfo {
            name: "db".into(),
            driver: "local".into(),
            driver_opts: BTreeMap::new(),
            labels: BTreeMap::from([("app".into(), "x".into())]),
        };
        assert_eq!(shared_matches(&spec, &found, true), Ok(()));
        let relabelled = VolumeInfo {
            labels: BTreeMap::new(),
            ..found.clone()
        };
        assert!(shared_matches(&spec, &relabelled, true).is_err());
        assert_eq!(shared_matches(&spec, &relabelled, false), Ok(()));
        let other = VolumeInfo {
            driver: "nfs".into(),
            ..found
        };
        assert!(shared_matches(&spec, &other, false)
            .unwrap_err()
            .contains("driver"));
    }
}

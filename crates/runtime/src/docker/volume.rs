//! Named volumes: inspect, create and remove, for task volumes with a
//! `dockerVolumeConfiguration` and task-scoped empty volumes.

use std::collections::HashMap;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::RemoveVolumeOptions;
use bollard::Docker;

use super::error::{from_bollard, is_not_found};
use crate::{Result, VolumeInfo, VolumeSpec};

/// The volume `name`, or `None` when Docker has none of that name.
pub(crate) async fn inspect(docker: &Docker, name: &str) -> Result<Option<VolumeInfo>> {
    match docker.inspect_volume(name).await {
        Ok(v) => Ok(Some(VolumeInfo {
            name: v.name,
            driver: v.driver,
            driver_opts: v.options.into_iter().collect(),
            labels: v.labels.into_iter().collect(),
        })),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(from_bollard(e)),
    }
}

/// Create the volume (Docker answers an existing one of the same driver unchanged).
pub(crate) async fn create(docker: &Docker, spec: &VolumeSpec) -> Result<()> {
    docker
        .create_volume(create_request(spec))
        .await
        .map(|_| ())
        .map_err(from_bollard)
}

fn create_request(spec: &VolumeSpec) -> VolumeCreateRequest {
    let map = |m: &std::collections::BTreeMap<String, String>| {
        (!m.is_empty()).then(|| m.clone().into_iter().collect::<HashMap<_, _>>())
    };
    VolumeCreateRequest {
        name: Some(spec.name.clone()),
        driver: spec.driver.clone(),
        driver_opts: map(&spec.driver_opts),
        labels: map(&spec.labels),
        ..Default::default()
    }
}

/// Remove the volume; a missing one is not an error.
pub(crate) async fn remove(docker: &Docker, name: &str) -> Result<()> {
    match docker
        .remove_volume(name, None::<RemoveVolumeOptions>)
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(from_bollard(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn empty_options_stay_unset() {
        let r = create_request(&VolumeSpec {
            name: "v".into(),
            ..Default::default()
        });
        assert_eq!(r.name.as_deref(), Some("v"));
        assert_eq!(r.driver, None);
        assert_eq!(r.driver_opts, None);
        let r = create_request(&VolumeSpec {
            name: "v".into(),
            driver: Some("local".into()),
            driver_opts: BTreeMap::from([("type".into(), "tmpfs".into())]),
            labels: BTreeMap::from([("k".into(), "v".into())]),
        });
        assert_eq!(r.driver_opts.unwrap_or_default()["type"], "tmpfs");
        assert_eq!(r.labels.unwrap_or_default()["k"], "v");
    }
}

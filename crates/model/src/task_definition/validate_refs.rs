//! Rules that relate parts of a task definition to each other: volumes and the mount points
//! that use them, `volumesFrom` and `links` targets, the proxy container, inference
//! accelerators, FireLens, and the `dependsOn` graph (targets exist, conditions hold, no
//! cycles). ClientException, except InvalidParameterException for enumerated values.

use std::collections::{HashMap, HashSet};

use super::container::ContainerDefinition;
use super::task::RegisterTaskDefinitionInput;
use super::validate::{is_valid_name, one_of};
use super::validate_container::container_error;
use super::volume::Volume;
use crate::error::{ModelError, Result};

const CONDITIONS: &[&str] = &["START", "COMPLETE", "SUCCESS", "HEALTHY"];

/// Volumes: valid unique names, one kind of configuration each, at most one configured at
/// launch, and the per-kind rules.
pub(super) fn check_volumes(input: &RegisterTaskDefinitionInput) -> Result<()> {
    let mut names = HashSet::new();
    let mut at_launch = 0;
    for (i, v) in input.volumes.iter().enumerate() {
        let name = v.name();
        if name.is_empty() {
            return Err(ModelError::client(format!(
                "volumes[{i}] needs a name: mount points refer to volumes by name."
            )));
        }
        if !is_valid_name(name) {
            return Err(ModelError::client(format!(
                "Invalid volume name '{name}' (volumes[{i}]): up to 255 letters (uppercase and \
                 lowercase), numbers, hyphens, and underscores are allowed."
            )));
        }
        if !names.insert(name) {
            return Err(ModelError::client(format!(
                "Duplicate volume name '{name}': volume names must be unique within a task \
                 definition."
            )));
        }
        if v.kinds_set() > 1 {
            return Err(ModelError::client(format!(
                "Volume '{name}' may specify only one of host, dockerVolumeConfiguration, \
                 efsVolumeConfiguration, s3filesVolumeConfiguration, \
                 fsxWindowsFileServerVolumeConfiguration or configuredAtLaunch."
            )));
        }
        if v.configured_at_launch == Some(true) {
            at_launch += 1;
            if at_launch > 1 {
                return Err(ModelError::client(
                    "Only one volume can be configured at launch (configuredAtLaunch) per task \
                     definition.",
                ));
            }
        }
        check_volume_kind(name, v)?;
    }
    Ok(())
}

/// The rules of each volume kind.
fn check_volume_kind(name: &str, v: &Volume) -> Result<()> {
    let bad = |msg: String| Err(ModelError::client(format!("Volume '{name}': {msg}")));
    if let Some(d) = &v.docker_volume_configuration {
        if let Some(scope) = &d.scope {
            one_of(
                &format!("dockerVolumeConfiguration.scope of volume '{name}'"),
                scope,
                &["task", "shared"],
            )?;
        }
        if d.autoprovision == Some(true) && d.scope.as_deref() != Some("shared") {
            return bad(
                "dockerVolumeConfiguration.autoprovision can only be set when scope is shared."
                    .into(),
            );
        }
    }
    if let Some(e) = &v.efs_volume_configuration {
        if e.file_system_id.is_empty() {
            return bad("efsVolumeConfiguration.fileSystemId is required.".into());
        }
        if let Some(te) = &e.transit_encryption {
            one_of(
                &format!("efsVolumeConfiguration.transitEncryption of volume '{name}'"),
                te,
                &["ENABLED", "DISABLED"],
            )?;
        }
        let encrypted = e.transit_encryption.as_deref() == Some("ENABLED");
        if let Some(port) = e.transit_encryption_port {
            check_transit_port("efsVolumeConfiguration", port)?;
        }
        if let Some(auth) = &e.authorization_config {
            if let Some(iam) = &auth.iam {
                one_of(
                    &format!("efsVolumeConfiguration.authorizationConfig.iam of volume '{name}'"),
                    iam,
                    &["ENABLED", "DISABLED"],
                )?;
                if iam == "ENABLED" && !encrypted {
                    return bad("EFS IAM authorization requires transitEncryption ENABLED.".into());
                }
            }
            if auth.access_point_id.is_some() {
                if !encrypted {
                    return bad("an EFS access point requires transitEncryption ENABLED.".into());
                }
                if e.root_directory.as_deref().is_some_and(|r| r != "/") {
                    return bad(
                        "with an EFS access point, rootDirectory must be omitted or '/'.".into(),
                    );
                }
            }
        }
    }
    if let Some(s) = &v.s3files_volume_configuration {
        if let Some(port) = s.transit_encryption_port {
            check_transit_port("s3filesVolumeConfiguration", port)?;
        }
        if s.file_system_arn.is_empty() {
            return bad("s3filesVolumeConfiguration.fileSystemArn is required.".into());
        }
        if s.access_point_arn.is_some() && s.root_directory.as_deref().is_some_and(|r| r != "/") {
            return bad(
                "with an S3 Files access point, rootDirectory must be omitted or '/'.".into(),
            );
        }
    }
    if let Some(f) = &v.fsx_windows_file_server_volume_configuration {
        let auth = &f.authorization_config;
        if f.file_system_id.is_empty()
            || f.root_directory.is_empty()
            || auth.credentials_parameter.is_empty()
            || auth.domain.is_empty()
        {
            return bad(
                "fsxWindowsFileServerVolumeConfiguration needs fileSystemId, rootDirectory and \
                 authorizationConfig (credentialsParameter and domain)."
                    .into(),
            );
        }
    }
    Ok(())
}

/// Names one container uses to refer to volumes and other containers must exist.
pub(super) fn check_references(input: &RegisterTaskDefinitionInput) -> Result<()> {
    let containers: HashSet<&str> = input
        .container_definitions
        .iter()
        .map(|c| c.name())
        .collect();
    let volumes: HashSet<&str> = input.volumes.iter().map(|v| v.name()).collect();
    for c in &input.container_definitions {
        let name = c.name();
        for (i, mp) in c.mount_points.iter().enumerate() {
            let source = mp.source_volume.as_deref().unwrap_or("");
            if !volumes.contains(source) {
                return Err(container_error(
                    name,
                    format_args!(
                        "mountPoints[{i}].sourceVolume '{source}' is not a volume of the task \
                         definition; declare it in volumes."
                    ),
                ));
            }
        }
        for (i, vf) in c.volumes_from.iter().enumerate() {
            let source = vf.source_container.as_deref().unwrap_or("");
            if source == name || !containers.contains(source) {
                return Err(container_error(
                    name,
                    format_args!(
                        "volumesFrom[{i}].sourceContainer '{source}' must name another container \
                         of the task definition."
                    ),
                ));
            }
        }
        for link in &c.links {
            let target = link.split(':').next().unwrap_or("");
            if target == name || !containers.contains(target) {
                return Err(container_error(
                    name,
                    format_args!(
                        "link '{link}' must name another container of the task definition."
                    ),
                ));
            }
        }
    }
    if let Some(proxy) = &input.proxy_configuration {
        if !containers.contains(proxy.container_name.as_str()) {
            return Err(ModelError::client(format!(
                "proxyConfiguration.containerName '{}' is not a container of the task definition.",
                proxy.container_name
            )));
        }
    }
    check_accelerators(input)?;
    check_firelens_and_neuron(input)
}

/// Inference accelerators need a name and type, unique names, and containers may only
/// reference declared ones.
fn check_accelerators(input: &RegisterTaskDefinitionInput) -> Result<()> {
    let mut devices = HashSet::new();
    for (i, acc) in input.inference_accelerators.iter().enumerate() {
        if acc.device_name.is_empty() || acc.device_type.is_empty() {
            return Err(ModelError::client(format!(
                "inferenceAccelerators[{i}] needs both deviceName and deviceType."
            )));
        }
        if !devices.insert(acc.device_name.as_str()) {
            return Err(ModelError::client(format!(
                "Inference accelerator deviceName '{}' is used twice.",
                acc.device_name
            )));
        }
    }
    for c in &input.container_definitions {
        for r in c
            .resource_requirements
            .iter()
            .filter(|r| r.kind == "InferenceAccelerator")
        {
            let device = r.value.as_deref().unwrap_or("");
            if !devices.contains(device) {
                return Err(container_error(
                    c.name(),
                    format_args!(
                        "resourceRequirements names inference accelerator '{device}', which is not \
                         in the task definition's inferenceAccelerators."
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The awsfirelens log driver needs a FireLens container; at most one FireLens container
/// and one container with Neuron devices per task.
fn check_firelens_and_neuron(input: &RegisterTaskDefinitionInput) -> Result<()> {
    let cs = &input.container_definitions;
    let routers: Vec<&str> = cs
        .iter()
        .filter(|c| c.firelens_configuration.is_some())
        .map(|c| c.name())
        .collect();
    if routers.len() > 1 {
        return Err(ModelError::client(format!(
            "Only one container can have a firelensConfiguration; found {}.",
            routers.join(", ")
        )));
    }
    for c in cs {
        let uses_firelens = c
            .log_configuration
            .as_ref()
            .is_some_and(|l| l.log_driver == "awsfirelens");
        if uses_firelens && routers.is_empty() {
            return Err(container_error(
                c.name(),
                "the awsfirelens log driver needs a container with a firelensConfiguration in \
                 the task definition.",
            ));
        }
    }
    let neuron = cs
        .iter()
        .filter(|c| {
            c.resource_requirements
                .iter()
                .any(|r| r.kind == "NeuronDevice")
        })
        .count();
    if neuron > 1 {
        return Err(ModelError::client(
            "Only one container in a task can specify NeuronDevice resource requirements.",
        ));
    }
    Ok(())
}

/// `dependsOn`: a known condition; a target that exists and is not the container itself;
/// SUCCESS/COMPLETE only on non-essential targets; HEALTHY only on targets with a health
/// check; and no cycles.
pub(super) fn check_dependencies(input: &RegisterTaskDefinitionInput) -> Result<()> {
    let cs = &input.container_definitions;
    let index: HashMap<&str, usize> = cs.iter().enumerate().map(|(i, c)| (c.name(), i)).collect();
    for c in cs {
        let name = c.name();
        for (i, dep) in c.depends_on.iter().enumerate() {
            one_of(
                &format!("dependsOn[{i}].condition of container '{name}'"),
                &dep.condition,
                CONDITIONS,
            )?;
            let target_name = dep.container_name.as_str();
            if target_name == name {
                return Err(container_error(
                    name,
                    format_args!("dependsOn[{i}]: a container cannot depend on itself."),
                ));
            }
            let Some(&t) = index.get(target_name) else {
                return Err(container_error(
                    name,
                    format_args!(
                        "dependsOn[{i}]: cannot depend on container '{target_name}' because it \
                         does not exist."
                    ),
                ));
            };
            let target = &cs[t];
            if matches!(dep.condition.as_str(), "SUCCESS" | "COMPLETE") && target.is_essential() {
                return Err(container_error(
                    name,
                    format_args!(
                        "dependsOn[{i}]: a dependency container with SUCCESS or COMPLETE condition \
                         cannot be an essential container; set \"essential\": false on \
                         '{target_name}'."
                    ),
                ));
            }
            if dep.condition == "HEALTHY" && target.health_check.is_none() {
                return Err(container_error(
                    name,
                    format_args!(
                        "dependsOn[{i}]: container '{target_name}' has no healthCheck, so the \
                         HEALTHY condition can never be met."
                    ),
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(cs, &index) {
        return Err(ModelError::client(format!(
            "Container dependencies contain a cycle: {}.",
            cycle.join(" -> ")
        )));
    }
    Ok(())
}

/// A dependency cycle, as container names from its start back to it, if there is one.
fn find_cycle(cs: &[ContainerDefinition], index: &HashMap<&str, usize>) -> Option<Vec<String>> {
    // 0 = unvisited, 1 = on the current path, 2 = done.
    fn visit(
        n: usize,
        cs: &[ContainerDefinition],
        index: &HashMap<&str, usize>,
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<String>> {
        state[n] = 1;
        path.push(n);
        for dep in &cs[n].depends_on {
            let Some(&m) = index.get(dep.container_name.as_str()) else {
                continue;
            };
            if state[m] == 1 {
                let start = path.iter().position(|&p| p == m).unwrap_or(0);
                let mut names: Vec<String> = path[start..]
                    .iter()
                    .map(|&p| cs[p].name().to_string())
                    .collect();
                names.push(cs[m].name().to_string());
                return Some(names);
            }
            if state[m] == 0 {
                if let Some(cycle) = visit(m, cs, index, state, path) {
                    return Some(cycle);
                }
            }
        }
        path.pop();
        state[n] = 2;
        None
    }
    let mut state = vec![0u8; cs.len()];
    for n in 0..cs.len() {
        if state[n] == 0 {
            if let Some(cycle) = visit(n, cs, index, &mut state, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

/// A volume's transitEncryptionPort: 1-65535. ClientException.
fn check_transit_port(config: &str, port: i32) -> Result<()> {
    if (1..=65535).contains(&port) {
        Ok(())
    } else {
        Err(ModelError::client(format!(
            "{config}.transitEncryptionPort {port} must be between 1 and 65535."
        )))
    }
}

//! The Linux and Docker-level options of a container definition as Docker takes them:
//! `linuxParameters` (capabilities, devices, `/dev/shm`, tmpfs, swap), security options and
//! system controls, and the task's PID and IPC namespaces. Pure functions.

use std::collections::BTreeMap;

use flotilla_model::task_definition::{ContainerDefinition, Device, LinuxParameters, Tmpfs};
use flotilla_runtime::ContainerSpec;

/// ECS's swappiness when `maxSwap` is set and `swappiness` is not.
const DEFAULT_SWAPPINESS: i64 = 60;
const MIB: i64 = 1024 * 1024;

/// Apply `c`'s Linux parameters, security options and system controls to `spec` (whose
/// memory limit is already set).
pub(crate) fn apply(c: &ContainerDefinition, spec: &mut ContainerSpec) {
    if let Some(lp) = &c.linux_parameters {
        apply_linux_parameters(lp, spec);
    }
    spec.security_opt = c
        .docker_security_options
        .iter()
        .map(|o| security_option(o))
        .collect();
    spec.sysctls = c
        .system_controls
        .iter()
        .filter_map(|s| Some((s.namespace.clone()?, s.value.clone().unwrap_or_default())))
        .collect();
}

fn apply_linux_parameters(lp: &LinuxParameters, spec: &mut ContainerSpec) {
    if let Some(caps) = &lp.capabilities {
        spec.cap_add.clone_from(&caps.add);
        spec.cap_drop.clone_from(&caps.drop);
    }
    spec.devices = lp.devices.iter().map(device).collect();
    spec.init = lp.init_process_enabled.unwrap_or(false);
    spec.shm_size_bytes = lp.shared_memory_size.map(|m| i64::from(m) * MIB);
    spec.tmpfs = lp.tmpfs.iter().map(tmpfs).collect::<BTreeMap<_, _>>();
    // maxSwap is swap on top of the memory limit (0: none); without it the host's swap
    // settings apply and swappiness is ignored, as ECS documents.
    if let (Some(swap), Some(memory)) = (lp.max_swap, spec.memory_bytes) {
        spec.memory_swap_bytes = Some(memory + i64::from(swap) * MIB);
        spec.memory_swappiness = Some(lp.swappiness.map_or(DEFAULT_SWAPPINESS, i64::from));
    }
}

/// A device with cgroup permissions (`read`, `write`, `mknod` → `rwm`; none given: all).
fn device(d: &Device) -> flotilla_runtime::Device {
    let permissions: String = if d.permissions.is_empty() {
        "rwm".into()
    } else {
        d.permissions
            .iter()
            .filter_map(|p| match p.as_str() {
                "read" => Some('r'),
                "write" => Some('w'),
                "mknod" => Some('m'),
                _ => None,
            })
            .collect()
    };
    flotilla_runtime::Device {
        host_path: d.host_path.clone(),
        container_path: d
            .container_path
            .clone()
            .unwrap_or_else(|| d.host_path.clone()),
        permissions,
    }
}

/// A tmpfs mount: its size in MiB, then its mount options.
fn tmpfs(t: &Tmpfs) -> (String, String) {
    let options: Vec<String> = std::iter::once(format!("size={}m", t.size))
        .chain(t.mount_options.iter().cloned())
        .collect();
    (t.container_path.clone(), options.join(","))
}

/// ECS spells security options `key:value`; Docker takes `key=value`.
fn security_option(opt: &str) -> String {
    match opt.split_once(':') {
        Some((key, value)) if key != "no-new-privileges" => format!("{key}={value}"),
        _ => opt.to_string(),
    }
}

/// The task's PID and IPC namespace modes for a container (`holder`: the task's pause
/// container, which holds the `task` namespaces).
pub(crate) fn namespaces(
    pid_mode: Option<&str>,
    ipc_mode: Option<&str>,
    holder: Option<&str>,
) -> (Option<String>, Option<String>) {
    let shared = |mode: Option<&str>| match mode {
        Some("task") => holder.map(|h| format!("container:{h}")),
        Some(other) => Some(other.to_string()),
        None => None,
    };
    (shared(pid_mode), shared(ipc_mode))
}

#[cfg(test)]
mod tests {
    use flotilla_model::task_definition::{KernelCapabilities, SystemControl};

    use super::*;

    #[test]
    fn linux_parameters_become_docker_options() {
        let c = ContainerDefinition {
            linux_parameters: Some(LinuxParameters {
                capabilities: Some(KernelCapabilities {
                    add: vec!["NET_ADMIN".into()],
                    drop: vec!["MKNOD".into()],
                }),
                devices: vec![Device {
                    host_path: "/dev/fuse".into(),
                    container_path: None,
                    permissions: vec!["read".into(), "write".into()],
                }],
                shared_memory_size: Some(128),
                tmpfs: vec![Tmpfs {
                    container_path: "/run".into(),
                    size: 16,
                    mount_options: vec!["noexec".into()],
                }],
                max_swap: Some(256),
                ..Default::default()
            }),
            docker_security_options: vec![
                "no-new-privileges".into(),
                "apparmor:docker-default".into(),
                "label:type:svirt_t".into(),
            ],
            system_controls: vec![SystemControl {
                namespace: Some("net.core.somaxconn".into()),
                value: Some("1024".into()),
            }],
            ..Default::default()
        };
        let mut spec = ContainerSpec {
            memory_bytes: Some(512 * MIB),
            ..Default::default()
        };
        apply(&c, &mut spec);
        assert_eq!(spec.cap_add, ["NET_ADMIN"]);
        assert_eq!(spec.cap_drop, ["MKNOD"]);
        assert_eq!(spec.devices[0].container_path, "/dev/fuse");
        assert_eq!(spec.devices[0].permissions, "rw");
        assert_eq!(spec.shm_size_bytes, Some(128 * MIB));
        assert_eq!(spec.tmpfs["/run"], "size=16m,noexec");
        assert_eq!(spec.memory_swap_bytes, Some(768 * MIB));
        assert_eq!(spec.memory_swappiness, Some(60));
        assert_eq!(
            spec.security_opt,
            [
                "no-new-privileges",
                "apparmor=docker-default",
                "label=type:svirt_t"
            ]
        );
        assert_eq!(spec.sysctls["net.core.somaxconn"], "1024");
    }

    #[test]
    fn swappiness_without_max_swap_is_ignored_as_ecs_does() {
        let c = ContainerDefinition {
            linux_parameters: Some(LinuxParameters {
                swappiness: Some(10),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut spec = ContainerSpec {
            memory_bytes: Some(MIB),
            ..Default::default()
        };
        apply(&c, &mut spec);
        assert_eq!(spec.memory_swappiness, None);
        assert_eq!(spec.memory_swap_bytes, None);
    }

    #[test]
    fn task_namespaces_join_the_holder() {
        assert_eq!(
            namespaces(Some("task"), Some("host"), Some("p1")),
            (Some("container:p1".into()), Some("host".into()))
        );
        assert_eq!(
            namespaces(None, Some("none"), None),
            (None, Some("none".into()))
        );
    }
}

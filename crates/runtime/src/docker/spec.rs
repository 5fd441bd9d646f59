//! Translates a [`ContainerSpec`] into Docker's container-create body.
//!
//! Pure data mapping, no I/O: resources (CPU shares clamped to Docker's range as ECS does,
//! quota over a 100 ms period), network mode and published ports, the health check in
//! nanoseconds, mounts (bind mounts and named volumes as `Binds`), namespaces, capabilities,
//! devices and the small host options. Options the spec leaves unset stay unset, so
//! the image's and the daemon's defaults apply.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointIpamConfig, EndpointSettings, HealthConfig,
    HostConfig, NetworkingConfig, PortBinding as DockerPortBinding, PortMap, ResourcesUlimits,
};

use crate::{
    ContainerSpec, HealthCheck, Mount, MountSource, NetworkMode, PortBinding, Protocol, Ulimit,
};

/// Docker refuses CPU shares below 2; ECS raises smaller values to 2 as well.
pub(crate) const MIN_CPU_SHARES: i64 = 2;
/// The kernel's (and Docker's) ceiling for CPU shares.
pub(crate) const MAX_CPU_SHARES: i64 = 262_144;
/// The CFS period that `cpu_quota` is expressed against (100 ms).
pub(crate) const CPU_PERIOD_MICROS: i64 = 100_000;

/// The create body for `spec` (the name travels separately as a query parameter).
pub(crate) fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let network = spec.network.as_ref();
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        entrypoint: spec.entrypoint.clone(),
        cmd: spec.command.clone(),
        env: non_empty(env_list(&spec.env)),
        working_dir: spec.working_dir.clone(),
        user: spec.user.clone(),
        labels: non_empty(spec.labels.clone().into_iter().collect()),
        hostname: spec.hostname.clone(),
        exposed_ports: non_empty(exposed_ports(&spec.ports)),
        healthcheck: spec.health_check.as_ref().map(health_config),
        stop_timeout: spec.stop_timeout.map(super::whole_seconds),
        host_config: Some(host_config(spec)),
        networking_config: network.and_then(networking_config),
        open_stdin: spec.interactive.then_some(true),
        tty: spec.tty.then_some(true),
        ..Default::default()
    }
}

fn non_empty<T, C: IntoIterator<Item = T> + FromIterator<T>>(items: C) -> Option<C> {
    let mut items = items.into_iter().peekable();
    items.peek()?;
    Some(items.collect())
}

fn env_list(env: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

fn host_config(spec: &ContainerSpec) -> HostConfig {
    HostConfig {
        cpu_shares: spec.cpu_shares.map(clamp_cpu_shares),
        cpu_quota: spec.cpu_quota,
        cpu_period: spec.cpu_quota.map(|_| CPU_PERIOD_MICROS),
        memory: spec.memory_bytes,
        memory_reservation: spec.memory_reservation_bytes,
        ulimits: non_empty(spec.ulimits.iter().map(ulimit).collect()),
        network_mode: spec.network.as_ref().map(network_mode),
        port_bindings: non_empty(port_bindings(&spec.ports)),
        extra_hosts: non_empty(spec.extra_hosts.clone()),
        dns: non_empty(spec.dns.clone()),
        dns_search: non_empty(spec.dns_search.clone()),
        privileged: Some(spec.privileged),
        readonly_rootfs: Some(spec.read_only_root),
        init: Some(spec.init),
        binds: non_empty(spec.mounts.iter().map(bind).collect()),
        volumes_from: non_empty(
            spec.volumes_from
                .iter()
                .map(|v| with_mode(&v.container, v.read_only))
                .collect(),
        ),
        links: non_empty(spec.links.clone()),
        cap_add: non_empty(spec.cap_add.clone()),
        cap_drop: non_empty(spec.cap_drop.clone()),
        devices: non_empty(
            spec.devices
                .iter()
                .map(|d| DeviceMapping {
                    path_on_host: Some(d.host_path.clone()),
                    path_in_container: Some(d.container_path.clone()),
                    cgroup_permissions: Some(d.permissions.clone()),
                })
                .collect(),
        ),
        shm_size: spec.shm_size_bytes,
        tmpfs: non_empty(spec.tmpfs.clone().into_iter().collect()),
        memory_swap: spec.memory_swap_bytes,
        memory_swappiness: spec.memory_swappiness,
        pid_mode: spec.pid_mode.clone(),
        ipc_mode: spec.ipc_mode.clone(),
        security_opt: non_empty(spec.security_opt.clone()),
        sysctls: non_empty(spec.sysctls.clone().into_iter().collect()),
        ..Default::default()
    }
}

/// Docker's `Binds` entry of a mount: `source:target[:ro]`, the source a host path or a
/// volume name.
fn bind(m: &Mount) -> String {
    let source = match &m.source {
        MountSource::HostPath(p) | MountSource::Volume(p) => p,
    };
    with_mode(&format!("{source}:{}", m.target), m.read_only)
}

fn with_mode(s: &str, read_only: bool) -> String {
    if read_only {
        format!("{s}:ro")
    } else {
        s.to_string()
    }
}

/// CPU shares within what Docker accepts.
pub(crate) fn clamp_cpu_shares(shares: i64) -> i64 {
    shares.clamp(MIN_CPU_SHARES, MAX_CPU_SHARES)
}

fn ulimit(limit: &Ulimit) -> ResourcesUlimits {
    ResourcesUlimits {
        name: Some(limit.name.clone()),
        soft: Some(limit.soft),
        hard: Some(limit.hard),
    }
}

/// Docker's `HostConfig.NetworkMode` for a mode.
pub(crate) fn network_mode(mode: &NetworkMode) -> String {
    match mode {
        NetworkMode::Bridge => "bridge".to_string(),
        NetworkMode::Host => "host".to_string(),
        NetworkMode::None => "none".to_string(),
        NetworkMode::Container(id) => format!("container:{id}"),
        NetworkMode::Network { name, .. } => name.clone(),
    }
}

/// The endpoint settings of a named network: where a fixed address is requested.
fn networking_config(mode: &NetworkMode) -> Option<NetworkingConfig> {
    let NetworkMode::Network { name, ipv4 } = mode else {
        return None;
    };
    let endpoint = EndpointSettings {
        ipam_config: ipv4.as_ref().map(|ip| EndpointIpamConfig {
            ipv4_address: Some(ip.clone()),
            ..Default::default()
        }),
        ..Default::default()
    };
    Some(NetworkingConfig {
        endpoints_config: Some(HashMap::from([(name.clone(), endpoint)])),
    })
}

/// Docker's port key, e.g. `80/tcp`.
pub(crate) fn port_key(port: u16, protocol: Protocol) -> String {
    match protocol {
        Protocol::Tcp => format!("{port}/tcp"),
        Protocol::Udp => format!("{port}/udp"),
    }
}

fn exposed_ports(ports: &[PortBinding]) -> Vec<String> {
    let mut keys: Vec<String> = ports
        .iter()
        .map(|p| port_key(p.container_port, p.protocol))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Published ports; host port 0 is sent empty so Docker picks a free one.
fn port_bindings(ports: &[PortBinding]) -> PortMap {
    let mut map = PortMap::new();
    for port in ports {
        let binding = DockerPortBinding {
            host_ip: (!port.host_ip.is_empty()).then(|| port.host_ip.clone()),
            host_port: Some(match port.host_port {
                0 => String::new(),
                n => n.to_string(),
            }),
        };
        map.entry(port_key(port.container_port, port.protocol))
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    map
}

/// Docker's health config: durations in nanoseconds, zero meaning "Docker's default".
fn health_config(check: &HealthCheck) -> HealthConfig {
    HealthConfig {
        test: Some(check.test.clone()),
        interval: nanos(check.interval),
        timeout: nanos(check.timeout),
        retries: Some(i64::from(check.retries)),
        start_period: nanos(check.start_period),
        ..Default::default()
    }
}

fn nanos(d: Duration) -> Option<i64> {
    (!d.is_zero()).then(|| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: "web".into(),
            image: "flotilla-test/busybox:latest".into(),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_shares_are_clamped_and_quota_gets_a_period() {
        let body = create_body(&ContainerSpec {
            cpu_shares: Some(0),
            cpu_quota: Some(50_000),
            ..spec()
        });
        let host = body.host_config.unwrap_or_default();
        assert_eq!(host.cpu_shares, Some(2));
        assert_eq!(host.cpu_quota, Some(50_000));
        assert_eq!(host.cpu_period, Some(100_000));
        assert_eq!(clamp_cpu_shares(1_000_000), MAX_CPU_SHARES);
        assert_eq!(clamp_cpu_shares(512), 512);
    }

    #[test]
    fn unset_options_stay_unset() {
        let body = create_body(&spec());
        assert_eq!(body.env, None);
        assert_eq!(body.labels, None);
        assert_eq!(body.exposed_ports, None);
        assert_eq!(body.entrypoint, None);
        let host = body.host_config.unwrap_or_default();
        assert_eq!(host.port_bindings, None);
        assert_eq!(host.network_mode, None);
        assert_eq!(host.cpu_period, None);
        assert_eq!(host.dns, None);
        assert_eq!(host.dns_search, None);
    }

    #[test]
    fn resolvers_and_search_domains_are_mapped() {
        let body = create_body(&ContainerSpec {
            dns: vec!["172.17.0.1".into()],
            dns_search: vec!["svc.local".into()],
            ..spec()
        });
        let host = body.host_config.unwrap_or_default();
        assert_eq!(host.dns, Some(vec!["172.17.0.1".to_string()]));
        assert_eq!(host.dns_search, Some(vec!["svc.local".to_string()]));
    }

    #[test]
    fn env_and_labels_are_mapped() {
        let body = create_body(&ContainerSpec {
            env: BTreeMap::from([("A".into(), "1".into()), ("B".into(), "x=y".into())]),
            labels: BTreeMap::from([("k".into(), "v".into())]),
            ..spec()
        });
        assert_eq!(body.env, Some(vec!["A=1".to_string(), "B=x=y".to_string()]));
        assert_eq!(body.labels.unwrap_or_default()["k"], "v");
    }

    #[test]
    fn dynamic_and_fixed_ports_are_published() {
        let port = |container_port, host_port, protocol| PortBinding {
            container_port,
            host_port,
            protocol,
            host_ip: String::new(),
        };
        let body = create_body(&ContainerSpec {
            network: Some(NetworkMode::Bridge),
            ports: vec![
                port(80, 0, Protocol::Tcp),
                port(80, 8080, Protocol::Tcp),
                port(53, 5353, Protocol::Udp),
            ],
            ..spec()
        });
        assert_eq!(
            body.exposed_ports,
            Some(vec!["53/udp".to_string(), "80/tcp".to_string()])
        );
        let host = body.host_config.unwrap_or_default();
        assert_eq!(host.network_mode.as_deref(), Some("bridge"));
        let bindings = host.port_bindings.unwrap_or_default();
        let http: Vec<_> = bindings["80/tcp"]
            .iter()
            .flatten()
            .map(|b| b.host_port.clone().unwrap_or_default())
            .collect();
        assert_eq!(http, vec!["".to_string(), "8080".to_string()]);
        assert!(bindings.contains_key("53/udp"));
    }

    #[test]
    fn named_network_carries_the_fixed_address() {
        let body = create_body(&ContainerSpec {
            network: Some(NetworkMode::Network {
                name: "flotilla-awsvpc".into(),
                ipv4: Some("172.31.240.10".into()),
            }),
            ..spec()
        });
        let endpoints = body
            .networking_config
            .and_then(|n| n.endpoints_config)
            .unwrap_or_default();
        let address = endpoints["flotilla-awsvpc"]
            .ipam_config
            .as_ref()
            .and_then(|c| c.ipv4_address.clone());
        assert_eq!(address.as_deref(), Some("172.31.240.10"));
        assert_eq!(
            network_mode(&NetworkMode::Container("abc".into())),
            "container:abc"
        );
    }

    #[test]
    fn mounts_namespaces_and_kernel_options_are_mapped() {
        let body = create_body(&ContainerSpec {
            mounts: vec![
                Mount {
                    source: MountSource::HostPath("/srv/data".into()),
                    target: "/data".into(),
                    read_only: true,
                },
                Mount {
                    source: MountSource::Volume("ecs-f-1-cache-x".into()),
                    target: "/cache".into(),
                    read_only: false,
                },
            ],
            volumes_from: vec![crate::VolumesFrom {
                container: "abc".into(),
                read_only: true,
            }],
            cap_add: vec!["NET_ADMIN".into()],
            devices: vec![crate::Device {
                host_path: "/dev/null".into(),
                container_path: "/dev/n".into(),
                permissions: "rw".into(),
            }],
            shm_size_bytes: Some(64 << 20),
            tmpfs: BTreeMap::from([("/run".into(), "size=8m".into())]),
            memory_swap_bytes: Some(1 << 30),
            pid_mode: Some("host".into()),
            ipc_mode: Some("shareable".into()),
            security_opt: vec!["no-new-privileges".into()],
            sysctls: BTreeMap::from([("net.core.somaxconn".into(), "1024".into())]),
            interactive: true,
            ..spec()
        });
        assert_eq!(body.open_stdin, Some(true));
        assert_eq!(body.tty, None);
        let host = body.host_config.unwrap_or_default();
        assert_eq!(
            host.binds,
            Some(vec![
                "/srv/data:/data:ro".to_string(),
                "ecs-f-1-cache-x:/cache".to_string()
            ])
        );
        assert_eq!(host.volumes_from, Some(vec!["abc:ro".to_string()]));
        assert_eq!(host.cap_add, Some(vec!["NET_ADMIN".to_string()]));
        assert_eq!(host.cap_drop, None);
        let devices = host.devices.unwrap_or_default();
        assert_eq!(devices[0].cgroup_permissions.as_deref(), Some("rw"));
        assert_eq!(host.shm_size, Some(64 << 20));
        assert_eq!(host.tmpfs.unwrap_or_default()["/run"], "size=8m");
        assert_eq!(host.memory_swap, Some(1 << 30));
        assert_eq!(host.pid_mode.as_deref(), Some("host"));
        assert_eq!(host.ipc_mode.as_deref(), Some("shareable"));
        assert_eq!(
            host.sysctls.unwrap_or_default()["net.core.somaxconn"],
            "1024"
        );
    }

    #[test]
    fn health_check_durations_are_nanoseconds() {
        let body = create_body(&ContainerSpec {
            health_check: Some(HealthCheck {
                test: vec!["CMD-SHELL".into(), "true".into()],
                interval: Duration::from_secs(1),
                timeout: Duration::from_millis(500),
                retries: 3,
                start_period: Duration::ZERO,
            }),
            stop_timeout: Some(Duration::from_secs(7)),
            ..spec()
        });
        let health = body.healthcheck.unwrap_or_default();
        assert_eq!(health.interval, Some(1_000_000_000));
        assert_eq!(health.timeout, Some(500_000_000));
        assert_eq!(health.retries, Some(3));
        assert_eq!(health.start_period, None);
        assert_eq!(body.stop_timeout, Some(7));
    }
}

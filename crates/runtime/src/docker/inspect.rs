//! Reads Docker's container-inspect answer into a [`ContainerState`].
//!
//! Pure data mapping, no I/O. Docker's zero time (`0001-01-01T00:00:00Z`) and empty
//! strings mean "unknown" and become `None`; host ports come from the resolved
//! `NetworkSettings.Ports` (so dynamic ones carry the port Docker chose), addresses from
//! `NetworkSettings.Networks`.

use std::collections::BTreeMap;

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum, NetworkSettings,
};

use crate::{ContainerState, Health, PortBinding, Protocol};

/// Docker's rendering of "never".
const ZERO_TIME_PREFIX: &str = "0001-01-01";

/// The runtime's view of an inspect answer.
pub(crate) fn container_state(answer: ContainerInspectResponse) -> ContainerState {
    let state = answer.state.unwrap_or_default();
    let config = answer.config.unwrap_or_default();
    let status = state.status.unwrap_or(ContainerStateStatusEnum::EMPTY);
    let exited = matches!(
        status,
        ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD
    );
    ContainerState {
        id: answer.id.unwrap_or_default(),
        name: answer
            .name
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        image: config.image.or(answer.image).unwrap_or_default(),
        labels: config.labels.unwrap_or_default().into_iter().collect(),
        created: matches!(
            status,
            ContainerStateStatusEnum::CREATED | ContainerStateStatusEnum::RESTARTING
        ),
        running: state.running.unwrap_or(false),
        exited,
        exit_code: if exited { state.exit_code } else { None },
        error: known(state.error),
        oom_killed: state.oom_killed.unwrap_or(false),
        health: health(state.health.and_then(|h| h.status)),
        ports: answer
            .network_settings
            .as_ref()
            .map(host_ports)
            .unwrap_or_default(),
        ip_addresses: answer
            .network_settings
            .as_ref()
            .map(ip_addresses)
            .unwrap_or_default(),
        started_at: known_time(state.started_at),
        finished_at: known_time(state.finished_at),
        pid: state
            .pid
            .filter(|p| *p > 0)
            .and_then(|p| u32::try_from(p).ok()),
    }
}

fn known(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.is_empty())
}

fn known_time(time: Option<String>) -> Option<String> {
    known(time).filter(|t| !t.starts_with(ZERO_TIME_PREFIX))
}

fn health(status: Option<HealthStatusEnum>) -> Health {
    match status {
        Some(HealthStatusEnum::STARTING) => Health::Starting,
        Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
        Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
        Some(HealthStatusEnum::NONE | HealthStatusEnum::EMPTY) | None => Health::None,
    }
}

/// Every host binding, in a stable order (Docker's map has none).
fn host_ports(settings: &NetworkSettings) -> Vec<PortBinding> {
    let mut ports: Vec<PortBinding> = settings
        .ports
        .iter()
        .flatten()
        .filter_map(|(key, bindings)| Some((parse_port_key(key)?, bindings.as_ref()?)))
        .flat_map(|((container_port, protocol), bindings)| {
            bindings.iter().filter_map(move |b| {
                Some(PortBinding {
                    container_port,
                    host_port: b.host_port.as_deref()?.parse().ok()?,
                    protocol,
                    host_ip: b.host_ip.clone().unwrap_or_default(),
                })
            })
        })
        .collect();
    ports.sort_by(|a, b| {
        (a.container_port, a.protocol, &a.host_ip, a.host_port).cmp(&(
            b.container_port,
            b.protocol,
            &b.host_ip,
            b.host_port,
        ))
    });
    ports
}

/// `80/tcp` → (80, Tcp); other protocols (sctp) are not modelled.
pub(crate) fn parse_port_key(key: &str) -> Option<(u16, Protocol)> {
    let (port, protocol) = key.split_once('/').unwrap_or((key, "tcp"));
    let protocol = match protocol {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return None,
    };
    Some((port.parse().ok()?, protocol))
}

fn ip_addresses(settings: &NetworkSettings) -> BTreeMap<String, String> {
    settings
        .networks
        .iter()
        .flatten()
        .filter_map(|(name, endpoint)| {
            let ip = known(endpoint.ip_address.clone())?;
            Some((name.clone(), ip))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::{
        ContainerConfig, ContainerState as DockerState, EndpointSettings, Health as DockerHealth,
        PortBinding as DockerPortBinding,
    };

    use super::*;

    fn exited_answer() -> ContainerInspectResponse {
        ContainerInspectResponse {
            id: Some("abc".into()),
            name: Some("/web".into()),
            image: Some("sha256:123".into()),
            config: Some(ContainerConfig {
                image: Some("flotilla-test/busybox:latest".into()),
                labels: Some(HashMap::from([("k".into(), "v".into())])),
                ..Default::default()
            }),
            state: Some(DockerState {
                status: Some(ContainerStateStatusEnum::EXITED),
                running: Some(false),
                exit_code: Some(3),
                oom_killed: Some(true),
                error: Some(String::new()),
                started_at: Some("2024-05-01T10:00:00.5Z".into()),
                finished_at: Some("2024-05-01T10:00:01Z".into()),
                health: Some(DockerHealth {
                    status: Some(HealthStatusEnum::UNHEALTHY),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn exited_container_reports_code_and_times() {
        let state = container_state(exited_answer());
        assert_eq!(state.name, "web");
        assert_eq!(state.image, "flotilla-test/busybox:latest");
        assert_eq!(state.labels["k"], "v");
        assert!(state.exited && !state.running && !state.created);
        assert_eq!(state.exit_code, Some(3));
        assert!(state.oom_killed);
        assert_eq!(state.error, None);
        assert_eq!(state.health, Health::Unhealthy);
        assert_eq!(state.started_at.as_deref(), Some("2024-05-01T10:00:00.5Z"));
    }

    #[test]
    fn created_container_has_no_exit_code_nor_times() {
        let mut answer = exited_answer();
        answer.state = Some(DockerState {
            status: Some(ContainerStateStatusEnum::CREATED),
            exit_code: Some(0),
            started_at: Some("0001-01-01T00:00:00Z".into()),
            ..Default::default()
        });
        let state = container_state(answer);
        assert!(state.created && !state.exited);
        assert_eq!(state.exit_code, None);
        assert_eq!(state.started_at, None);
        assert_eq!(state.health, Health::None);
    }

    #[test]
    fn resolved_ports_and_addresses_are_read() {
        let binding = |ip: &str, port: &str| DockerPortBinding {
            host_ip: Some(ip.into()),
            host_port: Some(port.into()),
        };
        let mut answer = exited_answer();
        answer.network_settings = Some(NetworkSettings {
            ports: Some(HashMap::from([
                (
                    "80/tcp".into(),
                    Some(vec![binding("0.0.0.0", "49153"), binding("::", "49153")]),
                ),
                ("81/tcp".into(), None),
                ("9/sctp".into(), Some(vec![binding("0.0.0.0", "9")])),
            ])),
            networks: Some(HashMap::from([
                (
                    "bridge".into(),
                    EndpointSettings {
                        ip_address: Some("172.17.0.2".into()),
                        ..Default::default()
                    },
                ),
                ("none".into(), EndpointSettings::default()),
            ])),
            ..Default::default()
        });
        let state = container_state(answer);
        let ports: Vec<_> = state
            .ports
            .iter()
            .map(|p| (p.container_port, p.host_port, p.host_ip.as_str()))
            .collect();
        assert_eq!(ports, vec![(80, 49153, "0.0.0.0"), (80, 49153, "::")]);
        assert_eq!(
            state.ip_addresses,
            BTreeMap::from([("bridge".to_string(), "172.17.0.2".to_string())])
        );
    }

    #[test]
    fn port_keys_parse() {
        assert_eq!(parse_port_key("53/udp"), Some((53, Protocol::Udp)));
        assert_eq!(parse_port_key("80"), Some((80, Protocol::Tcp)));
        assert_eq!(parse_port_key("x/tcp"), None);
    }
}

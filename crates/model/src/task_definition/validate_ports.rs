//! Port mapping rules: per container (ports in range, protocol, names, ranges, network-mode
//! constraints, no port mapped twice) and across the task (no host port bound twice, names
//! unique). ClientException, except InvalidParameterException for `protocol` and
//! `appProtocol` values outside their enumerations.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::container::{ContainerDefinition, PortMapping};
use super::task::RegisterTaskDefinitionInput;
use super::validate::{one_of, TaskContext};
use super::validate_container::container_error;
use crate::error::{ModelError, Result};

/// Service Connect port names: up to 64 lowercase letters, digits, underscores, hyphens, not
/// starting with a hyphen.
static PORT_NAME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[a-z0-9_][a-z0-9_-]{0,63}$").expect("the port name pattern is a valid regex")
});
const MAX_PORT_RANGES: usize = 100;

/// The protocol of a mapping, `tcp` when absent.
pub(super) fn protocol(pm: &PortMapping) -> &str {
    pm.protocol.as_deref().unwrap_or("tcp")
}

/// Parse a `containerPortRange` like `8000-8010` into (first, last), 1 <= first < last <= 65535.
pub(super) fn parse_port_range(range: &str) -> Option<(i32, i32)> {
    let (a, b) = range.split_once('-')?;
    let first: i32 = a.trim().parse().ok()?;
    let last: i32 = b.trim().parse().ok()?;
    (1 <= first && first < last && last <= 65535).then_some((first, last))
}

/// The container ports a mapping covers, if it is valid.
fn container_ports(pm: &PortMapping) -> Option<(i32, i32)> {
    match (&pm.container_port_range, pm.container_port) {
        (Some(r), _) => parse_port_range(r),
        (None, Some(p)) => Some((p, p)),
        (None, None) => None,
    }
}

/// The host ports a mapping binds, `None` when Docker assigns them (bridge mode without a
/// host port, or a range in bridge mode).
pub(super) fn host_ports(pm: &PortMapping, network_mode: &str) -> Option<(i32, i32)> {
    let static_mode = matches!(network_mode, "awsvpc" | "host");
    match pm.host_port {
        Some(h) if h != 0 => Some((h, h)),
        _ if static_mode => container_ports(pm),
        _ => None,
    }
}

/// How a mapping names its container ports in messages: `containerPort 80` or
/// `containerPortRange 8000-8010`.
fn describe(pm: &PortMapping) -> String {
    match (&pm.container_port_range, pm.container_port) {
        (Some(r), _) => format!("containerPortRange {r}"),
        (None, Some(p)) => format!("containerPort {p}"),
        (None, None) => "containerPort (missing)".to_string(),
    }
}

/// Check one container's port mappings.
pub(super) fn check_container_ports(c: &ContainerDefinition, ctx: &TaskContext) -> Result<()> {
    let name = c.name();
    let mode = ctx.network_mode;
    if !c.port_mappings.is_empty() && mode == "none" {
        return Err(ModelError::client(format!(
            "Port mappings are not supported when networkMode=none (container '{name}')."
        )));
    }
    let ranges = c
        .port_mappings
        .iter()
        .filter(|p| p.container_port_range.is_some())
        .count();
    if ranges > MAX_PORT_RANGES {
        return Err(container_error(
            name,
            format_args!("{ranges} port ranges given; at most {MAX_PORT_RANGES} are allowed."),
        ));
    }
    for (i, pm) in c.port_mappings.iter().enumerate() {
        check_mapping(name, i, pm, mode)?;
    }
    // No container port may be mapped twice for the same protocol.
    for (i, pm) in c.port_mappings.iter().enumerate() {
        let Some((a1, b1)) = container_ports(pm) else {
            continue;
        };
        let clash = c.port_mappings[..i].iter().any(|other| {
            protocol(other) == protocol(pm)
                && container_ports(other).is_some_and(|(a2, b2)| a1 <= b2 && a2 <= b1)
        });
        if clash {
            return Err(container_error(
                name,
                format_args!(
                    "portMappings[{i}].{}/{} is mapped twice: a port can be in only one port \
                     mapping per container and protocol.",
                    describe(pm),
                    protocol(pm)
                ),
            ));
        }
    }
    Ok(())
}

/// Check one port mapping on its own.
fn check_mapping(name: &str, i: usize, pm: &PortMapping, mode: &str) -> Result<()> {
    if let Some(p) = &pm.protocol {
        one_of(
            &format!("portMappings[{i}].protocol of container '{name}'"),
            p,
            &["tcp", "udp"],
        )?;
    }
    if let Some(app) = &pm.app_protocol {
        one_of(
            &format!("portMappings[{i}].appProtocol of container '{name}'"),
            app,
            &["http", "http2", "grpc"],
        )?;
        if pm.name.is_none() {
            return Err(container_error(
                name,
                format_args!("portMappings[{i}].appProtocol requires a port mapping name."),
            ));
        }
    }
    if let Some(n) = &pm.name {
        if !PORT_NAME_RE.is_match(n) {
            return Err(container_error(
                name,
                format_args!(
                    "portMappings[{i}].name '{n}' is invalid: up to 64 lowercase letters, \
                     numbers, underscores and hyphens, not starting with a hyphen."
                ),
            ));
        }
    }
    if let Some(range) = &pm.container_port_range {
        if pm.container_port.is_some() {
            return Err(container_error(
                name,
                format_args!("portMappings[{i}] sets both containerPort and containerPortRange."),
            ));
        }
        if pm.host_port.is_some() {
            return Err(container_error(
                name,
                format_args!(
                    "portMappings[{i}] sets hostPort with containerPortRange; leave hostPort out."
                ),
            ));
        }
        if !matches!(mode, "bridge" | "awsvpc") {
            return Err(container_error(
                name,
                format_args!(
                    "containerPortRange requires networkMode bridge or awsvpc, not {mode}."
                ),
            ));
        }
        if parse_port_range(range).is_none() {
            return Err(container_error(
                name,
                format_args!(
                    "portMappings[{i}].containerPortRange '{range}' is invalid: use 'first-last' \
                     with 1 <= first < last <= 65535."
                ),
            ));
        }
        return Ok(());
    }
    let Some(port) = pm.container_port.filter(|p| (1..=65535).contains(p)) else {
        return Err(ModelError::client(format!(
            "Invalid 'containerPort' setting for container '{name}': portMappings[{i}].containerPort \
             must be between 1 and 65535{}.",
            pm.container_port.map(|p| format!("; {p} was given")).unwrap_or_default()
        )));
    };
    if let Some(h) = pm.host_port {
        if !(0..=65535).contains(&h) {
            return Err(ModelError::client(format!(
                "Invalid 'hostPort' setting for container '{name}': portMappings[{i}].hostPort \
                 must be between 0 and 65535; {h} was given."
            )));
        }
        if matches!(mode, "awsvpc" | "host") && h != 0 && h != port {
            return Err(ModelError::client(format!(
                "When networkMode={mode}, the host ports and container ports in port mappings \
                 must match. Container '{name}' maps portMappings[{i}] hostPort {h} to \
                 containerPort {port}: leave hostPort out or set it to {port}."
            )));
        }
    }
    Ok(())
}

/// Across the task: no host port bound by two mappings, port mapping names unique.
pub(super) fn check_task_ports(
    input: &RegisterTaskDefinitionInput,
    ctx: &TaskContext,
) -> Result<()> {
    // (protocol) -> [(first, last, container, index)]
    let mut bound: HashMap<&str, Vec<(i32, i32, &str, usize)>> = HashMap::new();
    let mut names: HashMap<&str, &str> = HashMap::new();
    for c in &input.container_definitions {
        for (i, pm) in c.port_mappings.iter().enumerate() {
            if let Some(n) = pm.name.as_deref() {
                if let Some(first) = names.insert(n, c.name()) {
                    return Err(ModelError::client(format!(
                        "Port mapping name '{n}' is used twice (containers '{first}' and '{}'): \
                         port mapping names must be unique within a task definition.",
                        c.name()
                    )));
                }
            }
            let Some((a, b)) = host_ports(pm, ctx.network_mode) else {
                continue;
            };
            let proto = protocol(pm);
            let list = bound.entry(proto).or_default();
            if let Some((_, _, other, j)) = list.iter().find(|(a2, b2, ..)| a <= *b2 && *a2 <= b) {
                let port = if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                };
                return Err(ModelError::client(format!(
                    "Host port {port}/{proto} is bound twice: by container '{other}' \
                     portMappings[{j}] and container '{}' portMappings[{i}]. Each host port \
                     can be used by one port mapping per task.",
                    c.name()
                )));
            }
            list.push((a, b, c.name(), i));
        }
    }
    Ok(())
}

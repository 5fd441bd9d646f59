//! What a task takes from the instance it runs on, and what an instance has left: the
//! arithmetic behind `remainingResources` and placement.

use flotilla_model::container_instance::{Capacity, ContainerInstanceRecord};
use flotilla_model::task::{TaskRecord, TaskStatus};
use flotilla_model::task_definition::TaskDefinition;

/// The resources one task holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu: i64,
    pub memory: i64,
    pub tcp_ports: Vec<u16>,
    pub udp_ports: Vec<u16>,
}

/// A stored cpu or memory figure, held to 0..=2^31-1 (what the API accepts), so that a
/// record written before the checks existed cannot make the arithmetic overflow.
fn parse(v: Option<&str>) -> i64 {
    v.and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0)
        .clamp(0, i64::from(i32::MAX))
}

/// A task's use: task-level cpu/memory where set, else the sums over its containers
/// (memory: the hard limit, else the reservation); host ports from its definition (fixed
/// host ports in bridge mode, container ports in host mode) and from its bindings.
pub fn task_usage(task: &TaskRecord, def: Option<&TaskDefinition>) -> Usage {
    let mut u = Usage {
        cpu: parse(task.cpu.as_deref()),
        memory: parse(task.memory.as_deref()),
        ..Usage::default()
    };
    if task.cpu.is_none() {
        u.cpu = task
            .containers
            .iter()
            .map(|c| parse(c.cpu.as_deref()))
            .fold(0, i64::saturating_add);
    }
    if task.memory.is_none() {
        u.memory = task
            .containers
            .iter()
            .map(|c| match c.memory.as_deref() {
                Some(m) => parse(Some(m)),
                None => parse(c.memory_reservation.as_deref()),
            })
            .fold(0, i64::saturating_add);
    }
    if let Some(def) = def {
        let (tcp, udp) = fixed_host_ports(def);
        u.tcp_ports = tcp;
        u.udp_ports = udp;
    }
    for c in &task.containers {
        for b in &c.network_bindings {
            let port = u16::try_from(b.host_port).unwrap_or(0);
            let list = if b.protocol == "udp" {
                &mut u.udp_ports
            } else {
                &mut u.tcp_ports
            };
            if port != 0 && !list.contains(&port) {
                list.push(port);
            }
        }
    }
    u
}

/// Host ports a definition needs before it runs: fixed `hostPort`s in bridge mode, every
/// container port in host mode. awsvpc and none take no host ports.
pub fn fixed_host_ports(def: &TaskDefinition) -> (Vec<u16>, Vec<u16>) {
    let mode = def.effective_network_mode();
    let (mut tcp, mut udp) = (Vec::new(), Vec::new());
    if mode != "bridge" && mode != "host" {
        return (tcp, udp);
    }
    for c in &def.container_definitions {
        for pm in &c.port_mappings {
            let port = match mode {
                "host" => pm.host_port.or(pm.container_port),
                _ => pm.host_port.filter(|p| *p > 0),
            };
            let Some(port) = port.and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0) else {
                continue;
            };
            if pm.protocol.as_deref() == Some("udp") {
                udp.push(port);
            } else {
                tcp.push(port);
            }
        }
    }
    (tcp, udp)
}

/// Whether a task still holds its resources (it is not yet STOPPED).
pub fn holds_resources(task: &TaskRecord) -> bool {
    task.last_status < TaskStatus::Stopped
}

/// What remains of an instance's registered capacity after `usages`.
pub fn remaining<'a>(
    instance: &ContainerInstanceRecord,
    usages: impl IntoIterator<Item = &'a Usage>,
) -> Capacity {
    let mut c = Capacity::from_resources(&instance.registered_resources);
    for u in usages {
        c.cpu = c.cpu.saturating_sub(u.cpu);
        c.memory = c.memory.saturating_sub(u.memory);
        c.tcp_ports.extend(u.tcp_ports.iter().copied());
        c.udp_ports.extend(u.udp_ports.iter().copied());
    }
    c
}

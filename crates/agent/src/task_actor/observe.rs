//! What the actor learns from the runtime (inspect results → container status, exit code,
//! health, network bindings) and what it tells the world (the task report, the checkpoint
//! entry). ECS semantics live here: an essential container exiting stops the task, a
//! non-essential one is only reported; task health is derived from the essential
//! containers that have a health check.

use flotilla_model::task::{
    ContainerReport, ContainerStatus, HealthStatus, NetworkBinding, NetworkInterface, StopCode,
    TaskReport, TaskStatus,
};
use flotilla_runtime::{ContainerState, Health, Protocol, RuntimeError};
use serde_json::json;

use super::restart::should_restart;
use super::{is_awsvpc, TaskActor};
use crate::checkpoint::TaskCheckpoint;
use crate::spec::NetMode;

/// ECS's reason for a task stopped by an essential container's exit.
pub(crate) const ESSENTIAL_EXITED: &str = "Essential container in task exited";

impl TaskActor {
    /// Inspect one of the task's containers after an event.
    pub(super) async fn observe(&mut self, id: &str) {
        if self.pause.as_ref().is_some_and(|p| p.id == id) {
            if let Ok(state) = self.ctx.runtime.inspect_container(id).await {
                self.apply_pause_state(&state);
            }
            return;
        }
        let Some(i) = self
            .containers
            .iter()
            .position(|c| c.runtime_id.as_deref() == Some(id))
        else {
            return;
        };
        match self.ctx.runtime.inspect_container(id).await {
            Ok(state) => self.apply_state(i, &state),
            Err(RuntimeError::NotFound(_)) => {
                let c = &mut self.containers[i];
                if c.status != ContainerStatus::Stopped {
                    c.reason
                        .get_or_insert_with(|| "container removed from the runtime".into());
                    c.advance(ContainerStatus::Stopped);
                    c.started = true;
                    let essential = c.def.is_essential();
                    if essential {
                        self.fail(StopCode::EssentialContainerExited, ESSENTIAL_EXITED.into());
                    }
                }
            }
            Err(e) => {
                tracing::warn!(task = %self.task_arn, container = id, error = %e, "inspect failed")
            }
        }
    }

    /// Inspect every container (events may have been missed).
    pub(super) async fn refresh_all(&mut self) {
        let ids: Vec<String> = self
            .containers
            .iter()
            .filter_map(|c| c.runtime_id.clone())
            .chain(self.pause.as_ref().map(|p| p.id.clone()))
            .collect();
        for id in ids {
            self.observe(&id).await;
        }
    }

    pub(super) fn apply_pause_state(&mut self, state: &ContainerState) {
        let network = self.task_network_spec().name;
        if let Some(p) = self.pause.as_mut() {
            if let Some(ip) = state.ip_addresses.get(&network) {
                p.ip = Some(ip.clone());
            }
            p.pid = state.pid;
        }
    }

    /// Fold an inspect result into container `i`.
    pub(super) fn apply_state(&mut self, i: usize, state: &ContainerState) {
        let mode = self.spec.network;
        let stopping = self.stop_wanted();
        let c = &mut self.containers[i];
        c.health = state.health;
        if state.running {
            c.started = true;
            c.advance(ContainerStatus::Running);
            c.bindings = bindings(mode, &c.def, state);
            if c.last_start.is_none() {
                c.last_start = state.started_at.as_deref().and_then(parse_time);
            }
        } else if state.exited
            && c.status != ContainerStatus::Stopped
            && !stopping
            && should_restart(
                c.def.restart_policy.as_ref(),
                state.exit_code,
                c.last_start,
                chrono::Utc::now(),
            )
        {
            c.exit_code = state.exit_code;
            c.restart_pending = true;
        } else if state.exited
            && c.status != ContainerStatus::Stopped
            && (stopping || !c.restart_pending)
        {
            c.restart_pending = false;
            c.started = true;
            c.advance(ContainerStatus::Stopped);
            c.exit_code = state.exit_code;
            if state.oom_killed {
                c.reason = Some("OutOfMemoryError: Container killed due to memory usage".into());
            } else if let Some(err) = state.error.as_ref().filter(|e| !e.is_empty()) {
                c.reason = Some(err.clone());
            }
            if c.def.is_essential() {
                self.fail(StopCode::EssentialContainerExited, ESSENTIAL_EXITED.into());
            }
        }
    }

    /// Task health: UNHEALTHY if an essential container with a health check is unhealthy,
    /// HEALTHY if all of them are healthy, UNKNOWN otherwise (or without any).
    fn task_health(&self) -> HealthStatus {
        let checked: Vec<HealthStatus> = self
            .containers
            .iter()
            .filter(|c| c.def.is_essential() && c.def.health_check.is_some())
            .map(|c| container_health(c.health))
            .collect();
        if checked.contains(&HealthStatus::Unhealthy) {
            HealthStatus::Unhealthy
        } else if !checked.is_empty() && checked.iter().all(|h| *h == HealthStatus::Healthy) {
            HealthStatus::Healthy
        } else {
            HealthStatus::Unknown
        }
    }

    /// The whole task as the agent knows it.
    pub(super) fn report(&self) -> TaskReport {
        let ip = self.pause.as_ref().and_then(|p| p.ip.clone());
        let interfaces: Vec<NetworkInterface> = ip
            .iter()
            .map(|ip| NetworkInterface {
                attachment_id: self.attachment_id.clone(),
                private_ipv4_address: ip.clone(),
            })
            .collect();
        let stopped = self.known.get() == TaskStatus::Stopped;
        TaskReport {
            task_arn: self.task_arn.clone(),
            status: self.known.get(),
            containers: self
                .containers
                .iter()
                .map(|c| ContainerReport {
                    name: c.name().to_string(),
                    runtime_id: c.runtime_id.clone(),
                    status: c.status,
                    exit_code: c.exit_code.and_then(|x| i32::try_from(x).ok()),
                    reason: c.reason.clone(),
                    network_bindings: c.bindings.clone(),
                    network_interfaces: interfaces.clone(),
                    health_status: if stopped {
                        HealthStatus::Unknown
                    } else {
                        container_health(c.health)
                    },
                })
                .collect(),
            health_status: if stopped {
                HealthStatus::Unknown
            } else {
                self.task_health()
            },
            pull_started_at: self.pull_started_at,
            pull_stopped_at: self.pull_stopped_at,
            started_at: self.started_at,
            execution_stopped_at: self.execution_stopped_at,
            stop_code: self.own_stop.as_ref().map(|(code, _)| *code),
            stopped_reason: self.own_stop.as_ref().map(|(_, reason)| reason.clone()),
            attachments: match (&ip, is_awsvpc(&self.spec)) {
                (Some(ip), true) => vec![self.attachment(ip, stopped)],
                _ => Vec::new(),
            },
        }
    }

    /// ECS's `Attachment` of a task's elastic network interface.
    fn attachment(&self, ip: &str, stopped: bool) -> serde_json::Value {
        let status = if stopped { "DELETED" } else { "ATTACHED" };
        if let Some(n) = &self.network {
            let region = flotilla_model::Arn::parse(&self.task_arn)
                .map(|a| a.region.clone())
                .unwrap_or_default();
            return n.attachment(&region, status);
        }
        let eni = format!(
            "eni-{}",
            self.attachment_id
                .replace('-', "")
                .get(..17)
                .unwrap_or_default()
        );
        json!({
            "id": self.attachment_id,
            "type": "ElasticNetworkInterface",
            "status": status,
            "details": [
                {"name": "subnetId", "value": format!("subnet-{}", self.ctx.awsvpc.name)},
                {"name": "networkInterfaceId", "value": eni},
                {"name": "privateIPv4Address", "value": ip},
            ],
        })
    }

    /// Queue the report and checkpoint the task if anything changed.
    pub(super) fn publish(&mut self) {
        let report = self.report();
        if self.last_report.as_ref() == Some(&report) {
            return;
        }
        self.ctx.reports.push(report.clone());
        self.last_report = Some(report);
        self.save();
    }

    /// Record the task in the checkpoint.
    pub(super) fn save(&self) {
        let entry = TaskCheckpoint {
            task_arn: self.task_arn.clone(),
            known_status: self.known.get(),
            containers: self
                .containers
                .iter()
                .filter_map(|c| Some((c.name().to_string(), c.runtime_id.clone()?)))
                .collect(),
            pause_id: self.pause.as_ref().map(|p| p.id.clone()),
            attachment_id: Some(self.attachment_id.clone()),
            host_ports: self
                .containers
                .iter()
                .flat_map(|c| &c.bindings)
                .filter_map(|b| u16::try_from(b.host_port).ok())
                .collect(),
            cleaned: self.cleaned,
            last_report: self.last_report.clone(),
        };
        self.ctx.checkpoint.put_task(entry);
    }
}

/// An RFC 3339 time as the runtime reports it.
fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn container_health(h: Health) -> HealthStatus {
    match h {
        Health::Healthy => HealthStatus::Healthy,
        Health::Unhealthy => HealthStatus::Unhealthy,
        Health::None | Health::Starting => HealthStatus::Unknown,
    }
}

/// Network bindings as ECS reports them: bridge from the ports Docker bound (dynamic ones
/// resolved, IPv6 duplicates left out), host from the port mappings (host port = container
/// port); none for awsvpc (the task IP is in `networkInterfaces`) and none.
fn bindings(
    mode: NetMode,
    def: &flotilla_model::task_definition::ContainerDefinition,
    state: &ContainerState,
) -> Vec<NetworkBinding> {
    let proto = |p: Protocol| match p {
        Protocol::Tcp => "tcp".to_string(),
        Protocol::Udp => "udp".to_string(),
    };
    match mode {
        NetMode::Bridge => {
            let mut out: Vec<NetworkBinding> = Vec::new();
            for p in state
                .ports
                .iter()
                .filter(|p| !p.host_ip.contains(':') && p.host_port != 0)
            {
                let b = NetworkBinding {
                    bind_ip: if p.host_ip.is_empty() {
                        "0.0.0.0".into()
                    } else {
                        p.host_ip.clone()
                    },
                    container_port: i32::from(p.container_port),
                    host_port: i32::from(p.host_port),
                    protocol: proto(p.protocol),
                };
                if !out.contains(&b) {
                    out.push(b);
                }
            }
            out
        }
        NetMode::Host => def
            .port_mappings
            .iter()
            .filter_map(|m| {
                let port = m.container_port?;
                Some(NetworkBinding {
                    bind_ip: "0.0.0.0".into(),
                    container_port: port,
                    host_port: m.host_port.unwrap_or(port),
                    protocol: m
                        .protocol
                        .clone()
                        .unwrap_or_else(|| "tcp".into())
                        .to_lowercase(),
                })
            })
            .collect(),
        NetMode::Awsvpc | NetMode::None => Vec::new(),
    }
}

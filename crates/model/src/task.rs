//! ECS tasks: the stored record, the ordered lifecycle, and how an agent's status report
//! is applied to a task.
//!
//! ```text
//! PROVISIONING → PENDING → ACTIVATING → RUNNING → DEACTIVATING → STOPPING
//!              → DEPROVISIONING → STOPPED
//! ```
//!
//! The control plane owns `desiredStatus` (RUNNING, then STOPPED); the agent owns
//! `lastStatus`, which only moves forward: [`TaskRecord::apply_report`] ignores a report
//! that would move a task or a container backwards.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod overrides;

use crate::record::Record;
use crate::tag::Tag;
use crate::timestamp;

/// A task's lifecycle status, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Provisioning,
    Pending,
    Activating,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Provisioning => "PROVISIONING",
            TaskStatus::Pending => "PENDING",
            TaskStatus::Activating => "ACTIVATING",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Deactivating => "DEACTIVATING",
            TaskStatus::Stopping => "STOPPING",
            TaskStatus::Deprovisioning => "DEPROVISIONING",
            TaskStatus::Stopped => "STOPPED",
        }
    }

    /// Whether the task is past running (on its way down or down).
    pub fn is_stopping_or_stopped(self) -> bool {
        self >= TaskStatus::Deactivating
    }
}

/// A container's status, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContainerStatus {
    Pending,
    Running,
    Stopped,
}

/// Why a task stopped (ECS `TaskStopCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopCode {
    TaskFailedToStart,
    EssentialContainerExited,
    UserInitiated,
    ServiceSchedulerInitiated,
    SpotInterruption,
    TerminationNotice,
    InfrastructureHealth,
}

/// Why the control plane asked a task to stop. Flotilla's own record (ECS's `Task` shows
/// only the stop code and the reason, which is prose): what the circuit breaker and the
/// launch backoff read to tell a failed task from one stopped on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StopCause {
    /// StopTask.
    User,
    /// Its service deployment was replaced.
    Replaced,
    /// Its service ran more tasks than desired.
    ScaledDown,
    /// Its instance is draining.
    Draining,
    /// Its container health checks failed (a failure of the task).
    Unhealthy,
    /// Its instance stayed disconnected; it was replaced elsewhere.
    InstanceLost,
}

/// `HEALTHY`, `UNHEALTHY` or `UNKNOWN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
    #[default]
    Unknown,
}

/// A port a container is reachable on (ECS `NetworkBinding`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkBinding {
    #[serde(rename = "bindIP")]
    pub bind_ip: String,
    pub container_port: i32,
    pub host_port: i32,
    pub protocol: String,
}

/// A task's address in awsvpc mode (ECS `NetworkInterface`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterface {
    pub attachment_id: String,
    pub private_ipv4_address: String,
}

/// Where an awsvpc task is on the network: chosen by the control plane at launch (a subnet
/// of its network configuration, an address of that subnet nobody else holds) and what
/// its agent wires the task with. Not part of ECS's shape: the task's `attachments` show
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskNetwork {
    pub vpc_id: String,
    pub subnet_id: String,
    /// The subnet's block (`10.0.1.0/24`).
    pub cidr: String,
    pub address: std::net::Ipv4Addr,
    pub security_groups: Vec<String>,
    /// The network interface record that holds the address (`eni-...`).
    pub network_interface_id: String,
    /// The id of its ECS attachment.
    pub attachment_id: String,
}

impl TaskNetwork {
    /// ECS's `Attachment` of the task's network interface in `region`, in `status`
    /// (PRECREATED when the task is created; its agent reports ATTACHED, then DELETED).
    pub fn attachment(&self, region: &str, status: &str) -> serde_json::Value {
        use crate::ec2::interface::{mac_of, private_dns_name};
        serde_json::json!({
            "id": self.attachment_id,
            "type": "ElasticNetworkInterface",
            "status": status,
            "details": [
                {"name": "subnetId", "value": self.subnet_id},
                {"name": "networkInterfaceId", "value": self.network_interface_id},
                {"name": "macAddress", "value": mac_of(self.address)},
                {"name": "privateDnsName", "value": private_dns_name(self.address, region)},
                {"name": "privateIPv4Address", "value": self.address.to_string()},
            ],
        })
    }
}

/// One container of a task (ECS `Container`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub container_arn: String,
    pub task_arn: String,
    pub name: String,
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_id: Option<String>,
    pub last_status: ContainerStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub network_bindings: Vec<NetworkBinding>,
    #[serde(default)]
    pub network_interfaces: Vec<NetworkInterface>,
    pub health_status: HealthStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<String>,
}

/// The stored task, in the shape DescribeTasks returns (plus nothing else: every field is
/// ECS's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    pub task_arn: String,
    pub cluster_arn: String,
    pub task_definition_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    pub last_status: TaskStatus,
    pub desired_status: TaskStatus,
    pub launch_type: String,
    /// The capacity provider it was placed with, when a strategy placed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    pub containers: Vec<Container>,
    /// The RunTask/StartTask overrides, as given (ECS `TaskOverride`); `null` when none
    /// were (see [`stored_overrides`]). Typed as [`overrides::TaskOverride`].
    #[serde(default, with = "stored_overrides")]
    pub overrides: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default)]
    pub attachments: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    pub health_status: HealthStatus,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub pull_started_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub pull_stopped_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub stopping_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub stopped_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub execution_stopped_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<StopCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    /// Why the control plane asked it to stop, when it did (not part of ECS's shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_cause: Option<StopCause>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Counts every change a user could observe, as ECS's `version` does.
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity: Option<String>,
    /// Stopping, but kept running by its agent until its load balancer targets have
    /// drained (not part of ECS's shape): the control plane clears it when they have.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_drain: bool,
    /// Until when UpdateTaskProtection protects it from scale-in and deployments (not part
    /// of the Task shape: GetTaskProtection answers it). Read through
    /// [`TaskRecord::protection`], which says a lapsed date is no protection.
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub protected_until: Option<DateTime<Utc>>,
    /// An awsvpc task's subnet, address and security groups (not part of ECS's shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<TaskNetwork>,
    /// Whether ExecuteCommand may run commands in its containers (RunTask's, StartTask's
    /// or its service's `enableExecuteCommand`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable_execute_command: bool,
}

/// The longest and the default protection UpdateTaskProtection gives, in minutes.
pub const MAX_PROTECTION_MINUTES: i64 = 2880;
pub const DEFAULT_PROTECTION_MINUTES: i64 = 120;

impl TaskRecord {
    /// When its scale-in protection expires, if it is protected at `now`.
    pub fn protection(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.protected_until.filter(|until| *until > now)
    }

    /// Protect it for `minutes` from `now` (1 to [`MAX_PROTECTION_MINUTES`], checked by
    /// the caller), or clear its protection with `None`; as ECS, a new period replaces
    /// the old one.
    pub fn set_protection(&mut self, minutes: Option<i64>, now: DateTime<Utc>) {
        self.protected_until = minutes.map(|m| now + chrono::Duration::minutes(m));
    }

    /// The status its agent is told to bring it to: RUNNING while it awaits the drain of
    /// its load balancer targets, otherwise its desired status.
    pub fn desired_for_agent(&self) -> TaskStatus {
        if self.awaiting_drain && self.desired_status == TaskStatus::Stopped {
            TaskStatus::Running
        } else {
            self.desired_status
        }
    }
}

impl Record for TaskRecord {
    const KIND: &'static str = "task";
    /// v2 added `stopCause`.
    const VERSION: u32 = 2;

    fn upgrade(from: u32, mut data: serde_json::Value) -> Result<serde_json::Value, String> {
        match from {
            // v1 told a task stopped for failed health checks only by its reason.
            1 => {
                let unhealthy = data["stopCode"] == "ServiceSchedulerInitiated"
                    && data["stoppedReason"] == V1_UNHEALTHY_REASON;
                if unhealthy {
                    data["stopCause"] = "UNHEALTHY".into();
                }
                Ok(data)
            }
            _ => Err(format!("task record format version {from} is unknown")),
        }
    }
}

/// The stopped reason v1 gave a task the service controller replaced for failed health
/// checks.
const V1_UNHEALTHY_REASON: &str = "Task failed container health checks.";

/// What an agent reports about one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerReport {
    pub name: String,
    #[serde(default)]
    pub runtime_id: Option<String>,
    pub status: ContainerStatus,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub network_bindings: Vec<NetworkBinding>,
    #[serde(default)]
    pub network_interfaces: Vec<NetworkInterface>,
    #[serde(default)]
    pub health_status: HealthStatus,
}

/// What an agent reports about one task: its status as the agent knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskReport {
    pub task_arn: String,
    pub status: TaskStatus,
    #[serde(default)]
    pub containers: Vec<ContainerReport>,
    #[serde(default)]
    pub health_status: HealthStatus,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub pull_started_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub pull_stopped_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub execution_stopped_at: Option<DateTime<Utc>>,
    /// Set when the agent stopped the task on its own (an essential container exited, a
    /// pull failed).
    #[serde(default)]
    pub stop_code: Option<StopCode>,
    #[serde(default)]
    pub stopped_reason: Option<String>,
    #[serde(default)]
    pub attachments: Vec<serde_json::Value>,
}

impl TaskRecord {
    /// Apply an agent's report: statuses only move forward, fields the agent does not own
    /// are untouched. Returns whether anything changed (then `version` went up).
    pub fn apply_report(&mut self, report: &TaskReport, now: DateTime<Utc>) -> bool {
        let before = self.clone();
        if report.status > self.last_status {
            self.last_status = report.status;
        }
        if self.last_status == TaskStatus::Running && self.started_at.is_none() {
            self.started_at = Some(report.started_at.unwrap_or(now));
        }
        if self.last_status >= TaskStatus::Deactivating && self.stopping_at.is_none() {
            self.stopping_at = Some(now);
        }
        if self.last_status == TaskStatus::Stopped {
            self.stopped_at.get_or_insert(now);
            self.execution_stopped_at = self
                .execution_stopped_at
                .or(report.execution_stopped_at)
                .or(Some(now));
            // The agent stopped it on its own: the desired status follows.
            self.desired_status = TaskStatus::Stopped;
        }
        self.pull_started_at = self.pull_started_at.or(report.pull_started_at);
        self.pull_stopped_at = self.pull_stopped_at.or(report.pull_stopped_at);
        if self.stop_code.is_none() {
            self.stop_code = report.stop_code;
        }
        if self.stopped_reason.is_none() {
            self.stopped_reason.clone_from(&report.stopped_reason);
        }
        if !report.attachments.is_empty() {
            self.attachments.clone_from(&report.attachments);
        }
        self.health_status = report.health_status;
        for c in &report.containers {
            if let Some(mine) = self.containers.iter_mut().find(|m| m.name == c.name) {
                apply_container(mine, c);
            }
        }
        let changed = *self != before;
        if changed {
            self.version += 1;
        }
        changed
    }

    /// The control plane asks the task to stop (StopTask, a service scaling in).
    pub fn request_stop(
        &mut self,
        code: StopCode,
        cause: StopCause,
        reason: &str,
        now: DateTime<Utc>,
    ) -> bool {
        if self.desired_status == TaskStatus::Stopped {
            return false;
        }
        self.desired_status = TaskStatus::Stopped;
        self.stop_code.get_or_insert(code);
        self.stop_cause.get_or_insert(cause);
        if self.stopped_reason.is_none() {
            self.stopped_reason = Some(reason.to_string());
        }
        self.stopping_at.get_or_insert(now);
        self.version += 1;
        true
    }
}

fn apply_container(mine: &mut Container, c: &ContainerReport) {
    if c.status < mine.last_status {
        return;
    }
    mine.last_status = c.status;
    if c.runtime_id.is_some() {
        mine.runtime_id.clone_from(&c.runtime_id);
    }
    if c.exit_code.is_some() {
        mine.exit_code = c.exit_code;
    }
    if c.reason.is_some() {
        mine.reason.clone_from(&c.reason);
    }
    if !c.network_bindings.is_empty() {
        mine.network_bindings.clone_from(&c.network_bindings);
    }
    if !c.network_interfaces.is_empty() {
        mine.network_interfaces.clone_from(&c.network_interfaces);
    }
    mine.health_status = c.health_status;
}

/// A task's `overrides` when it was started without any are held as `null` (most tasks
/// have none, and an empty JSON object costs an allocation per task in memory) and written
/// as ECS shows them: every list empty.
mod stored_overrides {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::{json, Value};

    pub fn serialize<S: Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
        if v.is_null() {
            json!({"containerOverrides": [], "inferenceAcceleratorOverrides": []}).serialize(s)
        } else {
            v.serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        let v = Value::deserialize(d)?;
        let empty = v.as_object().is_some_and(|m| {
            m.values()
                .all(|x| x.as_array().is_some_and(|a| a.is_empty()))
        });
        Ok(if empty { Value::Null } else { v })
    }
}

#[cfg(test)]
mod tests;

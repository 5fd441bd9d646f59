//! The agent protocol: what a Flotilla agent and the server say to each other.
//!
//! It is an AWS JSON 1.1 service on the API listener, SigV4-signed like every other call
//! (service name [`SIGNING_NAME`], `X-Amz-Target: FlotillaAgent_v1.<Operation>`), next to
//! the ECS API the agent also uses (`RegisterContainerInstance`).
//!
//! 1. The agent registers with ECS `RegisterContainerInstance` (re-registering with the ARN
//!    it checkpointed, so a restarted agent keeps its identity).
//! 2. It long-polls [`POLL`]: the first call (`since` 0) answers with the full manifest of
//!    tasks the instance should be running or stopping; later calls block until a task on
//!    the instance changed after `since` (or `waitMillis` passed) and answer with the
//!    changed tasks. Each poll is also the instance's heartbeat: the server keeps the
//!    instance connected for `heartbeatTtlMillis` after it.
//! 3. It reports task status changes in batches with [`SUBMIT`]; a report the server
//!    could not apply is answered as not accepted and the agent sends it again.

use serde::{Deserialize, Serialize};

use crate::task::{TaskRecord, TaskReport};
use crate::task_definition::TaskDefinition;

/// The SigV4 service name of the agent protocol.
pub const SIGNING_NAME: &str = "flotilla";
/// The `X-Amz-Target` prefix of the agent protocol.
pub const TARGET_PREFIX: &str = "FlotillaAgent_v1";
pub const POLL: &str = "Poll";
pub const SUBMIT: &str = "SubmitTaskReports";

/// Long-poll for the desired tasks of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollRequest {
    pub cluster: String,
    pub container_instance_arn: String,
    /// The `revision` of the previous answer; 0 asks for the full manifest.
    pub since: i64,
    /// How long the server may hold the request when nothing changed.
    pub wait_millis: u64,
}

/// A task the instance should run (or stop), with its definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredTask {
    pub task: TaskRecord,
    pub definition: TaskDefinition,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollResponse {
    /// Pass this as `since` next time.
    pub revision: i64,
    /// True when `tasks` is the whole manifest: a local task not in it is not wanted.
    pub full: bool,
    pub tasks: Vec<DesiredTask>,
    /// The instance counts as disconnected this long after a poll.
    pub heartbeat_ttl_millis: u64,
    /// The instance's status (`ACTIVE`, `DRAINING`, `INACTIVE`: deregistered, stop).
    pub instance_status: String,
}

/// A batch of task status reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitRequest {
    pub cluster: String,
    pub container_instance_arn: String,
    pub reports: Vec<TaskReport>,
}

/// Whether each report was applied; send the rejected ones again later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitResult {
    pub task_arn: String,
    pub accepted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitResponse {
    pub results: Vec<SubmitResult>,
}

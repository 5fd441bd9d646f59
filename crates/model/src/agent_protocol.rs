//! The agent protocol: what a Flotilla agent and the server say to each other.
//!
//! It is an AWS JSON 1.1 service on the API listener, SigV4-signed like every other call
//! (service name [`SIGNING_NAME`], `X-Amz-Target: FlotillaAgent_v1.<Operation>`), next to
//! the ECS API the agent also uses (`RegisterContainerInstance`).
//!
//! 0. An operator creates a join token for a cluster ([`CREATE_JOIN_TOKEN`], root key; see
//!    `agent_identity`). An agent given the token calls [`JOIN`] signed with it: the server
//!    registers a new container instance and answers the instance's ARN and a key of the
//!    agent's own, which it signs everything else with. That key can call nothing but
//!    [`POLL`], [`SUBMIT`], [`PREPARE_LOGS`], [`PUT_LOGS`], [`SUBMIT_STATS`] and
//!    `RegisterContainerInstance`, each for its own instance.
//! 1. The agent registers with ECS `RegisterContainerInstance` (re-registering with the ARN
//!    it checkpointed, so a restarted agent keeps its identity).
//! 2. It long-polls [`POLL`]: the first call (`since` 0) answers with the full manifest of
//!    tasks the instance should be running or stopping; later calls block until a task on
//!    the instance changed after `since` (or `waitMillis` passed) and answer with the
//!    changed tasks. Each poll is also the instance's heartbeat: the server keeps the
//!    instance connected for `heartbeatTtlMillis` after it.
//! 3. It reports task status changes in batches with [`SUBMIT`]; a report the server
//!    could not apply is answered as not accepted and the agent sends it again.
//! 4. Containers that log with `awslogs`: before starting one, the agent asks for its log
//!    stream with [`PREPARE_LOGS`] (which creates the group too when the container's
//!    `awslogs-create-group` says so, and otherwise fails as ECS fails such a container);
//!    then it ships the lines it reads in batches with [`PUT_LOGS`], each line numbered
//!    within its stream, so that a batch sent twice (the agent restarted between sending
//!    it and checkpointing the answer) is stored once.
//!    Each answer also carries the instance's [`HostFirewall`]; the agent sends back its
//!    fingerprint, and a poll answers at once when the security groups, their rules or
//!    their members changed it.
//! 5. Every few seconds it sends each running container's CPU and memory use with
//!    [`SUBMIT_STATS`], from which the server computes the `AWS/ECS` metrics.
//! 6. An agent whose runtime can run commands in containers long-polls [`POLL_EXEC`] for
//!    `ExecuteCommand` sessions and attaches to each (see [`crate::exec`]).

use serde::{Deserialize, Serialize};

use crate::firewall::HostFirewall;
use crate::task::{TaskRecord, TaskReport};
use crate::task_definition::TaskDefinition;

/// The SigV4 service name of the agent protocol.
pub const SIGNING_NAME: &str = "flotilla";
/// The `X-Amz-Target` prefix of the agent protocol.
pub const TARGET_PREFIX: &str = "FlotillaAgent_v1";
pub const POLL: &str = "Poll";
pub const SUBMIT: &str = "SubmitTaskReports";
pub const PREPARE_LOGS: &str = "PrepareLogStreams";
pub const PUT_LOGS: &str = "PutLogs";
pub const SUBMIT_STATS: &str = "SubmitStats";
/// Wait for `ExecuteCommand` sessions to attach to (see [`crate::exec`]).
pub const POLL_EXEC: &str = "PollExec";
/// Temporary credentials of a task's role, for the agent's credentials endpoint.
pub const TASK_CREDENTIALS: &str = "GetTaskCredentials";
/// The values of a task's `secrets` and `repositoryCredentials`, read with its execution
/// role, as its containers are about to be created.
pub const TASK_SECRETS: &str = "GetTaskSecrets";
/// Signed with a join token; the input is `RegisterContainerInstance`'s (without
/// `containerInstanceArn`: joining always makes a new instance), the answer [`Joined`].
pub const JOIN: &str = "Join";
/// Root key only: create, list and revoke join tokens.
pub const CREATE_JOIN_TOKEN: &str = "CreateJoinToken";
pub const LIST_JOIN_TOKENS: &str = "ListJoinTokens";
pub const REVOKE_JOIN_TOKEN: &str = "RevokeJoinToken";

/// What [`JOIN`] answers: the new instance and the agent's own key for it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Joined {
    pub container_instance_arn: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Joined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Joined")
            .field("container_instance_arn", &self.container_instance_arn)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateJoinTokenRequest {
    /// Name or ARN; `default` when absent.
    #[serde(default)]
    pub cluster: Option<String>,
    /// How long agents may join with it (60 s to 365 days; 24 hours when absent).
    #[serde(default)]
    pub expires_in_seconds: Option<i64>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A join token as listed: everything but its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinTokenInfo {
    pub token_id: String,
    pub cluster_arn: String,
    /// Epoch seconds.
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateJoinTokenResponse {
    #[serde(flatten)]
    pub info: JoinTokenInfo,
    /// The whole token, to hand to an agent (`--join-token`); shown only here.
    pub token: String,
}

impl std::fmt::Debug for CreateJoinTokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateJoinTokenResponse")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListJoinTokensResponse {
    pub tokens: Vec<JoinTokenInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeJoinTokenRequest {
    pub token_id: String,
}

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
    /// The [`HostFirewall::fingerprint`] of the firewall the agent enforces (from the
    /// previous answer): the server answers at once when the instance's firewall is no
    /// longer that one. Absent: the agent has none yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firewall: Option<String>,
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
    /// The identity of the server's store, fixed when the store was created. An agent
    /// that sees it change (or, with the same identity, `revision` go back) is talking to
    /// a store that does not know what it ran: it keeps its containers instead of
    /// removing the tasks the store forgot.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub store_id: String,
    /// Credentials for the server's image registry, in the instance's region: the agent
    /// pulls images whose reference starts with `server` with them (no `docker login` on
    /// the host). Absent when the server serves no registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistryCredentials>,
    /// The security groups of the instance's awsvpc tasks as its host enforces them, in
    /// every answer (empty when it runs none).
    #[serde(default)]
    pub firewall: HostFirewall,
}

/// A registry's address and a user name and password for it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryCredentials {
    /// `host:port`, as image references name the registry.
    pub server: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    /// Never the password: these structures end up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("server", &self.server)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl RegistryCredentials {
    /// Whether `image` (a reference such as `host:port/team/app:v1`) is in this registry.
    pub fn serves(&self, image: &str) -> bool {
        image
            .split_once('/')
            .is_some_and(|(host, _)| host == self.server)
    }
}

/// Which task an agent asks about (its role's credentials, its secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRequest {
    pub cluster: String,
    pub container_instance_arn: String,
    pub task_arn: String,
}

/// A task role's temporary credentials, as the ECS credentials endpoint serves them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskCredentials {
    pub role_arn: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub token: String,
    /// RFC 3339, UTC.
    pub expiration: String,
}

impl std::fmt::Debug for TaskCredentials {
    /// Never the secret or the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskCredentials")
            .field("role_arn", &self.role_arn)
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// A task's secrets, resolved: per container, the environment variables its `secrets`
/// name and the registry credentials its `repositoryCredentials` name; or why they could
/// not be read (the task fails with it, as ECS's `ResourceInitializationError`).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSecrets {
    #[serde(default)]
    pub containers: Vec<ContainerSecrets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSecrets {
    pub name: String,
    /// (variable, value) pairs.
    #[serde(default)]
    pub environment: Vec<(String, String)>,
    /// A private registry's user name and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_auth: Option<(String, String)>,
}

impl std::fmt::Debug for TaskSecrets {
    /// Never a value: only which variables each container gets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSecrets")
            .field("containers", &self.containers)
            .field("failure", &self.failure)
            .finish()
    }
}

impl std::fmt::Debug for ContainerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.environment.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ContainerSecrets")
            .field("name", &self.name)
            .field("variables", &names)
            .field("registry_auth", &self.registry_auth.is_some())
            .finish()
    }
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

/// A log stream a container writes to (`awslogs`): where its lines go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStreamRef {
    /// `awslogs-region`.
    pub region: String,
    pub log_group_name: String,
    /// `PREFIX/CONTAINER/TASK_ID` with `awslogs-stream-prefix`, the container's runtime
    /// (Docker) id otherwise, as Docker's awslogs driver names it: one stream per
    /// container, so each stream has one writer.
    pub log_stream_name: String,
}

/// Ask for the log streams of the containers a task is about to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepareLogStreamsRequest {
    pub cluster: String,
    pub container_instance_arn: String,
    pub streams: Vec<PrepareLogStream>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepareLogStream {
    #[serde(flatten)]
    pub stream: LogStreamRef,
    /// `awslogs-create-group: true`: create the group when it does not exist.
    #[serde(default)]
    pub create_group: bool,
}

/// One answer per stream asked for, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepareLogStreamsResponse {
    pub results: Vec<LogStreamResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStreamResult {
    /// The line number the stream expects next (0 for a new stream): lines below it are
    /// stored already.
    pub next_sequence: u64,
    /// Why the stream cannot be used, worded as ECS words the container's failure
    /// (`ResourceNotFoundException: The specified log group does not exist.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Lines read from containers, by stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutLogsRequest {
    pub cluster: String,
    pub container_instance_arn: String,
    pub batches: Vec<LogBatch>,
}

/// Consecutive lines of one stream: line `first_sequence + i` is `events[i]`.
/// `first_sequence` may be above the stream's `next_sequence` (lines the agent dropped, a
/// non-blocking container's full buffer): the gap is accepted, never waited for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogBatch {
    #[serde(flatten)]
    pub stream: LogStreamRef,
    /// Create the group (and the stream) again if they were deleted meanwhile.
    #[serde(default)]
    pub create_group: bool,
    pub first_sequence: u64,
    pub events: Vec<LogLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    /// When the container wrote it, milliseconds since the epoch.
    pub timestamp: i64,
    pub message: String,
}

/// One answer per batch, in order: [`LogStreamResult`], `next_sequence` being the line
/// number after the last one stored. A batch with an error stored nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutLogsResponse {
    pub results: Vec<LogStreamResult>,
}

/// CPU and memory use of running containers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitStatsRequest {
    pub cluster: String,
    pub container_instance_arn: String,
    pub samples: Vec<ContainerStats>,
}

/// One sample of one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStats {
    pub task_arn: String,
    pub container_name: String,
    /// The end of the interval measured, milliseconds since the epoch.
    pub timestamp: i64,
    /// CPU used over the interval since the previous sample, in CPU units (1,024 per
    /// core): 512 is half a core busy.
    pub cpu_units: f64,
    /// Memory in use at `timestamp`, without the page cache (as `docker stats` shows it).
    pub memory_mib: f64,
}

//! Daemon task definitions: their own resource (`daemon-task-definition/FAMILY:REVISION`,
//! their own families), but a daemon task is an ordinary task to the agent. So a
//! `RegisterDaemonTaskDefinition` body is read as the subset of `RegisterTaskDefinition`
//! it is ([`to_task_definition_input`]: daemon members only, `pidMode`/`ipcMode`
//! `shared` as `host`, a log driver volume as a bind mount of Docker's container logs),
//! checked with the task definition validation, and stored as a [`TaskDefinition`]; the
//! wire shape is rendered back from it ([`to_wire`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::record::Record;
use crate::tag::Tag;
use crate::task_definition::TaskDefinition;
use crate::timestamp;
use crate::ModelError;

/// Where Docker's `json-file` driver writes the logs of the other containers of a host:
/// what a `logDriverVolumeConfiguration` volume presents to a daemon task.
pub const DOCKER_LOG_DIR: &str = "/var/lib/docker/containers";

/// The members of `DaemonContainerDefinition`.
const CONTAINER_MEMBERS: &[&str] = &[
    "name",
    "image",
    "memory",
    "memoryReservation",
    "repositoryCredentials",
    "healthCheck",
    "cpu",
    "essential",
    "entryPoint",
    "command",
    "workingDirectory",
    "environmentFiles",
    "environment",
    "secrets",
    "readonlyRootFilesystem",
    "mountPoints",
    "logConfiguration",
    "firelensConfiguration",
    "privileged",
    "user",
    "ulimits",
    "linuxParameters",
    "dependsOn",
    "startTimeout",
    "stopTimeout",
    "systemControls",
    "interactive",
    "pseudoTerminal",
    "restartPolicy",
];

/// The members of `DaemonLinuxParameters`.
const LINUX_MEMBERS: &[&str] = &["capabilities", "devices", "initProcessEnabled", "tmpfs"];

/// The members of `RegisterDaemonTaskDefinition` that carry over to the task definition.
const TOP_MEMBERS: &[&str] = &[
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "containerDefinitions",
    "cpu",
    "memory",
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    #[default]
    Active,
    DeleteInProgress,
    Deleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::DeleteInProgress => "DELETE_IN_PROGRESS",
            Status::Deleted => "DELETED",
        }
    }
}

/// One registered daemon task definition revision:
/// `/ecs/daemon-taskdefs/{region}/{family}/{revision:010}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonTaskDefinitionRecord {
    /// What the agent runs; its ARN is the daemon task definition's.
    pub definition: TaskDefinition,
    /// `volumes` as registered (a log driver volume is a host volume in `definition`).
    #[serde(default)]
    pub volumes: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<String>,
    pub status: Status,
    #[serde(
        default,
        with = "timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub delete_requested_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl Record for DaemonTaskDefinitionRecord {
    const KIND: &'static str = "daemon-task-definition";
    const VERSION: u32 = 1;
}

impl DaemonTaskDefinitionRecord {
    pub fn arn(&self) -> &str {
        self.definition.task_definition_arn.as_deref().unwrap_or("")
    }

    pub fn family(&self) -> &str {
        self.definition.family.as_deref().unwrap_or("")
    }

    pub fn revision(&self) -> i64 {
        i64::from(self.definition.revision)
    }

    /// The containers' names and images, for a daemon revision.
    pub fn images(&self) -> Vec<(String, String)> {
        (self.definition.container_definitions.iter())
            .map(|c| {
                let name = c.name.clone().unwrap_or_default();
                (name, c.image.clone().unwrap_or_default())
            })
            .collect()
    }
}

/// What a registration keeps beside the task definition input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    pub volumes: Vec<Value>,
    pub pid_mode: Option<String>,
    pub ipc_mode: Option<String>,
    pub tags: Vec<Tag>,
}

fn namespace_mode(body: &Map<String, Value>, member: &str) -> Result<Option<String>, ModelError> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "none" || s == "shared" => Ok(Some(s.clone())),
        Some(other) => Err(ModelError::invalid(format!(
            "{member} '{}' is invalid: use none or shared.",
            other.as_str().unwrap_or(&other.to_string())
        ))),
    }
}

fn only(v: &Value, members: &[&str]) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| members.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A container definition with the daemon members only.
fn container(c: &Value) -> Value {
    let mut out = only(c, CONTAINER_MEMBERS);
    if let Some(l) = out.get_mut("linuxParameters") {
        *l = only(l, LINUX_MEMBERS);
    }
    out
}

/// The `RegisterTaskDefinition` body a `RegisterDaemonTaskDefinition` body is, and what
/// it keeps beside it. Members a daemon task definition does not have are dropped.
pub fn to_task_definition_input(body: &Value) -> Result<(Value, Extras), ModelError> {
    let Value::Object(body) = body else {
        return Err(ModelError::invalid(
            "The request body must be a JSON object.",
        ));
    };
    let mut out = Map::new();
    for k in TOP_MEMBERS {
        if let Some(v) = body.get(*k) {
            out.insert((*k).to_string(), v.clone());
        }
    }
    if let Some(Value::Array(cs)) = body.get("containerDefinitions") {
        out.insert(
            "containerDefinitions".into(),
            Value::Array(cs.iter().map(container).collect()),
        );
    }
    let pid_mode = namespace_mode(body, "pidMode")?;
    let ipc_mode = namespace_mode(body, "ipcMode")?;
    for (member, mode) in [("pidMode", &pid_mode), ("ipcMode", &ipc_mode)] {
        if mode.as_deref() == Some("shared") {
            out.insert(member.into(), Value::String("host".into()));
        }
    }
    let volumes = match body.get("volumes") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(vs)) => vs.clone(),
        Some(_) => return Err(ModelError::invalid("volumes must be a list.")),
    };
    let mut task_volumes = Vec::new();
    for v in &volumes {
        let name = v.get("name").cloned().unwrap_or(Value::Null);
        match v.get("logDriverVolumeConfiguration") {
            Some(l) if !l.is_null() => {
                let driver = l.get("driver").and_then(Value::as_str).unwrap_or("");
                if driver != "json-file" {
                    return Err(ModelError::invalid(format!(
                        "logDriverVolumeConfiguration.driver '{driver}' is invalid: the only \
                         supported value is json-file."
                    )));
                }
                if v.get("host").is_some_and(|h| !h.is_null()) {
                    return Err(ModelError::invalid(
                        "A volume can have host or logDriverVolumeConfiguration, not both.",
                    ));
                }
                task_volumes.push(serde_json::json!({
                    "name": name, "host": { "sourcePath": DOCKER_LOG_DIR }
                }));
            }
            _ => task_volumes.push(only(v, &["name", "host"])),
        }
    }
    if !task_volumes.is_empty() {
        out.insert("volumes".into(), Value::Array(task_volumes));
    }
    let tags = match body.get("tags") {
        None | Some(Value::Null) => vec![],
        Some(t) => serde_json::from_value(t.clone())
            .map_err(|e| ModelError::invalid(format!("tags are invalid: {e}")))?,
    };
    let extras = Extras {
        volumes,
        pid_mode,
        ipc_mode,
        tags,
    };
    Ok((Value::Object(out), extras))
}

/// The `DaemonTaskDefinition` shape of a stored revision.
pub fn to_wire(r: &DaemonTaskDefinitionRecord) -> Value {
    let d = serde_json::to_value(&r.definition).unwrap_or_default();
    let mut out = match only(
        &d,
        &[
            "family",
            "revision",
            "taskRoleArn",
            "executionRoleArn",
            "cpu",
            "memory",
            "registeredBy",
        ],
    ) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let containers: Vec<Value> = d
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().map(container).collect())
        .unwrap_or_default();
    out.insert("daemonTaskDefinitionArn".into(), r.arn().into());
    out.insert("containerDefinitions".into(), Value::Array(containers));
    out.insert("volumes".into(), Value::Array(r.volumes.clone()));
    out.insert("status".into(), r.status.as_str().into());
    if let Some(t) = d.get("registeredAt") {
        out.insert("registeredAt".into(), t.clone());
    }
    if let Some(t) = r.delete_requested_at {
        out.insert(
            "deleteRequestedAt".into(),
            timestamp::to_epoch_seconds(&t).into(),
        );
    }
    for (k, v) in [("pidMode", &r.pid_mode), ("ipcMode", &r.ipc_mode)] {
        if let Some(v) = v {
            out.insert(k.into(), v.clone().into());
        }
    }
    Value::Object(out)
}

/// The `DaemonTaskDefinitionSummary` shape.
pub fn summary(r: &DaemonTaskDefinitionRecord) -> Value {
    let w = to_wire(r);
    only(
        &w,
        &[
            "registeredAt",
            "registeredBy",
            "deleteRequestedAt",
            "status",
        ],
    )
    .as_object()
    .cloned()
    .map(|mut m| {
        m.insert("arn".into(), r.arn().into());
        Value::Object(m)
    })
    .unwrap_or_default()
}

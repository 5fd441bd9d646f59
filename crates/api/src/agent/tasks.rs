//! What an agent asks about a task it runs: its role's credentials (`GetTaskCredentials`)
//! and its secrets (`GetTaskSecrets`), read with its execution role, which is also checked
//! for pulling the task's images from this server's registry and writing its `awslogs`
//! logs. Each answers only for a task placed on the asking agent's instance.

use flotilla_aws::Context;
use flotilla_control::ecs::task_definitions;
use flotilla_control::iam::authorize::{of_arn, Acting};
use flotilla_control::iam::roles::{self, ECS_TASKS};
use flotilla_control::secrets::resolve::{resolve, resource_arn};
use flotilla_model::agent_protocol::{ContainerSecrets, TaskCredentials, TaskRequest, TaskSecrets};
use flotilla_model::iam::eval::Context as Conditions;
use flotilla_model::task::TaskRecord;
use flotilla_model::task_definition::TaskDefinition;
use flotilla_model::Scope;
use serde_json::Value;

use super::registered;
use crate::ecs::error::{client, EcsError};
use crate::State;

/// The task `req` names, if it runs on the asking agent's instance, and its definition.
fn own_task(
    state: &State,
    ctx: &Context,
    req: &TaskRequest,
) -> Result<(Scope, String, TaskRecord, TaskDefinition), EcsError> {
    let from = registered(state, ctx, &req.cluster, &req.container_instance_arn)?;
    let id = req.task_arn.rsplit('/').next().unwrap_or("").to_string();
    let key = flotilla_control::keys::task(&from.scope.region, &from.cluster, &id);
    let task = state
        .tasks()
        .get(key.as_bytes())
        .filter(|t| {
            t.value.task_arn == req.task_arn
                && t.value.container_instance_arn.as_deref()
                    == Some(from.instance.container_instance_arn.as_str())
        })
        .ok_or_else(|| client("The task does not run on this container instance."))?;
    let definition = task_definitions::of_task(state, &task.value.task_definition_arn)
        .ok_or_else(|| client("The task's definition is gone."))?;
    Ok((from.scope, id, (*task.value).clone(), definition))
}

/// A role the task's overrides name (`taskRoleArn`, `executionRoleArn`), or its
/// definition's.
fn role_of(task: &TaskRecord, key: &str, from_definition: Option<&String>) -> Option<String> {
    task.overrides
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| from_definition.cloned())
        .filter(|r| !r.is_empty())
}

/// GetTaskCredentials: a new session of the task's role.
pub(super) async fn credentials(
    state: &State,
    ctx: &Context,
    req: TaskRequest,
) -> Result<TaskCredentials, EcsError> {
    let (_, id, task, definition) = own_task(state, ctx, &req)?;
    let role = role_of(&task, "taskRoleArn", definition.task_role_arn.as_ref())
        .ok_or_else(|| client("The task has no task role."))?;
    let session = roles::task_session(state, &role, &id)
        .await
        .map_err(|e| EcsError::access_denied(e.to_string()))?;
    Ok(TaskCredentials {
        role_arn: role,
        access_key_id: session.access_key_id,
        secret_access_key: session.secret_access_key,
        token: session.session_token,
        expiration: session
            .expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// A task that cannot have what it needs: the answer carries its stopped reason, in
/// ECS's words (never a value).
fn failed(reason: String) -> TaskSecrets {
    TaskSecrets {
        containers: vec![],
        failure: Some(reason),
    }
}

/// The stopped reason of a task whose secrets or registry login could not be read.
fn unreadable(why: String) -> TaskSecrets {
    failed(format!(
        "ResourceInitializationError: unable to pull secrets or registry auth: {why}"
    ))
}

/// The execution role as ECS acts with it: a session of the role for the task.
struct Execution {
    acting: Acting,
    session_arn: String,
    region: String,
}

impl Execution {
    /// `Err` with ECS's words when the role may not perform `action` on `resource`.
    fn check(&self, action: &str, resource: &str) -> Result<(), String> {
        let mut conditions = Conditions::default();
        conditions.set_one("aws:RequestedRegion", self.region.clone());
        let decision = self.acting.decide(action, resource, &conditions);
        if decision.allowed() {
            return Ok(());
        }
        Err(format!(
            "AccessDeniedException: {}",
            crate::authz::denial(&self.session_arn, action, resource, decision)
        ))
    }
}

/// GetTaskSecrets: the values of the task's containers' `secrets` and
/// `repositoryCredentials`, read with its execution role; with an execution role, also
/// whether it may pull the task's images from this server's registry and write its
/// `awslogs` logs. A task that may not gets `failure` in ECS's words.
pub(super) fn secrets(
    state: &State,
    ctx: &Context,
    req: TaskRequest,
) -> Result<TaskSecrets, EcsError> {
    let (scope, id, task, definition) = own_task(state, ctx, &req)?;
    let region = scope.region.clone();
    let execution = match role_of(
        &task,
        "executionRoleArn",
        definition.execution_role_arn.as_ref(),
    ) {
        None => None,
        Some(role) => {
            if !roles::trusts_service(state, &role, ECS_TASKS) {
                return Ok(unreadable(format!(
                    "execution resource retrieval failed: AccessDenied: {ECS_TASKS} is not authorized to perform: sts:AssumeRole on resource: {role}"
                )));
            }
            let Ok(acting) = of_arn(state, &role) else {
                return Ok(unreadable(format!(
                    "execution resource retrieval failed: the execution role {role} does not exist"
                )));
            };
            let name = role.rsplit('/').next().unwrap_or_default();
            Some(Execution {
                acting,
                session_arn: format!("arn:aws:sts::{}:assumed-role/{name}/{id}", scope.account),
                region: region.clone(),
            })
        }
    };
    let mut containers = Vec::new();
    for c in &definition.container_definitions {
        if let Some(exec) = &execution {
            if let Err(why) = check_pull_and_logs(state, &scope, exec, c) {
                return Ok(failed(why));
            }
        }
        let credentials = c
            .repository_credentials
            .as_ref()
            .map(|r| r.credentials_parameter.as_str());
        if c.secrets.is_empty() && credentials.is_none() {
            continue;
        }
        let Some(exec) = &execution else {
            return Ok(unreadable(
                "execution resource retrieval failed: the task definition has no executionRoleArn to read its secrets with".into(),
            ));
        };
        let read = |value_from: &str| -> Result<String, String> {
            let arn = resource_arn(state, &region, value_from).map_err(|e| e.to_string())?;
            let (action, service) = if arn.contains(":secretsmanager:") {
                (
                    "secretsmanager:GetSecretValue",
                    "unable to retrieve secret from asm",
                )
            } else {
                ("ssm:GetParameters", "unable to retrieve secrets from ssm")
            };
            exec.check(action, &arn)
                .map_err(|why| format!("{service}: {why}"))?;
            resolve(state, &region, value_from).map_err(|e| e.to_string())
        };
        let mut environment = Vec::new();
        for s in &c.secrets {
            match read(&s.value_from) {
                Ok(value) => environment.push((s.name.clone(), value)),
                Err(why) => return Ok(unreadable(why)),
            }
        }
        let registry_auth = match credentials {
            None => None,
            Some(value_from) => match read(value_from).map(|v| login(&v)) {
                Ok(Some(pair)) => Some(pair),
                Ok(None) => {
                    return Ok(unreadable(format!(
                        "unable to retrieve secret from asm: the secret {value_from} of repositoryCredentials is not a JSON object with \"username\" and \"password\""
                    )))
                }
                Err(why) => return Ok(unreadable(why)),
            },
        };
        containers.push(ContainerSecrets {
            name: c.name().to_string(),
            environment,
            registry_auth,
        });
    }
    Ok(TaskSecrets {
        containers,
        failure: None,
    })
}

/// A private registry's login from a secret's JSON (`{"username": .., "password": ..}`).
fn login(secret: &str) -> Option<(String, String)> {
    let v: Value = serde_json::from_str(secret).ok()?;
    Some((
        v.get("username")?.as_str()?.to_string(),
        v.get("password")?.as_str()?.to_string(),
    ))
}

/// With an execution role: whether it may pull `c`'s image when it is in this server's
/// registry, and write `c`'s `awslogs` logs.
fn check_pull_and_logs(
    state: &State,
    scope: &Scope,
    exec: &Execution,
    c: &flotilla_model::task_definition::ContainerDefinition,
) -> Result<(), String> {
    let registry = flotilla_control::ecr::registry_host(state);
    if let (Some(host), Some(image)) = (registry, c.image.as_deref()) {
        if let Some(path) = image.strip_prefix(host).and_then(|p| p.strip_prefix('/')) {
            let repository = path.split(['@', ':']).next().unwrap_or(path);
            let arn = scope
                .arn("ecr", format!("repository/{repository}"))
                .to_string();
            for action in ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"] {
                exec.check(action, &arn).map_err(|why| {
                    format!("CannotPullContainerError: pull image {image}: {why}")
                })?;
            }
        }
    }
    if let Some(log) = c
        .log_configuration
        .as_ref()
        .filter(|l| l.log_driver == "awslogs")
    {
        let group = log
            .options
            .as_ref()
            .and_then(|o| o.get("awslogs-group"))
            .cloned()
            .unwrap_or_default();
        let arn = scope
            .arn("logs", format!("log-group:{group}:*"))
            .to_string();
        for action in ["logs:CreateLogStream", "logs:PutLogEvents"] {
            exec.check(action, &arn).map_err(|why| {
                format!("ResourceInitializationError: failed to validate logger args: {why}")
            })?;
        }
    }
    Ok(())
}

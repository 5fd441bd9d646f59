//! Deciding an IAM identity's request (a user's, or a role session's) on every service:
//! the action (`ecs:RunTask`), the resources the request names (cluster, service, task,
//! task definition, repository, log group, parameter, load balancer ARNs; `*` where an
//! operation names none), the condition keys (`aws:RequestedRegion`, `ecs:cluster`,
//! `aws:ResourceTag/...` of a cluster) and `iam:PassRole` for the roles a task will run
//! with (RegisterTaskDefinition, RunTask, StartTask, CreateService). Every target must be allowed; the first denial is answered in AWS's words.

use flotilla_aws::{iam_prefix, AuthRequest, Input};
use flotilla_control::ecs::task_definitions;
use flotilla_control::iam::authorize::acting;
use flotilla_model::arn::{ecs_name, EcsRef, Scope};
use flotilla_model::iam::eval::{Context, Decision};
use serde_json::Value;

use crate::State;

/// One thing a request needs permission for.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub action: String,
    pub resource: String,
    pub context: Context,
}

impl Target {
    fn new(action: impl Into<String>, resource: impl Into<String>) -> Target {
        Target {
            action: action.into(),
            resource: resource.into(),
            context: Context::default(),
        }
    }
}

/// IAM identities' requests, decided by their policies.
pub struct Policies {
    state: State,
}

impl Policies {
    pub fn new(state: State) -> Self {
        Policies { state }
    }
}

impl flotilla_aws::Authorizer for Policies {
    fn authorize(&self, r: &AuthRequest<'_>) -> Result<(), String> {
        let action = format!("{}:{}", iam_prefix(r.service), r.operation);
        let Some(who) = acting(&self.state, r.access_key) else {
            return Err(denial(
                r.principal_arn,
                &action,
                "*",
                Decision::ImplicitDeny,
            ));
        };
        let mut base = Context::default();
        base.set_one("aws:RequestedRegion", r.region);
        for mut t in targets(&self.state, r, &action) {
            t.context.extend(&base);
            match who.decide(&t.action, &t.resource, &t.context) {
                Decision::Allow => {}
                d => return Err(denial(&who.arn, &t.action, &t.resource, d)),
            }
        }
        Ok(())
    }
}

/// AWS's denial message.
pub fn denial(principal: &str, action: &str, resource: &str, decision: Decision) -> String {
    let why = match decision {
        Decision::ExplicitDeny => "with an explicit deny in an identity-based policy".to_string(),
        _ => format!("because no identity-based policy allows the {action} action"),
    };
    format!(
        "User: {principal} is not authorized to perform: {action} on resource: {resource} {why}"
    )
}

/// What `r` needs permission for: its own action on each resource it names, and
/// `iam:PassRole` on each role it hands to ECS.
pub fn targets(state: &State, r: &AuthRequest<'_>, action: &str) -> Vec<Target> {
    let scope = Scope::new(r.region, state.account());
    let mut out = match (r.service, r.input) {
        ("ecs", Input::Json(body)) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            ecs(state, &scope, r.operation, action, &v)
        }
        ("ecr", Input::Json(body)) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            named(&v, action, &["repositoryName"], |n| {
                scope.arn("ecr", format!("repository/{n}")).to_string()
            })
        }
        ("logs", Input::Json(body)) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let group = str_of(&v, "logGroupName");
            match (group, str_of(&v, "logStreamName")) {
                (Some(g), Some(s)) => vec![Target::new(
                    action,
                    scope
                        .arn("logs", format!("log-group:{g}:log-stream:{s}"))
                        .to_string(),
                )],
                (Some(g), None) => vec![Target::new(
                    action,
                    scope.arn("logs", format!("log-group:{g}:*")).to_string(),
                )],
                _ => vec![],
            }
        }
        ("ssm", Input::Json(body)) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let mut names: Vec<String> =
                str_of(&v, "Name").into_iter().map(str::to_string).collect();
            names.extend(strs_of(&v, "Names"));
            names
                .iter()
                .map(|n| Target::new(action, parameter_arn(&scope, n)))
                .collect()
        }
        ("secretsmanager", Input::Json(body)) => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            str_of(&v, "SecretId")
                .filter(|id| id.starts_with("arn:"))
                .map(|id| vec![Target::new(action, id)])
                .unwrap_or_default()
        }
        ("elasticloadbalancing", Input::Query(params)) => params
            .iter()
            .filter(|(k, v)| k.ends_with("Arn") && v.starts_with("arn:"))
            .map(|(_, v)| Target::new(action, v.clone()))
            .collect(),
        _ => vec![],
    };
    if out.iter().all(|t| t.action != action) {
        out.push(Target::new(action, "*"));
    }
    out
}

/// An SSM parameter's ARN from its name or ARN.
fn parameter_arn(scope: &Scope, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_string();
    }
    let name = name.strip_prefix('/').unwrap_or(name);
    scope.arn("ssm", format!("parameter/{name}")).to_string()
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn strs_of(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// One target per name found under `keys` (a string or an array of them).
fn named(v: &Value, action: &str, keys: &[&str], arn: impl Fn(&str) -> String) -> Vec<Target> {
    keys.iter()
        .flat_map(|k| {
            let mut names = strs_of(v, k);
            names.extend(str_of(v, k).map(str::to_string));
            names
        })
        .map(|n| Target::new(action, arn(&n)))
        .collect()
}

/// ECS: the resources of each operation as ECS's authorization reference lists them,
/// with `ecs:cluster` (and the cluster's tags) wherever a cluster is involved.
fn ecs(state: &State, scope: &Scope, operation: &str, action: &str, v: &Value) -> Vec<Target> {
    let cluster_name = |key: &str| -> String {
        str_of(v, key)
            .and_then(|c| ecs_name(c, EcsRef::Cluster, scope).ok())
            .unwrap_or_else(|| "default".to_string())
    };
    let cluster = cluster_name("cluster");
    let in_cluster = |mut t: Target, name: &str| {
        t.context.set_one("ecs:cluster", scope.cluster_arn(name));
        for (k, val) in cluster_tags(state, scope, name) {
            t.context.set_one(&format!("aws:ResourceTag/{k}"), val);
        }
        t
    };
    let child = |kind: EcsRef, noun: &str, id: &str| -> String {
        let name = ecs_name(id, kind, scope).unwrap_or_else(|_| id.to_string());
        scope
            .arn("ecs", format!("{noun}/{cluster}/{name}"))
            .to_string()
    };
    let mut out = Vec::new();
    match operation {
        "CreateCluster" => {
            let name = str_of(v, "clusterName").unwrap_or("default");
            out.push(Target::new(action, scope.cluster_arn(name)));
        }
        "DescribeClusters" => {
            let mut names = strs_of(v, "clusters");
            if names.is_empty() {
                names.push("default".into());
            }
            for c in names {
                let name = ecs_name(&c, EcsRef::Cluster, scope).unwrap_or(c);
                out.push(in_cluster(
                    Target::new(action, scope.cluster_arn(&name)),
                    &name,
                ));
            }
        }
        "DeleteCluster"
        | "UpdateCluster"
        | "UpdateClusterSettings"
        | "PutClusterCapacityProviders"
        | "ListServices"
        | "ListContainerInstances"
        | "RegisterContainerInstance"
        | "DeregisterContainerInstance"
        | "ListTasks" => {
            out.push(in_cluster(
                Target::new(action, scope.cluster_arn(&cluster)),
                &cluster,
            ));
        }
        "CreateService" => {
            let name = str_of(v, "serviceName").unwrap_or("");
            out.push(in_cluster(
                Target::new(action, child(EcsRef::Service, "service", name)),
                &cluster,
            ));
            // The roles its tasks will run with, and the service's own role.
            let def = str_of(v, "taskDefinition")
                .and_then(|id| task_definitions::by_ref(state, scope, id));
            let roles = def.iter().flat_map(|d| {
                [
                    d.value.definition.task_role_arn.clone(),
                    d.value.definition.execution_role_arn.clone(),
                ]
            });
            let service_role = str_of(v, "role").map(str::to_string);
            out.extend(
                roles
                    .chain(std::iter::once(service_role))
                    .flatten()
                    .filter(|r| r.starts_with("arn:"))
                    .map(pass_role),
            );
        }
        "UpdateService" | "DeleteService" => {
            let name = str_of(v, "service").unwrap_or("");
            out.push(in_cluster(
                Target::new(action, child(EcsRef::Service, "service", name)),
                &cluster,
            ));
        }
        "DescribeServices" => {
            for s in strs_of(v, "services") {
                out.push(in_cluster(
                    Target::new(action, child(EcsRef::Service, "service", &s)),
                    &cluster,
                ));
            }
        }
        "StopTask" => {
            let id = str_of(v, "task").unwrap_or("");
            out.push(in_cluster(
                Target::new(action, child(EcsRef::Task, "task", id)),
                &cluster,
            ));
        }
        "DescribeTasks" => {
            for t in strs_of(v, "tasks") {
                out.push(in_cluster(
                    Target::new(action, child(EcsRef::Task, "task", &t)),
                    &cluster,
                ));
            }
        }
        "RunTask" | "StartTask" => {
            let id = str_of(v, "taskDefinition").unwrap_or("");
            let def = task_definitions::by_ref(state, scope, id);
            let resource = match &def {
                Some(d) => scope
                    .task_definition_arn(d.value.family(), i64::from(d.value.definition.revision)),
                None => scope
                    .arn("ecs", format!("task-definition/{id}"))
                    .to_string(),
            };
            out.push(in_cluster(Target::new(action, resource), &cluster));
            // The roles the task will run with: the definition's, or the overrides'.
            let overrides = v.get("overrides").unwrap_or(&Value::Null);
            let task_role = str_of(overrides, "taskRoleArn")
                .map(str::to_string)
                .or_else(|| {
                    def.as_ref()
                        .and_then(|d| d.value.definition.task_role_arn.clone())
                });
            let exec_role = str_of(overrides, "executionRoleArn")
                .map(str::to_string)
                .or_else(|| {
                    def.as_ref()
                        .and_then(|d| d.value.definition.execution_role_arn.clone())
                });
            out.extend(task_role.into_iter().chain(exec_role).map(pass_role));
        }
        "RegisterTaskDefinition" => {
            out.push(Target::new(action, "*"));
            let roles = ["taskRoleArn", "executionRoleArn"];
            out.extend(
                roles
                    .iter()
                    .filter_map(|k| str_of(v, k))
                    .map(|r| pass_role(r.to_string())),
            );
        }
        _ => {
            let mut t = Target::new(action, "*");
            if v.get("cluster").is_some() {
                t = in_cluster(t, &cluster);
            }
            out.push(t);
        }
    }
    out
}

/// `iam:PassRole` on `role`, passed to ECS tasks.
fn pass_role(role: String) -> Target {
    let mut t = Target::new("iam:PassRole", role);
    t.context
        .set_one("iam:PassedToService", "ecs-tasks.amazonaws.com");
    t
}

/// The tags of the cluster `name`, for `aws:ResourceTag/...`.
fn cluster_tags(state: &State, scope: &Scope, name: &str) -> Vec<(String, String)> {
    flotilla_control::ecs::clusters::active(state, scope, Some(name))
        .map(|c| {
            c.value
                .tags
                .iter()
                .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;

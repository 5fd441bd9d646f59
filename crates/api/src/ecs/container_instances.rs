//! Container instance operations: RegisterContainerInstance (what agents call),
//! DeregisterContainerInstance, DescribeContainerInstances, ListContainerInstances,
//! UpdateContainerInstancesState and UpdateContainerAgent.

use std::collections::HashMap;

use crate::ecs::error::EcsError;
use flotilla_aws::{AwsError, Context};
use flotilla_control::Entry;
use flotilla_model::capacity_provider;
use flotilla_model::container_instance::{
    self, with_builtin_attributes, Capacity, ContainerInstanceRecord, IdentityDocument, Resource,
    VersionInfo,
};
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::task_definition::Attribute;
use flotilla_model::{Arn, Scope};
use serde::Deserialize;
use serde_json::{json, Value};

use super::clusters::active_cluster_name;
use super::failure;
use crate::ecs::error::invalid;
use crate::pagination::{page_size, paginate_strings};
use crate::{keys, State};
use flotilla_control::placement::resources::remaining;
use flotilla_control::placement::task_index::Load;

use flotilla_control::ecs::container_instances::{self as control, set_status, Registration};
pub use flotilla_control::ecs::container_instances::{instance_arn, put};

/// The instance id a `containerInstance` parameter (id or ARN) names.
pub fn instance_id(id: &str, scope: &Scope) -> Result<String, EcsError> {
    Ok(control::instance_id(id, scope)?)
}

/// What is running where in a cluster: the load of each instance, by instance ARN.
#[derive(Default)]
pub struct Occupancy {
    pub loads: HashMap<String, Load>,
}

impl Occupancy {
    pub fn load(&self, arn: &str) -> Option<&Load> {
        self.loads.get(arn)
    }
}

/// The loads of a cluster's instances, from the task index (no scan of the tasks).
pub fn occupancy(state: &State, scope: &Scope, cluster: &str) -> Occupancy {
    let prefix = keys::in_cluster(keys::CONTAINER_INSTANCES, &scope.region, cluster);
    let loads = state
        .instances()
        .range(prefix.as_bytes())
        .into_iter()
        .map(|(_, e)| {
            let arn = e.value.container_instance_arn.clone();
            let load = state.task_index().load(&arn);
            (arn, load)
        })
        .collect();
    Occupancy { loads }
}

/// The ECS `ContainerInstance` shape.
pub fn to_wire(
    state: &State,
    scope: &Scope,
    cluster: &str,
    r: &ContainerInstanceRecord,
    o: &Occupancy,
    tags: bool,
) -> Value {
    let arn = &r.container_instance_arn;
    let load = o.load(arn);
    let rem = remaining(r, load.map(|l| &l.usage));
    let mut v = json!({
        "containerInstanceArn": arn,
        "ec2InstanceId": r.ec2_instance_id,
        "version": r.version,
        "versionInfo": r.version_info,
        "remainingResources": rem.to_resources(),
        "registeredResources": r.registered_resources,
        "status": r.status,
        "agentConnected": state.agent_connected(&scope.region, cluster, r.id()),
        "runningTasksCount": load.map_or(0, |l| l.running),
        "pendingTasksCount": load.map_or(0, |l| l.pending),
        "attributes": r.attributes,
        "capacityProviderName": r.attribute(capacity_provider::ATTRIBUTE),
        "registeredAt": flotilla_model::timestamp::to_epoch_seconds(&r.registered_at),
        "attachments": [],
    });
    if let Some(reason) = &r.status_reason {
        v["statusReason"] = json!(reason);
    }
    if tags {
        v["tags"] = json!(r.tags);
    }
    v
}

/// Check attribute names and values as ECS does.
pub fn validate_attributes(attrs: &[Attribute]) -> Result<(), EcsError> {
    let ok_name = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./@:".contains(c))
    };
    let ok_value = |s: &str| {
        s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./@: ".contains(c))
    };
    for a in attrs {
        if !ok_name(&a.name) {
            return Err(invalid(format!(
                "Attribute name '{}' is invalid: use up to 128 letters, numbers, hyphens, \
                 underscores, periods, at signs, forward slashes and colons.",
                a.name
            )));
        }
        if let Some(v) = &a.value {
            if !ok_value(v) {
                return Err(invalid(format!(
                    "The value of attribute '{}' is invalid: use up to 128 letters, numbers, \
                     hyphens, underscores, periods, at signs, forward slashes, colons and spaces.",
                    a.name
                )));
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterInput {
    pub(crate) cluster: Option<String>,
    instance_identity_document: Option<String>,
    #[serde(default)]
    total_resources: Vec<Resource>,
    #[serde(default)]
    version_info: VersionInfo,
    pub(crate) container_instance_arn: Option<String>,
    #[serde(default)]
    attributes: Vec<Attribute>,
    #[serde(default)]
    tags: Vec<Tag>,
}

/// RegisterContainerInstance: a new instance, or — with `containerInstanceArn` — the same
/// instance registering again (an agent restart), which keeps its identity and tasks.
pub async fn register(
    state: &State,
    ctx: &Context,
    input: RegisterInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = flotilla_control::ecs::clusters::active(state, &scope, input.cluster.as_deref())?;
    let cluster_name = cluster.value.cluster_name.clone();
    crate::agent::only_own_instance(
        state,
        ctx,
        &cluster_name,
        input.container_instance_arn.as_deref(),
    )?;
    check_provider(state, &scope, &input.attributes)?;
    let registration = registration(&scope, &cluster_name, input)?;
    let record = control::register(state, &scope, &cluster_name, registration).await?;
    let o = occupancy(state, &scope, &cluster_name);
    Ok(json!({ "containerInstance": to_wire(state, &scope, &cluster_name, &record, &o, true) }))
}

/// The capacity provider an instance registers with (the `flotilla.capacity-provider`
/// attribute) must be an ACTIVE custom provider: FARGATE and FARGATE_SPOT take the
/// instances of no provider.
fn check_provider(state: &State, scope: &Scope, attrs: &[Attribute]) -> Result<(), EcsError> {
    let Some(a) = attrs
        .iter()
        .find(|a| a.name == capacity_provider::ATTRIBUTE)
    else {
        return Ok(());
    };
    let name = a.value.as_deref().unwrap_or("");
    if capacity_provider::is_built_in(name) {
        return Err(invalid(format!(
            "An instance cannot register with the {name} capacity provider: FARGATE and \
             FARGATE_SPOT tasks run on the instances of no custom capacity provider."
        )));
    }
    flotilla_control::ecs::capacity_providers::active(state, scope, name)?;
    Ok(())
}

/// A RegisterContainerInstance input checked, as the control plane takes it (also what an
/// agent joining with a token sends).
pub fn registration(
    scope: &Scope,
    cluster_name: &str,
    input: RegisterInput,
) -> Result<Registration, EcsError> {
    // integerValue is an Integer in the API model.
    let range = 0..=i64::from(i32::MAX);
    if let Some(r) = (input.total_resources.iter()).find(|r| !range.contains(&r.integer_value)) {
        return Err(invalid(format!(
            "totalResources {}: integerValue {} is outside 0 to {}.",
            r.name,
            r.integer_value,
            i32::MAX
        )));
    }
    let capacity = match input.total_resources.is_empty() {
        true => None,
        false => Some(Capacity::from_resources(&input.total_resources)),
    };
    validate_attributes(&input.attributes)?;
    validate_tags(&input.tags)?;
    let id = match &input.container_instance_arn {
        Some(arn) => {
            let parsed = Arn::parse(arn).filter(|a| a.resource_parts().0 == "container-instance");
            let in_cluster = parsed
                .as_ref()
                .is_some_and(|a| a.resource_parts().1.split('/').next() == Some(cluster_name));
            if !in_cluster {
                return Err(invalid(format!(
                    "containerInstanceArn '{arn}' does not name an instance of cluster {cluster_name}."
                )));
            }
            Some(instance_id(arn, scope)?)
        }
        None => None,
    };
    let doc = IdentityDocument::parse(input.instance_identity_document.as_deref().unwrap_or(""));
    Ok(Registration {
        id,
        capacity,
        version_info: input.version_info,
        attributes: with_builtin_attributes(input.attributes, &doc),
        tags: input.tags,
        ec2_instance_id: doc.instance_id,
    })
}

/// The stored instance a parameter names in a cluster, or `InvalidParameterException`.
pub fn find(
    state: &State,
    scope: &Scope,
    cluster: &str,
    id: &str,
) -> Result<(String, Entry<ContainerInstanceRecord>), EcsError> {
    Ok(control::find(state, scope, cluster, id)?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeregisterInput {
    cluster: Option<String>,
    container_instance: Option<String>,
    force: Option<bool>,
}

pub async fn deregister(
    state: &State,
    ctx: &Context,
    input: DeregisterInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let id = input
        .container_instance
        .ok_or_else(|| invalid("containerInstance is required."))?;
    let force = input.force.unwrap_or(false);
    let record = control::deregister(state, &scope, &cluster, &id, force).await?;
    let o = occupancy(state, &scope, &cluster);
    Ok(json!({ "containerInstance": to_wire(state, &scope, &cluster, &record, &o, true) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    cluster: Option<String>,
    #[serde(default)]
    container_instances: Vec<String>,
    #[serde(default)]
    include: Vec<String>,
}

pub fn describe(state: &State, ctx: &Context, input: DescribeInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    if input.container_instances.is_empty() || input.container_instances.len() > 100 {
        return Err(invalid(
            "containerInstances must name between 1 and 100 instances.",
        ));
    }
    let tags = super::wants_tags(&input.include, &["TAGS", "CONTAINER_INSTANCE_HEALTH"])?;
    let o = occupancy(state, &scope, &cluster);
    let (found, failures) = super::describe_each(
        &input.container_instances,
        |id| {
            find(state, &scope, &cluster, id)
                .ok()
                .map(|(_, e)| to_wire(state, &scope, &cluster, &e.value, &o, tags))
        },
        |id| {
            instance_id(id, &scope)
                .ok()
                .map(|i| instance_arn(&scope, &cluster, &i))
        },
    );
    Ok(json!({ "containerInstances": found, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    cluster: Option<String>,
    filter: Option<String>,
    status: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let size = page_size(input.max_results, 100)?;
    if let Some(s) = &input.status {
        if ![
            "ACTIVE",
            "DRAINING",
            "REGISTERING",
            "DEREGISTERING",
            "REGISTRATION_FAILED",
        ]
        .contains(&s.as_str())
        {
            return Err(invalid(format!(
                "status '{s}' is invalid: use ACTIVE, DRAINING, REGISTERING, DEREGISTERING or REGISTRATION_FAILED."
            )));
        }
    }
    let filter = input
        .filter
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .map(super::filter::parse)
        .transpose()?;
    let o = occupancy(state, &scope, &cluster);
    let prefix = keys::in_cluster(keys::CONTAINER_INSTANCES, &scope.region, &cluster);
    let arns: Vec<String> = state
        .instances()
        .range(prefix.as_bytes())
        .into_iter()
        .map(|(_, e)| e.value)
        .filter(|r| match &input.status {
            Some(s) => r.status == *s,
            None => r.status != container_instance::INACTIVE,
        })
        .filter(|r| {
            filter
                .as_ref()
                .is_none_or(|f| super::filter::matches(f, state, &scope, &cluster, r, &o))
        })
        .map(|r| r.container_instance_arn.clone())
        .collect();
    let (page, next) = paginate_strings(arns, input.next_token.as_deref(), size)?;
    Ok(json!({ "containerInstanceArns": page, "nextToken": next }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStateInput {
    cluster: Option<String>,
    #[serde(default)]
    container_instances: Vec<String>,
    status: Option<String>,
}

/// UpdateContainerInstancesState: ACTIVE or DRAINING. A draining instance takes no new
/// tasks.
pub async fn update_state(
    state: &State,
    ctx: &Context,
    input: UpdateStateInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let status = input.status.ok_or_else(|| invalid("status is required."))?;
    if status != container_instance::ACTIVE && status != container_instance::DRAINING {
        return Err(invalid(format!(
            "status '{status}' is invalid: use ACTIVE or DRAINING."
        )));
    }
    if input.container_instances.is_empty() || input.container_instances.len() > 10 {
        return Err(invalid(
            "containerInstances must name between 1 and 10 instances.",
        ));
    }
    let (mut done, mut failures) = (Vec::new(), Vec::new());
    for id in &input.container_instances {
        let Ok((key, entry)) = find(state, &scope, &cluster, id) else {
            failures.push(failure(id, "MISSING"));
            continue;
        };
        if entry.value.status == container_instance::INACTIVE {
            failures.push(failure(&entry.value.container_instance_arn, "INACTIVE"));
            continue;
        }
        done.push(set_status(state, &key, &entry, &status).await?);
    }
    let o = occupancy(state, &scope, &cluster);
    let wire: Vec<Value> = done
        .iter()
        .map(|r| to_wire(state, &scope, &cluster, r, &o, false))
        .collect();
    Ok(json!({ "containerInstances": wire, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAgentInput {
    cluster: Option<String>,
    container_instance: Option<String>,
}

/// UpdateContainerAgent. ECS updates its agent through ecs-init on its own AMIs; a Flotilla
/// agent is the same binary as its server and is updated by replacing that binary and
/// restarting the agent, which adopts its running tasks (docs/tasks.md). So there is
/// never an update the server can push: an agent that reports its version is answered
/// `NoUpdateAvailableException` (saying which version it runs, and how to update it when
/// that is not the server's), one that reports none `MissingVersionException`, as ECS
/// answers for agents it cannot update.
pub fn update_agent(
    state: &State,
    ctx: &Context,
    input: UpdateAgentInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let id = input
        .container_instance
        .ok_or_else(|| invalid("containerInstance is required."))?;
    let (_, entry) = find(state, &scope, &cluster, &id)?;
    let record = &entry.value;
    if record.status == container_instance::INACTIVE {
        return Err(invalid(format!(
            "Container instance {} is INACTIVE: it has been deregistered.",
            record.container_instance_arn
        )));
    }
    let server = env!("CARGO_PKG_VERSION");
    let message = match record.version_info.agent_version.as_deref() {
        None => {
            return Err(EcsError::Wire(AwsError::client(
                "MissingVersionException",
                format!(
                    "Container instance {} reported no agent version, so there is no update \
                     path for it: run the flotilla agent of this server's version ({server}).",
                    record.container_instance_arn
                ),
            )))
        }
        Some(v) if v == server => format!(
            "There is no update available for the agent on {}: it already runs Flotilla \
             {v}, this server's version.",
            record.container_instance_arn
        ),
        Some(v) => format!(
            "There is no update the server can push to the agent on {}: it runs {v} and \
             this server {server}. Replace the flotilla binary on that host and restart \
             the agent; its running tasks are adopted, not restarted.",
            record.container_instance_arn
        ),
    };
    Err(EcsError::Wire(AwsError::client(
        "NoUpdateAvailableException",
        message,
    )))
}

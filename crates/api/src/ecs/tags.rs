//! TagResource, UntagResource and ListTagsForResource for the ECS resources that exist so
//! far (clusters, task definitions and services); the resource is found from its ARN.

use crate::ecs::error::EcsError;
use flotilla_aws::Context;
use flotilla_model::record::encode;
use flotilla_model::tag::{merge_tags, remove_tags, validate_tags, Tag};
use flotilla_model::Arn;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ecs::error::{cluster_not_found, from_model, invalid};
use crate::{keys, State};
use flotilla_control::ecs::task_definitions::parse_revision_ref;

/// A taggable resource named by an ARN: its store key and current tags.
enum Resource {
    Cluster(String),
    TaskDefinition(String),
    Service(String),
}

fn resolve(state: &State, ctx: &Context, arn: &str) -> Result<Resource, EcsError> {
    let scope = crate::scope(state, ctx);
    let parsed = Arn::parse(arn)
        .filter(|a| a.service == "ecs")
        .ok_or_else(|| invalid(format!("The ARN '{arn}' is not a valid ECS resource ARN.")))?;
    let (kind, rest) = parsed.resource_parts();
    match kind {
        "cluster" => Ok(Resource::Cluster(keys::cluster(&scope.region, rest))),
        "task-definition" => {
            let (family, revision) = parse_revision_ref(rest)?;
            Ok(Resource::TaskDefinition(keys::task_definition(
                &scope.region,
                &family,
                revision,
            )))
        }
        "service" => match rest.split_once('/') {
            Some((cluster, name)) => Ok(Resource::Service(keys::service(
                &scope.region,
                cluster,
                name,
            ))),
            None => Err(invalid(format!(
                "The ARN '{arn}' uses the old service ARN format without a cluster; use the \
                 long format service/CLUSTER/NAME."
            ))),
        },
        _ => Err(invalid(format!(
            "Tagging resources of type '{kind}' is not supported; tag a cluster, a task \
             definition or a service."
        ))),
    }
}

fn not_found() -> EcsError {
    crate::ecs::error::not_found(
        flotilla_model::Resource::Other,
        "The specified resource is not found.",
    )
}

/// Change a resource's tags with compare-and-swap on its key.
async fn retag(
    state: &State,
    ctx: &Context,
    arn: &str,
    change: impl Fn(&mut Vec<Tag>),
) -> Result<(), EcsError> {
    let (key, value, mod_revision) = match resolve(state, ctx, arn)? {
        Resource::Cluster(key) => {
            let e = state
                .clusters()
                .get(key.as_bytes())
                .filter(|e| e.value.is_active());
            let e = e.ok_or_else(cluster_not_found)?;
            let mut c = (*e.value).clone();
            change(&mut c.tags);
            validate_tags(&c.tags).map_err(from_model)?;
            (key, encode(&c), e.mod_revision)
        }
        Resource::TaskDefinition(key) => {
            let e = state
                .task_definitions()
                .get(key.as_bytes())
                .ok_or_else(not_found)?;
            let mut t = (*e.value).clone();
            change(&mut t.tags);
            validate_tags(&t.tags).map_err(from_model)?;
            (key, encode(&t), e.mod_revision)
        }
        Resource::Service(key) => {
            let e = state
                .services()
                .get(key.as_bytes())
                .filter(|e| e.value.status != flotilla_model::service::ServiceStatus::Inactive)
                .ok_or_else(flotilla_control::ControlError::service_not_found)?;
            let mut s = (*e.value).clone();
            change(&mut s.tags);
            validate_tags(&s.tags).map_err(from_model)?;
            (key, encode(&s), e.mod_revision)
        }
    };
    if state.put_if_unchanged(&key, mod_revision, value).await? {
        Ok(())
    } else {
        Err(crate::ecs::error::conflict("resource"))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagInput {
    resource_arn: Option<String>,
    tags: Option<Vec<Tag>>,
}

pub async fn tag(state: &State, ctx: &Context, input: TagInput) -> Result<Value, EcsError> {
    let arn = input
        .resource_arn
        .ok_or_else(|| invalid("resourceArn is required."))?;
    let tags = input.tags.ok_or_else(|| invalid("tags is required."))?;
    validate_tags(&tags).map_err(from_model)?;
    retag(state, ctx, &arn, |t| merge_tags(t, tags.clone())).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagInput {
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub async fn untag(state: &State, ctx: &Context, input: UntagInput) -> Result<Value, EcsError> {
    let arn = input
        .resource_arn
        .ok_or_else(|| invalid("resourceArn is required."))?;
    let keys = input
        .tag_keys
        .ok_or_else(|| invalid("tagKeys is required."))?;
    retag(state, ctx, &arn, |t| remove_tags(t, &keys)).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTagsInput {
    resource_arn: Option<String>,
}

pub fn list(state: &State, ctx: &Context, input: ListTagsInput) -> Result<Value, EcsError> {
    let arn = input
        .resource_arn
        .ok_or_else(|| invalid("resourceArn is required."))?;
    let tags = match resolve(state, ctx, &arn)? {
        Resource::Cluster(key) => {
            let e = state
                .clusters()
                .get(key.as_bytes())
                .filter(|e| e.value.is_active());
            e.ok_or_else(cluster_not_found)?.value.tags.clone()
        }
        Resource::TaskDefinition(key) => state
            .task_definitions()
            .get(key.as_bytes())
            .ok_or_else(not_found)?
            .value
            .tags
            .clone(),
        Resource::Service(key) => state
            .services()
            .get(key.as_bytes())
            .ok_or_else(flotilla_control::ControlError::service_not_found)?
            .value
            .tags
            .clone(),
    };
    Ok(json!({ "tags": tags }))
}

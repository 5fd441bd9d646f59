//! TagResource, UntagResource and ListTagsForResource for the ECS resources that exist so
//! far (clusters, task definitions and services); the resource is found from its ARN.

use flotilla_aws::Context;
use flotilla_control::ecs::tags::{resolve, retag, tags_of};
use flotilla_model::tag::{merge_tags, remove_tags, validate_tags, Tag};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ecs::error::{invalid, EcsError};
use crate::State;

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
    validate_tags(&tags)?;
    let resource = resolve(&crate::scope(state, ctx), &arn)?;
    retag(state, &resource, |t| merge_tags(t, tags.clone())).await?;
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
    let resource = resolve(&crate::scope(state, ctx), &arn)?;
    retag(state, &resource, |t| remove_tags(t, &keys)).await?;
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
    let tags = tags_of(state, &resolve(&crate::scope(state, ctx), &arn)?)?;
    Ok(json!({ "tags": tags }))
}

//! TagResource, UntagResource and ListTagsForResource for alarms, named by ARN.

use flotilla_aws::Context;
use flotilla_control::cloudwatch as control;
use flotilla_model::cloudwatch::rules;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::CwError;
use super::wire::{required, tags, TagIn};
use crate::State;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tags: Option<Vec<TagIn>>,
    tag_keys: Option<Vec<String>>,
}

fn arn(a: Option<String>) -> Result<String, CwError> {
    let a = required("ResourceARN", a)?;
    rules::length("ResourceARN", &a, 1, 1024)?;
    Ok(a)
}

pub async fn tag(state: &State, ctx: &Context, input: TagInput) -> Result<Value, CwError> {
    let arn = arn(input.resource_arn)?;
    let tags = tags(required("Tags", input.tags)?)?;
    control::tag(state, &ctx.region, &arn, &tags).await?;
    Ok(json!({}))
}

pub async fn untag(state: &State, ctx: &Context, input: TagInput) -> Result<Value, CwError> {
    let arn = arn(input.resource_arn)?;
    let keys = required("TagKeys", input.tag_keys)?;
    for k in &keys {
        rules::length("TagKeys.member", k, 1, 128)?;
    }
    control::untag(state, &ctx.region, &arn, &keys).await?;
    Ok(json!({}))
}

pub fn list(state: &State, ctx: &Context, input: TagInput) -> Result<Value, CwError> {
    let arn = arn(input.resource_arn)?;
    let name = control::name_of_arn(state, &ctx.region, &arn)?;
    let tags: Vec<Value> = control::alarm(state, &ctx.region, &name)
        .map(|a| {
            a.tags
                .iter()
                .map(|(k, v)| json!({"Key": k, "Value": v}))
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({"Tags": tags}))
}

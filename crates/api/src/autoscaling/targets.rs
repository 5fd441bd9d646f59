//! RegisterScalableTarget, DescribeScalableTargets, DeregisterScalableTarget and the
//! tagging operations (TagResource, UntagResource, ListTagsForResource) on scalable
//! targets' ARNs.

use std::collections::BTreeMap;

use flotilla_aws::Context;
use flotilla_control::autoscaling::{self as control, targets};
use flotilla_model::autoscaling::ScalableTargetRecord;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, AsWireError};
use super::wire::{self, required};
use crate::State;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Suspended {
    dynamic_scaling_in_suspended: Option<bool>,
    dynamic_scaling_out_suspended: Option<bool>,
    scheduled_scaling_suspended: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterInput {
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    min_capacity: Option<i64>,
    max_capacity: Option<i64>,
    #[serde(rename = "RoleARN")]
    role_arn: Option<String>,
    suspended_state: Option<Suspended>,
    tags: Option<BTreeMap<String, String>>,
}

pub async fn register(s: &State, ctx: &Context, i: RegisterInput) -> Result<Value, AsWireError> {
    let resource_id = wire::target(&i.service_namespace, &i.resource_id, &i.scalable_dimension)?;
    if let Some(r) = &i.role_arn {
        wire::bounded(r, "RoleARN")?;
    }
    let sus = i.suspended_state.unwrap_or_default();
    let r = targets::Registration {
        resource_id,
        min_capacity: i.min_capacity,
        max_capacity: i.max_capacity,
        role_arn: i.role_arn,
        dynamic_in_suspended: sus.dynamic_scaling_in_suspended,
        dynamic_out_suspended: sus.dynamic_scaling_out_suspended,
        scheduled_suspended: sus.scheduled_scaling_suspended,
        tags: i.tags.unwrap_or_default(),
    };
    let t = targets::register(s, &ctx.region, &r).await?;
    Ok(json!({"ScalableTargetARN": t.arn}))
}

fn shape(t: &ScalableTargetRecord) -> Value {
    Value::Object(wire::naming(
        &t.resource_id,
        json!({
        "MinCapacity": t.min_capacity,
        "MaxCapacity": t.max_capacity,
        "RoleARN": t.role_arn,
        "CreationTime": wire::time(&t.created),
        "SuspendedState": {
            "DynamicScalingInSuspended": t.suspended.dynamic_in,
            "DynamicScalingOutSuspended": t.suspended.dynamic_out,
            "ScheduledScalingSuspended": t.suspended.scheduled,
        },
        "ScalableTargetARN": t.arn,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInput {
    service_namespace: Option<String>,
    resource_ids: Option<Vec<String>>,
    scalable_dimension: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub fn describe(s: &State, ctx: &Context, i: DescribeInput) -> Result<Value, AsWireError> {
    wire::filter(&i.service_namespace, &None, &i.scalable_dimension)?;
    wire::names(&i.resource_ids, "ResourceIds")?;
    let items: Vec<_> = control::targets_of(s, &ctx.region)
        .into_iter()
        .filter(|t| {
            i.resource_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&t.resource_id))
        })
        .collect();
    let (page, next) = wire::page(
        items,
        |t| t.resource_id.clone(),
        &i.next_token,
        i.max_results,
    )?;
    Ok(json!({
        "ScalableTargets": page.iter().map(|t| shape(t)).collect::<Vec<_>>(),
        "NextToken": next,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeregisterInput {
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
}

pub async fn deregister(
    s: &State,
    ctx: &Context,
    i: DeregisterInput,
) -> Result<Value, AsWireError> {
    let resource_id = wire::target(&i.service_namespace, &i.resource_id, &i.scalable_dimension)?;
    targets::deregister(s, &ctx.region, &resource_id).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    tag_keys: Option<Vec<String>>,
}

fn arn(i: &TagInput) -> Result<&str, AsWireError> {
    let arn = required(&i.resource_arn, "ResourceARN")?;
    if !(1..=1011).contains(&arn.len()) {
        return Err(invalid("ResourceARN must be 1 to 1011 characters long."));
    }
    Ok(arn)
}

pub async fn tag(s: &State, ctx: &Context, i: TagInput) -> Result<Value, AsWireError> {
    let arn = arn(&i)?;
    let Some(tags) = &i.tags else {
        return Err(invalid("1 validation error detected: Tags is required."));
    };
    flotilla_model::autoscaling::check_tags(tags)?;
    targets::tag(s, &ctx.region, arn, tags).await?;
    Ok(json!({}))
}

pub async fn untag(s: &State, ctx: &Context, i: TagInput) -> Result<Value, AsWireError> {
    let arn = arn(&i)?;
    let Some(keys) = &i.tag_keys else {
        return Err(invalid("1 validation error detected: TagKeys is required."));
    };
    if keys.len() > 200 {
        return Err(invalid("TagKeys can hold at most 200 keys."));
    }
    targets::untag(s, &ctx.region, arn, keys).await?;
    Ok(json!({}))
}

pub fn list_tags(s: &State, ctx: &Context, i: TagInput) -> Result<Value, AsWireError> {
    let t = targets::by_arn(s, &ctx.region, arn(&i)?)?;
    Ok(json!({"Tags": t.tags}))
}

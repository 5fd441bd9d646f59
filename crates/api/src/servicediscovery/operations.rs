//! GetOperation, ListOperations (filters NAMESPACE_ID, SERVICE_ID, STATUS, TYPE and
//! UPDATE_DATE) and the tagging operations.

use flotilla_aws::Context;
use flotilla_control::servicediscovery as sd;
use flotilla_model::servicediscovery::{OperationStatus, OperationType};
use flotilla_model::timestamp::{from_epoch_seconds, to_epoch_seconds};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, SdWireError};
use super::wire::{self, required, WireFilter, WireTag};
use crate::State;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetInput {
    operation_id: Option<String>,
    owner_account: Option<String>,
}

pub fn get(state: &State, ctx: &Context, input: GetInput) -> Result<Value, SdWireError> {
    let id = required(&input.operation_id, "OperationId")?;
    if input
        .owner_account
        .as_deref()
        .is_some_and(|o| o != state.account())
    {
        return Err(sd::ServiceDiscoveryError::OperationNotFound(format!(
            "No operation found with ID {id}."
        ))
        .into());
    }
    let (op, status) = sd::operation(state, &ctx.region, id)?;
    Ok(json!({"Operation": wire::operation(state, &op, status)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    next_token: Option<String>,
    max_results: Option<i64>,
    filters: Option<Vec<WireFilter>>,
}

/// An UPDATE_DATE bound: epoch seconds.
fn date(value: &str) -> Result<f64, SdWireError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| from_epoch_seconds(*s).is_some())
        .ok_or_else(|| {
            invalid(format!(
                "UPDATE_DATE value {value} is not a date: give seconds since the Unix epoch."
            ))
        })
}

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, SdWireError> {
    let filters = wire::filters(
        input.filters,
        &[
            ("NAMESPACE_ID", &["EQ"]),
            ("SERVICE_ID", &["EQ"]),
            ("STATUS", &["EQ", "IN"]),
            ("TYPE", &["EQ", "IN"]),
            ("UPDATE_DATE", &["BETWEEN"]),
        ],
    )?;
    let mut dates = None;
    for f in &filters {
        match f.name.as_str() {
            "STATUS" => {
                if let Some(v) = f
                    .values
                    .iter()
                    .find(|v| OperationStatus::parse(v).is_none())
                {
                    return Err(invalid(format!(
                        "STATUS filter value {v} is not valid: use SUBMITTED, PENDING, SUCCESS \
                         or FAIL."
                    )));
                }
            }
            "TYPE" => {
                if let Some(v) = f.values.iter().find(|v| OperationType::parse(v).is_none()) {
                    return Err(invalid(format!(
                        "TYPE filter value {v} is not an operation type."
                    )));
                }
            }
            "UPDATE_DATE" => dates = Some((date(&f.values[0])?, date(&f.values[1])?)),
            _ => {}
        }
    }
    let found: Vec<_> = sd::operations(state, &ctx.region)
        .into_iter()
        .filter(|(op, status)| {
            filters.iter().all(|f| match f.name.as_str() {
                "NAMESPACE_ID" => op.targets.get("NAMESPACE") == Some(&f.values[0]),
                "SERVICE_ID" => op.targets.get("SERVICE") == Some(&f.values[0]),
                "STATUS" => f.values.iter().any(|v| v == status.as_str()),
                "TYPE" => f.values.iter().any(|v| v == op.operation_type.as_str()),
                _ => dates.is_some_and(|(from, to)| {
                    let t = to_epoch_seconds(&op.created_at);
                    from <= t && t <= to
                }),
            })
        })
        .collect();
    let (page, next) = wire::page(
        found,
        |(op, _)| format!("{:020}/{}", op.created_at.timestamp_millis().max(0), op.id),
        input.max_results,
        input.next_token.as_deref(),
    )?;
    let items: Vec<Value> = page
        .iter()
        .map(|(op, status)| json!({"Id": op.id, "Status": status.as_str()}))
        .collect();
    Ok(json!({"Operations": items, "NextToken": next}))
}

#[derive(Deserialize)]
pub struct ArnInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
}

pub fn list_tags(state: &State, ctx: &Context, input: ArnInput) -> Result<Value, SdWireError> {
    let arn = required(&input.resource_arn, "ResourceARN")?;
    let tags = sd::tags(state, &ctx.region, arn)?;
    Ok(json!({"Tags": wire::wire_tags(&tags)}))
}

#[derive(Deserialize)]
pub struct TagInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    #[serde(rename = "Tags")]
    tags: Option<Vec<WireTag>>,
}

pub async fn tag(state: &State, ctx: &Context, input: TagInput) -> Result<Value, SdWireError> {
    let arn = required(&input.resource_arn, "ResourceARN")?;
    if input.tags.is_none() {
        return Err(invalid("Tags is required."));
    }
    let tags = wire::tags(input.tags)?;
    sd::change_tags(state, &ctx.region, arn, tags, vec![]).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
pub struct UntagInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    #[serde(rename = "TagKeys")]
    tag_keys: Option<Vec<String>>,
}

pub async fn untag(state: &State, ctx: &Context, input: UntagInput) -> Result<Value, SdWireError> {
    let arn = required(&input.resource_arn, "ResourceARN")?;
    let keys = input
        .tag_keys
        .ok_or_else(|| invalid("TagKeys is required."))?;
    if keys.len() > 200 {
        return Err(invalid("TagKeys may hold at most 200 keys."));
    }
    sd::change_tags(state, &ctx.region, arn, vec![], keys).await?;
    Ok(json!({}))
}

//! CreateLogGroup, DeleteLogGroup, DescribeLogGroups, PutRetentionPolicy,
//! DeleteRetentionPolicy and the tagging operations (the generic TagResource,
//! UntagResource and ListTagsForResource, and the older TagLogGroup, UntagLogGroup and
//! ListTagsLogGroup).

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use flotilla_aws::Context;
use flotilla_control::logs::{self, NewGroup};
use flotilla_model::logs::{group_arn, group_name_from_arn, LogGroupRecord, GROUP_CLASSES};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, LogsWireError};
use super::{group_name, Logs};
use crate::scope;

/// DescribeLogGroups answers at most this many groups per page (its `limit`'s bound).
const MAX_DESCRIBE: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    log_group_name: Option<String>,
    kms_key_id: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    log_group_class: Option<String>,
    deletion_protection_enabled: Option<bool>,
}

pub async fn create(
    logs: &Logs,
    ctx: &Context,
    input: CreateInput,
) -> Result<Value, LogsWireError> {
    let name = input
        .log_group_name
        .ok_or_else(|| invalid("logGroupName is required."))?;
    if input.tags.as_ref().is_some_and(BTreeMap::is_empty) {
        return Err(invalid("tags must hold at least one tag when given."));
    }
    let group = NewGroup {
        name,
        kms_key_id: input.kms_key_id,
        log_group_class: input.log_group_class,
        deletion_protection: input.deletion_protection_enabled.unwrap_or(false),
        tags: input.tags.unwrap_or_default(),
    };
    logs::create(&logs.state, &scope(&logs.state, ctx), group).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameInput {
    log_group_name: Option<String>,
}

pub async fn delete(logs: &Logs, ctx: &Context, input: NameInput) -> Result<Value, LogsWireError> {
    let name = group_name(input.log_group_name)?;
    logs::delete(&logs.state, &scope(&logs.state, ctx), &name).await?;
    logs.delete_streams(&ctx.region, &name).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    log_group_name_prefix: Option<String>,
    log_group_name_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
    log_group_class: Option<String>,
    log_group_identifiers: Option<Vec<String>>,
    #[serde(default)]
    include_linked_accounts: bool,
}

fn page_token(token: Option<String>) -> Result<Option<String>, LogsWireError> {
    let Some(t) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(&t)
        .map_err(|_| invalid("The nextToken is not one this API gave."))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| invalid("The nextToken is not one this API gave."))
}

/// A group as DescribeLogGroups shows it, with its stored bytes.
fn group_out(logs: &Logs, ctx: &Context, g: &LogGroupRecord, stored_bytes: u64) -> Value {
    let arn = group_arn(&scope(&logs.state, ctx), &g.name);
    json!({
        "logGroupName": g.name,
        "creationTime": g.created_at,
        "retentionInDays": g.retention_in_days,
        "metricFilterCount": 0,
        "arn": format!("{arn}:*"),
        "logGroupArn": arn,
        "storedBytes": stored_bytes,
        "kmsKeyId": g.kms_key_id,
        "logGroupClass": g.log_group_class,
        "deletionProtectionEnabled": g.deletion_protection,
    })
}

pub async fn describe(
    logs: &Logs,
    ctx: &Context,
    input: DescribeInput,
) -> Result<Value, LogsWireError> {
    let s = scope(&logs.state, ctx);
    let limit = match input.limit {
        None => MAX_DESCRIBE,
        Some(n) if (1..=MAX_DESCRIBE as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(invalid(format!(
                "limit must be between 1 and {MAX_DESCRIBE}; got {n}."
            )))
        }
    };
    let prefix = input.log_group_name_prefix.unwrap_or_default();
    let pattern = input.log_group_name_pattern.unwrap_or_default();
    if !prefix.is_empty() && !pattern.is_empty() {
        return Err(invalid(
            "logGroupNamePrefix and logGroupNamePattern cannot both be given.",
        ));
    }
    if input.include_linked_accounts {
        // No monitoring accounts here: every group is this account's.
    }
    if let Some(class) = &input.log_group_class {
        if !GROUP_CLASSES.contains(&class.as_str()) {
            return Err(invalid(format!(
                "logGroupClass '{class}' is not one of {}.",
                GROUP_CLASSES.join(", ")
            )));
        }
    }
    let identifiers = match input.log_group_identifiers {
        Some(ids) if !ids.is_empty() && (!prefix.is_empty() || !pattern.is_empty()) => {
            return Err(invalid(
                "logGroupIdentifiers cannot be given with logGroupNamePrefix or \
                 logGroupNamePattern.",
            ))
        }
        Some(ids) if ids.len() > 50 => {
            return Err(invalid(
                "logGroupIdentifiers may name at most 50 log groups.",
            ))
        }
        Some(ids) => ids
            .iter()
            .map(|id| identifier_name(logs, ctx, id))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let after = page_token(input.next_token)?;
    let (groups, more) = logs::list(&logs.state, &s, &prefix, after.as_deref(), limit, |g| {
        (pattern.is_empty() || g.name.contains(&pattern))
            && input
                .log_group_class
                .as_ref()
                .is_none_or(|c| *c == g.log_group_class)
            && (identifiers.is_empty() || identifiers.contains(&g.name))
    });
    let mut out = Vec::with_capacity(groups.len());
    for g in &groups {
        let bytes = logs.stored_bytes(&ctx.region, &g.name).await?;
        out.push(group_out(logs, ctx, g, bytes));
    }
    let next = more
        .then(|| groups.last().map(|g| URL_SAFE_NO_PAD.encode(&g.name)))
        .flatten();
    Ok(json!({ "logGroups": out, "nextToken": next }))
}

/// A `logGroupIdentifier`: a group's name, or its ARN.
pub fn identifier_name(logs: &Logs, ctx: &Context, id: &str) -> Result<String, LogsWireError> {
    if id.starts_with("arn:") {
        Ok(group_name_from_arn(&scope(&logs.state, ctx), id)
            .map_err(invalid)?
            .to_string())
    } else {
        group_name(Some(id.to_string()))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionInput {
    log_group_name: Option<String>,
    retention_in_days: Option<i32>,
}

pub async fn put_retention(
    logs: &Logs,
    ctx: &Context,
    input: RetentionInput,
) -> Result<Value, LogsWireError> {
    let name = group_name(input.log_group_name)?;
    let days = input
        .retention_in_days
        .ok_or_else(|| invalid("retentionInDays is required."))?;
    let group =
        logs::set_retention(&logs.state, &scope(&logs.state, ctx), &name, Some(days)).await?;
    logs.enforce_retention(&ctx.region, &group).await?;
    Ok(json!({}))
}

pub async fn delete_retention(
    logs: &Logs,
    ctx: &Context,
    input: NameInput,
) -> Result<Value, LogsWireError> {
    let name = group_name(input.log_group_name)?;
    logs::set_retention(&logs.state, &scope(&logs.state, ctx), &name, None).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagResourceInput {
    resource_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    tag_keys: Option<Vec<String>>,
}

/// The group a tagging call's `resourceArn` names (only log groups are taggable here).
fn tagged_group(logs: &Logs, ctx: &Context, arn: Option<String>) -> Result<String, LogsWireError> {
    let arn = arn.ok_or_else(|| invalid("resourceArn is required."))?;
    if !arn.contains(":log-group:") {
        return Err(invalid(format!(
            "{arn} is not a log group ARN; only log groups can be tagged here."
        )));
    }
    identifier_name(logs, ctx, &arn)
}

fn required_tags(
    tags: Option<BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, LogsWireError> {
    match tags {
        Some(t) if !t.is_empty() => Ok(t),
        _ => Err(invalid("tags must hold at least one tag.")),
    }
}

fn required_keys(keys: Option<Vec<String>>) -> Result<Vec<String>, LogsWireError> {
    match keys {
        Some(k) if !k.is_empty() && k.len() <= 50 => Ok(k),
        _ => Err(invalid("tagKeys must hold 1 to 50 keys.")),
    }
}

pub async fn tag_resource(
    logs: &Logs,
    ctx: &Context,
    input: TagResourceInput,
) -> Result<Value, LogsWireError> {
    let name = tagged_group(logs, ctx, input.resource_arn)?;
    let tags = required_tags(input.tags)?;
    logs::tag(&logs.state, &scope(&logs.state, ctx), &name, tags).await?;
    Ok(json!({}))
}

pub async fn untag_resource(
    logs: &Logs,
    ctx: &Context,
    input: TagResourceInput,
) -> Result<Value, LogsWireError> {
    let name = tagged_group(logs, ctx, input.resource_arn)?;
    let keys = required_keys(input.tag_keys)?;
    logs::untag(&logs.state, &scope(&logs.state, ctx), &name, &keys).await?;
    Ok(json!({}))
}

pub fn list_tags_for_resource(
    logs: &Logs,
    ctx: &Context,
    input: TagResourceInput,
) -> Result<Value, LogsWireError> {
    let name = tagged_group(logs, ctx, input.resource_arn)?;
    let group = logs::get(&logs.state, &scope(&logs.state, ctx), &name)?;
    Ok(json!({ "tags": group.value.tags }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagGroupInput {
    log_group_name: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    tags_list: Option<Vec<String>>,
}

pub async fn tag_group(
    logs: &Logs,
    ctx: &Context,
    input: TagGroupInput,
) -> Result<Value, LogsWireError> {
    let name = group_name(input.log_group_name)?;
    let tags = required_tags(input.tags)?;
    logs::tag(&logs.state, &scope(&logs.state, ctx), &name, tags).await?;
    Ok(json!({}))
}

pub async fn untag_group(
    logs: &Logs,
    ctx: &Context,
    input: TagGroupInput,
) -> Result<Value, LogsWireError> {
    let name = group_name(input.log_group_name)?;
    let keys = required_keys(input.tags_list)?;
    logs::untag(&logs.state, &scope(&logs.state, ctx), &name, &keys).await?;
    Ok(json!({}))
}

pub fn list_tags_group(
    logs: &Logs,
    ctx: &Context,
    input: NameInput,
) -> Result<Value, LogsWireError> {
    let name = group_name(input.log_group_name)?;
    let group = logs::get(&logs.state, &scope(&logs.state, ctx), &name)?;
    Ok(json!({ "tags": group.value.tags }))
}

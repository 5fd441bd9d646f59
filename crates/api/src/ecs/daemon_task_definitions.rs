//! Daemon task definition operations: RegisterDaemonTaskDefinition,
//! DescribeDaemonTaskDefinition, ListDaemonTaskDefinitions, DeleteDaemonTaskDefinition.
//! A registration body is read as the task definition subset it is
//! (`flotilla_model::daemon::task_definition`) and checked with the task definition
//! validation, so what RegisterTaskDefinition refuses, this refuses with the same words.

use flotilla_aws::{AwsError, Context};
use flotilla_control::ecs::daemons::task_definitions::{self, parse_ref, Ref};
use flotilla_model::daemon::task_definition::{self as dtd, Status};
use flotilla_model::tag::validate_tags;
use flotilla_model::task_definition::{self, RegisterTaskDefinitionInput};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ecs::error::{client, invalid, EcsError};
use crate::ecs::task_definitions::sort_order;
use crate::pagination::{page_size, paginate, Order};
use crate::{keys, State};

pub async fn register(
    state: &State,
    ctx: &Context,
    body_len: usize,
    body: Value,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    task_definition::validate_size(body_len)?;
    if body
        .get("family")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(invalid("family is required."));
    }
    if body.get("containerDefinitions").is_none_or(Value::is_null) {
        return Err(invalid("containerDefinitions is required."));
    }
    let (input, extras) = dtd::to_task_definition_input(&body)?;
    let input: RegisterTaskDefinitionInput = serde_json::from_value(input).map_err(|e| {
        EcsError::Wire(AwsError::serialization(format!(
            "Malformed request body: {e}"
        )))
    })?;
    task_definition::validate(&input)?;
    task_definition::check_supported(&input)?;
    validate_tags(&extras.tags)?;
    let now = state.clock().now();
    let record =
        task_definitions::register(state, &scope, input, extras, &ctx.principal_arn, now).await?;
    Ok(json!({ "daemonTaskDefinitionArn": record.arn() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefInput {
    daemon_task_definition: Option<String>,
}

fn required_ref(input: RefInput) -> Result<String, EcsError> {
    input
        .daemon_task_definition
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("daemonTaskDefinition is required."))
}

pub fn describe(state: &State, ctx: &Context, input: RefInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let id = required_ref(input)?;
    let entry = task_definitions::find(state, &scope, &parse_ref(&id, &scope)?)
        .ok_or_else(|| client("Unable to describe daemon task definition."))?;
    Ok(json!({ "daemonTaskDefinition": dtd::to_wire(&entry.value) }))
}

pub async fn delete(state: &State, ctx: &Context, input: RefInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let id = required_ref(input)?;
    let r = parse_ref(&id, &scope)?;
    if let Ref::Latest(_) = r {
        return Err(client(format!(
            "'{id}' does not name a revision: use family:revision or a full ARN."
        )));
    }
    let entry = task_definitions::find(state, &scope, &r)
        .ok_or_else(|| client(format!("The daemon task definition {id} does not exist.")))?;
    let now = state.clock().now();
    let record = task_definitions::delete(state, &scope, entry, now).await?;
    Ok(json!({ "daemonTaskDefinitionArn": record.arn() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    family_prefix: Option<String>,
    family: Option<String>,
    revision: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// ListDaemonTaskDefinitions: summaries ordered by family then revision.
pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let size = page_size(input.max_results, 100)?;
    let wanted = |s: Status| match input.status.as_deref() {
        None | Some("ACTIVE") => s == Status::Active,
        Some("DELETE_IN_PROGRESS") => s == Status::DeleteInProgress,
        _ => true,
    };
    if let Some(s) = input.status.as_deref() {
        if !["ACTIVE", "DELETE_IN_PROGRESS", "ALL"].contains(&s) {
            return Err(invalid(format!(
                "status '{s}' is invalid: use ACTIVE, DELETE_IN_PROGRESS or ALL."
            )));
        }
    }
    let last_only = match input.revision.as_deref() {
        None => false,
        Some("LAST_REGISTERED") => true,
        Some(other) => {
            return Err(invalid(format!(
                "revision '{other}' is invalid: use LAST_REGISTERED."
            )))
        }
    };
    let order = sort_order(input.sort.as_deref())?;
    let prefix = input.family_prefix.unwrap_or_default();
    let mut items: Vec<(String, Value, String)> = state
        .daemon_task_definitions()
        .range(keys::daemon_task_definitions(&scope.region).as_bytes())
        .into_iter()
        .filter(|(_, e)| e.value.family().starts_with(&prefix))
        .filter(|(_, e)| input.family.as_ref().is_none_or(|f| e.value.family() == f))
        .filter(|(_, e)| wanted(e.value.status))
        .map(|(k, e)| {
            let k = String::from_utf8_lossy(&k).into_owned();
            (k, dtd::summary(&e.value), e.value.family().to_string())
        })
        .collect();
    if last_only {
        // Keys sort by family then revision: the last of each family is its latest.
        let mut latest: Vec<(String, Value, String)> = Vec::new();
        for item in items {
            match latest.last_mut() {
                Some(last) if last.2 == item.2 => *last = item,
                _ => latest.push(item),
            }
        }
        items = latest;
    }
    if order == Order::Desc {
        items.reverse();
    }
    let (page, next) = paginate(
        items,
        |(k, _, _)| k.clone(),
        order,
        input.next_token.as_deref(),
        size,
    )?;
    let summaries: Vec<Value> = page.into_iter().map(|(_, v, _)| v).collect();
    Ok(json!({ "daemonTaskDefinitions": summaries, "nextToken": next }))
}

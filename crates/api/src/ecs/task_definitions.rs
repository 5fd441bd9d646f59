//! Task definition operations: RegisterTaskDefinition, DescribeTaskDefinition,
//! ListTaskDefinitions, ListTaskDefinitionFamilies, DeregisterTaskDefinition,
//! DeleteTaskDefinitions.
//!
//! Revisions count up per family from a family record updated in the same transaction as
//! the revision, so concurrent registrations get distinct revisions and a revision number
//! is never reused, even after deletion.

use std::collections::BTreeMap;

use crate::ecs::error::EcsError;
use flotilla_aws::Context;
use flotilla_model::tag::validate_tags;
use flotilla_model::task_definition::{self, RegisterTaskDefinitionInput, TaskDefinitionStatus};

use serde::Deserialize;
use serde_json::{json, Value};

use super::failure;
use crate::ecs::error::{client, invalid};
use crate::pagination::{page_size, paginate, paginate_strings, Order};
use crate::{keys, State};
use flotilla_control::ecs::task_definitions::{self, find, parse_ref, NotDeleted, Ref};

use TaskDefinitionStatus::{Active, DeleteInProgress, Inactive};

fn required(s: Option<String>, what: &str) -> Result<String, EcsError> {
    s.filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(format!("{what} is required.")))
}

pub async fn register(
    state: &State,
    ctx: &Context,
    body_len: usize,
    mut input: RegisterTaskDefinitionInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    task_definition::validate_size(body_len)?;
    task_definition::validate(&input)?;
    task_definition::check_supported(&input)?;
    let tags = std::mem::take(&mut input.tags);
    validate_tags(&tags)?;
    let record = task_definitions::register(state, &scope, input, tags, &ctx.principal_arn).await?;
    Ok(json!({ "taskDefinition": record.definition, "tags": record.tags }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    task_definition: Option<String>,
    #[serde(default)]
    include: Vec<String>,
}

pub fn describe(state: &State, ctx: &Context, input: DescribeInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let id = required(input.task_definition, "taskDefinition")?;
    let with_tags = super::wants_tags(&input.include, &["TAGS"])?;
    let entry = find(state, &scope, &parse_ref(&id, &scope)?)
        .ok_or_else(|| client("Unable to describe task definition."))?;
    let mut out = json!({ "taskDefinition": entry.value.definition });
    if with_tags {
        out["tags"] = serde_json::to_value(&entry.value.tags).unwrap_or_default();
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    family_prefix: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// ListTaskDefinitions: ARNs ordered by family then revision. Despite its name,
/// `familyPrefix` names one whole family, as in ECS.
pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let size = page_size(input.max_results, 100)?;
    let status = match input.status.as_deref() {
        None | Some("ACTIVE") => Active,
        Some("INACTIVE") => Inactive,
        Some("DELETE_IN_PROGRESS") => DeleteInProgress,
        Some(other) => {
            return Err(invalid(format!(
                "status '{other}' is invalid: use ACTIVE, INACTIVE or DELETE_IN_PROGRESS."
            )))
        }
    };
    let order = sort_order(input.sort.as_deref())?;
    let prefix = match &input.family_prefix {
        Some(f) => keys::family_revisions(&scope.region, f),
        None => keys::task_definitions(&scope.region),
    };
    // Keys sort by family then zero-padded revision: the key is the sort key.
    let mut items: Vec<(String, String)> = state
        .task_definitions()
        .range(prefix.as_bytes())
        .into_iter()
        .filter(|(_, e)| e.value.status() == status)
        .map(|(k, e)| {
            (
                String::from_utf8_lossy(&k).into_owned(),
                e.value.arn().to_string(),
            )
        })
        .collect();
    if order == Order::Desc {
        items.reverse();
    }
    let (page, next) = paginate(
        items,
        |(k, _)| k.clone(),
        order,
        input.next_token.as_deref(),
        size,
    )?;
    let arns: Vec<String> = page.into_iter().map(|(_, arn)| arn).collect();
    Ok(json!({ "taskDefinitionArns": arns, "nextToken": next }))
}

/// A list's `sort`: ASC (the default) or DESC.
pub(crate) fn sort_order(sort: Option<&str>) -> Result<Order, EcsError> {
    match sort {
        None | Some("ASC") => Ok(Order::Asc),
        Some("DESC") => Ok(Order::Desc),
        Some(other) => Err(invalid(format!(
            "sort '{other}' is invalid: use ASC or DESC."
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListFamiliesInput {
    family_prefix: Option<String>,
    status: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// ListTaskDefinitionFamilies: by default every family; `ACTIVE` those with an ACTIVE
/// revision, `INACTIVE` those without one.
pub fn list_families(
    state: &State,
    ctx: &Context,
    input: ListFamiliesInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let size = page_size(input.max_results, 100)?;
    let status = input.status.unwrap_or_else(|| "ALL".into());
    if !["ACTIVE", "INACTIVE", "ALL"].contains(&status.as_str()) {
        return Err(invalid(format!(
            "status '{status}' is invalid: use ACTIVE, INACTIVE or ALL."
        )));
    }
    let prefix = input.family_prefix.unwrap_or_default();
    let mut families: BTreeMap<String, bool> = BTreeMap::new();
    for (_, e) in state
        .task_definitions()
        .range(keys::task_definitions(&scope.region).as_bytes())
    {
        let r = &e.value;
        if r.family().starts_with(&prefix) {
            *families.entry(r.family().to_string()).or_default() |= r.status() == Active;
        }
    }
    let names: Vec<String> = families
        .into_iter()
        .filter(|(_, active)| match status.as_str() {
            "ACTIVE" => *active,
            "INACTIVE" => !*active,
            _ => true,
        })
        .map(|(name, _)| name)
        .collect();
    let (page, next) = paginate_strings(names, input.next_token.as_deref(), size)?;
    Ok(json!({ "families": page, "nextToken": next }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeregisterInput {
    task_definition: Option<String>,
}

/// DeregisterTaskDefinition marks a revision INACTIVE; it stays describable. Deregistering
/// an INACTIVE revision again answers with it unchanged.
pub async fn deregister(
    state: &State,
    ctx: &Context,
    input: DeregisterInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let id = required(input.task_definition, "taskDefinition")?;
    let r = match parse_ref(&id, &scope)? {
        Ref::Latest(_) => {
            return Err(client(format!(
                "'{id}' does not name a revision: use family:revision or a full ARN."
            )))
        }
        r => r,
    };
    let entry = find(state, &scope, &r)
        .ok_or_else(|| client("The specified task definition does not exist."))?;
    let record = task_definitions::deregister(state, &scope, entry).await?;
    Ok(json!({ "taskDefinition": record.definition }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteInput {
    #[serde(default)]
    task_definitions: Vec<String>,
}

/// DeleteTaskDefinitions: INACTIVE revisions only. No task or service can reference a
/// revision yet, so a deleted revision is removed at once; the answer shows it as
/// DELETE_IN_PROGRESS, as ECS does.
pub async fn delete(state: &State, ctx: &Context, input: DeleteInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    if input.task_definitions.is_empty() || input.task_definitions.len() > 10 {
        return Err(invalid(
            "taskDefinitions must name between 1 and 10 task definitions.",
        ));
    }
    let mut deleted = Vec::new();
    let mut failures = Vec::new();
    for id in &input.task_definitions {
        let r = match parse_ref(id, &scope) {
            Ok(r @ Ref::Revision(..)) => r,
            _ => {
                failures.push(failure(id, "The specified task definition identifier is invalid. Specify a valid name or ARN and try again."));
                continue;
            }
        };
        let Some(entry) = find(state, &scope, &r) else {
            failures.push(failure(id, "The specified task definition does not exist. Specify a valid account, family, revision and try again."));
            continue;
        };
        let record = &entry.value;
        let why = match task_definitions::delete(state, &scope, &entry).await? {
            Ok(()) => {
                let mut d = record.definition.clone();
                d.status = DeleteInProgress;
                d.delete_requested_at = Some(chrono::Utc::now());
                deleted.push(d);
                continue;
            }
            Err(NotDeleted::Active) => {
                "The specified task definition is still in ACTIVE status. Please deregister \
                 the target and try again."
            }
            Err(NotDeleted::InUse) => {
                "The task definition is still used by a task that has not stopped; stop the \
                 task and try again."
            }
            Err(NotDeleted::Changed) => "The task definition was changed at the same time; retry.",
        };
        failures.push(failure(record.arn(), why));
    }
    Ok(json!({ "taskDefinitions": deleted, "failures": failures }))
}

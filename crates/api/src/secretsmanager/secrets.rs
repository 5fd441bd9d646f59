//! CreateSecret, GetSecretValue, PutSecretValue, UpdateSecret, DescribeSecret,
//! ListSecrets, DeleteSecret, RestoreSecret, TagResource and UntagResource.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flotilla_aws::Context;
use flotilla_control::secrets::manager::{self, NewSecret, NewVersion, Update};
use flotilla_model::secrets::sealed::SecretValue;
use flotilla_model::secrets::secret::{Filter, SecretRecord};
use flotilla_model::timestamp::to_epoch_seconds;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{bad_token, invalid, validation, SmWireError};
use crate::pagination::{paginate, Order};
use crate::State;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireTag {
    key: Option<String>,
    value: Option<String>,
}

fn tags(tags: Option<Vec<WireTag>>) -> Result<Vec<(String, String)>, SmWireError> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|t| {
            let key = t
                .key
                .ok_or_else(|| validation("A tag's Key is required."))?;
            Ok((key, t.value.unwrap_or_default()))
        })
        .collect()
}

fn tags_out(tags: &[(String, String)]) -> Value {
    tags.iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

fn required<'a>(v: &'a Option<String>, member: &str) -> Result<&'a str, SmWireError> {
    v.as_deref().ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// SecretString or SecretBinary (base64 on the wire), at most one of them.
fn value(
    string: Option<String>,
    binary: Option<String>,
) -> Result<Option<SecretValue>, SmWireError> {
    match (string, binary) {
        (Some(_), Some(_)) => Err(invalid(
            "You can't specify both a binary secret value and a string secret value in the same secret.",
        )),
        (Some(s), None) => Ok(Some(SecretValue::String(s))),
        (None, Some(b)) => STANDARD
            .decode(b.as_bytes())
            .map(|bytes| Some(SecretValue::Binary(bytes)))
            .map_err(|_| invalid("SecretBinary is not valid base64.")),
        (None, None) => Ok(None),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateInput {
    name: Option<String>,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_string: Option<String>,
    secret_binary: Option<String>,
    tags: Option<Vec<WireTag>>,
    add_replica_regions: Option<Value>,
}

pub async fn create(
    state: &State,
    ctx: &Context,
    input: CreateInput,
) -> Result<Value, SmWireError> {
    if input.add_replica_regions.is_some() {
        return Err(invalid(
            "Flotilla does not replicate secrets to other regions: AddReplicaRegions is not supported.",
        ));
    }
    let new = NewSecret {
        name: required(&input.name, "name")?.to_string(),
        client_token: input.client_request_token,
        description: input.description,
        kms_key_id: input.kms_key_id,
        value: value(input.secret_string, input.secret_binary)?,
        tags: tags(input.tags)?,
    };
    let made = manager::create(state, &crate::scope(state, ctx), new).await?;
    Ok(json!({"ARN": made.arn, "Name": made.name, "VersionId": made.version_id}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetValueInput {
    secret_id: Option<String>,
    version_id: Option<String>,
    version_stage: Option<String>,
}

pub fn get_value(state: &State, ctx: &Context, input: GetValueInput) -> Result<Value, SmWireError> {
    let id = required(&input.secret_id, "secretId")?;
    let got = manager::get_value(
        state,
        &crate::scope(state, ctx),
        id,
        input.version_id.as_deref(),
        input.version_stage.as_deref(),
    )?;
    let mut out = json!({
        "ARN": got.arn,
        "Name": got.name,
        "VersionId": got.version_id,
        "VersionStages": got.stages,
        "CreatedDate": to_epoch_seconds(&got.created_at),
    });
    match &got.value {
        SecretValue::String(s) => out["SecretString"] = json!(s),
        SecretValue::Binary(b) => out["SecretBinary"] = json!(STANDARD.encode(b)),
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutValueInput {
    secret_id: Option<String>,
    client_request_token: Option<String>,
    secret_string: Option<String>,
    secret_binary: Option<String>,
    version_stages: Option<Vec<String>>,
}

pub async fn put_value(
    state: &State,
    ctx: &Context,
    input: PutValueInput,
) -> Result<Value, SmWireError> {
    let id = required(&input.secret_id, "secretId")?;
    let Some(value) = value(input.secret_string, input.secret_binary)? else {
        return Err(invalid(
            "You must provide either SecretString or SecretBinary.",
        ));
    };
    let stages = input.version_stages.unwrap_or_default();
    let new = NewVersion {
        client_token: input.client_request_token,
        value,
        stages,
    };
    let put = manager::put_value(state, &crate::scope(state, ctx), id, new).await?;
    Ok(json!({
        "ARN": put.arn,
        "Name": put.name,
        "VersionId": put.version_id,
        "VersionStages": put.stages,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateInput {
    secret_id: Option<String>,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_string: Option<String>,
    secret_binary: Option<String>,
}

pub async fn update(
    state: &State,
    ctx: &Context,
    input: UpdateInput,
) -> Result<Value, SmWireError> {
    let id = required(&input.secret_id, "secretId")?;
    let update = Update {
        description: input.description,
        kms_key_id: input.kms_key_id,
        value: value(input.secret_string, input.secret_binary)?.map(|value| NewVersion {
            client_token: input.client_request_token,
            value,
            stages: vec![],
        }),
    };
    let done = manager::update(state, &crate::scope(state, ctx), id, update).await?;
    Ok(json!({"ARN": done.arn, "Name": done.name, "VersionId": done.version_id}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretIdInput {
    secret_id: Option<String>,
}

/// What DescribeSecret and a ListSecrets entry share; `versions` names the member that
/// maps versions to their labels (the two operations spell it differently).
fn shape(secret: &SecretRecord, versions: &str) -> Value {
    let mut out = json!({
        "ARN": secret.arn,
        "Name": secret.name,
        "Description": secret.description,
        "KmsKeyId": secret.kms_key_id,
        "LastChangedDate": to_epoch_seconds(&secret.last_changed_at),
        "DeletedDate": secret.deletion_date.as_ref().map(to_epoch_seconds),
        "Tags": tags_out(&secret.tags),
        "CreatedDate": to_epoch_seconds(&secret.created_at),
    });
    out[versions] = json!(secret.versions_to_stages());
    out
}

pub fn describe(state: &State, ctx: &Context, input: SecretIdInput) -> Result<Value, SmWireError> {
    let id = required(&input.secret_id, "secretId")?;
    let entry = manager::find(state, &crate::scope(state, ctx), id)?;
    Ok(shape(&entry.value, "VersionIdsToStages"))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireFilter {
    key: Option<String>,
    values: Option<Vec<String>>,
}

/// What ListSecrets orders by.
#[derive(Clone, Copy)]
enum SortBy {
    Name,
    Created,
    LastChanged,
}

impl SortBy {
    /// A secret's sort key (and page token): the time in zero-padded milliseconds, then
    /// the name, so that equal times still order.
    fn key(self, s: &SecretRecord) -> String {
        let time = |t: &chrono::DateTime<chrono::Utc>| {
            format!("{:020}\u{0}{}", t.timestamp_millis().max(0), s.name)
        };
        match self {
            SortBy::Name => s.name.clone(),
            SortBy::Created => time(&s.created_at),
            SortBy::LastChanged => time(&s.last_changed_at),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    include_planned_deletion: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
    filters: Option<Vec<WireFilter>>,
    sort_order: Option<String>,
    sort_by: Option<String>,
}

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, SmWireError> {
    let filters = input.filters.unwrap_or_default();
    if filters.len() > 10 {
        return Err(invalid("You can give at most 10 filters."));
    }
    let filters = filters
        .into_iter()
        .map(|f| {
            let key = f.key.unwrap_or_default();
            Filter::new(&key, f.values.unwrap_or_default()).map_err(invalid)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let size = match input.max_results {
        None => 100,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(n) => {
            return Err(invalid(format!(
                "MaxResults must be between 1 and 100; {n} was given."
            )))
        }
    };
    let order = match input.sort_order.as_deref() {
        None | Some("asc") => Order::Asc,
        Some("desc") => Order::Desc,
        Some(o) => return Err(invalid(format!("SortOrder {o} is not asc or desc."))),
    };
    let sort = match input.sort_by.as_deref() {
        Some("name") => SortBy::Name,
        Some("last-changed-date") => SortBy::LastChanged,
        // Flotilla does not note reads, so a secret was last accessed when it was made.
        None | Some("created-date") | Some("last-accessed-date") => SortBy::Created,
        Some(b) => {
            return Err(invalid(format!(
                "SortBy {b} is not one Secrets Manager knows."
            )))
        }
    };
    let key = |s: &std::sync::Arc<SecretRecord>| sort.key(s);
    let scope = crate::scope(state, ctx);
    let mut secrets = manager::list(
        state,
        &scope,
        input.include_planned_deletion.unwrap_or(false),
    );
    secrets.retain(|s| filters.iter().all(|f| f.matches(s, &scope.region)));
    secrets.sort_by_key(|s| key(s));
    if order == Order::Desc {
        secrets.reverse();
    }
    let (page, next) = paginate(
        secrets,
        |s| key(s),
        order,
        input.next_token.as_deref(),
        size,
    )
    .map_err(|_| bad_token())?;
    let list: Vec<Value> = page
        .iter()
        .map(|s| shape(s, "SecretVersionsToStages"))
        .collect();
    Ok(json!({"SecretList": list, "NextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteInput {
    secret_id: Option<String>,
    recovery_window_in_days: Option<i64>,
    force_delete_without_recovery: Option<bool>,
}

pub async fn delete(
    state: &State,
    ctx: &Context,
    input: DeleteInput,
) -> Result<Value, SmWireError> {
    let id = required(&input.secret_id, "secretId")?;
    let (arn, name, date) = manager::delete(
        state,
        &crate::scope(state, ctx),
        id,
        input.recovery_window_in_days,
        input.force_delete_without_recovery.unwrap_or(false),
    )
    .await?;
    Ok(json!({"ARN": arn, "Name": name, "DeletionDate": to_epoch_seconds(&date)}))
}

pub async fn restore(
    state: &State,
    ctx: &Context,
    input: SecretIdInput,
) -> Result<Value, SmWireError> {
    let id = required(&input.secret_id, "secretId")?;
    let (arn, name) = manager::restore(state, &crate::scope(state, ctx), id).await?;
    Ok(json!({"ARN": arn, "Name": name}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    secret_id: Option<String>,
    tags: Option<Vec<WireTag>>,
}

pub async fn tag(state: &State, ctx: &Context, input: TagInput) -> Result<Value, SmWireError> {
    let id = required(&input.secret_id, "secretId")?;
    if input.tags.is_none() {
        return Err(validation(
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null",
        ));
    }
    manager::tag(state, &crate::scope(state, ctx), id, tags(input.tags)?).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagInput {
    secret_id: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub async fn untag(state: &State, ctx: &Context, input: UntagInput) -> Result<Value, SmWireError> {
    let id = required(&input.secret_id, "secretId")?;
    let Some(keys) = input.tag_keys else {
        return Err(validation(
            "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
        ));
    };
    manager::untag(state, &crate::scope(state, ctx), id, &keys).await?;
    Ok(json!({}))
}

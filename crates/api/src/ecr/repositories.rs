//! CreateRepository, DescribeRepositories, DeleteRepository, PutImageTagMutability, the
//! tagging operations, lifecycle and repository policies, GetAuthorizationToken and the
//! registry-wide DescribeRegistry / GetRegistryPolicy.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flotilla_aws::{AwsError, Context};
use flotilla_control::ecr::auth;
use flotilla_control::ecr::repositories::{self as repos, NewRepository};
use flotilla_control::ControlError;
use flotilla_model::ecr::lifecycle;
use flotilla_model::ecr::{RepositoryRecord, TagMutability};
use flotilla_model::tag::{Tag, MAX_TAGS};
use flotilla_model::timestamp::to_epoch_seconds;
use flotilla_model::{ModelError, Resource};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, tag_error, EcrError};
use super::{check_registry, required};
use crate::pagination::{page_size, paginate_strings};
use crate::{scope, State};

/// A tag as ECR spells it (`Key`, `Value`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireTag {
    key: Option<String>,
    value: Option<String>,
}

fn model_tags(tags: Vec<WireTag>) -> Result<Vec<Tag>, EcrError> {
    if tags.len() > MAX_TAGS {
        return Err(tag_error(
            ModelError::invalid(format!(
                "{} tags given; a repository may have at most {MAX_TAGS}.",
                tags.len()
            )),
            true,
        ));
    }
    let tags: Vec<Tag> = tags
        .into_iter()
        .map(|t| Tag {
            key: t.key,
            value: t.value,
        })
        .collect();
    flotilla_model::tag::validate_tags(&tags).map_err(|e| tag_error(e, false))?;
    Ok(tags)
}

fn wire_tags(tags: &[Tag]) -> Value {
    tags.iter()
        .map(|t| json!({"Key": t.key, "Value": t.value.clone().unwrap_or_default()}))
        .collect()
}

/// A repository's wire shape.
fn repository(state: &State, r: &RepositoryRecord) -> Value {
    let uri =
        flotilla_control::ecr::registry_host(state).map(|h| format!("{h}/{}", r.repository_name));
    json!({
        "repositoryArn": r.repository_arn,
        "registryId": r.registry_id,
        "repositoryName": r.repository_name,
        "repositoryUri": uri,
        "createdAt": to_epoch_seconds(&r.created_at),
        "imageTagMutability": mutability_name(r.image_tag_mutability),
        "imageScanningConfiguration": {"scanOnPush": r.scan_on_push},
        "encryptionConfiguration": {"encryptionType": r.encryption_type, "kmsKey": r.kms_key},
    })
}

fn mutability_name(m: TagMutability) -> &'static str {
    match m {
        TagMutability::Mutable => "MUTABLE",
        TagMutability::Immutable => "IMMUTABLE",
    }
}

fn parse_mutability(value: Option<&str>) -> Result<TagMutability, EcrError> {
    match value {
        None | Some("MUTABLE") => Ok(TagMutability::Mutable),
        Some("IMMUTABLE") => Ok(TagMutability::Immutable),
        Some(other) => Err(invalid(format!(
            "imageTagMutability must be MUTABLE or IMMUTABLE, not '{other}' (the \
             *_WITH_EXCLUSION settings are not supported)."
        ))),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ScanningInput {
    scan_on_push: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionInput {
    encryption_type: Option<String>,
    kms_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    registry_id: Option<String>,
    repository_name: Option<String>,
    tags: Option<Vec<WireTag>>,
    image_tag_mutability: Option<String>,
    image_scanning_configuration: Option<ScanningInput>,
    encryption_configuration: Option<EncryptionInput>,
}

pub async fn create(state: &State, ctx: &Context, input: CreateInput) -> Result<Value, EcrError> {
    check_registry(state, input.registry_id.as_deref())?;
    let name = required(&input.repository_name, "repositoryName")?.to_string();
    let encryption = input.encryption_configuration;
    if encryption
        .as_ref()
        .is_some_and(|e| e.encryption_type.is_none())
    {
        return Err(invalid(
            "encryptionConfiguration.encryptionType is required.",
        ));
    }
    let new = NewRepository {
        name,
        image_tag_mutability: parse_mutability(input.image_tag_mutability.as_deref())?,
        scan_on_push: input
            .image_scanning_configuration
            .unwrap_or_default()
            .scan_on_push
            .unwrap_or(false),
        encryption_type: encryption.as_ref().and_then(|e| e.encryption_type.clone()),
        kms_key: encryption.and_then(|e| e.kms_key),
        tags: model_tags(input.tags.unwrap_or_default())?,
    };
    let record = repos::create(state, &scope(state, ctx), new).await?;
    Ok(json!({"repository": repository(state, &record)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    registry_id: Option<String>,
    repository_names: Option<Vec<String>>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn describe(state: &State, ctx: &Context, input: DescribeInput) -> Result<Value, EcrError> {
    check_registry(state, input.registry_id.as_deref())?;
    let scope = scope(state, ctx);
    if let Some(names) = input.repository_names {
        if names.is_empty() || names.len() > 100 {
            return Err(invalid("repositoryNames must list 1 to 100 names."));
        }
        if input.next_token.is_some() || input.max_results.is_some() {
            return Err(invalid(
                "nextToken and maxResults cannot be used with repositoryNames.",
            ));
        }
        let found = names
            .iter()
            .map(|n| Ok(repository(state, &repos::get(state, &scope, n)?.value)))
            .collect::<Result<Vec<Value>, EcrError>>()?;
        return Ok(json!({ "repositories": found }));
    }
    let size = page_size(input.max_results, 1000)?;
    let all = repos::list(state, &scope);
    let names = all.iter().map(|r| r.repository_name.clone()).collect();
    let (page, next) = paginate_strings(names, input.next_token.as_deref(), size)?;
    let repositories: Vec<Value> = all
        .iter()
        .filter(|r| page.contains(&r.repository_name))
        .map(|r| repository(state, r))
        .collect();
    Ok(json!({"repositories": repositories, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteInput {
    registry_id: Option<String>,
    repository_name: Option<String>,
    force: Option<bool>,
}

pub async fn delete(state: &State, ctx: &Context, input: DeleteInput) -> Result<Value, EcrError> {
    check_registry(state, input.registry_id.as_deref())?;
    let name = required(&input.repository_name, "repositoryName")?;
    let force = input.force.unwrap_or(false);
    let record = repos::delete(state, &scope(state, ctx), name, force).await?;
    Ok(json!({"repository": repository(state, &record)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MutabilityInput {
    registry_id: Option<String>,
    repository_name: Option<String>,
    image_tag_mutability: Option<String>,
}

pub async fn put_tag_mutability(
    state: &State,
    ctx: &Context,
    input: MutabilityInput,
) -> Result<Value, EcrError> {
    check_registry(state, input.registry_id.as_deref())?;
    let name = required(&input.repository_name, "repositoryName")?;
    let value = required(&input.image_tag_mutability, "imageTagMutability")?;
    let mutability = parse_mutability(Some(value))?;
    let r = repos::update(state, &scope(state, ctx), name, |r| {
        r.image_tag_mutability = mutability;
        Ok(())
    })
    .await?;
    Ok(json!({
        "registryId": r.registry_id,
        "repositoryName": r.repository_name,
        "imageTagMutability": mutability_name(r.image_tag_mutability),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagInput {
    resource_arn: Option<String>,
    tags: Option<Vec<WireTag>>,
}

pub async fn tag(state: &State, ctx: &Context, input: TagInput) -> Result<Value, EcrError> {
    let arn = required(&input.resource_arn, "resourceArn")?;
    let tags = model_tags(input.tags.ok_or_else(|| invalid("tags is required."))?)?;
    repos::tag(state, &scope(state, ctx), arn, tags)
        .await
        .map_err(|e| match e.kind() {
            flotilla_model::ErrorKind::InvalidParameter => {
                EcrError(AwsError::client("TooManyTagsException", e.to_string()))
            }
            _ => e.into(),
        })?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagInput {
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub async fn untag(state: &State, ctx: &Context, input: UntagInput) -> Result<Value, EcrError> {
    let arn = required(&input.resource_arn, "resourceArn")?;
    let keys = input
        .tag_keys
        .ok_or_else(|| invalid("tagKeys is required."))?;
    repos::untag(state, &scope(state, ctx), arn, &keys).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTagsInput {
    resource_arn: Option<String>,
}

pub fn list_tags(state: &State, ctx: &Context, input: ListTagsInput) -> Result<Value, EcrError> {
    let arn = required(&input.resource_arn, "resourceArn")?;
    let r = repos::by_arn(state, &scope(state, ctx), arn)?;
    Ok(json!({"tags": wire_tags(&r.value.tags)}))
}

/// The input of every operation that names just a repository (and, for puts, a text).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryInput {
    registry_id: Option<String>,
    repository_name: Option<String>,
    lifecycle_policy_text: Option<String>,
    policy_text: Option<String>,
}

impl RepositoryInput {
    fn name(&self, state: &State) -> Result<&str, EcrError> {
        check_registry(state, self.registry_id.as_deref())?;
        required(&self.repository_name, "repositoryName")
    }
}

/// Which of a repository's two policies an operation is about.
#[derive(Clone, Copy)]
pub enum Policy {
    Lifecycle,
    Repository,
}

impl Policy {
    fn slot(self, r: &mut RepositoryRecord) -> &mut Option<String> {
        match self {
            Policy::Lifecycle => &mut r.lifecycle_policy,
            Policy::Repository => &mut r.repository_policy,
        }
    }

    /// The wire member its text goes in.
    fn member(self) -> &'static str {
        match self {
            Policy::Lifecycle => "lifecyclePolicyText",
            Policy::Repository => "policyText",
        }
    }

    fn not_found(self, r: &RepositoryRecord) -> ControlError {
        let (resource, what) = match self {
            Policy::Lifecycle => (Resource::LifecyclePolicy, "Lifecycle policy"),
            Policy::Repository => (Resource::RepositoryPolicy, "Repository policy"),
        };
        ControlError::not_found(
            resource,
            format!(
                "{what} does not exist for the repository with name '{}' in the registry \
                 with id '{}'",
                r.repository_name, r.registry_id
            ),
        )
    }

    /// Check a text to be put: JSON within ECR's bounds, and for a lifecycle policy, rules
    /// Flotilla can apply.
    fn check(self, text: &str) -> Result<(), EcrError> {
        match self {
            Policy::Lifecycle => {
                lifecycle::Policy::parse(text)?;
            }
            Policy::Repository => {
                if text.len() > 10240 {
                    return Err(invalid("policyText must be at most 10240 characters."));
                }
                serde_json::from_str::<Value>(text)
                    .map_err(|e| invalid(format!("policyText is not valid JSON: {e}")))?;
            }
        }
        Ok(())
    }

    fn answer(self, r: &RepositoryRecord, text: Option<&str>) -> Value {
        json!({
            "registryId": r.registry_id,
            "repositoryName": r.repository_name,
            self.member(): text,
        })
    }
}

pub async fn put_policy(
    state: &State,
    ctx: &Context,
    input: RepositoryInput,
    policy: Policy,
) -> Result<Value, EcrError> {
    let name = input.name(state)?;
    let text = match policy {
        Policy::Lifecycle => required(&input.lifecycle_policy_text, "lifecyclePolicyText")?,
        Policy::Repository => required(&input.policy_text, "policyText")?,
    };
    policy.check(text)?;
    let r = repos::update(state, &scope(state, ctx), name, |r| {
        *policy.slot(r) = Some(text.to_string());
        Ok(())
    })
    .await?;
    Ok(policy.answer(&r, Some(text)))
}

pub fn get_policy(
    state: &State,
    ctx: &Context,
    input: RepositoryInput,
    policy: Policy,
) -> Result<Value, EcrError> {
    let r = repos::get(state, &scope(state, ctx), input.name(state)?)?;
    let mut record = (*r.value).clone();
    let text = policy.slot(&mut record).clone();
    match text {
        Some(t) => Ok(policy.answer(&record, Some(&t))),
        None => Err(policy.not_found(&record).into()),
    }
}

pub async fn delete_policy(
    state: &State,
    ctx: &Context,
    input: RepositoryInput,
    policy: Policy,
) -> Result<Value, EcrError> {
    let name = input.name(state)?;
    let mut removed = None;
    let r = repos::update(state, &scope(state, ctx), name, |r| {
        removed = policy.slot(r).take();
        match removed {
            Some(_) => Ok(()),
            None => Err(policy.not_found(r)),
        }
    })
    .await?;
    Ok(policy.answer(&r, removed.as_deref()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInput {
    registry_ids: Option<Vec<String>>,
}

/// A token for `docker login --username AWS` (base64 of `AWS:PASSWORD`), valid for 12
/// hours, in the caller's region.
pub fn authorization_token(
    state: &State,
    ctx: &Context,
    input: TokenInput,
) -> Result<Value, EcrError> {
    for id in input.registry_ids.unwrap_or_default() {
        check_registry(state, Some(&id))?;
    }
    let endpoint = state.config().registry_endpoint.clone().ok_or_else(|| {
        invalid("This server serves no image registry (start it with --registry-addr).")
    })?;
    // An IAM identity's token acts as that identity in the registry.
    let principal =
        (ctx.principal == flotilla_aws::Principal::User).then_some(ctx.access_key.as_str());
    let token = auth::issue(state, &scope(state, ctx), principal, chrono::Utc::now());
    let encoded = STANDARD.encode(format!("{}:{}", auth::USER, token.password));
    Ok(json!({"authorizationData": [{
        "authorizationToken": encoded,
        "expiresAt": to_epoch_seconds(&token.expires_at),
        "proxyEndpoint": endpoint,
    }]}))
}

pub fn describe_registry(state: &State) -> Value {
    json!({"registryId": state.account(), "replicationConfiguration": {"rules": []}})
}

/// Registry policies are not supported: there is never one.
pub fn registry_policy(state: &State) -> Result<Value, EcrError> {
    Err(EcrError(AwsError::client(
        "RegistryPolicyNotFoundException",
        format!(
            "Registry policy does not exist in the registry with id '{}'",
            state.account()
        ),
    )))
}

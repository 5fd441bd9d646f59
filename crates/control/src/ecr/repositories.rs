//! Repositories: one record per region and name, holding its settings, tags and policies.

use std::sync::Arc;

use chrono::Utc;
use flotilla_model::ecr::{validate_repository_name, RepositoryRecord, TagMutability};
use flotilla_model::record::encode;
use flotilla_model::tag::{merge_tags, remove_tags, validate_tags, Tag};
use flotilla_model::{ErrorKind, ModelError, Resource, Scope};
use flotilla_store::{Compare, Op, Txn};

use super::ATTEMPTS;
use crate::{keys, ControlError, Entry, State};

/// What CreateRepository asks for.
#[derive(Debug, Clone, Default)]
pub struct NewRepository {
    pub name: String,
    pub image_tag_mutability: TagMutability,
    pub scan_on_push: bool,
    /// `AES256` when `None`.
    pub encryption_type: Option<String>,
    pub kms_key: Option<String>,
    pub tags: Vec<Tag>,
}

/// The repository's ARN.
pub fn arn(scope: &Scope, name: &str) -> String {
    format!(
        "arn:{}:ecr:{}:{}:repository/{name}",
        scope.partition, scope.region, scope.account
    )
}

fn not_found(scope: &Scope, name: &str) -> ControlError {
    ControlError::not_found(
        Resource::Repository,
        format!(
            "The repository with name '{name}' does not exist in the registry with id '{}'",
            scope.account
        ),
    )
}

/// Create a repository; RepositoryAlreadyExists when the name is taken in the region.
pub async fn create(
    state: &State,
    scope: &Scope,
    new: NewRepository,
) -> Result<RepositoryRecord, ControlError> {
    validate_repository_name(&new.name)?;
    validate_tags(&new.tags)?;
    let encryption_type = new.encryption_type.unwrap_or_else(|| "AES256".into());
    if !["AES256", "KMS", "KMS_DSSE"].contains(&encryption_type.as_str()) {
        return Err(ControlError::invalid(format!(
            "encryptionType must be AES256, KMS or KMS_DSSE, not '{encryption_type}'."
        )));
    }
    if new.kms_key.is_some() && encryption_type == "AES256" {
        return Err(ControlError::invalid(
            "A kmsKey may only be given with the KMS or KMS_DSSE encryption type.",
        ));
    }
    let record = RepositoryRecord {
        repository_arn: arn(scope, &new.name),
        repository_name: new.name,
        registry_id: scope.account.clone(),
        created_at: Utc::now(),
        image_tag_mutability: new.image_tag_mutability,
        scan_on_push: new.scan_on_push,
        encryption_type,
        kms_key: new.kms_key,
        tags: new.tags,
        lifecycle_policy: None,
        lifecycle_preview: None,
        repository_policy: None,
    };
    let key = keys::repository(&scope.region, &record.repository_name);
    if !state.put_if_unchanged(&key, 0, encode(&record)).await? {
        return Err(ModelError::new(
            ErrorKind::AlreadyExists(Resource::Repository),
            format!(
                "The repository with name '{}' already exists in the registry with id '{}'",
                record.repository_name, scope.account
            ),
        )
        .into());
    }
    Ok(record)
}

/// The repository `name` of the scope's region; RepositoryNotFound otherwise.
pub fn get(
    state: &State,
    scope: &Scope,
    name: &str,
) -> Result<Entry<RepositoryRecord>, ControlError> {
    state
        .repositories()
        .get(keys::repository(&scope.region, name).as_bytes())
        .ok_or_else(|| not_found(scope, name))
}

/// The region's repositories, by name.
pub fn list(state: &State, scope: &Scope) -> Vec<Arc<RepositoryRecord>> {
    state
        .repositories()
        .range(keys::repositories(&scope.region).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// The repository an ECR ARN names (`arn:aws:ecr:REGION:ACCOUNT:repository/NAME`), for
/// the tagging operations.
pub fn by_arn(
    state: &State,
    scope: &Scope,
    resource_arn: &str,
) -> Result<Entry<RepositoryRecord>, ControlError> {
    let prefix = format!(
        "arn:{}:ecr:{}:{}:repository/",
        scope.partition, scope.region, scope.account
    );
    let name = resource_arn.strip_prefix(&prefix).ok_or_else(|| {
        ControlError::invalid(format!(
            "Invalid parameter at 'resourceArn': '{resource_arn}' is not the ARN of a \
             repository in {} of account {} ({prefix}NAME).",
            scope.region, scope.account
        ))
    })?;
    get(state, scope, name)
}

/// Delete a repository. Unless `force`, it must hold no images (RepositoryNotEmpty);
/// with `force` its images go with it.
pub async fn delete(
    state: &State,
    scope: &Scope,
    name: &str,
    force: bool,
) -> Result<Arc<RepositoryRecord>, ControlError> {
    let key = keys::repository(&scope.region, name);
    let images = keys::images(&scope.region, name);
    for _ in 0..ATTEMPTS {
        let entry = get(state, scope, name)?;
        let held = state.images().range(images.as_bytes());
        if !force && !held.is_empty() {
            return Err(ModelError::new(
                ErrorKind::NotEmpty(Resource::Image),
                format!(
                    "The repository with name '{name}' in registry with id '{}' cannot be \
                     deleted because it still contains images",
                    scope.account
                ),
            )
            .into());
        }
        let mut success = vec![Op::delete(key.clone())];
        success.extend(held.iter().map(|(k, _)| Op::delete(k.to_vec())));
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success,
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            // A push that committed just before the delete, unseen by it, left an image
            // behind; no push can commit after it (each compares the repository), so one
            // sweep now finds every such image.
            sweep_images(state, &images).await?;
            return Ok(entry.value);
        }
    }
    Err(ControlError::Contended(format!(
        "The repository {name} kept changing while it was being deleted; retry."
    )))
}

/// Delete every image record under `prefix` (a deleted repository's leftovers).
async fn sweep_images(state: &State, prefix: &str) -> Result<(), ControlError> {
    let left = state.images().range(prefix.as_bytes());
    if left.is_empty() {
        return Ok(());
    }
    let txn = Txn {
        compares: vec![],
        success: left.iter().map(|(k, _)| Op::delete(k.to_vec())).collect(),
        failure: vec![],
    };
    state.commit(txn).await?;
    Ok(())
}

/// Change a repository with `change` and write it back, retrying on a concurrent change.
pub async fn update(
    state: &State,
    scope: &Scope,
    name: &str,
    mut change: impl FnMut(&mut RepositoryRecord) -> Result<(), ControlError>,
) -> Result<RepositoryRecord, ControlError> {
    let key = keys::repository(&scope.region, name);
    for _ in 0..ATTEMPTS {
        let entry = get(state, scope, name)?;
        let mut record = (*entry.value).clone();
        change(&mut record)?;
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!(
        "The repository {name} kept changing; retry."
    )))
}

/// Add or replace tags of the repository `resource_arn` names.
pub async fn tag(
    state: &State,
    scope: &Scope,
    resource_arn: &str,
    tags: Vec<Tag>,
) -> Result<(), ControlError> {
    let name = by_arn(state, scope, resource_arn)?
        .value
        .repository_name
        .clone();
    update(state, scope, &name, |r| {
        merge_tags(&mut r.tags, tags.clone());
        validate_tags(&r.tags).map_err(ControlError::from)
    })
    .await
    .map(drop)
}

/// Remove the tags with these keys.
pub async fn untag(
    state: &State,
    scope: &Scope,
    resource_arn: &str,
    tag_keys: &[String],
) -> Result<(), ControlError> {
    let name = by_arn(state, scope, resource_arn)?
        .value
        .repository_name
        .clone();
    update(state, scope, &name, |r| {
        remove_tags(&mut r.tags, tag_keys);
        Ok(())
    })
    .await
    .map(drop)
}

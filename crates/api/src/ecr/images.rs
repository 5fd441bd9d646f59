//! ListImages, DescribeImages, BatchGetImage and BatchDeleteImage over what pushes
//! recorded.

use std::sync::Arc;

use flotilla_aws::Context;
use flotilla_control::ecr::images::{self, ImageRef};
use flotilla_control::ecr::lifecycle::{self, Expiring};
use flotilla_control::ecr::repositories;
use flotilla_control::ControlError;
use flotilla_model::ecr::ImageRecord;
use flotilla_model::timestamp::to_epoch_seconds;
use flotilla_model::{ErrorKind, Resource, Scope};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, EcrError};
use super::{check_registry, required};
use crate::pagination::{page_size, paginate, Order};
use crate::{scope, State};

/// An `ImageIdentifier` as sent.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ImageId {
    image_digest: Option<String>,
    image_tag: Option<String>,
}

impl ImageId {
    fn wire(&self) -> Value {
        json!({"imageDigest": self.image_digest, "imageTag": self.image_tag})
    }
}

/// An image id that names no image: ECR's per-image failure.
fn failure(id: &ImageId, code: &str, reason: impl Into<String>) -> Value {
    json!({"imageId": id.wire(), "failureCode": code, "failureReason": reason.into()})
}

/// A failure of [`resolve`] as the error of an operation that fails whole
/// (DescribeImages).
fn failure_error(f: &Value) -> EcrError {
    let reason = f["failureReason"].as_str().unwrap_or_default().to_string();
    match f["failureCode"].as_str() {
        Some("ImageNotFound" | "ImageTagDoesNotMatchDigest") => {
            ControlError::not_found(Resource::Image, reason).into()
        }
        _ => invalid(reason),
    }
}

/// The image an id names, or the failure BatchGetImage and BatchDeleteImage report for it.
fn resolve(
    state: &State,
    scope: &Scope,
    repository: &str,
    id: &ImageId,
) -> Result<Result<(ImageRef, Arc<ImageRecord>), Value>, EcrError> {
    let by = match (&id.image_digest, &id.image_tag) {
        (Some(d), _) => ImageRef::Digest(d.clone()),
        (None, Some(t)) => ImageRef::Tag(t.clone()),
        (None, None) => {
            return Ok(Err(failure(
                id,
                "MissingDigestAndTag",
                "Invalid request parameters: both tag and digest cannot be null",
            )))
        }
    };
    if let ImageRef::Digest(d) = &by {
        if !is_digest(d) {
            return Ok(Err(failure(
                id,
                "InvalidImageDigest",
                "Invalid image digest",
            )));
        }
    }
    match images::find(state, scope, repository, &by)? {
        None => Ok(Err(failure(
            id,
            "ImageNotFound",
            "Requested image not found",
        ))),
        Some(e) => match &id.image_tag {
            Some(t) if !e.value.image_tags.contains(t) => Ok(Err(failure(
                id,
                "ImageTagDoesNotMatchDigest",
                "Invalid request parameters: given tag does not map to the given digest",
            ))),
            _ => Ok(Ok((by, e.value))),
        },
    }
}

fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn checked_ids(ids: &Option<Vec<ImageId>>) -> Result<&[ImageId], EcrError> {
    let ids = ids
        .as_deref()
        .ok_or_else(|| invalid("imageIds is required."))?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(invalid("imageIds must list 1 to 100 images."));
    }
    Ok(ids)
}

/// Which images a `filter.tagStatus` keeps.
fn tag_status(filter: Option<&Filter>) -> Result<impl Fn(&ImageRecord) -> bool, EcrError> {
    let status = filter.and_then(|f| f.tag_status.clone());
    let wanted = match status.as_deref() {
        None | Some("ANY") => None,
        Some("TAGGED") => Some(true),
        Some("UNTAGGED") => Some(false),
        Some(other) => {
            return Err(invalid(format!(
                "filter.tagStatus must be TAGGED, UNTAGGED or ANY, not '{other}'."
            )))
        }
    };
    Ok(move |i: &ImageRecord| wanted.is_none_or(|w| i.is_tagged() == w))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    tag_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    registry_id: Option<String>,
    repository_name: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    filter: Option<Filter>,
}

/// One entry per tag, and one for each untagged image, ordered by digest then tag.
pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, EcrError> {
    check_registry(state, input.registry_id.as_deref())?;
    let name = required(&input.repository_name, "repositoryName")?;
    let size = page_size(input.max_results, 1000)?;
    let keep = tag_status(input.filter.as_ref())?;
    let mut ids: Vec<(String, Option<String>)> = Vec::new();
    for image in images::list(state, &scope(state, ctx), name)? {
        if !keep(&image) {
            continue;
        }
        if image.is_tagged() {
            ids.extend(
                image
                    .image_tags
                    .iter()
                    .map(|t| (image.image_digest.clone(), Some(t.clone()))),
            );
        } else {
            ids.push((image.image_digest.clone(), None));
        }
    }
    let key = |(d, t): &(String, Option<String>)| format!("{d}/{}", t.as_deref().unwrap_or(""));
    let (page, next) = paginate(ids, key, Order::Asc, input.next_token.as_deref(), size)?;
    let ids: Vec<Value> = page
        .into_iter()
        .map(|(d, t)| json!({"imageDigest": d, "imageTag": t}))
        .collect();
    Ok(json!({"imageIds": ids, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    registry_id: Option<String>,
    repository_name: Option<String>,
    image_ids: Option<Vec<ImageId>>,
    next_token: Option<String>,
    max_results: Option<i64>,
    filter: Option<Filter>,
}

fn detail(state: &State, i: &ImageRecord) -> Value {
    let tags = i
        .is_tagged()
        .then(|| i.image_tags.iter().collect::<Vec<_>>());
    json!({
        "registryId": state.account(),
        "repositoryName": i.repository_name,
        "imageDigest": i.image_digest,
        "imageTags": tags,
        "imageSizeInBytes": i.image_size_in_bytes,
        "imagePushedAt": to_epoch_seconds(&i.image_pushed_at),
        "imageManifestMediaType": i.image_manifest_media_type,
    })
}

/// The images named (every one must exist: ImageNotFoundException), or a page of all.
pub fn describe(state: &State, ctx: &Context, input: DescribeInput) -> Result<Value, EcrError> {
    check_registry(state, input.registry_id.as_deref())?;
    let name = required(&input.repository_name, "repositoryName")?;
    let scope = scope(state, ctx);
    if input.image_ids.is_some() {
        if input.next_token.is_some() || input.max_results.is_some() {
            return Err(invalid(
                "nextToken and maxResults cannot be used with imageIds.",
            ));
        }
        let mut details = Vec::new();
        for id in checked_ids(&input.image_ids)? {
            match resolve(state, &scope, name, id)? {
                Ok((_, image)) => details.push(detail(state, &image)),
                Err(f) => return Err(failure_error(&f)),
            }
        }
        return Ok(json!({ "imageDetails": details }));
    }
    let size = page_size(input.max_results, 1000)?;
    let keep = tag_status(input.filter.as_ref())?;
    let all: Vec<Arc<ImageRecord>> = images::list(state, &scope, name)?
        .into_iter()
        .filter(|i| keep(i))
        .collect();
    let key = |i: &Arc<ImageRecord>| i.image_digest.clone();
    let (page, next) = paginate(all, key, Order::Asc, input.next_token.as_deref(), size)?;
    let details: Vec<Value> = page.iter().map(|i| detail(state, i)).collect();
    Ok(json!({"imageDetails": details, "nextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInput {
    registry_id: Option<String>,
    repository_name: Option<String>,
    image_ids: Option<Vec<ImageId>>,
    /// Accepted; manifests are served as pushed (no conversion between media types).
    #[allow(dead_code)]
    accepted_media_types: Option<Vec<String>>,
}

pub fn batch_get(state: &State, ctx: &Context, input: BatchInput) -> Result<Value, EcrError> {
    check_registry(state, input.registry_id.as_deref())?;
    let name = required(&input.repository_name, "repositoryName")?;
    let scope = scope(state, ctx);
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    for id in checked_ids(&input.image_ids)? {
        match resolve(state, &scope, name, id)? {
            Ok((_, image)) => found.push(json!({
                "registryId": state.account(),
                "repositoryName": name,
                "imageId": {"imageDigest": image.image_digest, "imageTag": id.image_tag},
                "imageManifest": image.image_manifest,
                "imageManifestMediaType": image.image_manifest_media_type,
            })),
            Err(f) => failures.push(f),
        }
    }
    Ok(json!({"images": found, "failures": failures}))
}

pub async fn batch_delete(
    state: &State,
    ctx: &Context,
    input: BatchInput,
) -> Result<Value, EcrError> {
    check_registry(state, input.registry_id.as_deref())?;
    let name = required(&input.repository_name, "repositoryName")?;
    let scope = scope(state, ctx);
    let (mut deleted, mut failures) = (Vec::new(), Vec::new());
    for id in checked_ids(&input.image_ids)? {
        let by = match resolve(state, &scope, name, id)? {
            Ok((by, _)) => by,
            Err(f) => {
                failures.push(f);
                continue;
            }
        };
        match images::delete(state, &scope, name, &by).await {
            Ok(image) => {
                let tag = id.image_tag.clone();
                let tags: Vec<Option<String>> = match (&by, tag) {
                    (ImageRef::Tag(t), _) => vec![Some(t.clone())],
                    (ImageRef::Digest(_), Some(t)) => vec![Some(t)],
                    (ImageRef::Digest(_), None) if image.is_tagged() => {
                        image.image_tags.iter().cloned().map(Some).collect()
                    }
                    (ImageRef::Digest(_), None) => vec![None],
                };
                deleted.extend(
                    tags.into_iter()
                        .map(|t| json!({"imageDigest": image.image_digest, "imageTag": t})),
                );
            }
            Err(e) if e.kind() == ErrorKind::NotFound(Resource::Image) => {
                failures.push(failure(id, "ImageNotFound", "Requested image not found"))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(json!({"imageIds": deleted, "failures": failures}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartPreviewInput {
    registry_id: Option<String>,
    repository_name: Option<String>,
    lifecycle_policy_text: Option<String>,
}

/// Start a preview of `lifecyclePolicyText` (or of the repository's policy). Evaluation
/// is immediate, so the preview is COMPLETE as soon as it is read.
pub async fn start_preview(
    state: &State,
    ctx: &Context,
    input: StartPreviewInput,
) -> Result<Value, EcrError> {
    check_registry(state, input.registry_id.as_deref())?;
    let name = required(&input.repository_name, "repositoryName")?;
    let scope = scope(state, ctx);
    let given = input.lifecycle_policy_text;
    if let Some(text) = &given {
        flotilla_model::ecr::lifecycle::Policy::parse(text)?;
    }
    let r = repositories::update(state, &scope, name, |r| {
        let text = given.clone().or_else(|| r.lifecycle_policy.clone());
        r.lifecycle_preview = Some(text.ok_or_else(|| {
            ControlError::not_found(
                Resource::LifecyclePolicy,
                format!(
                    "Lifecycle policy does not exist for the repository with name '{}' in the \
                     registry with id '{}'",
                    r.repository_name, r.registry_id
                ),
            )
        })?);
        Ok(())
    })
    .await?;
    Ok(json!({
        "registryId": r.registry_id,
        "repositoryName": r.repository_name,
        "lifecyclePolicyText": r.lifecycle_preview,
        "status": "IN_PROGRESS",
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewInput {
    registry_id: Option<String>,
    repository_name: Option<String>,
    image_ids: Option<Vec<ImageId>>,
    next_token: Option<String>,
    max_results: Option<i64>,
    filter: Option<Filter>,
}

/// The images the previewed policy would expire now, with the rule that would.
pub fn get_preview(state: &State, ctx: &Context, input: PreviewInput) -> Result<Value, EcrError> {
    check_registry(state, input.registry_id.as_deref())?;
    let name = required(&input.repository_name, "repositoryName")?;
    let scope = scope(state, ctx);
    let repo = repositories::get(state, &scope, name)?;
    let text = repo.value.lifecycle_preview.clone().ok_or_else(|| {
        EcrError(flotilla_aws::AwsError::client(
            "LifecyclePolicyPreviewNotFoundException",
            format!(
                "There is no lifecycle policy preview for the repository with name '{name}' in \
                 the registry with id '{}'",
                state.account()
            ),
        ))
    })?;
    let size = page_size(input.max_results, 100)?;
    let keep = tag_status(input.filter.as_ref())?;
    let wanted = |i: &ImageRecord| {
        input.image_ids.as_ref().is_none_or(|ids| {
            ids.iter().any(|id| {
                id.image_digest.as_ref() == Some(&i.image_digest)
                    || id
                        .image_tag
                        .as_ref()
                        .is_some_and(|t| i.image_tags.contains(t))
            })
        })
    };
    let expiring: Vec<Expiring> =
        lifecycle::evaluate(state, &scope, name, &text, chrono::Utc::now())?
            .into_iter()
            .filter(|e| keep(&e.image) && wanted(&e.image))
            .collect();
    let total = expiring.len();
    let mut expiring = expiring;
    expiring.sort_by(|a, b| a.image.image_digest.cmp(&b.image.image_digest));
    let key = |e: &Expiring| e.image.image_digest.clone();
    let (page, next) = paginate(expiring, key, Order::Asc, input.next_token.as_deref(), size)?;
    let results: Vec<Value> = page
        .iter()
        .map(|e| {
            let tags = e
                .image
                .is_tagged()
                .then(|| e.image.image_tags.iter().collect::<Vec<_>>());
            json!({
                "imageTags": tags,
                "imageDigest": e.image.image_digest,
                "imagePushedAt": to_epoch_seconds(&e.image.image_pushed_at),
                "action": {"type": "EXPIRE"},
                "appliedRulePriority": e.rule_priority,
            })
        })
        .collect();
    Ok(json!({
        "registryId": state.account(),
        "repositoryName": name,
        "lifecyclePolicyText": text,
        "status": "COMPLETE",
        "nextToken": next,
        "previewResults": results,
        "summary": {"expiringImageTotalCount": total},
    }))
}

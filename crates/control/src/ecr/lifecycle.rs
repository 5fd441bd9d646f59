//! Lifecycle policies applied: which images a repository's policy (or a policy under
//! preview) expires now, and expiring them. The rules themselves are
//! `flotilla_model::ecr::lifecycle`'s; the controller that applies every repository's
//! policy on a schedule is `controllers::lifecycle`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_model::ecr::lifecycle::{Candidate, Policy};
use flotilla_model::ecr::ImageRecord;
use flotilla_model::{ErrorKind, Resource, Scope};

use super::images::{self, ImageRef};
use crate::{ControlError, State};

/// An image a policy expires, and the priority of the rule that does.
#[derive(Debug, Clone)]
pub struct Expiring {
    pub image: Arc<ImageRecord>,
    pub rule_priority: u32,
}

/// What `policy_text` expires in `repository` at `now`.
pub fn evaluate(
    state: &State,
    scope: &Scope,
    repository: &str,
    policy_text: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Expiring>, ControlError> {
    let policy = Policy::parse(policy_text)?;
    let all = images::list(state, scope, repository)?;
    let candidates: Vec<Candidate> = all
        .iter()
        .map(|i| Candidate {
            digest: i.image_digest.clone(),
            tags: i.image_tags.iter().cloned().collect(),
            pushed_at: i.image_pushed_at,
        })
        .collect();
    Ok(policy
        .expired(&candidates, now)
        .into_iter()
        .filter_map(|e| {
            let image = all.iter().find(|i| i.image_digest == e.digest)?.clone();
            Some(Expiring {
                image,
                rule_priority: e.rule_priority,
            })
        })
        .collect())
}

/// Apply the repository's own lifecycle policy at `now`: delete every image it expires.
/// Answers how many were deleted (none without a policy).
pub async fn apply(
    state: &State,
    scope: &Scope,
    repository: &str,
    now: DateTime<Utc>,
) -> Result<usize, ControlError> {
    let repo = super::repositories::get(state, scope, repository)?;
    let Some(text) = repo.value.lifecycle_policy.as_deref() else {
        return Ok(0);
    };
    let mut deleted = 0;
    for e in evaluate(state, scope, repository, text, now)? {
        let digest = ImageRef::Digest(e.image.image_digest.clone());
        match images::delete(state, scope, repository, &digest).await {
            Ok(_) => deleted += 1,
            // Deleted meanwhile by someone else: the outcome wanted.
            Err(err) if err.kind() == ErrorKind::NotFound(Resource::Image) => {}
            Err(err) => return Err(err),
        }
        tracing::info!(
            repository,
            digest = %e.image.image_digest,
            rule = e.rule_priority,
            "lifecycle policy expired an image"
        );
    }
    Ok(deleted)
}

//! Images: one record per repository and manifest digest, carrying its tags. A tag names at
//! most one image of a repository: pushing it to another image moves it (unless the
//! repository's tags are immutable), and an image left without tags stays, untagged, as on
//! ECR.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use flotilla_model::ecr::{validate_tag, ImageRecord, TagMutability};
use flotilla_model::record::encode;
use flotilla_model::{ErrorKind, ModelError, Resource, Scope};
use flotilla_store::{Compare, Op, Txn};

use super::{repositories, ATTEMPTS};
use crate::{keys, ControlError, Entry, State};

/// An image named by tag or by manifest digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    Tag(String),
    Digest(String),
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageRef::Tag(t) => write!(f, "imageTag={t}"),
            ImageRef::Digest(d) => write!(f, "imageDigest={d}"),
        }
    }
}

/// A manifest the registry accepted, to be recorded.
#[derive(Debug, Clone)]
pub struct PushedImage {
    pub digest: String,
    pub media_type: String,
    /// The manifest's bytes, as pushed.
    pub manifest: String,
    pub size: u64,
    /// The blobs (or child manifests) it refers to.
    pub references: Vec<String>,
    /// The manifest it names as its `subject`, its artifact type and annotations (what
    /// the referrers API reports).
    pub subject: Option<String>,
    pub artifact_type: Option<String>,
    pub annotations: std::collections::BTreeMap<String, String>,
}

fn image_not_found(scope: &Scope, repository: &str, r: &ImageRef) -> ControlError {
    ControlError::not_found(
        Resource::Image,
        format!(
            "The image with imageId {{{r}}} does not exist within the repository with name \
             '{repository}' in the registry with id '{}'",
            scope.account
        ),
    )
}

/// The image a tag or digest names, if the repository holds it. The repository must
/// exist (RepositoryNotFound).
pub fn find(
    state: &State,
    scope: &Scope,
    repository: &str,
    r: &ImageRef,
) -> Result<Option<Entry<ImageRecord>>, ControlError> {
    repositories::get(state, scope, repository)?;
    Ok(match r {
        ImageRef::Digest(d) => state
            .images()
            .get(keys::image(&scope.region, repository, d).as_bytes()),
        ImageRef::Tag(t) => tagged(state, scope, repository, t),
    })
}

/// The image that holds `tag`.
fn tagged(state: &State, scope: &Scope, repository: &str, tag: &str) -> Option<Entry<ImageRecord>> {
    state
        .images()
        .range(keys::images(&scope.region, repository).as_bytes())
        .iter()
        .find(|(_, e)| e.value.image_tags.contains(tag))
        .map(|(_, e)| e.clone())
}

/// The image `r` names; ImageNotFound when there is none.
pub fn get(
    state: &State,
    scope: &Scope,
    repository: &str,
    r: &ImageRef,
) -> Result<Entry<ImageRecord>, ControlError> {
    find(state, scope, repository, r)?.ok_or_else(|| image_not_found(scope, repository, r))
}

/// The repository's images, by digest. RepositoryNotFound when it does not exist.
pub fn list(
    state: &State,
    scope: &Scope,
    repository: &str,
) -> Result<Vec<Arc<ImageRecord>>, ControlError> {
    repositories::get(state, scope, repository)?;
    Ok(state
        .images()
        .range(keys::images(&scope.region, repository).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect())
}

/// Record a pushed image in `repository`, tagged `tag` when given. The tag moves from the
/// image that held it, unless the repository is IMMUTABLE (ImageTagAlreadyExists). The
/// same manifest pushed again keeps its push time and gains the tag.
pub async fn put(
    state: &State,
    scope: &Scope,
    repository: &str,
    tag: Option<&str>,
    image: PushedImage,
) -> Result<ImageRecord, ControlError> {
    if let Some(t) = tag {
        validate_tag(t)?;
    }
    let key = keys::image(&scope.region, repository, &image.digest);
    for _ in 0..ATTEMPTS {
        let repo = repositories::get(state, scope, repository)?;
        let existing = state.images().get(key.as_bytes());
        let holder = tag
            .and_then(|t| tagged(state, scope, repository, t))
            .filter(|h| h.value.image_digest != image.digest);
        if let (Some(h), Some(t)) = (&holder, tag) {
            if repo.value.image_tag_mutability == TagMutability::Immutable {
                return Err(tag_exists(repository, t, &h.value.image_digest));
            }
        }
        let mut record = match &existing {
            Some(e) => (*e.value).clone(),
            None => ImageRecord {
                repository_name: repository.to_string(),
                image_digest: image.digest.clone(),
                image_manifest_media_type: image.media_type.clone(),
                image_tags: BTreeSet::new(),
                image_size_in_bytes: image.size,
                image_pushed_at: Utc::now(),
                references: image.references.clone(),
                image_manifest: image.manifest.clone(),
                subject: image.subject.clone(),
                artifact_type: image.artifact_type.clone(),
                annotations: image.annotations.clone(),
            },
        };
        if let Some(t) = tag {
            record.image_tags.insert(t.to_string());
        }
        let repo_key = keys::repository(&scope.region, repository);
        let mut compares = vec![
            Compare::unchanged(repo_key, repo.mod_revision),
            Compare::unchanged(key.clone(), existing.as_ref().map_or(0, |e| e.mod_revision)),
        ];
        let mut success = vec![Op::put(key.clone(), encode(&record))];
        if let (Some(h), Some(t)) = (&holder, tag) {
            let mut previous = (*h.value).clone();
            previous.image_tags.remove(t);
            let k = keys::image(&scope.region, repository, &previous.image_digest);
            compares.push(Compare::unchanged(k.clone(), h.mod_revision));
            success.push(Op::put(k, encode(&previous)));
        }
        let txn = Txn {
            compares,
            success,
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!(
        "The repository {repository} kept changing during the push; retry."
    )))
}

/// ImageTagAlreadyExists: an IMMUTABLE repository's tag names another image.
fn tag_exists(repository: &str, tag: &str, digest: &str) -> ControlError {
    ModelError::new(
        ErrorKind::AlreadyExists(Resource::ImageTag),
        format!(
            "The image tag '{tag}' already exists in the '{repository}' repository (on \
             {digest}) and cannot be overwritten because the repository is immutable."
        ),
    )
    .into()
}

/// Delete what `r` names: by digest the image with all its tags; by tag only the tag,
/// and the image with it when it was its last tag (as BatchDeleteImage does). Answers the
/// image as it was.
pub async fn delete(
    state: &State,
    scope: &Scope,
    repository: &str,
    r: &ImageRef,
) -> Result<Arc<ImageRecord>, ControlError> {
    for _ in 0..ATTEMPTS {
        let entry = get(state, scope, repository, r)?;
        let key = keys::image(&scope.region, repository, &entry.value.image_digest);
        let mut remaining = (*entry.value).clone();
        if let ImageRef::Tag(t) = r {
            remaining.image_tags.remove(t);
        }
        let op = if matches!(r, ImageRef::Tag(_)) && remaining.is_tagged() {
            Op::put(key.clone(), encode(&remaining))
        } else {
            Op::delete(key.clone())
        };
        let txn = Txn {
            compares: vec![Compare::unchanged(key, entry.mod_revision)],
            success: vec![op],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(entry.value);
        }
    }
    Err(ControlError::Contended(format!(
        "The image {r} kept changing while it was being deleted; retry."
    )))
}

/// The repository's images whose `subject` is `digest`, by digest. RepositoryNotFound
/// when it does not exist.
pub fn referrers(
    state: &State,
    scope: &Scope,
    repository: &str,
    digest: &str,
) -> Result<Vec<Arc<ImageRecord>>, ControlError> {
    Ok(list(state, scope, repository)?
        .into_iter()
        .filter(|i| i.subject.as_deref() == Some(digest))
        .collect())
}

/// Every digest an image of any repository refers to (blobs, or child manifests): what
/// the registry's garbage collector keeps.
pub fn references(state: &State) -> BTreeSet<String> {
    state
        .images()
        .range(keys::IMAGES.as_bytes())
        .iter()
        .flat_map(|(_, e)| e.value.references.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use flotilla_store::MemoryStore;

    use super::*;
    use crate::ecr::repositories::{self, NewRepository};
    use crate::ControlConfig;

    async fn setup(mutability: TagMutability) -> (State, Scope) {
        let state = State::new(
            Arc::new(MemoryStore::new()),
            ControlConfig::new("000000000000"),
        )
        .await
        .unwrap();
        let scope = Scope::new("us-east-1", "000000000000");
        let new = NewRepository {
            name: "team/web".into(),
            image_tag_mutability: mutability,
            ..Default::default()
        };
        repositories::create(&state, &scope, new).await.unwrap();
        (state, scope)
    }

    fn image(n: u8) -> PushedImage {
        PushedImage {
            digest: format!("sha256:{}", hex::encode([n; 32])),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            manifest: "{}".into(),
            size: 10,
            references: vec![format!("sha256:{}", hex::encode([n + 100; 32]))],
            subject: None,
            artifact_type: None,
            annotations: Default::default(),
        }
    }

    fn tags(state: &State, scope: &Scope, n: u8) -> Vec<String> {
        let r = ImageRef::Digest(image(n).digest);
        let found = find(state, scope, "team/web", &r).unwrap();
        found.map_or(vec![], |e| e.value.image_tags.iter().cloned().collect())
    }

    #[tokio::test]
    async fn a_tag_moves_to_the_image_pushed_last_unless_tags_are_immutable() {
        let (s, scope) = setup(TagMutability::Mutable).await;
        put(&s, &scope, "team/web", Some("v1"), image(1))
            .await
            .unwrap();
        put(&s, &scope, "team/web", Some("latest"), image(1))
            .await
            .unwrap();
        put(&s, &scope, "team/web", Some("v1"), image(2))
            .await
            .unwrap();
        assert_eq!(tags(&s, &scope, 1), ["latest"]);
        assert_eq!(tags(&s, &scope, 2), ["v1"]);

        let (s, scope) = setup(TagMutability::Immutable).await;
        put(&s, &scope, "team/web", Some("v1"), image(1))
            .await
            .unwrap();
        put(&s, &scope, "team/web", Some("v1"), image(1))
            .await
            .unwrap();
        let e = put(&s, &scope, "team/web", Some("v1"), image(2))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists(Resource::ImageTag));
        assert_eq!(tags(&s, &scope, 1), ["v1"]);
        assert!(
            find(&s, &scope, "team/web", &ImageRef::Digest(image(2).digest))
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn deleting_the_last_tag_deletes_the_image_and_a_forced_repository_delete_its_images() {
        let (s, scope) = setup(TagMutability::Mutable).await;
        put(&s, &scope, "team/web", Some("a"), image(1))
            .await
            .unwrap();
        put(&s, &scope, "team/web", Some("b"), image(1))
            .await
            .unwrap();
        delete(&s, &scope, "team/web", &ImageRef::Tag("a".into()))
            .await
            .unwrap();
        assert_eq!(tags(&s, &scope, 1), ["b"]);
        delete(&s, &scope, "team/web", &ImageRef::Tag("b".into()))
            .await
            .unwrap();
        assert!(list(&s, &scope, "team/web").unwrap().is_empty());

        put(&s, &scope, "team/web", None, image(3)).await.unwrap();
        assert_eq!(references(&s).len(), 1);
        let refused = repositories::delete(&s, &scope, "team/web", false).await;
        assert_eq!(
            refused.unwrap_err().kind(),
            ErrorKind::NotEmpty(Resource::Image)
        );
        repositories::delete(&s, &scope, "team/web", true)
            .await
            .unwrap();
        assert!(references(&s).is_empty());
        let gone = put(&s, &scope, "team/web", None, image(4))
            .await
            .unwrap_err();
        assert_eq!(gone.kind(), ErrorKind::NotFound(Resource::Repository));
    }
}

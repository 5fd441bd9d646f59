//! The registry's view of the control plane: [`ControlCatalog`] implements
//! `flotilla_registry::Catalog` with the same operations ECR's API calls, and turns the
//! control plane's errors into the registry's.

use async_trait::async_trait;
use flotilla_control::ecr::images::{self, ImageRef, PushedImage};
use flotilla_control::ecr::{auth, repositories};
use flotilla_control::ControlError;
use flotilla_model::{ErrorKind, Resource, Scope};
use flotilla_registry::catalog::{
    Access, Catalog, CatalogError, Reference, Referrer, StoredManifest,
};
use flotilla_registry::{Digest, Manifest};

use crate::State;

/// The registry's catalog, backed by the control plane.
pub struct ControlCatalog {
    state: State,
}

impl ControlCatalog {
    pub fn new(state: State) -> Self {
        ControlCatalog { state }
    }

    fn scope(&self, access: &Access) -> Scope {
        Scope::new(access.region.clone(), self.state.account().to_string())
    }
}

fn image_ref(r: &Reference) -> ImageRef {
    match r {
        Reference::Tag(t) => ImageRef::Tag(t.clone()),
        Reference::Digest(d) => ImageRef::Digest(d.to_string()),
    }
}

/// The registry's error for a control-plane error.
fn catalog_error(e: ControlError) -> CatalogError {
    let message = e.to_string();
    match e.kind() {
        ErrorKind::NotFound(Resource::Repository) => CatalogError::NameUnknown(message),
        ErrorKind::NotFound(_) => CatalogError::ManifestUnknown(message),
        ErrorKind::AlreadyExists(Resource::ImageTag) | ErrorKind::InvalidParameter => {
            CatalogError::TagInvalid(message)
        }
        _ if e.is_retriable() => CatalogError::Unavailable(message),
        _ => CatalogError::Denied(message),
    }
}

#[async_trait]
impl Catalog for ControlCatalog {
    fn authenticate(&self, username: &str, password: &str) -> Option<Access> {
        if username != auth::USER {
            return None;
        }
        let grant = auth::verify(&self.state, password, chrono::Utc::now())?;
        Some(Access {
            region: grant.scope.region,
            principal: grant.principal,
        })
    }

    /// A token of an IAM identity acts with its policies (a key deactivated or deleted
    /// since acts with none); the root's and agents' tokens may do everything.
    fn authorize(
        &self,
        access: &Access,
        action: &str,
        repository: Option<&str>,
    ) -> Result<(), CatalogError> {
        let Some(key) = &access.principal else {
            return Ok(());
        };
        let resource = match repository {
            Some(name) => self
                .scope(access)
                .arn("ecr", format!("repository/{name}"))
                .to_string(),
            None => "*".to_string(),
        };
        let who = flotilla_control::iam::authorize::acting(&self.state, key);
        let mut context = flotilla_model::iam::eval::Context::default();
        context.set_one("aws:RequestedRegion", access.region.clone());
        let decision = who
            .as_ref()
            .map_or(flotilla_model::iam::eval::Decision::ImplicitDeny, |w| {
                w.decide(action, &resource, &context)
            });
        if decision.allowed() {
            return Ok(());
        }
        let arn = who.map_or_else(|| key.clone(), |w| w.arn);
        Err(CatalogError::Denied(crate::authz::denial(
            &arn, action, &resource, decision,
        )))
    }

    async fn check_repository(
        &self,
        access: &Access,
        repository: &str,
    ) -> Result<(), CatalogError> {
        repositories::get(&self.state, &self.scope(access), repository)
            .map(drop)
            .map_err(catalog_error)
    }

    async fn manifest(
        &self,
        access: &Access,
        repository: &str,
        reference: &Reference,
    ) -> Result<StoredManifest, CatalogError> {
        let scope = self.scope(access);
        let image = images::get(&self.state, &scope, repository, &image_ref(reference))
            .map_err(catalog_error)?;
        let digest: Digest = image.value.image_digest.parse().map_err(|e| {
            CatalogError::Unavailable(format!("a stored image has a bad digest: {e}"))
        })?;
        Ok(StoredManifest {
            digest,
            media_type: image.value.image_manifest_media_type.clone(),
            bytes: image.value.image_manifest.as_bytes().to_vec(),
        })
    }

    async fn put_manifest(
        &self,
        access: &Access,
        repository: &str,
        tag: Option<&str>,
        manifest: &Manifest,
        bytes: &[u8],
    ) -> Result<(), CatalogError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| CatalogError::TagInvalid("a manifest must be UTF-8 JSON".into()))?;
        let pushed = PushedImage {
            digest: manifest.digest.to_string(),
            media_type: manifest.media_type.to_string(),
            manifest: text.to_string(),
            size: manifest.size,
            references: manifest
                .referenced()
                .iter()
                .map(|d| d.to_string())
                .collect(),
            subject: manifest.subject.as_ref().map(|d| d.to_string()),
            artifact_type: manifest.artifact_type.clone(),
            annotations: manifest.annotations.clone(),
        };
        images::put(&self.state, &self.scope(access), repository, tag, pushed)
            .await
            .map(drop)
            .map_err(catalog_error)
    }

    async fn delete(
        &self,
        access: &Access,
        repository: &str,
        reference: &Reference,
    ) -> Result<(), CatalogError> {
        images::delete(
            &self.state,
            &self.scope(access),
            repository,
            &image_ref(reference),
        )
        .await
        .map(drop)
        .map_err(catalog_error)
    }

    async fn tags(&self, access: &Access, repository: &str) -> Result<Vec<String>, CatalogError> {
        let all =
            images::list(&self.state, &self.scope(access), repository).map_err(catalog_error)?;
        let mut tags: Vec<String> = all.iter().flat_map(|i| i.image_tags.clone()).collect();
        tags.sort();
        Ok(tags)
    }

    async fn referrers(
        &self,
        access: &Access,
        repository: &str,
        subject: &Digest,
    ) -> Result<Vec<Referrer>, CatalogError> {
        let scope = self.scope(access);
        let found = images::referrers(&self.state, &scope, repository, &subject.to_string())
            .map_err(catalog_error)?;
        Ok(found
            .iter()
            .filter_map(|i| {
                Some(Referrer {
                    digest: i.image_digest.parse().ok()?,
                    media_type: i.image_manifest_media_type.clone(),
                    size: i.image_manifest.len() as u64,
                    artifact_type: i.artifact_type.clone(),
                    annotations: i.annotations.clone(),
                })
            })
            .collect())
    }

    async fn repositories(&self, access: &Access) -> Result<Vec<String>, CatalogError> {
        Ok(repositories::list(&self.state, &self.scope(access))
            .iter()
            .map(|r| r.repository_name.clone())
            .collect())
    }

    async fn referenced_blobs(&self) -> Result<Vec<Digest>, CatalogError> {
        Ok(images::references(&self.state)
            .iter()
            .filter_map(|d| d.parse().ok())
            .collect())
    }
}

//! What the registry asks of the control plane: who a client's credentials name, and the
//! metadata of repositories and images (which live in the revisioned store, where ECR's API
//! reads them). The registry never reads the store itself; the server gives it an
//! implementation of [`Catalog`] backed by the control plane, and tests give it a fake.

use async_trait::async_trait;

use crate::digest::Digest;
use crate::manifest::Manifest;

/// Who a request acts as once its credentials are checked: the region whose repositories
/// it sees (an authorization token is issued in one region), and the IAM identity whose
/// policies decide its requests, if any (the access key its token was issued to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub region: String,
    pub principal: Option<String>,
}

/// A manifest reference in a path: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

/// A stored manifest, as pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// A manifest that names another as its `subject`, as the referrers API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    /// The manifest's length in bytes.
    pub size: u64,
    pub artifact_type: Option<String>,
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// Why the catalog refused or failed; each maps to one of the spec's error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The repository does not exist in the caller's region (NAME_UNKNOWN, 404).
    #[error("{0}")]
    NameUnknown(String),
    /// No such manifest or tag (MANIFEST_UNKNOWN, 404).
    #[error("{0}")]
    ManifestUnknown(String),
    /// The tag may not be written (an IMMUTABLE repository's existing tag): TAG_INVALID,
    /// 400, as ECR answers it.
    #[error("{0}")]
    TagInvalid(String),
    /// The manifest refers to something the registry does not have
    /// (MANIFEST_BLOB_UNKNOWN, 400).
    #[error("{0}")]
    ManifestBlobUnknown(String),
    /// The caller may not do this (DENIED, 403).
    #[error("{0}")]
    Denied(String),
    /// The store is unavailable or kept changing; the client may retry (503).
    #[error("{0}")]
    Unavailable(String),
}

/// Repository and image metadata, and credentials, as the control plane keeps them.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// The access a `Basic` username and password grant, or `None` when they are not valid
    /// (unknown, expired, or issued by another registry or account).
    fn authenticate(&self, username: &str, password: &str) -> Option<Access>;

    /// `Ok` when `access` may perform the ECR `action` (`ecr:BatchGetImage`) on
    /// `repository` (`None`: on the registry, e.g. the catalog); `Denied` otherwise.
    fn authorize(
        &self,
        access: &Access,
        action: &str,
        repository: Option<&str>,
    ) -> Result<(), CatalogError>;

    /// `Ok` when the repository exists; NameUnknown otherwise.
    async fn check_repository(&self, access: &Access, repository: &str)
        -> Result<(), CatalogError>;

    /// The manifest a tag or digest names in a repository; NameUnknown or ManifestUnknown.
    async fn manifest(
        &self,
        access: &Access,
        repository: &str,
        reference: &Reference,
    ) -> Result<StoredManifest, CatalogError>;

    /// Record a pushed manifest (its blobs, or for an index its manifests, already checked
    /// to exist), tagging it with `tag` when pushed by tag: the tag moves from whichever
    /// image held it, unless the repository's tags are immutable (TagInvalid).
    async fn put_manifest(
        &self,
        access: &Access,
        repository: &str,
        tag: Option<&str>,
        manifest: &Manifest,
        bytes: &[u8],
    ) -> Result<(), CatalogError>;

    /// Delete a manifest by digest (the image and all its tags), or only a tag.
    async fn delete(
        &self,
        access: &Access,
        repository: &str,
        reference: &Reference,
    ) -> Result<(), CatalogError>;

    /// The repository's tags, in lexical order.
    async fn tags(&self, access: &Access, repository: &str) -> Result<Vec<String>, CatalogError>;

    /// The manifests of a repository whose `subject` is `subject`, by digest.
    async fn referrers(
        &self,
        access: &Access,
        repository: &str,
        subject: &Digest,
    ) -> Result<Vec<Referrer>, CatalogError>;

    /// The region's repository names, in lexical order.
    async fn repositories(&self, access: &Access) -> Result<Vec<String>, CatalogError>;

    /// Every blob an image of any repository in any region refers to: what the garbage
    /// collector keeps.
    async fn referenced_blobs(&self) -> Result<Vec<Digest>, CatalogError>;
}

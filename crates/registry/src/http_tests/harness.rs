//! What the router tests run on: an in-memory [`FakeCatalog`] (one user, one region) and
//! a [`Harness`] that sends requests through the router over a real blob store in a
//! temporary directory, reading each answer whole.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::blobs::BlobStore;
use crate::catalog::{Access, Catalog, CatalogError, Reference, Referrer, StoredManifest};
use crate::digest::Digest;
use crate::http::auth::tests::encode_base64;
use crate::http::{router, Registry};
use crate::manifest::{Manifest, Refs, OCI_MANIFEST};

pub(super) const USER: &str = "AWS";
pub(super) const PASSWORD: &str = "secret";
/// A password whose holder may only pull (as an IAM user with a read-only policy).
pub(super) const READER_PASSWORD: &str = "reader-secret";

/// A repository of the fake catalog.
#[derive(Default)]
pub(super) struct Repo {
    pub manifests: HashMap<Digest, StoredManifest>,
    pub tags: BTreeMap<String, Digest>,
    pub immutable: bool,
}

/// Repositories in memory, one user, one region.
pub(super) struct FakeCatalog {
    pub repos: Mutex<BTreeMap<String, Repo>>,
}

impl FakeCatalog {
    fn with<T>(
        &self,
        repository: &str,
        f: impl FnOnce(&mut Repo) -> Result<T, CatalogError>,
    ) -> Result<T, CatalogError> {
        let mut repos = self.repos.lock().unwrap();
        let repo = repos
            .get_mut(repository)
            .ok_or_else(|| CatalogError::NameUnknown(format!("no repository {repository}")))?;
        f(repo)
    }
}

fn manifest_unknown() -> CatalogError {
    CatalogError::ManifestUnknown("no such manifest".into())
}

#[async_trait]
impl Catalog for FakeCatalog {
    fn authenticate(&self, username: &str, password: &str) -> Option<Access> {
        let principal = match password {
            PASSWORD => None,
            READER_PASSWORD => Some("reader".to_string()),
            _ => return None,
        };
        (username == USER).then(|| Access {
            region: "us-east-1".into(),
            principal,
        })
    }

    fn authorize(
        &self,
        access: &Access,
        action: &str,
        repository: Option<&str>,
    ) -> Result<(), CatalogError> {
        const READS: &[&str] = &[
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchCheckLayerAvailability",
            "ecr:ListImages",
            "ecr:DescribeRepositories",
        ];
        if access.principal.is_none() || READS.contains(&action) {
            return Ok(());
        }
        Err(CatalogError::Denied(format!(
            "reader may not {action} on {}",
            repository.unwrap_or("*")
        )))
    }

    async fn check_repository(&self, _: &Access, repository: &str) -> Result<(), CatalogError> {
        self.with(repository, |_| Ok(()))
    }

    async fn manifest(
        &self,
        _: &Access,
        repository: &str,
        reference: &Reference,
    ) -> Result<StoredManifest, CatalogError> {
        self.with(repository, |r| {
            let digest = match reference {
                Reference::Tag(t) => r.tags.get(t).ok_or_else(manifest_unknown)?,
                Reference::Digest(d) => d,
            };
            r.manifests
                .get(digest)
                .cloned()
                .ok_or_else(manifest_unknown)
        })
    }

    async fn put_manifest(
        &self,
        _: &Access,
        repository: &str,
        tag: Option<&str>,
        manifest: &Manifest,
        bytes: &[u8],
    ) -> Result<(), CatalogError> {
        self.with(repository, |r| {
            if let Some(tag) = tag {
                if r.immutable && r.tags.contains_key(tag) {
                    return Err(CatalogError::TagInvalid(format!("tag {tag} is immutable")));
                }
                r.tags.insert(tag.to_string(), manifest.digest.clone());
            }
            let stored = StoredManifest {
                digest: manifest.digest.clone(),
                media_type: manifest.media_type.to_string(),
                bytes: bytes.to_vec(),
            };
            r.manifests.insert(manifest.digest.clone(), stored);
            Ok(())
        })
    }

    async fn delete(
        &self,
        _: &Access,
        repository: &str,
        reference: &Reference,
    ) -> Result<(), CatalogError> {
        self.with(repository, |r| match reference {
            Reference::Tag(t) => r.tags.remove(t).map(drop).ok_or_else(manifest_unknown),
            Reference::Digest(d) => {
                r.manifests.remove(d).ok_or_else(manifest_unknown)?;
                r.tags.retain(|_, held| held != d);
                Ok(())
            }
        })
    }

    async fn tags(&self, _: &Access, repository: &str) -> Result<Vec<String>, CatalogError> {
        self.with(repository, |r| Ok(r.tags.keys().cloned().collect()))
    }

    async fn repositories(&self, _: &Access) -> Result<Vec<String>, CatalogError> {
        Ok(self.repos.lock().unwrap().keys().cloned().collect())
    }

    async fn referrers(
        &self,
        access: &Access,
        repository: &str,
        subject: &Digest,
    ) -> Result<Vec<Referrer>, CatalogError> {
        self.check_repository(access, repository).await?;
        let repos = self.repos.lock().unwrap();
        let stored = repos[repository].manifests.values();
        let mut found: Vec<Referrer> = stored
            .filter_map(|m| {
                Manifest::parse(Some(&m.media_type), &m.bytes)
                    .ok()
                    .map(|p| (m, p))
            })
            .filter(|(_, p)| p.subject.as_ref() == Some(subject))
            .map(|(m, p)| Referrer {
                digest: p.digest,
                media_type: m.media_type.clone(),
                size: m.bytes.len() as u64,
                artifact_type: p.artifact_type,
                annotations: p.annotations,
            })
            .collect();
        found.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(found)
    }

    async fn referenced_blobs(&self) -> Result<Vec<Digest>, CatalogError> {
        let repos = self.repos.lock().unwrap();
        let stored = repos.values().flat_map(|r| r.manifests.values());
        let parsed = stored.filter_map(|m| Manifest::parse(Some(&m.media_type), &m.bytes).ok());
        Ok(parsed
            .filter(|m| matches!(m.refs, Refs::Image { .. }))
            .flat_map(|m| m.referenced().into_iter().cloned().collect::<Vec<_>>())
            .collect())
    }
}

// === impl Harness ===

/// A router over a fresh blob store and a fake catalog with `repos`.
pub(super) struct Harness {
    _dir: tempfile::TempDir,
    registry: Arc<Registry>,
    pub catalog: Arc<FakeCatalog>,
}

/// An answer, read whole.
pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub(super) fn header(&self, name: HeaderName) -> &str {
        self.headers
            .get(&name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The error code of an error answer, after checking the spec's shape.
    pub(super) fn code(&self) -> String {
        let body = self.json();
        let error = &body["errors"][0];
        assert!(error["message"].is_string(), "{body}");
        assert!(error.get("detail").is_some(), "{body}");
        error["code"].as_str().unwrap().to_string()
    }

    pub(super) fn expect(&self, status: StatusCode, code: &str) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.code(), code);
    }
}

pub(super) async fn harness(repos: &[&str]) -> Harness {
    harness_with_limit(repos, 1 << 20).await
}

/// A harness whose blob store takes blobs of at most `max_blob` bytes.
pub(super) async fn harness_with_limit(repos: &[&str], max_blob: u64) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::open(dir.path(), max_blob).await.unwrap();
    let catalog = Arc::new(FakeCatalog {
        repos: Mutex::new(
            repos
                .iter()
                .map(|r| (r.to_string(), Repo::default()))
                .collect(),
        ),
    });
    let registry = Arc::new(Registry::new(blobs, catalog.clone(), "flotilla"));
    Harness {
        _dir: dir,
        registry,
        catalog,
    }
}

pub(super) fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        encode_base64(format!("{user}:{password}").as_bytes())
    )
}

/// A request with the harness user's credentials.
pub(super) fn req(method: &str, uri: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(AUTHORIZATION, basic(USER, PASSWORD))
}

impl Harness {
    /// Send a request; every answer must carry the API version header.
    pub(super) async fn send(
        &self,
        request: http::request::Builder,
        body: impl Into<Body>,
    ) -> Answer {
        let request = request.body(body.into()).unwrap();
        let response = router(self.registry.clone())
            .oneshot(request)
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap()
            .to_vec();
        assert_eq!(
            parts
                .headers
                .get("docker-distribution-api-version")
                .unwrap(),
            "registry/2.0"
        );
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub(super) async fn call(&self, method: &str, uri: &str) -> Answer {
        self.send(req(method, uri), Body::empty()).await
    }

    /// Push `bytes` as a blob of `repo` in one request.
    pub(super) async fn push_blob(&self, repo: &str, bytes: &[u8]) -> Digest {
        let d = Digest::of(bytes);
        let uri = format!("/v2/{repo}/blobs/uploads/?digest={d}");
        let a = self.send(req("POST", &uri), bytes.to_vec()).await;
        assert_eq!(a.status, StatusCode::CREATED);
        d
    }

    pub(super) async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Answer {
        let uri = format!("/v2/{repo}/manifests/{reference}");
        let r = req("PUT", &uri).header(CONTENT_TYPE, media_type);
        self.send(r, bytes.to_vec()).await
    }

    /// Push a config and a layer, and an image manifest naming them under `tag`.
    pub(super) async fn push_image(
        &self,
        repo: &str,
        tag: &str,
        layer: &[u8],
    ) -> (Digest, Vec<u8>) {
        let config = self.push_blob(repo, b"{}").await;
        let layer = self.push_blob(repo, layer).await;
        let bytes = image(&config, &[&layer]);
        let a = self.put_manifest(repo, tag, OCI_MANIFEST, &bytes).await;
        assert_eq!(a.status, StatusCode::CREATED);
        (Digest::of(&bytes), bytes)
    }
}

pub(super) fn descriptor(media_type: &str, d: &Digest) -> Value {
    json!({"mediaType": media_type, "digest": d.to_string(), "size": 2})
}

pub(super) fn image(config: &Digest, layers: &[&Digest]) -> Vec<u8> {
    let layers: Vec<Value> = layers
        .iter()
        .map(|l| descriptor("application/vnd.oci.image.layer.v1.tar+gzip", l))
        .collect();
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": layers,
    }))
    .unwrap()
}

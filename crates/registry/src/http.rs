//! The OCI distribution API (spec v1.1), what `docker push` and `docker pull` talk to.
//!
//! Every request under `/v2` goes through [`serve`]: its Basic credentials must be ones
//! the [`Catalog`] accepts (otherwise 401 with the `WWW-Authenticate` challenge `docker
//! login` waits for), and every answer says `Docker-Distribution-API-Version:
//! registry/2.0`. Repository names contain slashes, so the router takes all of `/v2/*`
//! and [`route::Route`] reads the path from its end:
//!
//! | path under `/v2/`              | methods                 | module         |
//! | ------------------------------ | ----------------------- | -------------- |
//! | (empty)                        | GET, HEAD               | here           |
//! | `_catalog`                     | GET, HEAD               | `listing.rs`   |
//! | `NAME/tags/list`               | GET, HEAD               | `listing.rs`   |
//! | `NAME/manifests/TAG-OR-DIGEST` | GET, HEAD, PUT, DELETE  | `manifests.rs` |
//! | `NAME/blobs/DIGEST`            | GET, HEAD, DELETE       | `blobs.rs`     |
//! | `NAME/blobs/uploads/`          | POST                    | `uploads.rs`   |
//! | `NAME/blobs/uploads/ID`        | GET, PATCH, PUT, DELETE | `uploads.rs`   |
//! | `NAME/referrers/DIGEST`        | GET, HEAD               | `listing.rs`   |
//!
//! Anything else under `/v2` is 404 and another method on a known path is 405, both
//! UNSUPPORTED.
//! Errors are chosen in `error.rs` only. Bodies are streamed between the connection and
//! the blob store (`body.rs`); only a manifest (at most 4 MiB) is read whole.
//!
//! The router does not set a fallback, so the server can merge it with its own routes; it
//! must be merged at the root, not nested, since it reads the whole path.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use flotilla_model::ecr::{validate_repository_name, validate_tag};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, Method, StatusCode};

use crate::blobs::BlobStore;
use crate::catalog::{Access, Catalog, Reference};
use crate::digest::Digest;

mod auth;
mod blobs;
mod body;
mod error;
mod listing;
mod manifests;
mod page;
mod range;
mod reply;
mod route;
mod uploads;

use error::{ApiError, Code};
use reply::{Reply, API_VERSION};
use route::Route;

/// What the registry's API serves from: the blobs on disk, the catalog the control plane
/// keeps, and the realm named in the authentication challenge.
pub struct Registry {
    blobs: BlobStore,
    catalog: Arc<dyn Catalog>,
    realm: String,
}

impl Registry {
    pub fn new(blobs: BlobStore, catalog: Arc<dyn Catalog>, realm: impl Into<String>) -> Registry {
        Registry {
            blobs,
            catalog,
            realm: realm.into(),
        }
    }

    /// The blob store (the garbage collector and upload expiry work on it too).
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    /// Who the request's Basic credentials name, if the catalog accepts them.
    fn authenticate(&self, headers: &HeaderMap) -> Option<Access> {
        let value = headers.get(AUTHORIZATION)?;
        let (user, password) = auth::basic_credentials(value.as_bytes())?;
        self.catalog.authenticate(&user, &password)
    }

    /// The 401 that makes `docker login` (and every client) retry with Basic credentials.
    fn challenge(&self) -> Reply {
        let realm = self.realm.replace(['"', '\\'], "");
        ApiError::new(Code::Unauthorized, "authentication required")
            .with_header(WWW_AUTHENTICATE, format!("Basic realm=\"{realm}\""))
            .into_reply()
    }

    /// Best effort: a blob a client has just seen is kept through the garbage collector's
    /// grace period; failing to mark it is logged, not answered.
    async fn touch(&self, digest: &Digest) {
        if let Err(error) = self.blobs.touch(digest).await {
            tracing::warn!(%digest, %error, "registry: could not mark a blob as used");
        }
    }
}

/// The distribution API's routes: `/v2`, `/v2/` and everything under it.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/v2", any(serve))
        .route("/v2/", any(serve))
        .route("/v2/{*rest}", any(serve))
        .with_state(registry)
}

/// Every request: credentials first (so nothing about repositories is told to a stranger),
/// then the operation, then the version header on whatever the answer is.
async fn serve(State(registry): State<Arc<Registry>>, request: Request) -> Response {
    let reply = match registry.authenticate(request.headers()) {
        Some(access) => dispatch(&registry, access, request)
            .await
            .unwrap_or_else(ApiError::into_reply),
        None => registry.challenge(),
    };
    reply.header(API_VERSION, "registry/2.0").into_response()
}

/// One authenticated request, taken apart (its body goes separately to the operations
/// that read one).
struct Call<'a> {
    registry: &'a Registry,
    access: Access,
    method: Method,
    query: Option<String>,
    headers: HeaderMap,
}

impl Call<'_> {
    fn catalog(&self) -> &dyn Catalog {
        self.registry.catalog.as_ref()
    }

    fn blobs(&self) -> &BlobStore {
        &self.registry.blobs
    }

    /// A query parameter's first value, decoded.
    fn param(&self, key: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// A header's value, if it is text.
    fn header(&self, name: HeaderName) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// A repository the request names: a valid name (NAME_INVALID) of a repository that
    /// exists in the caller's region (NAME_UNKNOWN).
    async fn repository(&self, name: &str) -> Result<(), ApiError> {
        validate_name(name)?;
        Ok(self.catalog().check_repository(&self.access, name).await?)
    }

    /// 405 for a method the path does not take.
    fn method_not_allowed(&self) -> ApiError {
        ApiError::unsupported(
            format!("{} is not supported here", self.method),
            StatusCode::METHOD_NOT_ALLOWED,
        )
    }

    /// Lists and the API check are read-only.
    fn read_only(&self) -> Result<(), ApiError> {
        match self.method {
            Method::GET | Method::HEAD => Ok(()),
            _ => Err(self.method_not_allowed()),
        }
    }
}

/// The operation the path names.
async fn dispatch(
    registry: &Registry,
    access: Access,
    request: Request,
) -> Result<Reply, ApiError> {
    let (parts, body) = request.into_parts();
    let call = Call {
        registry,
        access,
        method: parts.method,
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
    };
    let route = Route::parse(parts.uri.path());
    if let Some((action, repository)) = route.action(&call.method) {
        call.catalog().authorize(&call.access, action, repository)?;
    }
    match route {
        Route::Base => call
            .read_only()
            .map(|()| Reply::json(StatusCode::OK, &serde_json::json!({}))),
        Route::Catalog => listing::catalog(&call).await,
        Route::Tags { name } => listing::tags(&call, name).await,
        Route::Manifest { name, reference } => manifests::serve(&call, body, name, reference).await,
        Route::Blob { name, digest } => blobs::serve(&call, name, digest).await,
        Route::Uploads { name } => uploads::start(&call, body, name).await,
        Route::Upload { name, id } => uploads::serve(&call, body, name, id).await,
        Route::Referrers { name, digest } => listing::referrers(&call, name, digest).await,
        Route::Unknown => Err(ApiError::unsupported(
            "no such endpoint in the distribution API",
            StatusCode::NOT_FOUND,
        )),
    }
}

/// NAME_INVALID unless `name` is a repository name ECR and the spec accept.
fn validate_name(name: &str) -> Result<(), ApiError> {
    validate_repository_name(name).map_err(|e| ApiError::new(Code::NameInvalid, e.message))
}

/// A digest from a path or a query: DIGEST_INVALID, or UNSUPPORTED for another algorithm.
fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    Ok(s.parse::<Digest>()?)
}

/// A manifest reference: a digest when it has the `algorithm:` a tag cannot have,
/// otherwise a tag (TAG_INVALID).
fn parse_reference(s: &str) -> Result<Reference, ApiError> {
    if s.contains(':') {
        return parse_digest(s).map(Reference::Digest);
    }
    validate_tag(s).map_err(|e| ApiError::new(Code::TagInvalid, e.message))?;
    Ok(Reference::Tag(s.to_string()))
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;

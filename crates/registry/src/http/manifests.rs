//! `/v2/NAME/manifests/REFERENCE`: pulling, pushing and deleting manifests. The catalog
//! keeps them (as pushed, byte for byte); this checks what a push refers to before it is
//! recorded, and answers pulls with the stored media type.

use axum::body::Body;
use http::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, Method, StatusCode};
use serde_json::json;

use crate::catalog::{CatalogError, Reference};
use crate::digest::Digest;
use crate::manifest::{Manifest, Refs, MAX_MANIFEST_BYTES};

use super::body::{read_limited, LimitedError};
use super::error::{ApiError, Code};
use super::reply::{Reply, DOCKER_CONTENT_DIGEST, OCI_SUBJECT};
use super::route::manifest_path;
use super::{parse_reference, validate_name, Call};

/// The manifest operations on a valid name and reference.
pub(super) async fn serve(
    call: &Call<'_>,
    body: Body,
    name: &str,
    reference: &str,
) -> Result<Reply, ApiError> {
    validate_name(name)?;
    let reference = match parse_reference(reference) {
        Ok(r) => r,
        // A tag that could never have been pushed names no manifest: reading or deleting
        // it is 404, as the spec's endpoint table (and its conformance suite) has it; only
        // a push of it is TAG_INVALID.
        Err(_) if call.method != Method::PUT && !reference.contains(':') => {
            let shown: String = reference.chars().take(128).collect();
            return Err(ApiError::new(
                Code::ManifestUnknown,
                format!("manifest unknown: '{shown}' is not a valid tag, so no image has it"),
            ));
        }
        Err(e) => return Err(e),
    };
    match call.method {
        Method::GET => get(call, name, &reference, false).await,
        Method::HEAD => get(call, name, &reference, true).await,
        Method::PUT => put(call, body, name, reference).await,
        Method::DELETE => {
            call.catalog()
                .delete(&call.access, name, &reference)
                .await?;
            Ok(Reply::empty(StatusCode::ACCEPTED))
        }
        _ => Err(call.method_not_allowed()),
    }
}

/// A stored manifest with its media type, digest and length (HEAD: without the body).
async fn get(
    call: &Call<'_>,
    name: &str,
    reference: &Reference,
    head: bool,
) -> Result<Reply, ApiError> {
    let stored = call
        .catalog()
        .manifest(&call.access, name, reference)
        .await?;
    if !accepts(&call.headers, &stored.media_type) {
        return Err(ApiError::new(
            Code::ManifestUnknown,
            format!(
                "the manifest is {}, which the request's Accept header does not list",
                stored.media_type
            ),
        ));
    }
    let reply = Reply::bytes(StatusCode::OK, &stored.media_type, stored.bytes)
        .header(DOCKER_CONTENT_DIGEST, &stored.digest);
    Ok(if head {
        reply.body(Body::empty())
    } else {
        reply
    })
}

/// Whether the request's `Accept` headers take `media_type`. No `Accept` takes anything,
/// as do `*/*` and `type/*`; parameters (q-values included) are ignored. A manifest of a
/// type the client did not list is answered as distribution does for an OCI manifest and
/// an old client: 404 MANIFEST_UNKNOWN, not 406, and no conversion to another type.
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    let mut listed = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .filter(|t| !t.is_empty())
        .peekable();
    if listed.peek().is_none() {
        return true;
    }
    let kind = media_type.split('/').next().unwrap_or(media_type);
    listed.any(|t| {
        t == "*/*"
            || t.eq_ignore_ascii_case(media_type)
            || t.strip_suffix("/*")
                .is_some_and(|k| k.eq_ignore_ascii_case(kind))
    })
}

/// Push: read (at most MAX_MANIFEST_BYTES), parse, check the digest a push by digest
/// names and everything the manifest refers to, then record it (tagged when pushed by tag).
async fn put(
    call: &Call<'_>,
    body: Body,
    name: &str,
    reference: Reference,
) -> Result<Reply, ApiError> {
    call.catalog().check_repository(&call.access, name).await?;
    let bytes = read_limited(body, MAX_MANIFEST_BYTES)
        .await
        .map_err(body_error)?;
    let manifest = Manifest::parse(call.header(CONTENT_TYPE), &bytes)?;
    let tag = match reference {
        Reference::Tag(tag) => Some(tag),
        Reference::Digest(d) if d == manifest.digest => None,
        Reference::Digest(d) => {
            return Err(ApiError::new(
                Code::DigestInvalid,
                format!("the manifest's digest is {}, not {d}", manifest.digest),
            ))
        }
    };
    check_references(call, name, &manifest).await?;
    call.catalog()
        .put_manifest(&call.access, name, tag.as_deref(), &manifest, &bytes)
        .await?;
    let reply = Reply::empty(StatusCode::CREATED)
        .header(LOCATION, manifest_path(name, &manifest.digest))
        .header(DOCKER_CONTENT_DIGEST, &manifest.digest);
    // The spec's sign that the referrers API will list it under its subject.
    Ok(match &manifest.subject {
        Some(subject) => reply.header(OCI_SUBJECT, subject),
        None => reply,
    })
}

/// A manifest over the limit is 413, as the spec suggests, with MANIFEST_INVALID (the
/// spec's SIZE_INVALID is about a length that does not match the content).
fn body_error(e: LimitedError) -> ApiError {
    match e {
        LimitedError::TooLarge => ApiError::new(
            Code::ManifestInvalid,
            format!("a manifest may have at most {MAX_MANIFEST_BYTES} bytes"),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE),
        LimitedError::Body(e) => ApiError::new(
            Code::ManifestInvalid,
            format!("the request body could not be read: {e}"),
        ),
    }
}

/// What a manifest refers to must be there: every blob of an image (stored), every
/// manifest of an index (in this repository). Blobs found are touched, so that the
/// garbage collector's grace period covers them until the manifest is recorded.
async fn check_references(
    call: &Call<'_>,
    name: &str,
    manifest: &Manifest,
) -> Result<(), ApiError> {
    match &manifest.refs {
        Refs::Image { .. } => {
            for digest in manifest.referenced() {
                if !call.blobs().touch(digest).await? {
                    return Err(missing("blob", digest));
                }
            }
        }
        Refs::Index { manifests } => {
            for digest in manifests {
                let reference = Reference::Digest(digest.clone());
                match call
                    .catalog()
                    .manifest(&call.access, name, &reference)
                    .await
                {
                    Ok(_) => {}
                    Err(CatalogError::ManifestUnknown(_)) => {
                        return Err(missing("manifest", digest))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(())
}

/// MANIFEST_BLOB_UNKNOWN, naming what is missing in its detail.
fn missing(what: &str, digest: &Digest) -> ApiError {
    ApiError::new(
        Code::ManifestBlobUnknown,
        format!("the manifest refers to {what} {digest}, which this repository does not have"),
    )
    .with_detail(json!({ "digest": digest.to_string() }))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn accept_headers_are_negotiated_simply() {
        let oci = "application/vnd.oci.image.manifest.v1+json";
        let with = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(ACCEPT, HeaderValue::from_str(v).unwrap());
            }
            accepts(&h, oci)
        };
        assert!(with(&[]));
        assert!(with(&["*/*"]));
        assert!(with(&["application/*"]));
        assert!(with(&[
            "application/vnd.docker.distribution.manifest.v2+json",
            &format!("{oci}; q=0.5"),
        ]));
        assert!(with(&[&format!(
            "application/vnd.docker.distribution.manifest.v2+json, {oci}"
        )]));
        assert!(!with(&[
            "application/vnd.docker.distribution.manifest.v2+json"
        ]));
        assert!(!with(&["text/*"]));
    }
}

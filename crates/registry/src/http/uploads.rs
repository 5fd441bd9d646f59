//! `/v2/NAME/blobs/uploads/...`: pushing blobs. A POST starts an upload (202), pushes a
//! whole blob at once (`?digest=`, 201) or mounts one the registry already has
//! (`?mount=`, 201); PATCHes append chunks at the upload's current size (416 otherwise,
//! saying where it stands); a PUT with `?digest=` finishes it, after an optional last
//! chunk. Bodies stream into the blob store, which checks the digest before the blob
//! exists anywhere.

use axum::body::Body;
use http::header::{CONTENT_LENGTH, CONTENT_RANGE, LOCATION, RANGE};
use http::{Method, StatusCode};

use crate::blobs::{BlobError, UploadId};
use crate::catalog::CatalogError;
use crate::digest::Digest;

use super::body::BodyReader;
use super::error::{ApiError, Code};
use super::range::{parse_content_range, upload_range};
use super::reply::{Reply, DOCKER_CONTENT_DIGEST, DOCKER_UPLOAD_UUID};
use super::route::{blob_path, upload_path};
use super::{parse_digest, validate_name, Call};

/// `POST /v2/NAME/blobs/uploads/`: a mount, a monolithic push, or a new upload.
pub(super) async fn start(call: &Call<'_>, body: Body, name: &str) -> Result<Reply, ApiError> {
    if call.method != Method::POST {
        return Err(call.method_not_allowed());
    }
    call.repository(name).await?;
    if let Some(algorithm) = call.param("digest-algorithm").filter(|a| a != "sha256") {
        return Err(ApiError::new(
            Code::Unsupported,
            format!("digest algorithm '{algorithm}' is not supported; use sha256"),
        ));
    }
    if let Some(mount) = call.param("mount") {
        if let Some(reply) = mount_blob(call, name, &parse_digest(&mount)?).await? {
            return Ok(reply);
        }
    } else if let Some(digest) = call.param("digest") {
        let digest = parse_digest(&digest)?;
        call.blobs().put(&digest, BodyReader::new(body)).await?;
        return Ok(created(name, &digest));
    }
    let id = call.blobs().start_upload().await?;
    Ok(progress(StatusCode::ACCEPTED, name, &id, 0))
}

/// A cross-repository mount. Blobs are shared by every repository, so mounting one that is
/// stored is only telling where it is; `from`, when given, must be a repository the caller
/// can see. Otherwise `None`: the spec's fallback is an ordinary upload (202).
async fn mount_blob(
    call: &Call<'_>,
    name: &str,
    digest: &Digest,
) -> Result<Option<Reply>, ApiError> {
    if let Some(from) = call.param("from") {
        if validate_name(&from).is_err() {
            return Ok(None);
        }
        match call.catalog().check_repository(&call.access, &from).await {
            Ok(()) => {}
            Err(CatalogError::NameUnknown(_) | CatalogError::Denied(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    if !call.blobs().touch(digest).await? {
        return Ok(None);
    }
    Ok(Some(created(name, digest)))
}

/// 201 for a blob now stored: where to pull it, and its digest.
fn created(name: &str, digest: &Digest) -> Reply {
    Reply::empty(StatusCode::CREATED)
        .header(LOCATION, blob_path(name, digest))
        .header(DOCKER_CONTENT_DIGEST, digest)
}

/// Where an upload stands: its location, its bytes so far and its id.
fn progress(status: StatusCode, name: &str, id: &UploadId, size: u64) -> Reply {
    Reply::empty(status)
        .header(LOCATION, upload_path(name, id))
        .header(RANGE, upload_range(size))
        .header(DOCKER_UPLOAD_UUID, id.as_str())
}

/// The operations on an upload in progress.
pub(super) async fn serve(
    call: &Call<'_>,
    body: Body,
    name: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    call.repository(name).await?;
    let id = UploadId::parse(id).ok_or_else(|| BlobError::UploadUnknown(id.to_string()))?;
    match call.method {
        Method::GET => {
            let size = call.blobs().upload_size(&id).await?;
            Ok(progress(StatusCode::NO_CONTENT, name, &id, size))
        }
        Method::PATCH => {
            let start = chunk_start(call)?;
            let size = call
                .blobs()
                .append(&id, start, BodyReader::new(body))
                .await
                .map_err(|e| out_of_order(e, name, &id))?;
            Ok(progress(StatusCode::ACCEPTED, name, &id, size))
        }
        Method::PUT => finish(call, body, name, &id).await,
        Method::DELETE => match call.blobs().cancel(&id).await? {
            true => Ok(Reply::empty(StatusCode::NO_CONTENT)),
            false => Err(BlobError::UploadUnknown(id.as_str().to_string()).into()),
        },
        _ => Err(call.method_not_allowed()),
    }
}

/// `PUT ...?digest=`: the last chunk (appended where its `Content-Range` says, if it
/// says), then the whole upload checked against the digest and stored as the blob.
async fn finish(call: &Call<'_>, body: Body, name: &str, id: &UploadId) -> Result<Reply, ApiError> {
    let digest = call.param("digest").ok_or_else(|| {
        ApiError::new(
            Code::DigestInvalid,
            "finishing an upload needs its ?digest=",
        )
    })?;
    let digest = parse_digest(&digest)?;
    let mut body = BodyReader::new(body);
    if let Some(start) = chunk_start(call)? {
        call.blobs()
            .append(id, Some(start), body)
            .await
            .map_err(|e| out_of_order(e, name, id))?;
        body = BodyReader::new(Body::empty());
    }
    call.blobs()
        .finish(id, &digest, body)
        .await
        .map_err(|e| out_of_order(e, name, id))?;
    Ok(created(name, &digest))
}

/// Where a chunk says it starts (`Content-Range`), if it says. A header that is not a range,
/// or a range whose length is not the body's `Content-Length`, is BLOB_UPLOAD_INVALID
/// (checked before a byte is appended).
fn chunk_start(call: &Call<'_>) -> Result<Option<u64>, ApiError> {
    let Some(value) = call.headers.get(CONTENT_RANGE) else {
        return Ok(None);
    };
    let invalid = |m: String| ApiError::new(Code::BlobUploadInvalid, m);
    let (start, end) = value
        .to_str()
        .ok()
        .and_then(parse_content_range)
        .ok_or_else(|| invalid("Content-Range must be <start>-<end>, inclusive".into()))?;
    let length = call
        .header(CONTENT_LENGTH)
        .and_then(|l| l.trim().parse::<u64>().ok());
    match length {
        Some(n) if Some(n) != (end - start).checked_add(1) => Err(invalid(format!(
            "Content-Range {start}-{end} is {} bytes but the body has {n}",
            (end - start).saturating_add(1)
        ))),
        _ => Ok(Some(start)),
    }
}

/// A chunk not at the upload's size is 416 with the upload's location and range, from
/// which the client resumes; any other error as usual.
fn out_of_order(e: BlobError, name: &str, id: &UploadId) -> ApiError {
    match e {
        BlobError::RangeInvalid { size, .. } => ApiError::from(e)
            .with_header(LOCATION, upload_path(name, id))
            .with_header(RANGE, upload_range(size))
            .with_header(DOCKER_UPLOAD_UUID, id.as_str()),
        e => e.into(),
    }
}

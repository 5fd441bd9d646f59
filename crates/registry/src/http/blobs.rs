//! `/v2/NAME/blobs/DIGEST`: pulling blobs (whole or one byte range, streamed from the
//! file) and deleting them.
//!
//! Blobs are stored once for every repository, so the repository in the path is only
//! checked to exist: a client that knows a digest pulls it through any repository of its
//! region. Deleting is refused while any image of any repository refers to the blob
//! (deleting through one repository must not break another's images); the garbage
//! collector removes blobs once nothing refers to them.

use http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use http::{Method, StatusCode};

use crate::digest::Digest;

use super::body::file_body;
use super::error::{ApiError, Code};
use super::range::{content_range, ByteRange};
use super::reply::{Reply, DOCKER_CONTENT_DIGEST};
use super::{parse_digest, Call};

/// The blob operations on an existing repository and a valid digest.
pub(super) async fn serve(call: &Call<'_>, name: &str, digest: &str) -> Result<Reply, ApiError> {
    call.repository(name).await?;
    let digest = parse_digest(digest)?;
    match call.method {
        Method::GET => get(call, &digest, false).await,
        Method::HEAD => get(call, &digest, true).await,
        Method::DELETE => delete(call, &digest).await,
        _ => Err(call.method_not_allowed()),
    }
}

/// BLOB_UNKNOWN, for a blob not stored.
fn unknown(digest: &Digest) -> ApiError {
    ApiError::new(Code::BlobUnknown, format!("blob {digest} is unknown"))
        .with_detail(serde_json::json!({ "digest": digest.to_string() }))
}

/// A blob, or the one range of it a GET's `Range` asks for (HEAD: the headers only). The
/// blob is touched: a client that has just seen it may push a manifest naming it next.
async fn get(call: &Call<'_>, digest: &Digest, head: bool) -> Result<Reply, ApiError> {
    let Some((file, len)) = call.blobs().open_blob(digest).await? else {
        return Err(unknown(digest));
    };
    call.registry.touch(digest).await;
    let reply = Reply::empty(StatusCode::OK)
        .header(CONTENT_TYPE, "application/octet-stream")
        .header(DOCKER_CONTENT_DIGEST, digest)
        .header(ACCEPT_RANGES, "bytes");
    let range = call
        .header(RANGE)
        .and_then(ByteRange::parse)
        .filter(|_| !head);
    let (reply, first, count) = match range {
        None => (reply, 0, len),
        Some(range) => {
            let Some((first, last)) = range.resolve(len) else {
                return Err(unsatisfiable(len));
            };
            let partial = reply
                .status(StatusCode::PARTIAL_CONTENT)
                .header(CONTENT_RANGE, content_range(first, last, len));
            (partial, first, last - first + 1)
        }
    };
    let reply = reply.header(CONTENT_LENGTH, count);
    if head {
        return Ok(reply);
    }
    let body = file_body(file, first, count)
        .await
        .map_err(|e| ApiError::internal("reading a blob", &e))?;
    Ok(reply.body(body))
}

/// 416 for a range that selects nothing, with the blob's length as RFC 9110 asks. The
/// spec has no code for it; SIZE_INVALID is the nearest (a length the content does not
/// have).
fn unsatisfiable(len: u64) -> ApiError {
    ApiError::new(
        Code::SizeInvalid,
        format!("the range selects none of the blob's {len} bytes"),
    )
    .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
    .with_header(CONTENT_RANGE, format!("bytes */{len}"))
}

/// Delete a blob no image refers to (405 UNSUPPORTED for one an image still uses).
async fn delete(call: &Call<'_>, digest: &Digest) -> Result<Reply, ApiError> {
    if call.blobs().stat(digest).await?.is_none() {
        return Err(unknown(digest));
    }
    if call.catalog().referenced_blobs().await?.contains(digest) {
        return Err(ApiError::unsupported(
            format!(
                "blob {digest} is part of an image; delete the image's manifest and the \
                 registry removes blobs no image uses"
            ),
            StatusCode::METHOD_NOT_ALLOWED,
        ));
    }
    if !call.blobs().delete(digest).await? {
        return Err(unknown(digest));
    }
    Ok(Reply::empty(StatusCode::ACCEPTED))
}

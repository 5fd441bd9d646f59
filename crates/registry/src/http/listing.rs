//! `/v2/NAME/tags/list` and `/v2/_catalog`: a repository's tags and the region's
//! repositories, paginated alike (`page.rs`); `/v2/NAME/referrers/DIGEST`: the manifests
//! whose subject is DIGEST, as an OCI index.

use http::header::LINK;
use http::StatusCode;
use serde_json::{json, Value};

use super::error::ApiError;
use super::page::Page;
use super::reply::{Reply, OCI_FILTERS_APPLIED};
use super::route::{tags_path, CATALOG_PATH};
use super::{parse_digest, validate_name, Call};
use crate::manifest::OCI_INDEX;

/// `{"repositories": [...]}`: the repositories of the caller's region.
pub(super) async fn catalog(call: &Call<'_>) -> Result<Reply, ApiError> {
    call.read_only()?;
    let page = Page::parse(call.query.as_deref())?;
    let names = call.catalog().repositories(&call.access).await?;
    Ok(listing(
        &page,
        names,
        CATALOG_PATH,
        |entries| json!({ "repositories": entries }),
    ))
}

/// `{"name": NAME, "tags": [...]}`: a repository's tags.
pub(super) async fn tags(call: &Call<'_>, name: &str) -> Result<Reply, ApiError> {
    call.read_only()?;
    validate_name(name)?;
    let page = Page::parse(call.query.as_deref())?;
    let tags = call.catalog().tags(&call.access, name).await?;
    Ok(listing(
        &page,
        tags,
        &tags_path(name),
        |entries| json!({ "name": name, "tags": entries }),
    ))
}

/// One page of `items` shaped by `shape`, linking to the next page under `path` when
/// entries remain.
fn listing(
    page: &Page,
    items: Vec<String>,
    path: &str,
    shape: impl FnOnce(Vec<String>) -> Value,
) -> Reply {
    let (entries, next) = page.apply(items);
    let reply = Reply::json(StatusCode::OK, &shape(entries));
    match next {
        Some(last) => reply.header(LINK, page.next_link(path, &last)),
        None => reply,
    }
}

/// An OCI index of the manifests whose `subject` is `digest` (an empty one when there are
/// none, whether or not the subject exists), filtered by `artifactType` when asked.
pub(super) async fn referrers(
    call: &Call<'_>,
    name: &str,
    digest: &str,
) -> Result<Reply, ApiError> {
    call.read_only()?;
    validate_name(name)?;
    let subject = parse_digest(digest)?;
    let wanted = call.param("artifactType");
    let referrers = call
        .catalog()
        .referrers(&call.access, name, &subject)
        .await?;
    let manifests: Vec<Value> = referrers
        .into_iter()
        .filter(|r| wanted.is_none() || r.artifact_type == wanted)
        .map(|r| {
            let mut d =
                json!({"mediaType": r.media_type, "digest": r.digest.to_string(), "size": r.size});
            if let Some(t) = r.artifact_type {
                d["artifactType"] = json!(t);
            }
            if !r.annotations.is_empty() {
                d["annotations"] = json!(r.annotations);
            }
            d
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    let body = serde_json::to_vec(&index).unwrap_or_default();
    let reply = Reply::bytes(StatusCode::OK, OCI_INDEX, body);
    Ok(match wanted {
        Some(_) => reply.header(OCI_FILTERS_APPLIED, "artifactType"),
        None => reply,
    })
}

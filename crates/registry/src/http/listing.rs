//! `/v2/NAME/tags/list` and `/v2/_catalog`: a repository's tags and the region's
//! repositories, paginated alike (`page.rs`).

use http::header::LINK;
use http::StatusCode;
use serde_json::{json, Value};

use super::error::ApiError;
use super::page::Page;
use super::reply::Reply;
use super::route::{tags_path, CATALOG_PATH};
use super::{validate_name, Call};

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

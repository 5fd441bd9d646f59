//! Building answers without a way to panic: header values come from validated names,
//! digests and ids, but a value that would not be a valid header is dropped (and logged)
//! rather than unwrapped.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

pub(crate) const DOCKER_CONTENT_DIGEST: HeaderName =
    HeaderName::from_static("docker-content-digest");
pub(crate) const DOCKER_UPLOAD_UUID: HeaderName = HeaderName::from_static("docker-upload-uuid");
/// On a manifest push with a `subject`: the subject's digest (the referrers API lists it).
pub(crate) const OCI_SUBJECT: HeaderName = HeaderName::from_static("oci-subject");
/// On a referrers answer: the filters that were applied.
pub(crate) const OCI_FILTERS_APPLIED: HeaderName = HeaderName::from_static("oci-filters-applied");
pub(crate) const API_VERSION: HeaderName =
    HeaderName::from_static("docker-distribution-api-version");

/// A status, headers and a body.
pub(crate) struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Body,
}

impl Reply {
    /// An answer with no body (`Content-Length: 0`).
    pub(crate) fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: Body::empty(),
        }
        .header(CONTENT_LENGTH, 0)
    }

    /// An answer whose body is `value` as JSON.
    pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
        Reply::bytes(status, "application/json", value.to_string().into_bytes())
    }

    /// An answer whose body is `bytes` of type `content_type`.
    pub(crate) fn bytes(status: StatusCode, content_type: &str, bytes: Vec<u8>) -> Reply {
        Reply::empty(status)
            .header(CONTENT_LENGTH, bytes.len())
            .header(CONTENT_TYPE, content_type)
            .body(Body::from(bytes))
    }

    /// Set a header (replacing one of that name).
    pub(crate) fn header(mut self, name: HeaderName, value: impl ToString) -> Reply {
        let value = value.to_string();
        match HeaderValue::try_from(value.as_str()) {
            Ok(v) => {
                self.headers.insert(name, v);
            }
            Err(_) => tracing::warn!(%name, value, "registry: dropped an invalid header value"),
        }
        self
    }

    pub(crate) fn status(mut self, status: StatusCode) -> Reply {
        self.status = status;
        self
    }

    /// Replace the body, keeping the headers: how a HEAD answer keeps the `Content-Length`
    /// of what a GET would send.
    pub(crate) fn body(mut self, body: Body) -> Reply {
        self.body = body;
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = Response::new(self.body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

//! The registry's error answers, chosen in this one place: every error of the layers below
//! (catalog, blob store, digests, manifests, names) becomes one of the spec's codes with its
//! status, as `{"errors":[{"code","message","detail"}]}`.
//!
//! A 4xx answer uses only the spec's codes, except TAG_INVALID: ECR answers it (400) for a
//! tag an IMMUTABLE repository already has, and clients print it as is. 5xx answers use
//! distribution's UNAVAILABLE (503, retriable) and UNKNOWN (500, our fault, details only in
//! the log).

use http::{HeaderName, StatusCode};
use serde_json::{json, Value};

use crate::blobs::BlobError;
use crate::catalog::CatalogError;
use crate::digest::DigestError;
use crate::manifest::ManifestError;

use super::reply::Reply;

/// An error code of the spec (plus TAG_INVALID, UNAVAILABLE and UNKNOWN, see the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TagInvalid,
    Unavailable,
    Unknown,
}

impl Code {
    /// The code as the wire spells it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TagInvalid => "TAG_INVALID",
            Code::Unavailable => "UNAVAILABLE",
            Code::Unknown => "UNKNOWN",
        }
    }

    /// The status a code is answered with unless the operation names another (UNSUPPORTED
    /// is 405 for a method, 404 for a route; a chunk out of order is 416).
    fn status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::BlobUploadInvalid
            | Code::DigestInvalid
            | Code::ManifestBlobUnknown
            | Code::ManifestInvalid
            | Code::NameInvalid
            | Code::SizeInvalid
            | Code::TagInvalid
            | Code::Unsupported => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Denied => StatusCode::FORBIDDEN,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// One error answer: a code, its status, a message for people, optional structured detail
/// and the headers the operation adds (a 416 says where the upload stands).
#[derive(Debug)]
pub(crate) struct ApiError {
    code: Code,
    status: StatusCode,
    message: String,
    detail: Value,
    headers: Vec<(HeaderName, String)>,
}

impl ApiError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            status: code.status(),
            message: message.into(),
            detail: Value::Null,
            headers: Vec::new(),
        }
    }

    /// Answer with `status` instead of the code's usual one.
    pub(crate) fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    pub(crate) fn with_detail(mut self, detail: Value) -> ApiError {
        self.detail = detail;
        self
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> ApiError {
        self.headers.push((name, value.into()));
        self
    }

    /// Our fault (storage, a task that died): logged in full, answered opaquely as a 500.
    pub(crate) fn internal(what: &str, error: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(%error, "registry: {what} failed");
        ApiError::new(Code::Unknown, "internal error; see the registry's log")
    }

    /// The request names an operation this registry does not serve.
    pub(crate) fn unsupported(message: impl Into<String>, status: StatusCode) -> ApiError {
        ApiError::new(Code::Unsupported, message).with_status(status)
    }

    /// The answer as it goes on the wire.
    pub(crate) fn into_reply(self) -> Reply {
        let body = json!({"errors": [{
            "code": self.code.as_str(),
            "message": self.message,
            "detail": self.detail,
        }]});
        self.headers
            .into_iter()
            .fold(Reply::json(self.status, &body), |reply, (name, value)| {
                reply.header(name, value)
            })
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> ApiError {
        let code = match &e {
            CatalogError::NameUnknown(_) => Code::NameUnknown,
            CatalogError::ManifestUnknown(_) => Code::ManifestUnknown,
            CatalogError::TagInvalid(_) => Code::TagInvalid,
            CatalogError::ManifestBlobUnknown(_) => Code::ManifestBlobUnknown,
            CatalogError::Denied(_) => Code::Denied,
            CatalogError::Unavailable(_) => Code::Unavailable,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<DigestError> for ApiError {
    /// The spec asks for 400 for a malformed digest and for an unsupported algorithm alike.
    fn from(e: DigestError) -> ApiError {
        let code = match &e {
            DigestError::Malformed(_) => Code::DigestInvalid,
            DigestError::Unsupported(_) => Code::Unsupported,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<ManifestError> for ApiError {
    /// An unknown media type is UNSUPPORTED, answered 400 like an unsupported digest
    /// algorithm; anything else wrong with a manifest is MANIFEST_INVALID.
    fn from(e: ManifestError) -> ApiError {
        let code = match &e {
            ManifestError::Unsupported(_) => Code::Unsupported,
            ManifestError::Invalid(_) => Code::ManifestInvalid,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<BlobError> for ApiError {
    /// RangeInvalid is answered by the upload operations themselves (its 416 carries the
    /// upload's location); this is the answer when no operation knows better.
    fn from(e: BlobError) -> ApiError {
        match &e {
            BlobError::UploadUnknown(_) => ApiError::new(Code::BlobUploadUnknown, e.to_string()),
            BlobError::RangeInvalid { .. } => ApiError::new(Code::BlobUploadInvalid, e.to_string())
                .with_status(StatusCode::RANGE_NOT_SATISFIABLE),
            BlobError::DigestMismatch { expected, actual } => {
                ApiError::new(Code::DigestInvalid, e.to_string()).with_detail(
                    json!({"expected": expected.to_string(), "actual": actual.to_string()}),
                )
            }
            BlobError::TooLarge { .. } => ApiError::new(Code::SizeInvalid, e.to_string()),
            BlobError::Io(io) if is_body_error(io) => ApiError::new(
                Code::BlobUploadInvalid,
                format!("the request body could not be read: {io}"),
            ),
            BlobError::Io(io) => ApiError::internal("blob storage", io),
        }
    }
}

/// Whether an I/O error is the client's body failing (a dropped connection), which is no
/// fault of ours: [`super::body::BodyReader`] wraps those errors in `axum::Error`.
fn is_body_error(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<axum::Error>())
}

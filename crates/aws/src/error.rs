//! The error every AWS operation can end with, independent of protocol. How it is written
//! to the wire (JSON `__type` or XML `<ErrorResponse>`) is decided in one place,
//! `protocol::render_error`.

use http::StatusCode;

/// An AWS error: the code SDKs map to an exception class, a message for the user, and
/// the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub code: String,
    pub message: String,
    pub status: StatusCode,
    /// Members of the error shape besides its message (Cloud Map's
    /// `NamespaceAlreadyExists` carries `NamespaceId`), written next to it in JSON errors.
    pub fields: Vec<(String, String)>,
    /// For services that moved from the query protocol to JSON (CloudWatch): the old
    /// query code, sent in the `x-amzn-query-error` header (`Code;Sender`), which SDKs
    /// prefer to `__type` for such services.
    pub query_code: Option<String>,
}

impl AwsError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError {
            code: code.into(),
            message: message.into(),
            status,
            fields: Vec::new(),
            query_code: None,
        }
    }

    /// The error with the query-protocol code of a query-compatible JSON service.
    pub fn with_query_code(mut self, code: impl Into<String>) -> Self {
        self.query_code = Some(code.into());
        self
    }

    /// The error with one more member of its shape (JSON protocols only).
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// A 400 error caused by the request (the usual case for service exceptions).
    pub fn client(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A 500 error that is our fault; SDKs retry these.
    pub fn server(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, code, message)
    }

    /// The body could not be decoded as the operation's input.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::client("SerializationException", message)
    }

    /// The service does not know this operation.
    pub fn unknown_operation(operation: &str) -> Self {
        let message = if operation.is_empty() {
            "No operation was named in the request.".to_string()
        } else {
            format!("The operation {operation} is not supported by Flotilla.")
        };
        Self::client("UnknownOperationException", message)
    }

    /// Whether the error is the server's fault (`Type` Receiver in XML errors).
    pub fn is_server_fault(&self) -> bool {
        self.status.is_server_error()
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AwsError {}

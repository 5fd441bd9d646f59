//! The AWS protocols: how a request names its operation and how answers and errors are
//! written back. Every response, success or error, is produced by [`render`] or
//! [`render_error`], so the wire form of an error is decided in exactly one place.

use axum::body::Body;
use axum::response::Response;
use http::request::Parts;
use http::{HeaderValue, StatusCode};

use crate::xml::XmlWriter;
use crate::{AwsError, Output};

/// A protocol a service speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `application/x-amz-json-1.0`, operation in `X-Amz-Target`.
    Json10,
    /// `application/x-amz-json-1.1`, operation in `X-Amz-Target`.
    Json11,
    /// Form-encoded `Action=...&Version=...`, XML answers.
    Query,
    /// EC2's variant of the query protocol: the same form-encoded input (lists as
    /// `Name.N`), answers without a `Result` wrapper and with a `requestId` member, errors
    /// as `<Response><Errors><Error>`.
    Ec2,
    /// Operation chosen by method and path, XML bodies.
    RestXml,
}

impl Protocol {
    /// The protocol a request appears to use, for answering it before its service is known
    /// (a missing signature, an unknown service, an oversized body).
    pub fn guess(parts: &Parts) -> Protocol {
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if parts.headers.contains_key("x-amz-target") || content_type.contains("amz-json-1.1") {
            Protocol::Json11
        } else if content_type.contains("amz-json-1.0") {
            Protocol::Json10
        } else if content_type.starts_with("application/x-www-form-urlencoded")
            || parts.uri.query().is_some_and(|q| q.contains("Action="))
        {
            Protocol::Query
        } else {
            Protocol::RestXml
        }
    }

    fn is_json(self) -> bool {
        matches!(self, Protocol::Json10 | Protocol::Json11)
    }

    fn json_content_type(self) -> &'static str {
        match self {
            Protocol::Json10 => "application/x-amz-json-1.0",
            _ => "application/x-amz-json-1.1",
        }
    }
}

/// The name JSON-protocol SDKs know for an authentication error code, which the query
/// protocol spells differently.
fn json_code(code: &str) -> &str {
    match code {
        "InvalidClientTokenId" => "UnrecognizedClientException",
        "SignatureDoesNotMatch" => "InvalidSignatureException",
        "MissingAuthenticationToken" => "MissingAuthenticationTokenException",
        "IncompleteSignature" => "IncompleteSignatureException",
        "MalformedQueryString" => "SerializationException",
        "RequestEntityTooLarge" => "RequestEntityTooLargeException",
        "AccessDenied" => "AccessDeniedException",
        other => other,
    }
}

fn with_request_id(mut resp: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v.clone());
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    resp
}

fn response(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

/// Write a successful answer of `operation` in `protocol`.
pub fn render(
    protocol: Protocol,
    operation: &str,
    xmlns: &str,
    out: Output,
    request_id: &str,
) -> Response {
    let resp = match (protocol, out) {
        (_, Output::Http(r)) => r.map(Body::from),
        (_, Output::Json(value)) => {
            let body = serde_json::to_vec(&value).unwrap_or_else(|_| b"{}".to_vec());
            response(StatusCode::OK, protocol.json_content_type(), body)
        }
        (Protocol::Query, Output::Xml(inner)) => {
            let mut w = XmlWriter::new();
            w.root(&format!("{operation}Response"), xmlns, |w| {
                w.raw(&format!("<{operation}Result>{inner}</{operation}Result>"));
                w.node("ResponseMetadata", |w| {
                    w.leaf("RequestId", request_id);
                });
            });
            response(StatusCode::OK, "text/xml", w.finish())
        }
        (Protocol::Ec2, Output::Xml(inner)) => {
            let mut w = XmlWriter::new();
            w.root(&format!("{operation}Response"), xmlns, |w| {
                w.leaf("requestId", request_id);
                w.raw(&inner);
            });
            response(StatusCode::OK, "text/xml", w.finish())
        }
        (_, Output::Xml(doc)) => response(
            StatusCode::OK,
            "application/xml",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{doc}"),
        ),
    };
    with_request_id(resp, request_id)
}

/// Write an error in `protocol`'s native form: a JSON body with `__type` and `message`
/// plus the `x-amzn-ErrorType` header, or an XML `<ErrorResponse>`.
pub fn render_error(protocol: Protocol, xmlns: &str, err: &AwsError, request_id: &str) -> Response {
    let resp = if protocol.is_json() {
        let code = json_code(&err.code);
        let mut body = serde_json::json!({ "__type": code, "message": err.message });
        for (name, value) in &err.fields {
            body[name.as_str()] = serde_json::Value::from(value.as_str());
        }
        let mut resp = response(err.status, protocol.json_content_type(), body.to_string());
        if let Ok(v) = HeaderValue::from_str(code) {
            resp.headers_mut().insert("x-amzn-errortype", v);
        }
        if let Some(q) = &err.query_code {
            let fault = if err.is_server_fault() {
                "Receiver"
            } else {
                "Sender"
            };
            if let Ok(v) = HeaderValue::from_str(&format!("{q};{fault}")) {
                resp.headers_mut().insert("x-amzn-query-error", v);
            }
        }
        resp
    } else if protocol == Protocol::Ec2 {
        let mut w = XmlWriter::new();
        w.node("Response", |w| {
            w.node("Errors", |w| {
                w.node("Error", |w| {
                    w.leaf("Code", &err.code);
                    w.leaf("Message", &err.message);
                });
            });
            w.leaf("RequestID", request_id);
        });
        response(err.status, "text/xml", w.finish())
    } else {
        let mut w = XmlWriter::new();
        let fill = |w: &mut XmlWriter| {
            w.node("Error", |w| {
                w.leaf(
                    "Type",
                    if err.is_server_fault() {
                        "Receiver"
                    } else {
                        "Sender"
                    },
                );
                w.leaf("Code", &err.code);
                w.leaf("Message", &err.message);
            });
            w.leaf("RequestId", request_id);
        };
        if xmlns.is_empty() {
            w.node("ErrorResponse", fill);
        } else {
            w.root("ErrorResponse", xmlns, fill);
        }
        response(err.status, "text/xml", w.finish())
    };
    with_request_id(resp, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_compatible_errors_carry_their_query_code() {
        let err = AwsError::client("InvalidParameterValueException", "bad")
            .with_query_code("InvalidParameterValue");
        let resp = render_error(Protocol::Json10, "", &err, "r1");
        let h = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        assert_eq!(
            h("x-amzn-query-error").as_deref(),
            Some("InvalidParameterValue;Sender")
        );
        assert_eq!(
            h("x-amzn-errortype").as_deref(),
            Some("InvalidParameterValueException")
        );
        let plain = render_error(Protocol::Json10, "", &AwsError::client("X", "m"), "r2");
        assert!(plain.headers().get("x-amzn-query-error").is_none());
    }

    async fn body(resp: Response) -> String {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn ec2_answers_without_a_result_wrapper_and_errors_in_a_response() {
        let ok = render(
            Protocol::Ec2,
            "DeleteVpc",
            "http://ec2.amazonaws.com/doc/2016-11-15/",
            Output::Xml("<return>true</return>".into()),
            "r1",
        );
        let text = body(ok).await;
        assert!(text.contains("<DeleteVpcResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r1</requestId><return>true</return></DeleteVpcResponse>"), "{text}");
        let err = AwsError::client("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist");
        let resp = render_error(Protocol::Ec2, "", &err, "r2");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let text = body(resp).await;
        assert!(text.contains("<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>The vpc ID &apos;vpc-1&apos; does not exist</Message></Error></Errors><RequestID>r2</RequestID></Response>"), "{text}");
    }
}

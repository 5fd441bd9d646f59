//! The console's calls: `{service, operation, input}` from the page, sent through the API
//! gateway as a SigV4-signed request of the person signed in, in the wire protocol the
//! service speaks, and the answer given back as JSON. The gateway verifies, authorises
//! and validates it exactly as it does a call of the AWS CLI with the same key: the
//! console has no way around either.

use bytes::Bytes;
use flotilla_aws::client::{signed_request, SigningKey};
use http::StatusCode;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

use crate::xml;

/// How a service is spoken to.
#[derive(Debug, Clone, Copy)]
enum Wire {
    /// AWS JSON (`1.0` or `1.1`) with `X-Amz-Target: {target}.{operation}`.
    Json {
        version: &'static str,
        target: &'static str,
    },
    /// The query protocol at an API version.
    Query { version: &'static str },
    /// Route 53's REST-XML, for the read operations the console uses.
    Route53,
}

/// The services the console calls: its name for each, the signing name, the wire.
const SERVICES: &[(&str, &str, Wire)] = &[
    (
        "ecs",
        "ecs",
        Wire::Json {
            version: "1.1",
            target: "AmazonEC2ContainerServiceV20141113",
        },
    ),
    (
        "ecr",
        "ecr",
        Wire::Json {
            version: "1.1",
            target: "AmazonEC2ContainerRegistry_V20150921",
        },
    ),
    (
        "logs",
        "logs",
        Wire::Json {
            version: "1.1",
            target: "Logs_20140328",
        },
    ),
    (
        "servicediscovery",
        "servicediscovery",
        Wire::Json {
            version: "1.1",
            target: "Route53AutoNaming_v20170314",
        },
    ),
    (
        "cloudwatch",
        "monitoring",
        Wire::Json {
            version: "1.0",
            target: "GraniteServiceVersion20100801",
        },
    ),
    (
        "elbv2",
        "elasticloadbalancing",
        Wire::Query {
            version: "2015-12-01",
        },
    ),
    (
        "sts",
        "sts",
        Wire::Query {
            version: "2011-06-15",
        },
    ),
    ("route53", "route53", Wire::Route53),
];

/// Largest answer the console passes on.
const MAX_ANSWER: usize = 16 << 20;

/// Why a call failed, as the page is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl Failure {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Failure {
        Failure {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn json(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

/// Query parameters for `value` under `prefix`: objects by `.`, lists as `.member.N`.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&join(k), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&join(&format!("member.{}", i + 1)), v, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Bool(b) => out.push((prefix.to_string(), b.to_string())),
        Value::Number(n) => out.push((prefix.to_string(), n.to_string())),
        Value::Null => {}
    }
}

/// A hosted zone id from `input[field]`, with or without `/hostedzone/`.
fn zone_id(input: &Value, field: &str) -> Result<String, Failure> {
    let raw = input[field].as_str().unwrap_or_default();
    let id = raw.trim_start_matches("/hostedzone/");
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            format!("{field} must be a hosted zone id"),
        ));
    }
    Ok(id.to_string())
}

/// The method, path, headers and body of one call.
type Framed = (&'static str, String, Vec<(&'static str, String)>, Bytes);

fn frame(wire: Wire, operation: &str, input: &Value) -> Result<Framed, Failure> {
    let not_here = || {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "UnknownOperation",
            format!("the console does not call {operation}"),
        )
    };
    if operation.is_empty() || !operation.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(not_here());
    }
    Ok(match wire {
        Wire::Json { version, target } => (
            "POST",
            "/".into(),
            vec![
                ("content-type", format!("application/x-amz-json-{version}")),
                ("x-amz-target", format!("{target}.{operation}")),
            ],
            Bytes::from(input.to_string()),
        ),
        Wire::Query { version } => {
            let mut params = Vec::new();
            flatten("", input, &mut params);
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", operation)
                .append_pair("Version", version);
            for (k, v) in &params {
                form.append_pair(k, v);
            }
            (
                "POST",
                "/".into(),
                vec![(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                )],
                Bytes::from(form.finish()),
            )
        }
        Wire::Route53 => {
            let path = match operation {
                "ListHostedZones" => "/2013-04-01/hostedzone".to_string(),
                "GetHostedZone" => format!("/2013-04-01/hostedzone/{}", zone_id(input, "Id")?),
                "ListResourceRecordSets" => format!(
                    "/2013-04-01/hostedzone/{}/rrset",
                    zone_id(input, "HostedZoneId")?
                ),
                _ => return Err(not_here()),
            };
            ("GET", path, Vec::new(), Bytes::new())
        }
    })
}

/// Call `operation` of `service` with `input`, signed by `key`, through `api` (the
/// gateway's router); the answer as JSON.
pub async fn call(
    api: &axum::Router,
    key: &SigningKey<'_>,
    region: &str,
    (service, operation): (&str, &str),
    input: &Value,
) -> Result<Value, Failure> {
    let Some((_, signing, wire)) = SERVICES.iter().find(|(name, _, _)| *name == service) else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "UnknownService",
            format!("the console does not call the service '{service}'"),
        ));
    };
    let (method, path, headers, body) = frame(*wire, operation, input)?;
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let request = signed_request(
        key,
        (region, signing),
        (method, "console.flotilla", &path),
        &pairs,
        body,
        chrono::Utc::now(),
    )
    .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, "InvalidInput", e.to_string()))?;
    let internal = |m: String| Failure::new(StatusCode::BAD_GATEWAY, "InternalFailure", m);
    let response = api
        .clone()
        .oneshot(request.map(axum::body::Body::new))
        .await
        .map_err(|e| internal(e.to_string()))?;
    let status = response.status();
    let limited = http_body_util::Limited::new(response.into_body(), MAX_ANSWER);
    let bytes = limited
        .collect()
        .await
        .map_err(|e| internal(format!("reading the answer: {e}")))?
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    let is_json = matches!(wire, Wire::Json { .. });
    if status.is_success() {
        if text.trim().is_empty() {
            return Ok(json!({}));
        }
        return if is_json {
            serde_json::from_str(&text).map_err(|e| internal(format!("unreadable answer: {e}")))
        } else {
            xml::to_json(&text).map_err(internal)
        };
    }
    let (code, message) = if is_json {
        let e = flotilla_aws::client::decode_error(status, &bytes);
        (e.code.to_string(), e.message.to_string())
    } else {
        xml::error(&text).unwrap_or_else(|| ("UnknownError".into(), String::new()))
    };
    Err(Failure {
        status,
        code,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_flatten_as_aws_reads_them() {
        let mut out = Vec::new();
        let input = json!({"Names": ["a", "b"], "Targets": [{"Id": "i-1", "Port": 80}],
                           "Flag": true, "Skip": null});
        flatten("", &input, &mut out);
        out.sort();
        assert_eq!(
            out,
            vec![
                ("Flag".to_string(), "true".to_string()),
                ("Names.member.1".into(), "a".into()),
                ("Names.member.2".into(), "b".into()),
                ("Targets.member.1.Id".into(), "i-1".into()),
                ("Targets.member.1.Port".into(), "80".into()),
            ]
        );
    }

    #[test]
    fn frames() {
        let json_wire = SERVICES[0].2;
        let (method, path, headers, body) = frame(json_wire, "ListClusters", &json!({})).unwrap();
        assert_eq!(
            (method, path.as_str(), &body[..]),
            ("POST", "/", &b"{}"[..])
        );
        assert_eq!(
            headers[1],
            (
                "x-amz-target",
                "AmazonEC2ContainerServiceV20141113.ListClusters".to_string()
            )
        );
        let (method, path, _, _) = frame(
            Wire::Route53,
            "ListResourceRecordSets",
            &json!({"HostedZoneId": "/hostedzone/Z0ABC"}),
        )
        .unwrap();
        assert_eq!(
            (method, path.as_str()),
            ("GET", "/2013-04-01/hostedzone/Z0ABC/rrset")
        );
        let bad = frame(Wire::Route53, "GetHostedZone", &json!({"Id": "../x"})).unwrap_err();
        assert_eq!(bad.code, "InvalidInput");
        assert_eq!(
            frame(Wire::Route53, "DeleteHostedZone", &json!({}))
                .unwrap_err()
                .code,
            "UnknownOperation"
        );
        assert_eq!(
            frame(json_wire, "List/../x", &json!({})).unwrap_err().code,
            "UnknownOperation"
        );
    }
}

//! Health checks: create, get, list, count, update, delete, and the status this server's
//! checker observed.

use flotilla_aws::xml::XmlWriter;
use flotilla_aws::{AwsError, Output, RestRequest};
use flotilla_control::route53::health_checks::{self as checks, Update};
use flotilla_model::route53::health_checks::{CheckType, HealthCheckConfig, HealthCheckRecord};
use roxmltree::Node;

use super::error::{invalid, wire};
use super::xml::{self, boolean, child, children, number, required, text};
use super::{max_items, query, XMLNS};
use crate::State;

/// The region GetHealthCheckStatus names for this server's checker (Route 53's own).
const CHECKER_REGION: &str = "us-east-1";

/// Write a check's `HealthCheck` element.
pub(crate) fn write_check(w: &mut XmlWriter, h: &HealthCheckRecord) {
    w.node("HealthCheck", |w| {
        w.leaf("Id", &h.id);
        w.leaf("CallerReference", &h.caller_reference);
        let c = &h.config;
        w.node("HealthCheckConfig", |w| {
            if let Some(ip) = c.ip_address {
                w.leaf("IPAddress", &ip.to_string());
            }
            if let Some(port) = c.port {
                w.leaf("Port", &port.to_string());
            }
            w.leaf("Type", c.check_type.as_str());
            if let Some(p) = &c.resource_path {
                w.leaf("ResourcePath", p);
            }
            if let Some(f) = &c.fqdn {
                w.leaf("FullyQualifiedDomainName", f);
            }
            if let Some(s) = &c.search_string {
                w.leaf("SearchString", s);
            }
            w.leaf("RequestInterval", &c.request_interval.to_string());
            w.leaf("FailureThreshold", &c.failure_threshold.to_string());
            let flag = |b: bool| if b { "true" } else { "false" };
            w.leaf("MeasureLatency", flag(c.measure_latency));
            w.leaf("Inverted", flag(c.inverted));
            w.leaf("Disabled", flag(c.disabled));
            if let Some(sni) = c.enable_sni {
                w.leaf("EnableSNI", flag(sni));
            }
            if !c.regions.is_empty() {
                w.node("Regions", |w| {
                    for r in &c.regions {
                        w.leaf("Region", r);
                    }
                });
            }
        });
        w.leaf("HealthCheckVersion", &h.version.to_string());
    });
}

/// The members CreateHealthCheck's and UpdateHealthCheck's documents share.
struct Common {
    ip_address: Option<std::net::IpAddr>,
    port: Option<u16>,
    resource_path: Option<String>,
    fqdn: Option<String>,
    search_string: Option<String>,
    failure_threshold: Option<u32>,
    inverted: Option<bool>,
    disabled: Option<bool>,
    enable_sni: Option<bool>,
    regions: Option<Vec<String>>,
}

fn read_common(node: Node<'_, '_>) -> Result<Common, AwsError> {
    let ip_address =
        match text(node, "IPAddress").map(str::trim) {
            None => None,
            Some(ip) => Some(ip.parse().ok().filter(|_| ip.len() <= 45).ok_or_else(|| {
                invalid(format!("IPAddress {ip} is not an IPv4 or IPv6 address."))
            })?),
        };
    let port = number(node, "Port", 1, 65535)?.map(|p| p as u16);
    let failure_threshold = number(node, "FailureThreshold", 1, 10)?.map(|t| t as u32);
    let regions = child(node, "Regions").map(|r| {
        children(r, "Region")
            .map(|x| x.text().unwrap_or("").to_string())
            .collect()
    });
    for unsupported in ["HealthThreshold", "ChildHealthChecks", "AlarmIdentifier"] {
        if child(node, unsupported).is_some() {
            return Err(invalid(format!(
                "{unsupported} belongs to CALCULATED and CLOUDWATCH_METRIC health checks, \
                 which are not supported."
            )));
        }
    }
    Ok(Common {
        ip_address,
        port,
        resource_path: text(node, "ResourcePath").map(str::to_string),
        fqdn: text(node, "FullyQualifiedDomainName").map(str::to_string),
        search_string: text(node, "SearchString").map(str::to_string),
        failure_threshold,
        inverted: boolean(node, "Inverted")?,
        disabled: boolean(node, "Disabled")?,
        enable_sni: boolean(node, "EnableSNI")?,
        regions,
    })
}

pub(crate) async fn create(s: &State, r: &RestRequest) -> Result<Output, AwsError> {
    let body = xml::text_body(&r.body)?;
    let doc = xml::parse(body, "CreateHealthCheckRequest")?;
    let root = doc.root_element();
    let caller_reference = required(root, "CallerReference")?.to_string();
    let node = child(root, "HealthCheckConfig")
        .ok_or_else(|| invalid("CreateHealthCheckRequest needs a HealthCheckConfig."))?;
    let check_type = CheckType::parse(required(node, "Type")?.trim()).map_err(invalid)?;
    let common = read_common(node)?;
    let mut config = HealthCheckConfig::new(check_type);
    config.ip_address = common.ip_address;
    config.port = common.port;
    config.resource_path = common.resource_path;
    config.fqdn = common.fqdn;
    config.search_string = common.search_string;
    if let Some(i) = number(node, "RequestInterval", 10, 30)? {
        config.request_interval = i as u32;
    }
    if let Some(t) = common.failure_threshold {
        config.failure_threshold = t;
    }
    config.measure_latency = boolean(node, "MeasureLatency")?.unwrap_or(false);
    config.inverted = common.inverted.unwrap_or(false);
    config.disabled = common.disabled.unwrap_or(false);
    config.enable_sni = common.enable_sni;
    config.regions = common.regions.unwrap_or_default();
    let (check, _) = checks::create(s, caller_reference, config)
        .await
        .map_err(wire)?;
    let mut w = XmlWriter::new();
    w.root("CreateHealthCheckResponse", XMLNS, |w| {
        write_check(w, &check)
    });
    let doc = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", w.finish());
    let response = http::Response::builder()
        .status(http::StatusCode::CREATED)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .header(
            http::header::LOCATION,
            format!(
                "https://route53.amazonaws.com/2013-04-01/healthcheck/{}",
                check.id
            ),
        )
        .body(bytes::Bytes::from(doc))
        .map_err(|e| AwsError::server("InternalError", e.to_string()))?;
    Ok(Output::Http(response))
}

pub(crate) fn get(s: &State, id: &str) -> Result<Output, AwsError> {
    let check = checks::get(s, id).map_err(wire)?.value;
    let mut w = XmlWriter::new();
    w.root("GetHealthCheckResponse", XMLNS, |w| write_check(w, &check));
    Ok(Output::Xml(w.finish()))
}

/// ListHealthChecks: by id, `marker` the id to start at.
pub(crate) fn list(s: &State, r: &RestRequest) -> Result<Output, AwsError> {
    let max = max_items(r, 100, 1000)?;
    let marker = query(r, "marker");
    let all = checks::all(s);
    let start = match marker {
        Some(m) => all
            .iter()
            .position(|c| c.id.as_str() >= m)
            .unwrap_or(all.len()),
        None => 0,
    };
    let next = all.get(start + max);
    let mut w = XmlWriter::new();
    w.root("ListHealthChecksResponse", XMLNS, |w| {
        w.node("HealthChecks", |w| {
            for c in all.iter().skip(start).take(max) {
                write_check(w, c);
            }
        });
        w.leaf("Marker", marker.unwrap_or(""));
        w.leaf("IsTruncated", if next.is_some() { "true" } else { "false" });
        if let Some(n) = next {
            w.leaf("NextMarker", &n.id);
        }
        w.leaf("MaxItems", &max.to_string());
    });
    Ok(Output::Xml(w.finish()))
}

pub(crate) fn count(s: &State) -> Result<Output, AwsError> {
    let mut w = XmlWriter::new();
    w.root("GetHealthCheckCountResponse", XMLNS, |w| {
        w.leaf("HealthCheckCount", &checks::all(s).len().to_string());
    });
    Ok(Output::Xml(w.finish()))
}

pub(crate) async fn update(s: &State, id: &str, r: &RestRequest) -> Result<Output, AwsError> {
    let body = xml::text_body(&r.body)?;
    let doc = xml::parse(body, "UpdateHealthCheckRequest")?;
    let root = doc.root_element();
    let common = read_common(root)?;
    let version = number(root, "HealthCheckVersion", 1, i64::MAX)?.map(|v| v as u64);
    let reset = child(root, "ResetElements")
        .map(|n| {
            children(n, "ResettableElementName")
                .map(|x| x.text().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let update = Update {
        version,
        ip_address: common.ip_address,
        port: common.port,
        resource_path: common.resource_path,
        fqdn: common.fqdn,
        search_string: common.search_string,
        failure_threshold: common.failure_threshold,
        inverted: common.inverted,
        disabled: common.disabled,
        enable_sni: common.enable_sni,
        regions: common.regions,
        reset,
    };
    let check = checks::update(s, id, update).await.map_err(wire)?;
    let mut w = XmlWriter::new();
    w.root("UpdateHealthCheckResponse", XMLNS, |w| {
        write_check(w, &check)
    });
    Ok(Output::Xml(w.finish()))
}

pub(crate) async fn delete(s: &State, id: &str) -> Result<Output, AwsError> {
    checks::delete(s, id).await.map_err(wire)?;
    let mut w = XmlWriter::new();
    w.root("DeleteHealthCheckResponse", XMLNS, |_| {});
    Ok(Output::Xml(w.finish()))
}

/// GetHealthCheckStatus: this server's checker is the one observer; no observation yet
/// (a new or disabled check) is an empty list.
pub(crate) fn status(s: &State, id: &str) -> Result<Output, AwsError> {
    let check = checks::get(s, id).map_err(wire)?.value;
    let state = s.route53_health().snapshot();
    let last = state.get(&check.id).and_then(|c| c.last.clone());
    let mut w = XmlWriter::new();
    w.root("GetHealthCheckStatusResponse", XMLNS, |w| {
        w.node("HealthCheckObservations", |w| {
            if let Some(o) = &last {
                w.node("HealthCheckObservation", |w| {
                    w.leaf("Region", CHECKER_REGION);
                    if let Some(ip) = o.source {
                        w.leaf("IPAddress", &ip.to_string());
                    }
                    w.node("StatusReport", |w| {
                        w.leaf("Status", &o.status);
                        w.leaf(
                            "CheckedTime",
                            &o.checked_at
                                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        );
                    });
                });
            }
        });
    });
    Ok(Output::Xml(w.finish()))
}

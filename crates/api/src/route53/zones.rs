//! Hosted zones: create, get, list (by id and by name), count, comment, delete, tags.

use flotilla_aws::xml::XmlWriter;
use flotilla_aws::{AwsError, Output, RestRequest};
use flotilla_control::route53::{self as r53, NewZone};
use flotilla_model::route53::{names, ChangeRecord, ChangeStatus, HostedZoneRecord, NAME_SERVER};

use super::error::{invalid, wire};
use super::xml::{self, boolean, child, children, required, text};
use super::{max_items, query, XMLNS};
use crate::State;

/// Write a zone's `HostedZone` element.
pub(crate) fn write_zone(w: &mut XmlWriter, z: &HostedZoneRecord, record_count: usize) {
    w.node("HostedZone", |w| {
        w.leaf("Id", &format!("/hostedzone/{}", z.id));
        w.leaf("Name", &names::display(&z.name));
        w.leaf("CallerReference", &z.caller_reference);
        w.node("Config", |w| {
            if let Some(c) = &z.comment {
                w.leaf("Comment", c);
            }
            w.leaf("PrivateZone", if z.private { "true" } else { "false" });
        });
        w.leaf("ResourceRecordSetCount", &record_count.to_string());
    });
}

/// Write a `ChangeInfo` element.
pub(crate) fn write_change(w: &mut XmlWriter, c: &ChangeRecord, status: ChangeStatus) {
    w.node("ChangeInfo", |w| {
        w.leaf("Id", &format!("/change/{}", c.id));
        w.leaf("Status", status.as_str());
        w.leaf(
            "SubmittedAt",
            &c.submitted_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        if let Some(comment) = &c.comment {
            w.leaf("Comment", comment);
        }
    });
}

/// A public zone's delegation set, a private zone's VPCs.
fn write_delegation(w: &mut XmlWriter, z: &HostedZoneRecord) {
    if z.private {
        w.node("VPCs", |w| {
            for (region, id) in &z.vpcs {
                w.node("VPC", |w| {
                    w.leaf("VPCRegion", region);
                    w.leaf("VPCId", id);
                });
            }
        });
    } else {
        w.node("DelegationSet", |w| {
            w.node("NameServers", |w| {
                w.leaf("NameServer", NAME_SERVER.trim_end_matches('.'));
            });
        });
    }
}

fn record_count(s: &State, zone_id: &str) -> usize {
    s.route53()
        .record_sets
        .count_prefix(flotilla_control::keys::record_sets_of(zone_id).as_bytes())
}

pub(crate) async fn create(s: &State, r: &RestRequest) -> Result<Output, AwsError> {
    let body = xml::text_body(&r.body)?;
    let doc = xml::parse(body, "CreateHostedZoneRequest")?;
    let root = doc.root_element();
    let name = required(root, "Name")?;
    if name.chars().count() > 1024 {
        return Err(invalid("Name must be at most 1024 characters long."));
    }
    let caller_reference = required(root, "CallerReference")?.to_string();
    let config = child(root, "HostedZoneConfig");
    let comment = config.and_then(|c| text(c, "Comment")).map(str::to_string);
    let private = match config {
        Some(c) => boolean(c, "PrivateZone")?.unwrap_or(false),
        None => false,
    };
    let vpc = match child(root, "VPC") {
        Some(v) => Some((
            required(v, "VPCRegion")?.to_string(),
            required(v, "VPCId")?.to_string(),
        )),
        None => None,
    };
    if private && vpc.is_none() {
        return Err(invalid(
            "A private hosted zone needs a VPC: give VPC with VPCRegion and VPCId.",
        ));
    }
    if let Some((region, id)) = &vpc {
        let scope = flotilla_model::Scope::new(region.clone(), s.account().to_string());
        if let Err(e) = flotilla_control::ec2::check_vpc(s, &scope, id).await {
            return Err(AwsError::client(
                "InvalidVPCId",
                format!("The VPC {id} in {region} is invalid: {e}"),
            ));
        }
    }
    if text(root, "DelegationSetId").is_some() {
        return Err(AwsError::client(
            "NoSuchDelegationSet",
            "Reusable delegation sets are not supported; omit DelegationSetId.",
        ));
    }
    let (zone, change) = r53::create_zone(
        s,
        NewZone {
            name: name.to_string(),
            caller_reference,
            comment,
            vpc,
        },
    )
    .await
    .map_err(wire)?;
    let mut w = XmlWriter::new();
    w.root("CreateHostedZoneResponse", XMLNS, |w| {
        write_zone(w, &zone, 2);
        write_change(w, &change, ChangeStatus::Pending);
        write_delegation(w, &zone);
        if let Some((region, id)) = zone.vpcs.first() {
            w.node("VPC", |w| {
                w.leaf("VPCRegion", region);
                w.leaf("VPCId", id);
            });
        }
    });
    let doc = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", w.finish());
    let response = http::Response::builder()
        .status(http::StatusCode::CREATED)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .header(
            http::header::LOCATION,
            format!(
                "https://route53.amazonaws.com/2013-04-01/hostedzone/{}",
                zone.id
            ),
        )
        .body(bytes::Bytes::from(doc))
        .map_err(|e| AwsError::server("InternalError", e.to_string()))?;
    Ok(Output::Http(response))
}

pub(crate) fn get(s: &State, id: &str) -> Result<Output, AwsError> {
    let z = r53::zone(s, id).map_err(wire)?.value;
    let mut w = XmlWriter::new();
    w.root("GetHostedZoneResponse", XMLNS, |w| {
        write_zone(w, &z, record_count(s, &z.id));
        write_delegation(w, &z);
    });
    Ok(Output::Xml(w.finish()))
}

/// ListHostedZones: by id, `marker` the id to start at.
pub(crate) fn list(s: &State, r: &RestRequest) -> Result<Output, AwsError> {
    let max = max_items(r, 100, 100)?;
    if query(r, "delegationsetid").is_some() {
        return Err(AwsError::client(
            "NoSuchDelegationSet",
            "Reusable delegation sets are not supported; omit delegationsetid.",
        ));
    }
    let marker =
        query(r, "marker").map(|m| flotilla_model::route53::strip_id_prefix(m, "/hostedzone/"));
    let mut zones = r53::zones(s);
    zones.sort_by(|a, b| a.id.cmp(&b.id));
    let start = match marker {
        Some(m) => zones
            .iter()
            .position(|z| z.id.as_str() >= m)
            .unwrap_or(zones.len()),
        None => 0,
    };
    let page: Vec<_> = zones.iter().skip(start).take(max).collect();
    let next = zones.get(start + max);
    let mut w = XmlWriter::new();
    w.root("ListHostedZonesResponse", XMLNS, |w| {
        w.node("HostedZones", |w| {
            for z in &page {
                write_zone(w, z, record_count(s, &z.id));
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

/// ListHostedZonesByName: by name with labels reversed, then id.
pub(crate) fn list_by_name(s: &State, r: &RestRequest) -> Result<Output, AwsError> {
    let max = max_items(r, 100, 100)?;
    let dns_name = match query(r, "dnsname") {
        Some(n) => Some(names::normalize(n).map_err(|e| {
            AwsError::client(
                "InvalidDomainName",
                format!("{n} is not a valid domain name: {e}"),
            )
        })?),
        None => None,
    };
    let zone_id = query(r, "hostedzoneid").map(str::to_string);
    if zone_id.is_some() && dns_name.is_none() {
        return Err(invalid(
            "hostedzoneid is only allowed together with dnsname.",
        ));
    }
    let key = |z: &HostedZoneRecord| (r53::reversed_labels(&z.name), z.id.clone());
    let mut zones = r53::zones(s);
    zones.sort_by_cached_key(|z| key(z));
    let start = match &dns_name {
        Some(n) => {
            let from = (r53::reversed_labels(n), zone_id.clone().unwrap_or_default());
            zones
                .iter()
                .position(|z| key(z) >= from)
                .unwrap_or(zones.len())
        }
        None => 0,
    };
    let page: Vec<_> = zones.iter().skip(start).take(max).collect();
    let next = zones.get(start + max);
    let mut w = XmlWriter::new();
    w.root("ListHostedZonesByNameResponse", XMLNS, |w| {
        w.node("HostedZones", |w| {
            for z in &page {
                write_zone(w, z, record_count(s, &z.id));
            }
        });
        if let Some(n) = &dns_name {
            w.leaf("DNSName", &names::display(n));
        }
        if let Some(id) = &zone_id {
            w.leaf("HostedZoneId", id);
        }
        w.leaf("IsTruncated", if next.is_some() { "true" } else { "false" });
        if let Some(n) = next {
            w.leaf("NextDNSName", &names::display(&n.name));
            w.leaf("NextHostedZoneId", &n.id);
        }
        w.leaf("MaxItems", &max.to_string());
    });
    Ok(Output::Xml(w.finish()))
}

pub(crate) fn count(s: &State) -> Result<Output, AwsError> {
    let mut w = XmlWriter::new();
    w.root("GetHostedZoneCountResponse", XMLNS, |w| {
        w.leaf("HostedZoneCount", &r53::zones(s).len().to_string());
    });
    Ok(Output::Xml(w.finish()))
}

pub(crate) async fn update_comment(
    s: &State,
    id: &str,
    r: &RestRequest,
) -> Result<Output, AwsError> {
    let body = xml::text_body(&r.body)?;
    let doc = xml::parse(body, "UpdateHostedZoneCommentRequest")?;
    let comment = text(doc.root_element(), "Comment")
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let z = r53::update_comment(s, id, comment).await.map_err(wire)?;
    let mut w = XmlWriter::new();
    w.root("UpdateHostedZoneCommentResponse", XMLNS, |w| {
        write_zone(w, &z, record_count(s, &z.id));
    });
    Ok(Output::Xml(w.finish()))
}

pub(crate) async fn delete(s: &State, id: &str) -> Result<Output, AwsError> {
    let change = r53::delete_zone(s, id).await.map_err(wire)?;
    let mut w = XmlWriter::new();
    w.root("DeleteHostedZoneResponse", XMLNS, |w| {
        write_change(w, &change, ChangeStatus::Pending);
    });
    Ok(Output::Xml(w.finish()))
}

/// The resource a tags path names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tagged {
    HostedZone,
    HealthCheck,
}

fn check_kind(kind: &str) -> Result<Tagged, AwsError> {
    match kind {
        "hostedzone" => Ok(Tagged::HostedZone),
        "healthcheck" => Ok(Tagged::HealthCheck),
        other => Err(invalid(format!(
            "ResourceType must be hostedzone or healthcheck, not {other}."
        ))),
    }
}

pub(crate) async fn change_tags(
    s: &State,
    kind: &str,
    id: &str,
    r: &RestRequest,
) -> Result<Output, AwsError> {
    let tagged = check_kind(kind)?;
    let body = xml::text_body(&r.body)?;
    let doc = xml::parse(body, "ChangeTagsForResourceRequest")?;
    let root = doc.root_element();
    let add: Vec<(String, String)> = match child(root, "AddTags") {
        Some(tags) => children(tags, "Tag")
            .map(|t| {
                Ok((
                    required(t, "Key")?.to_string(),
                    text(t, "Value").unwrap_or("").to_string(),
                ))
            })
            .collect::<Result<_, AwsError>>()?,
        None => vec![],
    };
    let remove: Vec<String> = match child(root, "RemoveTagKeys") {
        Some(keys) => children(keys, "Key")
            .map(|k| k.text().unwrap_or("").to_string())
            .collect(),
        None => vec![],
    };
    if add.len() > 10 || remove.len() > 10 {
        return Err(invalid(
            "At most 10 tags may be added and 10 removed in one request.",
        ));
    }
    match tagged {
        Tagged::HostedZone => r53::change_tags(s, id, add, remove).await,
        Tagged::HealthCheck => r53::health_checks::change_tags(s, id, add, remove).await,
    }
    .map_err(wire)?;
    let mut w = XmlWriter::new();
    w.root("ChangeTagsForResourceResponse", XMLNS, |_| {});
    Ok(Output::Xml(w.finish()))
}

pub(crate) fn list_tags(s: &State, kind: &str, id: &str) -> Result<Output, AwsError> {
    let (id, tags) = match check_kind(kind)? {
        Tagged::HostedZone => {
            let z = r53::zone(s, id).map_err(wire)?.value;
            (z.id.clone(), z.tags.clone())
        }
        Tagged::HealthCheck => {
            let h = r53::health_checks::get(s, id).map_err(wire)?.value;
            (h.id.clone(), h.tags.clone())
        }
    };
    let mut w = XmlWriter::new();
    w.root("ListTagsForResourceResponse", XMLNS, |w| {
        w.node("ResourceTagSet", |w| {
            w.leaf("ResourceType", kind);
            w.leaf("ResourceId", &id);
            w.node("Tags", |w| {
                for (k, v) in &tags {
                    w.node("Tag", |w| {
                        w.leaf("Key", k);
                        w.leaf("Value", v);
                    });
                }
            });
        });
    });
    Ok(Output::Xml(w.finish()))
}

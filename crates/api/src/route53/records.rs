//! Record sets: change batches, listing, and changes' sync status.

use flotilla_aws::xml::XmlWriter;
use flotilla_aws::{AwsError, Output, RestRequest};
use flotilla_control::route53 as r53;
use flotilla_model::dns::RecordType;
use flotilla_model::route53::changes::{Action, Change};
use flotilla_model::route53::{names, AliasTarget, RecordSet};
use roxmltree::Node;

use super::error::{invalid, wire};
use super::xml::{self, boolean, child, children, number, required, text};
use super::zones::write_change;
use super::{max_items, query, XMLNS};
use crate::State;

/// At most this many changes in one batch (Route 53's limit).
const MAX_CHANGES: usize = 1000;
/// At most this many values in one record set.
const MAX_VALUES: usize = 400;
/// A value may be at most this many characters (`RData`).
const MAX_VALUE_CHARS: usize = 4000;

pub(crate) async fn change(s: &State, id: &str, r: &RestRequest) -> Result<Output, AwsError> {
    let body = xml::text_body(&r.body)?;
    let doc = xml::parse(body, "ChangeResourceRecordSetsRequest")?;
    let batch = child(doc.root_element(), "ChangeBatch")
        .ok_or_else(|| invalid("ChangeResourceRecordSetsRequest needs a ChangeBatch."))?;
    let comment = text(batch, "Comment").map(str::to_string);
    if comment.as_ref().is_some_and(|c| c.chars().count() > 256) {
        return Err(invalid("Comment must be at most 256 characters long."));
    }
    let list = child(batch, "Changes").ok_or_else(|| invalid("ChangeBatch needs Changes."))?;
    let changes: Vec<Change> = children(list, "Change")
        .map(read_change)
        .collect::<Result<_, _>>()?;
    if changes.is_empty() || changes.len() > MAX_CHANGES {
        return Err(invalid(format!(
            "A change batch holds 1 to {MAX_CHANGES} changes; this one has {}.",
            changes.len()
        )));
    }
    let change = r53::change_record_sets(s, id, changes, comment)
        .await
        .map_err(wire)?;
    let mut w = XmlWriter::new();
    w.root("ChangeResourceRecordSetsResponse", XMLNS, |w| {
        write_change(w, &change, flotilla_model::route53::ChangeStatus::Pending);
    });
    Ok(Output::Xml(w.finish()))
}

fn read_change(node: Node<'_, '_>) -> Result<Change, AwsError> {
    let action = required(node, "Action")?;
    let action = Action::parse(action).ok_or_else(|| {
        invalid(format!(
            "Action must be CREATE, DELETE or UPSERT, not {action}."
        ))
    })?;
    let set = child(node, "ResourceRecordSet")
        .ok_or_else(|| invalid("Change needs a ResourceRecordSet."))?;
    Ok(Change {
        action,
        set: read_set(set)?,
    })
}

fn read_set(node: Node<'_, '_>) -> Result<RecordSet, AwsError> {
    let raw_name = required(node, "Name")?;
    if raw_name.chars().count() > 1024 {
        return Err(invalid("Name must be at most 1024 characters long."));
    }
    let name = names::normalize(raw_name).map_err(|e| {
        AwsError::client(
            "InvalidChangeBatch",
            format!("[{raw_name} is not a valid name: {e}]"),
        )
    })?;
    let type_text = required(node, "Type")?;
    let rtype = RecordType::parse(type_text).ok_or_else(|| {
        invalid(format!(
            "Type must be one of A, AAAA, CAA, CNAME, MX, NS, PTR, SOA, SRV, TXT; {type_text} is not supported."
        ))
    })?;
    let set_identifier = text(node, "SetIdentifier").map(str::to_string);
    let weight = number(node, "Weight", 0, 255)?.map(|w| w as u8);
    let multi_value_answer = boolean(node, "MultiValueAnswer")?;
    let ttl = number(node, "TTL", 0, 2_147_483_647)?.map(|t| t as u32);
    let values: Vec<String> = match child(node, "ResourceRecords") {
        Some(records) => children(records, "ResourceRecord")
            .map(|r| required(r, "Value").map(str::to_string))
            .collect::<Result<_, _>>()?,
        None => vec![],
    };
    if values.len() > MAX_VALUES {
        return Err(invalid(format!(
            "A record set holds at most {MAX_VALUES} values; this one has {}.",
            values.len()
        )));
    }
    if let Some(v) = values.iter().find(|v| v.chars().count() > MAX_VALUE_CHARS) {
        return Err(invalid(format!(
            "A value may be at most {MAX_VALUE_CHARS} characters long; one starting {} is longer.",
            v.chars().take(40).collect::<String>()
        )));
    }
    let alias = match child(node, "AliasTarget") {
        Some(a) => {
            let dns_name = required(a, "DNSName")?;
            Some(AliasTarget {
                hosted_zone_id: flotilla_model::route53::strip_id_prefix(
                    required(a, "HostedZoneId")?,
                    "/hostedzone/",
                )
                .to_string(),
                dns_name: names::normalize(dns_name).map_err(|e| {
                    AwsError::client(
                        "InvalidChangeBatch",
                        format!("[Alias target {dns_name} is not a valid name: {e}]"),
                    )
                })?,
                evaluate_target_health: boolean(a, "EvaluateTargetHealth")?.ok_or_else(|| {
                    invalid("AliasTarget is missing the required element EvaluateTargetHealth.")
                })?,
            })
        }
        None => None,
    };
    for unsupported in [
        "Region",
        "Failover",
        "GeoLocation",
        "CidrRoutingConfig",
        "GeoProximityLocation",
        "TrafficPolicyInstanceId",
    ] {
        if child(node, unsupported).is_some() {
            return Err(invalid(format!(
                "{unsupported} routing is not supported; use simple, weighted or multivalue record sets."
            )));
        }
    }
    Ok(RecordSet {
        name,
        rtype,
        set_identifier,
        weight,
        multi_value_answer,
        ttl,
        values,
        alias,
        health_check_id: text(node, "HealthCheckId").map(str::to_string),
    })
}

fn write_set(w: &mut XmlWriter, set: &RecordSet) {
    w.node("ResourceRecordSet", |w| {
        w.leaf("Name", &names::display(&set.name));
        w.leaf("Type", set.rtype.as_str());
        if let Some(id) = &set.set_identifier {
            w.leaf("SetIdentifier", id);
        }
        if let Some(weight) = set.weight {
            w.leaf("Weight", &weight.to_string());
        }
        if let Some(m) = set.multi_value_answer {
            w.leaf("MultiValueAnswer", if m { "true" } else { "false" });
        }
        if let Some(ttl) = set.ttl {
            w.leaf("TTL", &ttl.to_string());
        }
        if !set.values.is_empty() {
            w.node("ResourceRecords", |w| {
                for v in &set.values {
                    w.node("ResourceRecord", |w| {
                        w.leaf("Value", v);
                    });
                }
            });
        }
        if let Some(a) = &set.alias {
            w.node("AliasTarget", |w| {
                w.leaf("HostedZoneId", &a.hosted_zone_id);
                w.leaf("DNSName", &names::display(&a.dns_name));
                w.leaf(
                    "EvaluateTargetHealth",
                    if a.evaluate_target_health {
                        "true"
                    } else {
                        "false"
                    },
                );
            });
        }
        if let Some(h) = &set.health_check_id {
            w.leaf("HealthCheckId", h);
        }
    });
}

/// ListResourceRecordSets: from (`name`, `type`, `identifier`) on, in Route 53's order.
pub(crate) fn list(s: &State, id: &str, r: &RestRequest) -> Result<Output, AwsError> {
    let zone = r53::zone(s, id).map_err(wire)?.value;
    let max = max_items(r, 300, 300)?;
    let start_name = match query(r, "name") {
        Some(n) => Some(names::normalize(n).map_err(|e| invalid(format!("name {n}: {e}")))?),
        None => None,
    };
    let start_type = match query(r, "type") {
        Some(t) => Some(
            RecordType::parse(t)
                .ok_or_else(|| invalid(format!("type {t} is not a record type.")))?,
        ),
        None => None,
    };
    if start_type.is_some() && start_name.is_none() {
        return Err(invalid("type is only allowed together with name."));
    }
    let start_identifier = query(r, "identifier");
    if start_identifier.is_some() && start_type.is_none() {
        return Err(invalid(
            "identifier is only allowed together with name and type.",
        ));
    }
    let sets = r53::record_sets(s, &zone.id);
    let start = match &start_name {
        None => 0,
        Some(n) => {
            let from = (
                r53::reversed_labels(n),
                start_type
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                start_identifier.unwrap_or("").to_string(),
            );
            sets.iter()
                .position(|s| {
                    r53::listing_key(&s.name, s.rtype, s.set_identifier.as_deref()) >= from
                })
                .unwrap_or(sets.len())
        }
    };
    let page: Vec<_> = sets.iter().skip(start).take(max).collect();
    let next = sets.get(start + max);
    let mut w = XmlWriter::new();
    w.root("ListResourceRecordSetsResponse", XMLNS, |w| {
        w.node("ResourceRecordSets", |w| {
            for set in &page {
                write_set(w, set);
            }
        });
        w.leaf("IsTruncated", if next.is_some() { "true" } else { "false" });
        if let Some(n) = next {
            w.leaf("NextRecordName", &names::display(&n.name));
            w.leaf("NextRecordType", n.rtype.as_str());
            if let Some(id) = &n.set_identifier {
                w.leaf("NextRecordIdentifier", id);
            }
        }
        w.leaf("MaxItems", &max.to_string());
    });
    Ok(Output::Xml(w.finish()))
}

pub(crate) fn get_change(s: &State, id: &str) -> Result<Output, AwsError> {
    let (change, status) = r53::change(s, id).map_err(wire)?;
    let mut w = XmlWriter::new();
    w.root("GetChangeResponse", XMLNS, |w| {
        write_change(w, &change, status);
    });
    Ok(Output::Xml(w.finish()))
}

//! ELBv2's wire shapes: actions and conditions read from the query parameters, and every
//! resource written as the XML DescribeX answers hold.

use chrono::{DateTime, SecondsFormat, Utc};
use flotilla_aws::xml::XmlWriter;
use flotilla_control::elbv2::rules::RuleView;
use flotilla_control::elbv2::targets::TargetHealth;
use flotilla_model::elbv2::listener::{KeyValue, Redirect, WeightedGroup};
use flotilla_model::elbv2::{
    Action, Condition, ListenerRecord, LoadBalancerRecord, TargetGroupRecord,
};
use flotilla_model::tag::Tag;

use super::error::{invalid, Elbv2Error};
use crate::query::Params;
use crate::State;
use flotilla_model::Scope;

/// The hosted zone id DescribeLoadBalancers gives every load balancer (what a Route 53
/// alias record names).
pub const CANONICAL_HOSTED_ZONE_ID: &str = "Z0FLOTILLAELB1";

pub fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `Tags.member.N.{Key,Value}`.
pub fn tags(p: &Params, name: &str) -> Vec<Tag> {
    p.members(name)
        .iter()
        .map(|t| Tag {
            key: t.get("Key").map(String::from),
            value: Some(t.get("Value").unwrap_or_default().to_string()),
        })
        .collect()
}

/// A list of actions (`DefaultActions`, `Actions`): exactly one terminal action.
pub fn actions(p: &Params, name: &str) -> Result<Action, Elbv2Error> {
    let members = p.members(name);
    let mut terminal = Vec::new();
    for m in &members {
        match m.required("Type")? {
            "forward" | "redirect" | "fixed-response" => terminal.push(action(m)?),
            t @ ("authenticate-oidc" | "authenticate-cognito") => {
                return Err(invalid(format!(
                    "Action type '{t}' is not supported by Flotilla (there is no identity provider to authenticate against)"
                )))
            }
            t => {
                return Err(invalid(format!(
                    "Action type '{t}' must be one of forward, redirect, fixed-response"
                )))
            }
        }
    }
    match terminal.len() {
        1 => Ok(terminal.remove(0)),
        0 => Err(invalid(format!(
            "At least one action must be given in '{name}'"
        ))),
        _ => Err(invalid(format!(
            "'{name}' can hold only one forward, redirect or fixed-response action"
        ))),
    }
}

fn action(m: &Params) -> Result<Action, Elbv2Error> {
    Ok(match m.required("Type")? {
        "forward" => {
            let fc = m.sub("ForwardConfig");
            let mut groups: Vec<WeightedGroup> = fc
                .members("TargetGroups")
                .iter()
                .map(|g| {
                    Ok(WeightedGroup {
                        arn: g.required("TargetGroupArn")?.to_string(),
                        weight: g.int("Weight", 0, 999)?.unwrap_or(1) as u32,
                    })
                })
                .collect::<Result<_, Elbv2Error>>()?;
            if let Some(arn) = m.get("TargetGroupArn") {
                match groups.as_slice() {
                    [] => groups.push(WeightedGroup {
                        arn: arn.to_string(),
                        weight: 1,
                    }),
                    [one] if one.arn == arn => {}
                    _ => {
                        return Err(invalid(
                            "TargetGroupArn and ForwardConfig name different target groups; give one or the other",
                        ))
                    }
                }
            }
            let sticky = fc.sub("TargetGroupStickinessConfig");
            let stickiness_seconds = if sticky.bool("Enabled")?.unwrap_or(false) {
                Some(sticky.int("DurationSeconds", 1, 604_800)?.unwrap_or(3600) as u32)
            } else {
                None
            };
            Action::Forward {
                target_groups: groups,
                stickiness_seconds,
            }
        }
        "redirect" => {
            let r = m.sub("RedirectConfig");
            let status = match r.required("StatusCode")? {
                "HTTP_301" => 301,
                "HTTP_302" => 302,
                other => {
                    return Err(invalid(format!(
                        "Redirect status code '{other}' must be HTTP_301 or HTTP_302"
                    )))
                }
            };
            Action::Redirect(Redirect {
                protocol: r.get("Protocol").unwrap_or("#{protocol}").to_string(),
                host: r.get("Host").unwrap_or("#{host}").to_string(),
                port: r.get("Port").unwrap_or("#{port}").to_string(),
                path: r.get("Path").unwrap_or("/#{path}").to_string(),
                query: r.get("Query").unwrap_or("#{query}").to_string(),
                status_code: status,
            })
        }
        _ => {
            let f = m.sub("FixedResponseConfig");
            let code = f.required("StatusCode")?;
            let status_code = code
                .parse::<u16>()
                .ok()
                .filter(|_| code.len() == 3)
                .ok_or_else(|| {
                    invalid(format!(
                        "Fixed response status code '{code}' must be 2XX, 4XX or 5XX"
                    ))
                })?;
            Action::FixedResponse {
                status_code,
                content_type: f.get("ContentType").map(String::from),
                message_body: f.get("MessageBody").map(String::from),
            }
        }
    })
}

/// `Conditions.member.N`: each with `Field` and either the legacy `Values` or its
/// field's `...Config`.
pub fn conditions(p: &Params) -> Result<Vec<Condition>, Elbv2Error> {
    p.members("Conditions").iter().map(condition).collect()
}

fn condition(c: &Params) -> Result<Condition, Elbv2Error> {
    let field = c.required("Field")?;
    let values = |config: &str| -> Vec<String> {
        let v = c.sub(config).strings("Values");
        if v.is_empty() {
            c.strings("Values")
        } else {
            v
        }
    };
    Ok(match field {
        "host-header" => Condition::HostHeader {
            values: values("HostHeaderConfig"),
        },
        "path-pattern" => Condition::PathPattern {
            values: values("PathPatternConfig"),
        },
        "http-header" => {
            let h = c.sub("HttpHeaderConfig");
            Condition::HttpHeader {
                name: h.required("HttpHeaderName")?.to_string(),
                values: h.strings("Values"),
            }
        }
        "http-request-method" => Condition::HttpRequestMethod {
            values: values("HttpRequestMethodConfig"),
        },
        "query-string" => Condition::QueryString {
            values: c
                .sub("QueryStringConfig")
                .members("Values")
                .iter()
                .map(|kv| KeyValue {
                    key: kv.get("Key").map(String::from),
                    value: kv.get("Value").unwrap_or_default().to_string(),
                })
                .collect(),
        },
        "source-ip" => Condition::SourceIp {
            values: values("SourceIpConfig"),
        },
        other => {
            return Err(invalid(format!(
                "Condition field '{other}' must be one of host-header, path-pattern, http-header, http-request-method, query-string, source-ip"
            )))
        }
    })
}

fn strings(w: &mut XmlWriter, name: &str, values: &[String]) {
    w.node(name, |w| {
        for v in values {
            w.leaf("member", v);
        }
    });
}

pub fn write_tags(w: &mut XmlWriter, tags: &[Tag]) {
    w.node("Tags", |w| {
        for t in tags {
            w.node("member", |w| {
                w.leaf("Key", t.key.as_deref().unwrap_or_default());
                w.leaf("Value", t.value.as_deref().unwrap_or_default());
            });
        }
    });
}

/// `AvailabilityZones`: one zone per subnet, the subnet's own (a subnet EC2 does not know,
/// named before the EC2 API existed, is named after the region: `us-east-1a`, ... in
/// order), and one zone without a subnet when none was given. Each lists, as
/// `LoadBalancerAddresses`, the addresses the load balancer's listeners are bound to, one
/// per running server: where clients reach it, as its DNS name answers.
pub fn write_zones(w: &mut XmlWriter, s: &State, scope: &Scope, lb: &LoadBalancerRecord) {
    let region = &scope.region;
    let addresses = flotilla_control::nodes::addresses(s, lb.address);
    let subnets: Vec<Option<&String>> = if lb.subnets.is_empty() {
        vec![None]
    } else {
        lb.subnets.iter().map(Some).collect()
    };
    w.node("AvailabilityZones", |w| {
        for (i, subnet) in subnets.iter().enumerate() {
            w.node("member", |w| {
                let zone = subnet
                    .and_then(|id| flotilla_control::ec2::subnets::get(s, scope, id).ok())
                    .map(|e| e.value.availability_zone.clone())
                    .unwrap_or_else(|| format!("{region}{}", (b'a' + (i % 26) as u8) as char));
                w.leaf("ZoneName", &zone);
                if let Some(s) = subnet {
                    w.leaf("SubnetId", s);
                }
                w.node("LoadBalancerAddresses", |w| {
                    for address in &addresses {
                        w.node("member", |w| {
                            w.leaf("IpAddress", &address.to_string());
                        });
                    }
                });
            });
        }
    });
}

pub fn write_load_balancer(w: &mut XmlWriter, s: &State, scope: &Scope, lb: &LoadBalancerRecord) {
    w.node("member", |w| {
        w.leaf("LoadBalancerArn", &lb.arn);
        w.leaf("DNSName", &lb.dns_name);
        w.leaf("CanonicalHostedZoneId", CANONICAL_HOSTED_ZONE_ID);
        w.leaf("CreatedTime", &time(&lb.created_at));
        w.leaf("LoadBalancerName", &lb.name);
        w.leaf("Scheme", &lb.scheme);
        w.leaf("VpcId", &lb.vpc_id);
        w.node("State", |w| {
            w.leaf("Code", lb.state.as_str());
        });
        w.leaf("Type", "application");
        write_zones(w, s, scope, lb);
        strings(w, "SecurityGroups", &lb.security_groups);
        w.leaf("IpAddressType", &lb.ip_address_type);
    });
}

pub fn write_target_group(w: &mut XmlWriter, tg: &TargetGroupRecord, lbs: &[String]) {
    let hc = &tg.health_check;
    w.node("member", |w| {
        w.leaf("TargetGroupArn", &tg.arn);
        w.leaf("TargetGroupName", &tg.name);
        w.leaf("Protocol", tg.protocol.as_str());
        w.leaf("Port", &tg.port.to_string());
        if let Some(v) = &tg.vpc_id {
            w.leaf("VpcId", v);
        }
        w.leaf("HealthCheckProtocol", hc.protocol.as_str());
        w.leaf(
            "HealthCheckPort",
            &hc.port
                .map_or_else(|| "traffic-port".to_string(), |p| p.to_string()),
        );
        w.leaf("HealthCheckEnabled", &hc.enabled.to_string());
        w.leaf(
            "HealthCheckIntervalSeconds",
            &hc.interval_seconds.to_string(),
        );
        w.leaf("HealthCheckTimeoutSeconds", &hc.timeout_seconds.to_string());
        w.leaf("HealthyThresholdCount", &hc.healthy_threshold.to_string());
        w.leaf(
            "UnhealthyThresholdCount",
            &hc.unhealthy_threshold.to_string(),
        );
        w.leaf("HealthCheckPath", &hc.path);
        w.node("Matcher", |w| {
            w.leaf("HttpCode", &hc.matcher);
        });
        strings(w, "LoadBalancerArns", lbs);
        w.leaf("TargetType", tg.target_type.as_str());
        w.leaf("ProtocolVersion", &tg.protocol_version);
        w.leaf("IpAddressType", &tg.ip_address_type);
    });
}

pub fn write_action(w: &mut XmlWriter, action: &Action) {
    w.node("member", |w| match action {
        Action::Forward {
            target_groups,
            stickiness_seconds,
        } => {
            w.leaf("Type", "forward");
            if let [one] = target_groups.as_slice() {
                w.leaf("TargetGroupArn", &one.arn);
            }
            w.node("ForwardConfig", |w| {
                w.node("TargetGroups", |w| {
                    for g in target_groups {
                        w.node("member", |w| {
                            w.leaf("TargetGroupArn", &g.arn);
                            w.leaf("Weight", &g.weight.to_string());
                        });
                    }
                });
                w.node("TargetGroupStickinessConfig", |w| {
                    w.leaf("Enabled", &stickiness_seconds.is_some().to_string());
                    if let Some(s) = stickiness_seconds {
                        w.leaf("DurationSeconds", &s.to_string());
                    }
                });
            });
            w.leaf("Order", "1");
        }
        Action::Redirect(r) => {
            w.leaf("Type", "redirect");
            w.node("RedirectConfig", |w| {
                w.leaf("Protocol", &r.protocol);
                w.leaf("Port", &r.port);
                w.leaf("Host", &r.host);
                w.leaf("Path", &r.path);
                w.leaf("Query", &r.query);
                w.leaf("StatusCode", &format!("HTTP_{}", r.status_code));
            });
            w.leaf("Order", "1");
        }
        Action::FixedResponse {
            status_code,
            content_type,
            message_body,
        } => {
            w.leaf("Type", "fixed-response");
            w.node("FixedResponseConfig", |w| {
                if let Some(b) = message_body {
                    w.leaf("MessageBody", b);
                }
                w.leaf("StatusCode", &status_code.to_string());
                if let Some(t) = content_type {
                    w.leaf("ContentType", t);
                }
            });
            w.leaf("Order", "1");
        }
    });
}

pub fn write_listener(w: &mut XmlWriter, l: &ListenerRecord) {
    w.node("member", |w| {
        w.leaf("ListenerArn", &l.arn);
        w.leaf("LoadBalancerArn", &l.load_balancer_arn);
        w.leaf("Port", &l.port.to_string());
        w.leaf("Protocol", l.protocol.as_str());
        if !l.certificates.is_empty() {
            w.node("Certificates", |w| {
                if let Some(c) = l.certificates.first() {
                    w.node("member", |w| {
                        w.leaf("CertificateArn", c);
                    });
                }
            });
        }
        if let Some(p) = &l.ssl_policy {
            w.leaf("SslPolicy", p);
        }
        w.node("DefaultActions", |w| write_action(w, &l.default_action));
        if !l.alpn_policy.is_empty() {
            strings(w, "AlpnPolicy", &l.alpn_policy);
        }
    });
}

fn write_condition(w: &mut XmlWriter, c: &Condition) {
    w.node("member", |w| {
        w.leaf("Field", c.field());
        let config = |w: &mut XmlWriter, name: &str, values: &[String]| {
            strings(w, "Values", values);
            w.node(name, |w| strings(w, "Values", values));
        };
        match c {
            Condition::HostHeader { values } => config(w, "HostHeaderConfig", values),
            Condition::PathPattern { values } => config(w, "PathPatternConfig", values),
            Condition::HttpRequestMethod { values } => {
                w.node("HttpRequestMethodConfig", |w| strings(w, "Values", values));
            }
            Condition::SourceIp { values } => {
                w.node("SourceIpConfig", |w| strings(w, "Values", values));
            }
            Condition::HttpHeader { name, values } => {
                w.node("HttpHeaderConfig", |w| {
                    w.leaf("HttpHeaderName", name);
                    strings(w, "Values", values);
                });
            }
            Condition::QueryString { values } => {
                w.node("QueryStringConfig", |w| {
                    w.node("Values", |w| {
                        for kv in values {
                            w.node("member", |w| {
                                if let Some(k) = &kv.key {
                                    w.leaf("Key", k);
                                }
                                w.leaf("Value", &kv.value);
                            });
                        }
                    });
                });
            }
        }
    });
}

pub fn write_rule(w: &mut XmlWriter, r: &RuleView) {
    w.node("member", |w| {
        w.leaf("RuleArn", &r.arn);
        w.leaf(
            "Priority",
            &r.priority
                .map_or_else(|| "default".to_string(), |p| p.to_string()),
        );
        w.node("Conditions", |w| {
            for c in &r.conditions {
                write_condition(w, c);
            }
        });
        w.node("Actions", |w| write_action(w, &r.action));
        w.leaf("IsDefault", &r.priority.is_none().to_string());
    });
}

pub fn write_target_health(w: &mut XmlWriter, t: &TargetHealth) {
    w.node("member", |w| {
        w.node("Target", |w| {
            w.leaf("Id", &t.id);
            w.leaf("Port", &t.port.to_string());
            if let Some(az) = &t.availability_zone {
                w.leaf("AvailabilityZone", az);
            }
        });
        w.leaf("HealthCheckPort", &t.health_check_port);
        w.node("TargetHealth", |w| {
            w.leaf("State", t.health.state);
            if let Some(r) = t.health.reason {
                w.leaf("Reason", r);
            }
            if let Some(d) = &t.health.description {
                w.leaf("Description", d);
            }
        });
    });
}

pub fn write_attributes(w: &mut XmlWriter, attributes: &[(String, String)]) {
    w.node("Attributes", |w| {
        for (k, v) in attributes {
            w.node("member", |w| {
                w.leaf("Key", k);
                w.leaf("Value", v);
            });
        }
    });
}

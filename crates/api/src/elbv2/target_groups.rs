//! Target groups and their targets: create, describe, modify, attributes, delete,
//! register, deregister, health.

use flotilla_aws::xml::XmlWriter;
use flotilla_aws::Context;
use flotilla_control::elbv2::load_balancers as lbs;
use flotilla_control::elbv2::target_groups::{self as tgs, HealthCheckChange, NewTargetGroup};
use flotilla_control::elbv2::targets::{self, TargetRef};
use flotilla_model::elbv2::{TargetGroupProtocol, TargetType};

use super::error::{configuration, invalid, Elbv2Error};
use super::load_balancers::attribute_changes;
use super::page;
use super::shapes::{self, write_attributes, write_target_group, write_target_health};
use crate::query::Params;
use crate::State;

fn protocol(p: &Params, name: &str) -> Result<Option<TargetGroupProtocol>, Elbv2Error> {
    match p.get(name) {
        None => Ok(None),
        Some(v) => TargetGroupProtocol::parse(v).map(Some).ok_or_else(|| {
            if ["TCP", "TLS", "UDP", "TCP_UDP", "GENEVE"].contains(&v) {
                configuration(format!(
                    "Protocol '{v}' is for network and gateway load balancers, which Flotilla does not provide; use HTTP or HTTPS"
                ))
            } else {
                invalid(format!("Protocol '{v}' must be HTTP or HTTPS"))
            }
        }),
    }
}

/// The health check members of CreateTargetGroup and ModifyTargetGroup.
fn health_check(p: &Params) -> Result<HealthCheckChange, Elbv2Error> {
    let port = match p.get("HealthCheckPort") {
        None => None,
        Some("traffic-port") => Some(None),
        Some(v) => Some(Some(v.parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(
            || {
                invalid(format!(
                    "Health check port '{v}' must be 'traffic-port' or between 1 and 65535"
                ))
            },
        )?)),
    };
    Ok(HealthCheckChange {
        enabled: p.bool("HealthCheckEnabled")?,
        protocol: protocol(p, "HealthCheckProtocol")?,
        port,
        path: p.get("HealthCheckPath").map(String::from),
        interval_seconds: p
            .int("HealthCheckIntervalSeconds", 5, 300)?
            .map(|n| n as u32),
        timeout_seconds: p
            .int("HealthCheckTimeoutSeconds", 2, 120)?
            .map(|n| n as u32),
        healthy_threshold: p.int("HealthyThresholdCount", 2, 10)?.map(|n| n as u32),
        unhealthy_threshold: p.int("UnhealthyThresholdCount", 2, 10)?.map(|n| n as u32),
        matcher: match (p.get("Matcher.HttpCode"), p.get("Matcher.GrpcCode")) {
            (_, Some(_)) => return Err(configuration(
                "gRPC health check matchers are not supported by Flotilla; use Matcher.HttpCode",
            )),
            (m, None) => m.map(String::from),
        },
    })
}

/// Describe one target group, with the load balancers that use it.
fn write(
    s: &State,
    scope: &flotilla_model::Scope,
    w: &mut XmlWriter,
    tg: &flotilla_model::elbv2::TargetGroupRecord,
) {
    let lbs = tgs::load_balancers_of(s, scope, &tg.arn);
    write_target_group(w, tg, &lbs);
}

pub async fn create(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let target_type = match p.get("TargetType") {
        None => None,
        Some(t) => Some(TargetType::parse(t).ok_or_else(|| {
            if t == "lambda" || t == "alb" {
                configuration(format!(
                    "Target type '{t}' is not supported by Flotilla; use instance or ip"
                ))
            } else {
                invalid(format!(
                    "Target type '{t}' must be instance, ip, lambda or alb"
                ))
            }
        })?),
    };
    let new = NewTargetGroup {
        name: p.required("Name")?.to_string(),
        protocol: protocol(p, "Protocol")?,
        protocol_version: p.get("ProtocolVersion").map(String::from),
        port: p.int("Port", 1, 65535)?.map(|n| n as u16),
        vpc_id: p.get("VpcId").map(String::from),
        target_type,
        health_check: health_check(p)?,
        ip_address_type: p.get("IpAddressType").map(String::from),
        tags: shapes::tags(p, "Tags"),
    };
    let tg = tgs::create(s, &scope, new).await?;
    w.node("TargetGroups", |w| write(s, &scope, w, &tg));
    Ok(())
}

pub fn describe(s: &State, ctx: &Context, p: &Params, w: &mut XmlWriter) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let arns = p.strings("TargetGroupArns");
    let names = p.strings("Names");
    let lb = p.get("LoadBalancerArn");
    if [!arns.is_empty(), !names.is_empty(), lb.is_some()]
        .iter()
        .filter(|x| **x)
        .count()
        > 1
    {
        return Err(invalid(
            "Give at most one of LoadBalancerArn, TargetGroupArns and Names",
        ));
    }
    let found = if !arns.is_empty() {
        arns.iter()
            .map(|a| tgs::by_arn(s, &scope, a).map(|e| e.value))
            .collect::<Result<Vec<_>, _>>()?
    } else if !names.is_empty() {
        names
            .iter()
            .map(|n| tgs::by_name(s, &scope, n).map(|e| e.value))
            .collect::<Result<Vec<_>, _>>()?
    } else if let Some(lb) = lb {
        let lb = lbs::by_arn(s, &scope, lb)?;
        tgs::list(s, &scope)
            .into_iter()
            .filter(|tg| tgs::load_balancers_of(s, &scope, &tg.arn).contains(&lb.value.arn))
            .collect()
    } else {
        tgs::list(s, &scope)
    };
    let mut marker = XmlWriter::new();
    let found = page(p, &mut marker, found, |tg| tg.name.clone())?;
    w.node("TargetGroups", |w| {
        for tg in &found {
            write(s, &scope, w, tg);
        }
    });
    w.raw(&marker.finish());
    Ok(())
}

pub async fn modify(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let change = health_check(p)?;
    let tg = tgs::modify_health_check(s, &scope, p.required("TargetGroupArn")?, &change).await?;
    w.node("TargetGroups", |w| write(s, &scope, w, &tg));
    Ok(())
}

pub async fn delete(s: &State, ctx: &Context, p: &Params) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    tgs::delete(s, &scope, p.required("TargetGroupArn")?).await?;
    Ok(())
}

pub fn attributes(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let tg = tgs::by_arn(s, &scope, p.required("TargetGroupArn")?)?;
    write_attributes(w, &tg.value.attributes());
    Ok(())
}

pub async fn modify_attributes(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let changes = attribute_changes(p)?;
    let tg = tgs::modify_attributes(s, &scope, p.required("TargetGroupArn")?, &changes).await?;
    write_attributes(w, &tg.attributes());
    Ok(())
}

/// `Targets.member.N.{Id,Port,AvailabilityZone}`.
fn target_refs(p: &Params) -> Result<Vec<TargetRef>, Elbv2Error> {
    p.members("Targets")
        .iter()
        .map(|t| {
            Ok(TargetRef {
                id: t.required("Id")?.to_string(),
                port: t.int("Port", 1, 65535)?.map(|n| n as u16),
                availability_zone: t.get("AvailabilityZone").map(String::from),
            })
        })
        .collect()
}

pub async fn register(s: &State, ctx: &Context, p: &Params) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let refs = target_refs(p)?;
    targets::register(s, &scope, p.required("TargetGroupArn")?, &refs, None)
        .await
        .map_err(|e| Elbv2Error::of(e, "TooManyTargets"))?;
    Ok(())
}

pub async fn deregister(s: &State, ctx: &Context, p: &Params) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let refs = target_refs(p)?;
    targets::deregister(s, &scope, p.required("TargetGroupArn")?, &refs).await?;
    Ok(())
}

pub fn health(s: &State, ctx: &Context, p: &Params, w: &mut XmlWriter) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let refs = target_refs(p)?;
    let asked = (!refs.is_empty()).then_some(refs.as_slice());
    let rows = targets::describe_health(s, &scope, p.required("TargetGroupArn")?, asked)?;
    w.node("TargetHealthDescriptions", |w| {
        for r in &rows {
            write_target_health(w, r);
        }
    });
    Ok(())
}

//! Listeners, their certificates and their rules.

use flotilla_aws::xml::XmlWriter;
use flotilla_aws::Context;
use flotilla_control::elbv2::listeners::{self as ls, ListenerChange, NewListener};
use flotilla_control::elbv2::load_balancers as lbs;
use flotilla_control::elbv2::rules::{self, NewRule};
use flotilla_model::elbv2::ListenerProtocol;
use flotilla_model::Scope;

use super::error::{configuration, invalid, Elbv2Error};
use super::page;
use super::shapes::{self, write_listener, write_rule};
use crate::query::Params;
use crate::State;

fn protocol(p: &Params) -> Result<Option<ListenerProtocol>, Elbv2Error> {
    match p.get("Protocol") {
        None => Ok(None),
        Some(v) => ListenerProtocol::parse(v).map(Some).ok_or_else(|| {
            if ["TCP", "TLS", "UDP", "TCP_UDP", "GENEVE"].contains(&v) {
                configuration(format!(
                    "Protocol '{v}' is for network and gateway load balancers; an application load balancer's listener uses HTTP or HTTPS"
                ))
            } else {
                invalid(format!("Protocol '{v}' must be HTTP or HTTPS"))
            }
        }),
    }
}

/// Whether a certificate ARN names an imported certificate.
fn certificate_exists(s: &State, scope: &Scope, arn: &str) -> bool {
    flotilla_control::acm::exists(s, scope, arn)
}

fn certificate_arns(p: &Params) -> Result<Vec<String>, Elbv2Error> {
    p.members("Certificates")
        .iter()
        .map(|c| Ok(c.required("CertificateArn")?.to_string()))
        .collect()
}

pub async fn create(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let lb = lbs::by_arn(s, &scope, p.required("LoadBalancerArn")?)?;
    let port = p
        .int("Port", 1, 65535)?
        .ok_or_else(|| invalid("A value for 'Port' must be given"))? as u16;
    let protocol = protocol(p)?.unwrap_or(ListenerProtocol::Http);
    let new = NewListener {
        load_balancer_arn: lb.value.arn.clone(),
        port,
        protocol,
        certificates: certificate_arns(p)?,
        ssl_policy: p.get("SslPolicy").map(String::from),
        alpn_policy: p.strings("AlpnPolicy"),
        default_action: shapes::actions(p, "DefaultActions")?,
        tags: shapes::tags(p, "Tags"),
    };
    let taken = ls::of_load_balancer(s, &scope, &lb.value)
        .iter()
        .any(|l| l.port == port);
    if !taken {
        ls::probe(s, lb.value.address, port).await?;
    }
    let l = ls::create(s, &scope, new, |c| certificate_exists(s, &scope, c)).await?;
    w.node("Listeners", |w| write_listener(w, &l));
    Ok(())
}

pub fn describe(s: &State, ctx: &Context, p: &Params, w: &mut XmlWriter) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let arns = p.strings("ListenerArns");
    let found = match (p.get("LoadBalancerArn"), arns.is_empty()) {
        (Some(_), false) => {
            return Err(invalid(
                "Give either LoadBalancerArn or ListenerArns, not both",
            ))
        }
        (Some(lb), true) => {
            let lb = lbs::by_arn(s, &scope, lb)?;
            ls::of_load_balancer(s, &scope, &lb.value)
        }
        (None, false) => arns
            .iter()
            .map(|a| ls::by_arn(s, &scope, a).map(|e| e.value))
            .collect::<Result<Vec<_>, _>>()?,
        (None, true) => return Err(invalid("Give a LoadBalancerArn or ListenerArns")),
    };
    let mut marker = XmlWriter::new();
    let found = page(p, &mut marker, found, |l| format!("{:05}{}", l.port, l.arn))?;
    w.node("Listeners", |w| {
        for l in &found {
            write_listener(w, l);
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
    let arn = p.required("ListenerArn")?;
    let current = ls::by_arn(s, &scope, arn)?;
    let port = p.int("Port", 1, 65535)?.map(|n| n as u16);
    if let Some(port) = port.filter(|p| *p != current.value.port) {
        let lb = lbs::by_arn(s, &scope, &current.value.load_balancer_arn)?;
        ls::probe(s, lb.value.address, port).await?;
    }
    let change = ListenerChange {
        port,
        protocol: protocol(p)?,
        certificates: p
            .has("Certificates")
            .then(|| certificate_arns(p))
            .transpose()?,
        ssl_policy: p.get("SslPolicy").map(String::from),
        alpn_policy: p.has("AlpnPolicy").then(|| p.strings("AlpnPolicy")),
        default_action: p
            .has("DefaultActions")
            .then(|| shapes::actions(p, "DefaultActions"))
            .transpose()?,
    };
    let l = ls::modify(s, &scope, arn, change, |c| certificate_exists(s, &scope, c)).await?;
    w.node("Listeners", |w| write_listener(w, &l));
    Ok(())
}

pub async fn delete(s: &State, ctx: &Context, p: &Params) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    ls::delete(s, &scope, p.required("ListenerArn")?).await?;
    Ok(())
}

fn write_certificates(w: &mut XmlWriter, certificates: &[String]) {
    w.node("Certificates", |w| {
        for (i, c) in certificates.iter().enumerate() {
            w.node("member", |w| {
                w.leaf("CertificateArn", c);
                w.leaf("IsDefault", &(i == 0).to_string());
            });
        }
    });
}

pub async fn certificates(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
    add: bool,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let arns = certificate_arns(p)?;
    if arns.is_empty() {
        return Err(invalid("At least one certificate must be given"));
    }
    let l = ls::change_certificates(s, &scope, p.required("ListenerArn")?, &arns, add, |c| {
        certificate_exists(s, &scope, c)
    })
    .await?;
    if add {
        let added: Vec<String> = l
            .certificates
            .iter()
            .filter(|c| arns.contains(c))
            .cloned()
            .collect();
        w.node("Certificates", |w| {
            for c in &added {
                w.node("member", |w| {
                    w.leaf("CertificateArn", c);
                });
            }
        });
    }
    Ok(())
}

pub fn describe_certificates(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let l = ls::by_arn(s, &scope, p.required("ListenerArn")?)?;
    write_certificates(w, &l.value.certificates);
    Ok(())
}

pub fn ssl_policies(p: &Params, w: &mut XmlWriter) -> Result<(), Elbv2Error> {
    let names = p.strings("Names");
    let all = [
        ("ELBSecurityPolicy-2016-08", &["TLSv1.2"][..]),
        (
            "ELBSecurityPolicy-TLS13-1-2-2021-06",
            &["TLSv1.2", "TLSv1.3"][..],
        ),
        ("ELBSecurityPolicy-TLS13-1-3-2021-06", &["TLSv1.3"][..]),
    ];
    for n in &names {
        if !all.iter().any(|(a, _)| a == n) {
            return Err(Elbv2Error(flotilla_aws::AwsError::client(
                "SSLPolicyNotFound",
                format!("SSL policy '{n}' not found"),
            )));
        }
    }
    w.node("SslPolicies", |w| {
        for (name, protocols) in all {
            if !names.is_empty() && !names.iter().any(|n| n == name) {
                continue;
            }
            w.node("member", |w| {
                w.leaf("Name", name);
                w.node("SslProtocols", |w| {
                    for p in protocols {
                        w.leaf("member", p);
                    }
                });
                w.node("SupportedLoadBalancerTypes", |w| {
                    w.leaf("member", "application");
                });
            });
        }
    });
    Ok(())
}

pub async fn create_rule(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let new = NewRule {
        listener_arn: p.required("ListenerArn")?.to_string(),
        priority: p
            .int("Priority", 1, 50_000)?
            .ok_or_else(|| invalid("A value for 'Priority' must be given"))?
            as u32,
        conditions: shapes::conditions(p)?,
        action: shapes::actions(p, "Actions")?,
        tags: shapes::tags(p, "Tags"),
    };
    let rule = rules::create_rule(s, &scope, new)
        .await
        .map_err(|e| Elbv2Error::of(e, "TooManyRules"))?;
    let view = rules::rule_by_arn(s, &scope, &rule.arn)?;
    w.node("Rules", |w| write_rule(w, &view));
    Ok(())
}

pub fn describe_rules(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let arns = p.strings("RuleArns");
    let found = match (p.get("ListenerArn"), arns.is_empty()) {
        (Some(_), false) => return Err(invalid("Give either ListenerArn or RuleArns, not both")),
        (Some(l), true) => {
            let l = ls::by_arn(s, &scope, l)?;
            rules::rules_of(s, &scope, &l.value)
        }
        (None, false) => arns
            .iter()
            .map(|a| rules::rule_by_arn(s, &scope, a))
            .collect::<Result<Vec<_>, _>>()?,
        (None, true) => return Err(invalid("Give a ListenerArn or RuleArns")),
    };
    let mut marker = XmlWriter::new();
    let found = page(p, &mut marker, found, |r| {
        format!("{:05}", r.priority.unwrap_or(99_999))
    })?;
    w.node("Rules", |w| {
        for r in &found {
            write_rule(w, r);
        }
    });
    w.raw(&marker.finish());
    Ok(())
}

pub async fn modify_rule(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let conditions = p
        .has("Conditions")
        .then(|| shapes::conditions(p))
        .transpose()?;
    let action = p
        .has("Actions")
        .then(|| shapes::actions(p, "Actions"))
        .transpose()?;
    let rule = rules::modify_rule(s, &scope, p.required("RuleArn")?, conditions, action).await?;
    w.node("Rules", |w| write_rule(w, &rule));
    Ok(())
}

pub async fn set_priorities(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let changes = p
        .members("RulePriorities")
        .iter()
        .map(|r| {
            Ok((
                r.required("RuleArn")?.to_string(),
                r.int("Priority", 1, 50_000)?
                    .ok_or_else(|| invalid("Each rule priority needs a Priority"))?
                    as u32,
            ))
        })
        .collect::<Result<Vec<_>, Elbv2Error>>()?;
    if changes.is_empty() {
        return Err(invalid("At least one rule priority must be given"));
    }
    let rules = rules::set_priorities(s, &scope, &changes).await?;
    w.node("Rules", |w| {
        for r in &rules {
            write_rule(w, r);
        }
    });
    Ok(())
}

pub async fn delete_rule(s: &State, ctx: &Context, p: &Params) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    rules::delete_rule(s, &scope, p.required("RuleArn")?).await?;
    Ok(())
}

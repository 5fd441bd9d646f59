//! CreateLoadBalancer, DescribeLoadBalancers, DeleteLoadBalancer, attributes, and the
//! network settings a load balancer stores (subnets, security groups, IP address type).

use flotilla_aws::xml::XmlWriter;
use flotilla_aws::Context;
use flotilla_control::elbv2::load_balancers::{self as lbs, NewLoadBalancer};

use super::error::{configuration, invalid, Elbv2Error};
use super::page;
use super::shapes::{self, write_attributes, write_load_balancer};
use crate::query::Params;
use crate::State;

pub async fn create(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    match p.get("Type").unwrap_or("application") {
        "application" => {}
        t @ ("network" | "gateway") => {
            return Err(configuration(format!(
                "Load balancers of type '{t}' are not supported by Flotilla; use 'application'"
            )))
        }
        t => {
            return Err(invalid(format!(
                "Load balancer type '{t}' must be application, network or gateway"
            )))
        }
    }
    if p.has("SubnetMappings") && p.has("Subnets") {
        return Err(invalid("Give either Subnets or SubnetMappings, not both"));
    }
    let mut subnets = p.strings("Subnets");
    subnets.extend(
        p.members("SubnetMappings")
            .iter()
            .filter_map(|m| m.get("SubnetId").map(String::from)),
    );
    let new = NewLoadBalancer {
        name: p.required("Name")?.to_string(),
        scheme: p.get("Scheme").map(String::from),
        ip_address_type: p.get("IpAddressType").map(String::from),
        subnets,
        security_groups: p.strings("SecurityGroups"),
        tags: shapes::tags(p, "Tags"),
    };
    let lb = lbs::create(s, &scope, new)
        .await
        .map_err(|e| Elbv2Error::of(e, "TooManyLoadBalancers"))?;
    w.node("LoadBalancers", |w| write_load_balancer(w, s, &scope, &lb));
    Ok(())
}

pub fn describe(s: &State, ctx: &Context, p: &Params, w: &mut XmlWriter) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let arns = p.strings("LoadBalancerArns");
    let names = p.strings("Names");
    if !arns.is_empty() && !names.is_empty() {
        return Err(invalid("Give either LoadBalancerArns or Names, not both"));
    }
    let found = if !arns.is_empty() {
        arns.iter()
            .map(|a| lbs::by_arn(s, &scope, a).map(|e| e.value))
            .collect::<Result<Vec<_>, _>>()?
    } else if !names.is_empty() {
        names
            .iter()
            .map(|n| lbs::by_name(s, &scope, n).map(|e| e.value))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        lbs::list(s, &scope)
    };
    let mut out = XmlWriter::new();
    let found = page(p, &mut out, found, |lb| lb.name.clone())?;
    w.node("LoadBalancers", |w| {
        for lb in &found {
            write_load_balancer(w, s, &scope, lb);
        }
    });
    w.raw(&out.finish());
    Ok(())
}

pub async fn delete(s: &State, ctx: &Context, p: &Params) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    lbs::delete(s, &scope, p.required("LoadBalancerArn")?).await?;
    Ok(())
}

pub fn attributes(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let lb = lbs::by_arn(s, &scope, p.required("LoadBalancerArn")?)?;
    write_attributes(w, &lb.value.attributes());
    Ok(())
}

/// `Attributes.member.N.{Key,Value}`.
pub fn attribute_changes(p: &Params) -> Result<Vec<(String, String)>, Elbv2Error> {
    p.members("Attributes")
        .iter()
        .map(|a| {
            Ok((
                a.required("Key")?.to_string(),
                a.get("Value").unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

pub async fn modify_attributes(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let changes = attribute_changes(p)?;
    let lb = lbs::modify_attributes(s, &scope, p.required("LoadBalancerArn")?, &changes).await?;
    write_attributes(w, &lb.attributes());
    Ok(())
}

/// Check subnets and groups a load balancer is given afterwards: each must exist, in the
/// load balancer's VPC.
async fn check_same_vpc(
    s: &State,
    scope: &flotilla_model::Scope,
    vpc_id: &str,
    subnets: &[String],
    groups: &[String],
) -> Result<(), Elbv2Error> {
    let network = flotilla_control::ec2::check_network(s, scope, subnets, groups)
        .await
        .map_err(flotilla_control::ControlError::from)?;
    if network.vpc_id != vpc_id {
        return Err(configuration(format!(
            "The load balancer is in {vpc_id}; its subnets and security groups must be too, \
             not in {}",
            network.vpc_id
        )));
    }
    Ok(())
}

pub async fn set_security_groups(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let groups = p.strings("SecurityGroups");
    let arn = p.required("LoadBalancerArn")?;
    let current = lbs::by_arn(s, &scope, arn)?;
    check_same_vpc(
        s,
        &scope,
        &current.value.vpc_id,
        &current.value.subnets,
        &groups,
    )
    .await?;
    let lb = lbs::update(s, &scope, arn, |lb| {
        lb.security_groups.clone_from(&groups);
        Ok(())
    })
    .await?;
    w.node("SecurityGroupIds", |w| {
        for g in &lb.security_groups {
            w.leaf("member", g);
        }
    });
    Ok(())
}

pub async fn set_subnets(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let mut subnets = p.strings("Subnets");
    subnets.extend(
        p.members("SubnetMappings")
            .iter()
            .filter_map(|m| m.get("SubnetId").map(String::from)),
    );
    if subnets.is_empty() {
        return Err(invalid("At least one subnet must be given"));
    }
    let arn = p.required("LoadBalancerArn")?;
    let current = lbs::by_arn(s, &scope, arn)?;
    check_same_vpc(
        s,
        &scope,
        &current.value.vpc_id,
        &subnets,
        &current.value.security_groups,
    )
    .await?;
    let lb = lbs::update(s, &scope, arn, |lb| {
        lb.subnets.clone_from(&subnets);
        Ok(())
    })
    .await?;
    shapes::write_zones(w, s, &scope, &lb);
    w.leaf("IpAddressType", &lb.ip_address_type);
    Ok(())
}

pub async fn set_ip_address_type(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    let scope = crate::scope(s, ctx);
    let t = p.required("IpAddressType")?.to_string();
    if !["ipv4", "dualstack"].contains(&t.as_str()) {
        return Err(invalid(format!(
            "IP address type '{t}' must be 'ipv4' or 'dualstack'"
        )));
    }
    let lb = lbs::update(s, &scope, p.required("LoadBalancerArn")?, |lb| {
        lb.ip_address_type.clone_from(&t);
        Ok(())
    })
    .await?;
    w.leaf("IpAddressType", &lb.ip_address_type);
    Ok(())
}

/// The quotas Flotilla enforces, as DescribeAccountLimits reports them.
pub fn account_limits(w: &mut XmlWriter) {
    use flotilla_control::elbv2::{rules::MAX_RULES, targets::MAX_TARGETS};
    w.node("Limits", |w| {
        for (name, max) in [
            ("rules-per-application-load-balancer", MAX_RULES.to_string()),
            ("targets-per-target-group", MAX_TARGETS.to_string()),
            (
                "target-groups-per-action-on-application-load-balancer",
                "5".into(),
            ),
        ] {
            w.node("member", |w| {
                w.leaf("Name", name);
                w.leaf("Max", &max);
            });
        }
    });
}

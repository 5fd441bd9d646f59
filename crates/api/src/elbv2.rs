//! Elastic Load Balancing v2 (query protocol, version 2015-12-01): application load
//! balancers, target groups and targets, listeners and rules, attributes and tags.
//!
//! `crate::query` reads the query protocol's flattened parameters as a tree; [`shapes`] reads
//! actions and conditions and writes every resource as XML; [`error`] maps the control
//! plane's errors to ELBv2's codes; the operations are in [`load_balancers`],
//! [`target_groups`] and [`listeners`]. [`OPERATIONS`] lists what is implemented.

mod error;
mod listeners;
mod load_balancers;
mod shapes;
mod target_groups;

use async_trait::async_trait;
use flotilla_aws::xml::XmlWriter;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};

use crate::pagination::paginate;
use crate::query::Params;
use crate::State;
use error::{invalid, Elbv2Error};

/// Every ELBv2 operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "AddListenerCertificates",
    "AddTags",
    "CreateListener",
    "CreateLoadBalancer",
    "CreateRule",
    "CreateTargetGroup",
    "DeleteListener",
    "DeleteLoadBalancer",
    "DeleteRule",
    "DeleteTargetGroup",
    "DeregisterTargets",
    "DescribeAccountLimits",
    "DescribeListenerCertificates",
    "DescribeListeners",
    "DescribeLoadBalancerAttributes",
    "DescribeLoadBalancers",
    "DescribeRules",
    "DescribeSSLPolicies",
    "DescribeTags",
    "DescribeTargetGroupAttributes",
    "DescribeTargetGroups",
    "DescribeTargetHealth",
    "ModifyListener",
    "ModifyLoadBalancerAttributes",
    "ModifyRule",
    "ModifyTargetGroup",
    "ModifyTargetGroupAttributes",
    "RegisterTargets",
    "RemoveListenerCertificates",
    "RemoveTags",
    "SetIpAddressType",
    "SetRulePriorities",
    "SetSecurityGroups",
    "SetSubnets",
];

pub struct Elbv2 {
    spec: AwsServiceSpec,
    state: State,
}

impl Elbv2 {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "elasticloadbalancing",
            protocol: Protocol::Query,
            target_prefix: "",
            xmlns: "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
        };
        Elbv2 { spec, state }
    }
}

#[async_trait]
impl AwsService for Elbv2 {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let p = Params::new(crate::query::form(input, "ELBv2")?);
        let mut w = XmlWriter::new();
        dispatch(&self.state, ctx, operation, &p, &mut w).await?;
        Ok(Output::Xml(w.finish()))
    }
}

/// Run one ELBv2 operation, writing its result's members into `w`.
async fn dispatch(
    s: &State,
    ctx: &Context,
    operation: &str,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    use listeners as l;
    use load_balancers as lb;
    use target_groups as tg;
    match operation {
        "CreateLoadBalancer" => lb::create(s, ctx, p, w).await,
        "DescribeLoadBalancers" => lb::describe(s, ctx, p, w),
        "DeleteLoadBalancer" => lb::delete(s, ctx, p).await,
        "DescribeLoadBalancerAttributes" => lb::attributes(s, ctx, p, w),
        "ModifyLoadBalancerAttributes" => lb::modify_attributes(s, ctx, p, w).await,
        "SetSecurityGroups" => lb::set_security_groups(s, ctx, p, w).await,
        "SetSubnets" => lb::set_subnets(s, ctx, p, w).await,
        "SetIpAddressType" => lb::set_ip_address_type(s, ctx, p, w).await,
        "DescribeAccountLimits" => {
            lb::account_limits(w);
            Ok(())
        }
        "DescribeSSLPolicies" => l::ssl_policies(p, w),
        "CreateTargetGroup" => tg::create(s, ctx, p, w).await,
        "DescribeTargetGroups" => tg::describe(s, ctx, p, w),
        "ModifyTargetGroup" => tg::modify(s, ctx, p, w).await,
        "DeleteTargetGroup" => tg::delete(s, ctx, p).await,
        "DescribeTargetGroupAttributes" => tg::attributes(s, ctx, p, w),
        "ModifyTargetGroupAttributes" => tg::modify_attributes(s, ctx, p, w).await,
        "RegisterTargets" => tg::register(s, ctx, p).await,
        "DeregisterTargets" => tg::deregister(s, ctx, p).await,
        "DescribeTargetHealth" => tg::health(s, ctx, p, w),
        "CreateListener" => l::create(s, ctx, p, w).await,
        "DescribeListeners" => l::describe(s, ctx, p, w),
        "ModifyListener" => l::modify(s, ctx, p, w).await,
        "DeleteListener" => l::delete(s, ctx, p).await,
        "AddListenerCertificates" => l::certificates(s, ctx, p, w, true).await,
        "RemoveListenerCertificates" => l::certificates(s, ctx, p, w, false).await,
        "DescribeListenerCertificates" => l::describe_certificates(s, ctx, p, w),
        "CreateRule" => l::create_rule(s, ctx, p, w).await,
        "DescribeRules" => l::describe_rules(s, ctx, p, w),
        "ModifyRule" => l::modify_rule(s, ctx, p, w).await,
        "SetRulePriorities" => l::set_priorities(s, ctx, p, w).await,
        "DeleteRule" => l::delete_rule(s, ctx, p).await,
        "AddTags" => tags(s, ctx, p, TagChange::Add).await,
        "RemoveTags" => tags(s, ctx, p, TagChange::Remove).await,
        "DescribeTags" => describe_tags(s, ctx, p, w),
        other => Err(AwsError::client(
            "InvalidAction",
            format!("The action {other} is not valid for this web service."),
        )
        .into()),
    }
}

/// One page of `items` by `Marker` and `PageSize` (1–400), writing `NextMarker`.
fn page<T>(
    p: &Params,
    w: &mut XmlWriter,
    items: Vec<T>,
    key: impl Fn(&T) -> String,
) -> Result<Vec<T>, Elbv2Error> {
    let size = p.int("PageSize", 1, 400)?.unwrap_or(400) as usize;
    let (page, next) = paginate(
        items,
        key,
        crate::pagination::Order::Asc,
        p.get("Marker"),
        size,
    )
    .map_err(|_| invalid("The Marker is not one a previous call returned"))?;
    if let Some(n) = next {
        w.leaf("NextMarker", &n);
    }
    Ok(page)
}

enum TagChange {
    Add,
    Remove,
}

/// AddTags / RemoveTags on load balancers, target groups, listeners and rules.
async fn tags(s: &State, ctx: &Context, p: &Params, change: TagChange) -> Result<(), Elbv2Error> {
    use flotilla_control::elbv2::{listeners as cl, load_balancers as clb, target_groups as ctg};
    use flotilla_model::tag::{merge_tags, remove_tags, validate_tags};
    let scope = crate::scope(s, ctx);
    let arns = p.strings("ResourceArns");
    if arns.is_empty() {
        return Err(invalid("At least one resource ARN must be given"));
    }
    let new = shapes::tags(p, "Tags");
    let keys = p.strings("TagKeys");
    match change {
        TagChange::Add if new.is_empty() => return Err(invalid("At least one tag must be given")),
        TagChange::Add => validate_tags(&new)?,
        TagChange::Remove if keys.is_empty() => {
            return Err(invalid("At least one tag key must be given"))
        }
        TagChange::Remove => {}
    }
    let apply = |tags: &mut Vec<flotilla_model::tag::Tag>| match change {
        TagChange::Add => merge_tags(tags, new.clone()),
        TagChange::Remove => remove_tags(tags, &keys),
    };
    for arn in &arns {
        let kind = arn.split(':').nth(5).unwrap_or_default();
        if kind.starts_with("loadbalancer/") {
            clb::update(s, &scope, arn, |lb| {
                apply(&mut lb.tags);
                validate_tags(&lb.tags)?;
                Ok(())
            })
            .await?;
        } else if kind.starts_with("targetgroup/") {
            ctg::update(s, &scope, arn, |tg| {
                apply(&mut tg.tags);
                validate_tags(&tg.tags)?;
                Ok(())
            })
            .await?;
        } else if kind.starts_with("listener/") {
            cl::update_listener_tags(s, &scope, arn, apply).await?;
        } else if kind.starts_with("listener-rule/") {
            flotilla_control::elbv2::rules::update_rule_tags(s, &scope, arn, apply).await?;
        } else {
            return Err(invalid(format!(
                "'{arn}' is not the ARN of an ELBv2 resource"
            )));
        }
    }
    Ok(())
}

fn describe_tags(
    s: &State,
    ctx: &Context,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Elbv2Error> {
    use flotilla_control::elbv2::{listeners as cl, load_balancers as clb, target_groups as ctg};
    let scope = crate::scope(s, ctx);
    let arns = p.strings("ResourceArns");
    if arns.is_empty() || arns.len() > 20 {
        return Err(invalid("Between 1 and 20 resource ARNs must be given"));
    }
    let mut found = Vec::new();
    for arn in &arns {
        let kind = arn.split(':').nth(5).unwrap_or_default();
        let tags = if kind.starts_with("loadbalancer/") {
            clb::by_arn(s, &scope, arn)?.value.tags.clone()
        } else if kind.starts_with("targetgroup/") {
            ctg::by_arn(s, &scope, arn)?.value.tags.clone()
        } else if kind.starts_with("listener/") {
            cl::by_arn(s, &scope, arn)?.value.tags.clone()
        } else if kind.starts_with("listener-rule/") {
            flotilla_control::elbv2::rules::rule_by_arn(s, &scope, arn)?.tags
        } else {
            return Err(invalid(format!(
                "'{arn}' is not the ARN of an ELBv2 resource"
            )));
        };
        found.push((arn.clone(), tags));
    }
    w.node("TagDescriptions", |w| {
        for (arn, tags) in &found {
            w.node("member", |w| {
                w.leaf("ResourceArn", arn);
                shapes::write_tags(w, tags);
            });
        }
    });
    Ok(())
}

//! Amazon EC2's networking subset (the `ec2` protocol, version 2016-11-15, signing name
//! `ec2`): VPCs, subnets, availability zones, security groups and their rules, and tags.
//!
//! `crate::query` reads EC2's flattened parameters (`Filter.1.Value.1`); [`shapes`] writes
//! the resources as EC2's XML and reads filters, tag specifications and permissions;
//! [`error`] maps the control plane's errors to EC2's codes. [`OPERATIONS`] lists what is
//! implemented.

pub(crate) mod error;
mod shapes;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use flotilla_aws::xml::XmlWriter;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use flotilla_control::ec2::{
    self as control, interfaces, security_groups as groups, subnets, tags, vpcs,
};
use flotilla_model::ec2::zone_id;
use flotilla_model::Scope;
use http::StatusCode;

use crate::pagination::{paginate, Order};
use crate::query::Params;
use crate::State;
use error::{invalid, Ec2WireError};

/// Every EC2 operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "AuthorizeSecurityGroupEgress",
    "AuthorizeSecurityGroupIngress",
    "CreateSecurityGroup",
    "CreateSubnet",
    "CreateTags",
    "CreateVpc",
    "DeleteSecurityGroup",
    "DeleteSubnet",
    "DeleteTags",
    "DeleteVpc",
    "DescribeAvailabilityZones",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroupRules",
    "DescribeSecurityGroups",
    "DescribeSubnets",
    "DescribeTags",
    "DescribeVpcs",
    "RevokeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
];

pub struct Ec2 {
    spec: AwsServiceSpec,
    state: State,
}

impl Ec2 {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "ec2",
            protocol: Protocol::Ec2,
            target_prefix: "",
            xmlns: "http://ec2.amazonaws.com/doc/2016-11-15/",
        };
        Ec2 { spec, state }
    }
}

#[async_trait]
impl AwsService for Ec2 {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let p = Params::ec2(crate::query::form(input, "EC2")?);
        if !OPERATIONS.contains(&operation) {
            return Err(AwsError::client(
                "InvalidAction",
                format!("The action {operation} is not valid for this web service."),
            ));
        }
        if p.bool("DryRun").map_err(Ec2WireError::from)? == Some(true) {
            return Err(AwsError::new(
                StatusCode::PRECONDITION_FAILED,
                "DryRunOperation",
                "Request would have succeeded, but DryRun flag is set.",
            ));
        }
        let scope = crate::scope(&self.state, ctx);
        let mut w = XmlWriter::new();
        dispatch(&self.state, &scope, operation, &p, &mut w).await?;
        Ok(Output::Xml(w.finish()))
    }
}

/// Run one EC2 operation, writing its answer's members into `w`.
async fn dispatch(
    s: &State,
    sc: &Scope,
    operation: &str,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<(), Ec2WireError> {
    match operation {
        "CreateVpc" => {
            let cidr = p.get("CidrBlock").ok_or_else(|| {
                control::Ec2Error::Missing(
                    "The request must contain the parameter cidrBlock".into(),
                )
            })?;
            let tags = shapes::tag_specifications(p, "vpc")?;
            let vpc = vpcs::create(s, sc, cidr, tags).await?;
            w.node("vpc", |w| shapes::vpc(w, &vpc));
        }
        "DescribeVpcs" => {
            let ids = p.strings("VpcId");
            let found = vpcs::list(s, sc, &ids, &shapes::filters(p, "Filter")?).await?;
            let page = page(p, &ids, found, |v| v.vpc_id.clone())?;
            shapes::set(w, "vpcSet", &page.0, |w, v| shapes::vpc(w, v));
            next_token(w, page.1);
        }
        "DeleteVpc" => {
            vpcs::delete(s, sc, p.required("VpcId")?).await?;
            w.leaf("return", "true");
        }
        "CreateSubnet" => {
            if p.has("Ipv6CidrBlock") || p.get("Ipv6Native") == Some("true") {
                return Err(invalid(
                    "IPv6 subnets are not supported; give an IPv4 CidrBlock.",
                ));
            }
            let zone = match (p.get("AvailabilityZone"), p.get("AvailabilityZoneId")) {
                (Some(_), Some(_)) => {
                    return Err(control::Ec2Error::Combination(
                        "Name AvailabilityZone or AvailabilityZoneId, not both.".into(),
                    )
                    .into())
                }
                (Some(z), None) => Some(z.to_string()),
                (None, Some(id)) => Some(
                    control::zones(s, sc)
                        .into_iter()
                        .find(|z| zone_id(z) == id)
                        .ok_or_else(|| {
                            invalid(format!(
                                "Value ({id}) for parameter availabilityZoneId is invalid."
                            ))
                        })?,
                ),
                (None, None) => None,
            };
            let new = subnets::NewSubnet {
                vpc_id: p.required("VpcId")?.to_string(),
                cidr_block: p.required("CidrBlock")?.to_string(),
                availability_zone: zone,
                tags: shapes::tag_specifications(p, "subnet")?,
            };
            let subnet = subnets::create(s, sc, new).await?;
            w.node("subnet", |w| shapes::subnet(w, sc, &subnet, 0));
        }
        "DescribeSubnets" => {
            let ids = p.strings("SubnetId");
            let found = subnets::list(s, sc, &ids, &shapes::filters(p, "Filter")?).await?;
            let page = page(p, &ids, found, |v| v.subnet_id.clone())?;
            shapes::set(w, "subnetSet", &page.0, |w, v| {
                let in_use = interfaces::list(s, sc, &v.subnet_id).len();
                shapes::subnet(w, sc, v, in_use)
            });
            next_token(w, page.1);
        }
        "DescribeNetworkInterfaces" => {
            let ids = p.strings("NetworkInterfaceId");
            let found = interfaces::describe(s, sc, &ids, &shapes::filters(p, "Filter")?)?;
            let page = page(p, &ids, found, |v| v.network_interface_id.clone())?;
            let group_name = |id: &str| {
                groups::get(s, sc, id)
                    .map(|g| g.value.group_name.clone())
                    .unwrap_or_default()
            };
            shapes::set(w, "networkInterfaceSet", &page.0, |w, v| {
                shapes::network_interface(w, sc, v, &group_name)
            });
            next_token(w, page.1);
        }
        "DeleteSubnet" => {
            subnets::delete(s, sc, p.required("SubnetId")?).await?;
            w.leaf("return", "true");
        }
        "DescribeAvailabilityZones" => zones(s, sc, p, w)?,
        "CreateSecurityGroup" => {
            let new = groups::NewGroup {
                name: p.required("GroupName")?.to_string(),
                description: p.required("GroupDescription")?.to_string(),
                vpc_id: p.get("VpcId").map(String::from),
                tags: shapes::tag_specifications(p, "security-group")?,
            };
            let group = groups::create(s, sc, new).await?;
            w.leaf("return", "true");
            w.leaf("groupId", &group.group_id);
            w.leaf(
                "securityGroupArn",
                &shapes::arn(sc, "security-group", &group.group_id),
            );
            shapes::tag_set(w, &group.tags);
        }
        "DescribeSecurityGroups" => {
            let ids = p.strings("GroupId");
            let names = p.strings("GroupName");
            let found = groups::list(s, sc, &ids, &names, &shapes::filters(p, "Filter")?).await?;
            let named = ids.iter().chain(&names).cloned().collect::<Vec<_>>();
            let page = page(p, &named, found, |g| g.group_id.clone())?;
            shapes::set(w, "securityGroupInfo", &page.0, |w, g| {
                shapes::security_group(w, sc, g)
            });
            next_token(w, page.1);
        }
        "DeleteSecurityGroup" => {
            let id = groups::delete(s, sc, p.get("GroupId"), p.get("GroupName")).await?;
            w.leaf("return", "true");
            w.leaf("groupId", &id);
        }
        "AuthorizeSecurityGroupIngress" | "AuthorizeSecurityGroupEgress" => {
            let egress = operation.ends_with("Egress");
            let name = if egress { None } else { p.get("GroupName") };
            let rules = shapes::rules(p)?;
            let tags = shapes::tag_specifications(p, "security-group-rule")?;
            let (group, added) =
                groups::authorize(s, sc, (p.get("GroupId"), name), egress, rules, tags).await?;
            w.leaf("return", "true");
            shapes::set(w, "securityGroupRuleSet", &added, |w, r| {
                shapes::rule(w, sc, &group, r, egress)
            });
        }
        "RevokeSecurityGroupIngress" | "RevokeSecurityGroupEgress" => {
            let egress = operation.ends_with("Egress");
            let name = if egress { None } else { p.get("GroupName") };
            let ids = p.strings("SecurityGroupRuleId");
            let rules = shapes::rules(p)?;
            let group = groups::resolve(s, sc, p.get("GroupId"), name)?;
            let out = groups::revoke(s, sc, (p.get("GroupId"), name), egress, &ids, rules).await?;
            w.leaf("return", "true");
            if !out.unknown.is_empty() {
                shapes::set(
                    w,
                    "unknownIpPermissionSet",
                    &out.unknown,
                    shapes::unknown_permission,
                );
            }
            shapes::set(w, "revokedSecurityGroupRuleSet", &out.revoked, |w, r| {
                shapes::revoked_rule(w, &group.value.group_id, r, egress)
            });
        }
        "DescribeSecurityGroupRules" => {
            let ids = p.strings("SecurityGroupRuleId");
            let found = groups::rules(s, sc, &ids, &shapes::filters(p, "Filter")?).await?;
            let size = page_size(p, &ids, 10)?;
            let (page, next) = paginate(
                found,
                |r| r.rule.id.clone(),
                Order::Asc,
                p.get("NextToken"),
                size,
            )?;
            shapes::set(w, "securityGroupRuleSet", &page, |w, r| {
                shapes::rule_entry(w, sc, r)
            });
            next_token(w, next);
        }
        "CreateTags" => {
            let resources = p.strings("ResourceId");
            let new = shapes::tags(p, "Tag")?;
            tags::create(s, sc, &resources, &new).await?;
            w.leaf("return", "true");
        }
        "DeleteTags" => {
            let resources = p.strings("ResourceId");
            let gone = p
                .members("Tag")
                .into_iter()
                .map(|t| {
                    Ok((
                        t.required("Key")?.to_string(),
                        t.get("Value").map(String::from),
                    ))
                })
                .collect::<Result<Vec<_>, Ec2WireError>>()?;
            tags::delete(s, sc, &resources, &gone).await?;
            w.leaf("return", "true");
        }
        "DescribeTags" => {
            let found = tags::describe(s, sc, &shapes::filters(p, "Filter")?).await?;
            let size = page_size(p, &[], 5)?;
            let (page, next) = paginate(
                found,
                |t| format!("{}\u{0}{}", t.resource_id, t.key()),
                Order::Asc,
                p.get("NextToken"),
                size,
            )?;
            shapes::set(w, "tagSet", &page, |w, t| {
                w.leaf("resourceId", &t.resource_id);
                w.leaf("resourceType", t.resource_type.wire());
                w.leaf("key", t.key());
                w.leaf("value", t.value());
            });
            next_token(w, next);
        }
        other => return Err(AwsError::unknown_operation(other).into()),
    }
    Ok(())
}

/// `MaxResults` (at least `min`, at most 1000; all when absent), which may not be given
/// with ids.
fn page_size(p: &Params, ids: &[String], min: i64) -> Result<usize, Ec2WireError> {
    let max = p.int("MaxResults", min, 1000)?;
    if max.is_some() && !ids.is_empty() {
        return Err(control::Ec2Error::Combination(
            "The parameter MaxResults cannot be used with the parameter ids".into(),
        )
        .into());
    }
    Ok(max.map(|n| n as usize).unwrap_or(usize::MAX / 2))
}

/// One page of `items`, by id, as `MaxResults` and `NextToken` ask.
fn page<T>(
    p: &Params,
    ids: &[String],
    mut items: Vec<T>,
    id: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), Ec2WireError> {
    let size = page_size(p, ids, 5)?;
    items.sort_by_key(&id);
    Ok(paginate(items, id, Order::Asc, p.get("NextToken"), size)?)
}

fn next_token(w: &mut XmlWriter, token: Option<String>) {
    if let Some(t) = token {
        w.leaf("nextToken", &t);
    }
}

/// DescribeAvailabilityZones: the region's zones, by `ZoneName`, `ZoneId` or filters
/// (`zone-name`, `zone-id`, `region-name`, `state`).
fn zones(s: &State, sc: &Scope, p: &Params, w: &mut XmlWriter) -> Result<(), Ec2WireError> {
    let names = p.strings("ZoneName");
    let ids = p.strings("ZoneId");
    let filters = shapes::filters(p, "Filter")?;
    let all = control::zones(s, sc);
    for n in &names {
        if !all.contains(n) {
            return Err(invalid(format!("The zone '{n}' does not exist.")));
        }
    }
    let value = |zone: &str, name: &str| -> Option<String> {
        match name {
            "zone-name" => Some(zone.to_string()),
            "zone-id" => Some(zone_id(zone)),
            "region-name" | "group-name" | "network-border-group" => Some(sc.region.clone()),
            "state" => Some("available".into()),
            "zone-type" => Some("availability-zone".into()),
            "opt-in-status" => Some("opt-in-not-required".into()),
            _ => None,
        }
    };
    if let Some(f) = filters.iter().find(|f| value("", &f.name).is_none()) {
        return Err(invalid(format!("The filter '{}' is invalid", f.name)));
    }
    let picked: Vec<String> = all
        .into_iter()
        .filter(|z| names.is_empty() || names.contains(z))
        .filter(|z| ids.is_empty() || ids.contains(&zone_id(z)))
        .filter(|z| {
            filters.iter().all(|f| {
                let have = value(z, &f.name).unwrap_or_default();
                f.values
                    .iter()
                    .any(|v| flotilla_model::ec2::filter::matches(v, &have))
            })
        })
        .collect();
    shapes::set(w, "availabilityZoneInfo", &picked, |w, z| {
        w.leaf("zoneName", z);
        w.leaf("zoneId", &zone_id(z));
        w.leaf("zoneState", "available");
        w.leaf("regionName", &sc.region);
        w.leaf("groupName", &sc.region);
        w.leaf("networkBorderGroup", &sc.region);
        w.leaf("zoneType", "availability-zone");
        w.leaf("optInStatus", "opt-in-not-required");
        w.node("messageSet", |_| {});
    });
    Ok(())
}

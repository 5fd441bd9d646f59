//! CreateTags, DeleteTags and DescribeTags over VPCs, subnets, security groups and
//! security group rules. A request naming several resources changes all of them in one
//! transaction, or none.

use std::collections::BTreeMap;

use flotilla_model::ec2::filter::{self, Filter, Filterable};
use flotilla_model::ec2::{Ec2Tag, ResourceType};
use flotilla_model::record::{encode, Record};
use flotilla_model::Scope;
use flotilla_store::{Compare, Op, Revision, Txn};

use super::{security_groups, subnets, vpcs, Ec2Error, ATTEMPTS};
use crate::{keys, ControlError, Entry, State};

/// A record read for a change, with the revision the write compares against.
struct Pending<T> {
    revision: Revision,
    record: T,
}

/// The pending copy of the record `entry` at `key`, read once per request.
fn pending<'a, T: Clone>(
    set: &'a mut BTreeMap<String, Pending<T>>,
    key: String,
    entry: &Entry<T>,
) -> &'a mut T {
    &mut set
        .entry(key)
        .or_insert_with(|| Pending {
            revision: entry.mod_revision,
            record: (*entry.value).clone(),
        })
        .record
}

/// Apply `change` to the tags of every resource in `resources`, in one transaction.
pub async fn change(
    state: &State,
    scope: &Scope,
    resources: &[String],
    change: impl Fn(&mut Vec<Ec2Tag>) -> Result<(), Ec2Error>,
) -> Result<(), Ec2Error> {
    if resources.is_empty() {
        return Err(Ec2Error::Missing(
            "The request must contain the parameter resourceIdSet".into(),
        ));
    }
    vpcs::ensure_defaults(state, scope).await?;
    for _ in 0..ATTEMPTS {
        let mut vpc_set = BTreeMap::new();
        let mut subnet_set = BTreeMap::new();
        let mut group_set = BTreeMap::new();
        for id in resources {
            match ResourceType::of(id) {
                Some(ResourceType::Vpc) => {
                    let e = vpcs::get(state, scope, id)?;
                    change(&mut pending(&mut vpc_set, keys::vpc(&scope.region, id), &e).tags)?;
                }
                Some(ResourceType::Subnet) => {
                    let e = subnets::get(state, scope, id)?;
                    let key = keys::subnet(&scope.region, id);
                    change(&mut pending(&mut subnet_set, key, &e).tags)?;
                }
                Some(ResourceType::SecurityGroup) => {
                    let e = security_groups::get(state, scope, id)?;
                    let key = keys::security_group(&scope.region, id);
                    change(&mut pending(&mut group_set, key, &e).tags)?;
                }
                Some(ResourceType::SecurityGroupRule) => {
                    let owner = security_groups::rules(state, scope, std::slice::from_ref(id), &[])
                        .await?
                        .into_iter()
                        .next()
                        .ok_or_else(|| Ec2Error::not_found(ResourceType::SecurityGroupRule, id))?;
                    let e = security_groups::get(state, scope, &owner.group.group_id)?;
                    let key = keys::security_group(&scope.region, &owner.group.group_id);
                    let g = pending(&mut group_set, key, &e);
                    if let Some(rule) = g
                        .ingress
                        .iter_mut()
                        .chain(g.egress.iter_mut())
                        .find(|r| r.id == *id)
                    {
                        change(&mut rule.tags)?;
                    }
                }
                Some(ResourceType::NetworkInterface) => {
                    return Err(Ec2Error::not_found(ResourceType::NetworkInterface, id))
                }
                None => {
                    return Err(Ec2Error::Malformed(
                        None,
                        format!("The ID '{id}' is not valid"),
                    ))
                }
            }
        }
        let mut txn = Txn {
            compares: vec![],
            success: vec![],
            failure: vec![],
        };
        add(&mut txn, vpc_set);
        add(&mut txn, subnet_set);
        add(&mut txn, group_set);
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(ControlError::Contended("The tagged resources kept changing; retry.".into()).into())
}

fn add<T: Record>(txn: &mut Txn, set: BTreeMap<String, Pending<T>>) {
    for (key, p) in set {
        txn.compares
            .push(Compare::unchanged(key.clone(), p.revision));
        txn.success.push(Op::put(key, encode(&p.record)));
    }
}

/// CreateTags: add or replace tags by key.
pub async fn create(
    state: &State,
    scope: &Scope,
    resources: &[String],
    tags: &[Ec2Tag],
) -> Result<(), Ec2Error> {
    super::check_tags(tags)?;
    change(state, scope, resources, |have| {
        flotilla_model::ec2::merge_tags(have, tags).map_err(|m| {
            if m.contains("at most") {
                Ec2Error::Limit(super::Quota::Tags, m)
            } else {
                Ec2Error::InvalidParameter(m)
            }
        })
    })
    .await
}

/// DeleteTags: by key, or by key and value.
pub async fn delete(
    state: &State,
    scope: &Scope,
    resources: &[String],
    tags: &[(String, Option<String>)],
) -> Result<(), Ec2Error> {
    change(state, scope, resources, |have| {
        if tags.is_empty() {
            have.clear();
        } else {
            flotilla_model::ec2::delete_tags(have, tags);
        }
        Ok(())
    })
    .await
}

/// One tag of one resource, as DescribeTags answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagEntry {
    pub resource_id: String,
    pub resource_type: ResourceType,
    tag: [Ec2Tag; 1],
}

impl TagEntry {
    pub fn key(&self) -> &str {
        &self.tag[0].key
    }

    pub fn value(&self) -> &str {
        &self.tag[0].value
    }
}

impl Filterable for TagEntry {
    fn values(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "key" => Some(vec![self.key().to_string()]),
            "value" => Some(vec![self.value().to_string()]),
            "resource-id" => Some(vec![self.resource_id.clone()]),
            "resource-type" => Some(vec![self.resource_type.wire().to_string()]),
            _ => None,
        }
    }

    fn tags(&self) -> &[Ec2Tag] {
        &self.tag
    }
}

/// DescribeTags: every tag of the region's resources that passes `filters`, by resource
/// id and key.
pub async fn describe(
    state: &State,
    scope: &Scope,
    filters: &[Filter],
) -> Result<Vec<TagEntry>, Ec2Error> {
    vpcs::ensure_defaults(state, scope).await?;
    let sample = TagEntry {
        resource_id: String::new(),
        resource_type: ResourceType::Vpc,
        tag: [Ec2Tag {
            key: String::new(),
            value: String::new(),
        }],
    };
    filter::check(filters, &sample)
        .map_err(|name| Ec2Error::InvalidParameter(format!("The filter '{name}' is invalid")))?;
    let views = state.ec2();
    let mut out = Vec::new();
    let mut push = |id: &str, kind: ResourceType, tags: &[Ec2Tag]| {
        out.extend(tags.iter().map(|t| TagEntry {
            resource_id: id.to_string(),
            resource_type: kind,
            tag: [t.clone()],
        }));
    };
    for (_, v) in views
        .vpcs
        .range(keys::vpc(&scope.region, "").as_bytes())
        .iter()
    {
        push(&v.value.vpc_id, ResourceType::Vpc, &v.value.tags);
    }
    for (_, s) in views
        .subnets
        .range(keys::subnet(&scope.region, "").as_bytes())
        .iter()
    {
        push(&s.value.subnet_id, ResourceType::Subnet, &s.value.tags);
    }
    let groups = views
        .security_groups
        .range(keys::security_group(&scope.region, "").as_bytes());
    for (_, g) in groups.iter() {
        push(
            &g.value.group_id,
            ResourceType::SecurityGroup,
            &g.value.tags,
        );
        for (rule, _) in g.value.rules() {
            push(&rule.id, ResourceType::SecurityGroupRule, &rule.tags);
        }
    }
    out.retain(|t| filter::passes(filters, t));
    out.sort_by(|a, b| (&a.resource_id, a.key()).cmp(&(&b.resource_id, b.key())));
    Ok(out)
}

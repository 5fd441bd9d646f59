//! Route 53's domain operations: hosted zones (create with their SOA and NS sets, get,
//! list, count, comment, delete when empty), change batches applied all or nothing, record
//! set listing, changes and their sync status, and tags.
//!
//! Route 53 is global: keys carry no region (`keys::HOSTED_ZONES`, `RECORD_SETS`,
//! `CHANGES`). Every record set has its own key; a change batch is one transaction that
//! also rewrites its zone's record (compared on its revision), so two batches on one zone
//! are serialised and each sees the other's result. A change is INSYNC once the DNS data
//! plane reports serving a configuration at least as new as the change's commit
//! (`crate::dns`). Route 53's rules live in `flotilla_model::route53`; errors are
//! [`Route53Error`], which `flotilla-api` maps to Route 53's wire codes in one place.
//! Health checks are [`health_checks`] (their records) and [`checker`] (the probes every
//! server runs, and their results, kept in memory).

pub mod checker;
pub mod health_checks;
mod probe;

use std::sync::Arc;

use flotilla_model::dns::RecordType;
use flotilla_model::record::encode;
use flotilla_model::route53::changes::{self, Change};
use flotilla_model::route53::health_checks::HealthCheckRecord;
use flotilla_model::route53::{
    names, new_id, AliasTarget, ChangeRecord, ChangeStatus, HostedZoneRecord, RecordSet,
    ELB_HOSTED_ZONE_ID, MAX_HOSTED_ZONES,
};
use flotilla_store::view::View;
use flotilla_store::{Compare, Op, Revision, Store, StoreError, Txn};
use rand::Rng;

use crate::{keys, ControlError, Entry, State};

/// At most this many attempts of one compare-and-swap before giving up as contended.
const ATTEMPTS: usize = 16;

/// Why a Route 53 operation failed, in terms the wire mapping picks Route 53's codes by.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Route53Error {
    #[error("{0}")]
    NoSuchHostedZone(String),
    #[error("{0}")]
    NoSuchChange(String),
    /// Another zone was created with the same caller reference.
    #[error("{0}")]
    HostedZoneAlreadyExists(String),
    #[error("{0}")]
    TooManyHostedZones(String),
    #[error("{0}")]
    InvalidDomainName(String),
    #[error("{0}")]
    InvalidInput(String),
    /// Every problem of a change batch, in Route 53's words.
    #[error("{}", .0.join("; "))]
    InvalidChangeBatch(Vec<String>),
    /// The zone still has record sets besides its SOA and NS.
    #[error("{0}")]
    HostedZoneNotEmpty(String),
    #[error("{0}")]
    NoSuchHealthCheck(String),
    /// Another health check was created with the same caller reference and another
    /// configuration.
    #[error("{0}")]
    HealthCheckAlreadyExists(String),
    /// A record set still names the health check.
    #[error("{0}")]
    HealthCheckInUse(String),
    /// UpdateHealthCheck named a version that is not the current one.
    #[error("{0}")]
    HealthCheckVersionMismatch(String),
    #[error("{0}")]
    TooManyHealthChecks(String),
    #[error(transparent)]
    Control(#[from] ControlError),
}

impl From<StoreError> for Route53Error {
    fn from(e: StoreError) -> Self {
        Route53Error::Control(e.into())
    }
}

/// Route 53's views.
pub struct Views {
    pub zones: View<HostedZoneRecord>,
    pub record_sets: View<RecordSet>,
    pub changes: View<ChangeRecord>,
    pub health_checks: View<HealthCheckRecord>,
}

impl Views {
    pub(crate) async fn start(store: &Arc<dyn Store>) -> Result<Views, StoreError> {
        let p = |s: &str| s.as_bytes().to_vec();
        Ok(Views {
            zones: View::start(store.clone(), p(keys::HOSTED_ZONES), crate::state::decoder).await?,
            record_sets: View::start(store.clone(), p(keys::RECORD_SETS), crate::state::decoder)
                .await?,
            changes: View::start(store.clone(), p(keys::CHANGES), crate::state::decoder).await?,
            health_checks: View::start(
                store.clone(),
                p(keys::HEALTH_CHECKS),
                crate::state::decoder,
            )
            .await?,
        })
    }

    pub(crate) async fn wait_for(&self, rev: Revision) -> Result<(), StoreError> {
        let (a, b, c, d) = tokio::join!(
            self.zones.wait_for(rev),
            self.record_sets.wait_for(rev),
            self.changes.wait_for(rev),
            self.health_checks.wait_for(rev),
        );
        a.and(b).and(c).and(d)
    }

    /// The lowest revision all the views have applied.
    pub fn revision(&self) -> Revision {
        self.zones
            .revision()
            .min(self.record_sets.revision())
            .min(self.changes.revision())
            .min(self.health_checks.revision())
    }
}

fn random() -> u128 {
    rand::rng().random()
}

fn record_set_key(zone: &str, set: &RecordSet) -> String {
    keys::record_set(
        zone,
        &set.name,
        set.rtype.as_str(),
        set.set_identifier.as_deref().unwrap_or(""),
    )
}

/// A new change record for a write, and the op that stores it.
fn new_change(state: &State, comment: Option<String>) -> (ChangeRecord, Op) {
    let change = ChangeRecord {
        id: new_id('C', random()),
        submitted_at: state.clock().now(),
        comment,
    };
    let op = Op::put(keys::change(&change.id), encode(&change));
    (change, op)
}

/// What CreateHostedZone is given.
#[derive(Debug, Clone, Default)]
pub struct NewZone {
    pub name: String,
    pub caller_reference: String,
    pub comment: Option<String>,
    /// A private zone's VPC (region, id).
    pub vpc: Option<(String, String)>,
}

/// Create a hosted zone with its SOA and NS record sets.
pub async fn create_zone(
    state: &State,
    new: NewZone,
) -> Result<(HostedZoneRecord, ChangeRecord), Route53Error> {
    let name = names::normalize(&new.name).map_err(|e| {
        Route53Error::InvalidDomainName(format!("{} is not a valid domain name: {e}", new.name))
    })?;
    if name == "." {
        return Err(Route53Error::InvalidDomainName(
            "The root domain cannot be a hosted zone.".into(),
        ));
    }
    if new.caller_reference.is_empty() || new.caller_reference.chars().count() > 128 {
        return Err(Route53Error::InvalidInput(
            "CallerReference must be 1 to 128 characters long.".into(),
        ));
    }
    let views = state.route53();
    for _ in 0..ATTEMPTS {
        let existing = views.zones.range(keys::HOSTED_ZONES.as_bytes());
        if existing
            .iter()
            .any(|(_, e)| e.value.caller_reference == new.caller_reference)
        {
            return Err(Route53Error::HostedZoneAlreadyExists(format!(
                "A hosted zone has already been created with the specified caller \
                 reference {}.",
                new.caller_reference
            )));
        }
        if existing.len() >= MAX_HOSTED_ZONES {
            return Err(Route53Error::TooManyHostedZones(format!(
                "This account has {MAX_HOSTED_ZONES} hosted zones, the most it may have."
            )));
        }
        let (change, change_op) = new_change(state, new.comment.clone());
        let zone = HostedZoneRecord {
            id: new_id('Z', random()),
            name: name.clone(),
            caller_reference: new.caller_reference.clone(),
            comment: new.comment.clone(),
            private: new.vpc.is_some(),
            vpcs: new.vpc.clone().into_iter().collect(),
            tags: vec![],
            created_at: change.submitted_at,
            change_id: change.id.clone(),
        };
        let zone_key = keys::hosted_zone(&zone.id);
        let mut compares = vec![Compare::absent(zone_key.clone())];
        // The caller reference is unique: any other zone created meanwhile is checked on
        // the next attempt.
        compares.extend(
            existing
                .iter()
                .map(|(k, e)| Compare::unchanged(k.to_vec(), e.mod_revision)),
        );
        let mut success = vec![Op::put(zone_key, encode(&zone)), change_op];
        for set in changes::initial_sets(&name) {
            success.push(Op::put(record_set_key(&zone.id, &set), encode(&set)));
        }
        let txn = Txn {
            compares,
            success,
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok((zone, change));
        }
    }
    Err(ControlError::Contended("Hosted zones kept changing; retry.".into()).into())
}

/// The zone `id` names (with or without `/hostedzone/`).
pub fn zone(state: &State, id: &str) -> Result<Entry<HostedZoneRecord>, Route53Error> {
    let id = flotilla_model::route53::strip_id_prefix(id, "/hostedzone/");
    state
        .route53()
        .zones
        .get(keys::hosted_zone(id).as_bytes())
        .ok_or_else(|| {
            Route53Error::NoSuchHostedZone(format!("No hosted zone found with ID: {id}"))
        })
}

/// Every zone, by id.
pub fn zones(state: &State) -> Vec<Arc<HostedZoneRecord>> {
    state
        .route53()
        .zones
        .range(keys::HOSTED_ZONES.as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// A zone's record sets, in Route 53's listing order: by name with its labels reversed,
/// then type, then set identifier.
pub fn record_sets(state: &State, zone_id: &str) -> Vec<Arc<RecordSet>> {
    let mut sets = stored_record_sets(state, zone_id);
    sets.sort_by_cached_key(|s| listing_key(&s.name, s.rtype, s.set_identifier.as_deref()));
    sets
}

/// A zone's record sets in their keys' order (by name, then type, then set identifier),
/// for those that need no listing order: the change batch check and the DNS feed, which
/// see every set of a large zone on every change.
pub(crate) fn stored_record_sets(state: &State, zone_id: &str) -> Vec<Arc<RecordSet>> {
    state
        .route53()
        .record_sets
        .range(keys::record_sets_of(zone_id).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// The order ListResourceRecordSets and ListHostedZonesByName use.
pub fn listing_key(
    name: &str,
    rtype: RecordType,
    set_identifier: Option<&str>,
) -> (String, String, String) {
    (
        reversed_labels(name),
        rtype.as_str().to_string(),
        set_identifier.unwrap_or("").to_string(),
    )
}

/// `www.example.com.` → `com.example.www`.
pub fn reversed_labels(name: &str) -> String {
    let trimmed = name.trim_end_matches('.');
    let mut labels: Vec<&str> = trimmed.split('.').collect();
    labels.reverse();
    labels.join(".")
}

/// Set or clear a zone's comment.
pub async fn update_comment(
    state: &State,
    id: &str,
    comment: Option<String>,
) -> Result<HostedZoneRecord, Route53Error> {
    if comment.as_ref().is_some_and(|c| c.chars().count() > 256) {
        return Err(Route53Error::InvalidInput(
            "Comment must be at most 256 characters long.".into(),
        ));
    }
    update_zone(state, id, |z| z.comment = comment.clone()).await
}

/// Add and remove a zone's tags (at most 10 each way, 50 in all).
pub async fn change_tags(
    state: &State,
    id: &str,
    add: Vec<(String, String)>,
    remove: Vec<String>,
) -> Result<(), Route53Error> {
    check_tags(&add)?;
    let mut problem = None;
    update_zone(state, id, |z| {
        problem = merge_tags(&mut z.tags, &add, &remove).err();
    })
    .await?;
    problem.map_or(Ok(()), Err)
}

/// Tags' own bounds: keys of 1 to 128 characters, values of at most 256.
pub(crate) fn check_tags(add: &[(String, String)]) -> Result<(), Route53Error> {
    for (k, v) in add {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(Route53Error::InvalidInput(format!(
                "Tag key '{k}' must be 1 to 128 characters and its value at most 256."
            )));
        }
    }
    Ok(())
}

/// Remove then add (replacing values of keys present); at most 50 tags in all.
pub(crate) fn merge_tags(
    tags: &mut Vec<(String, String)>,
    add: &[(String, String)],
    remove: &[String],
) -> Result<(), Route53Error> {
    let mut merged = tags.clone();
    merged.retain(|(k, _)| !remove.contains(k));
    for (k, v) in add {
        match merged.iter_mut().find(|(have, _)| have == k) {
            Some(t) => t.1 = v.clone(),
            None => merged.push((k.clone(), v.clone())),
        }
    }
    if merged.len() > 50 {
        return Err(Route53Error::InvalidInput(
            "A resource may have at most 50 tags.".into(),
        ));
    }
    *tags = merged;
    Ok(())
}

async fn update_zone(
    state: &State,
    id: &str,
    mut change: impl FnMut(&mut HostedZoneRecord),
) -> Result<HostedZoneRecord, Route53Error> {
    for _ in 0..ATTEMPTS {
        let entry = zone(state, id)?;
        let mut record = (*entry.value).clone();
        change(&mut record);
        let key = keys::hosted_zone(&record.id);
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&record))
            .await?
        {
            return Ok(record);
        }
    }
    Err(ControlError::Contended(format!("The hosted zone {id} kept changing; retry.")).into())
}

/// Delete a zone that holds nothing but its SOA and NS record sets.
pub async fn delete_zone(state: &State, id: &str) -> Result<ChangeRecord, Route53Error> {
    for _ in 0..ATTEMPTS {
        let entry = zone(state, id)?;
        let z = &entry.value;
        let sets = state
            .route53()
            .record_sets
            .range(keys::record_sets_of(&z.id).as_bytes());
        let others = sets.iter().any(|(_, e)| {
            let s = &e.value;
            !(s.name == z.name && matches!(s.rtype, RecordType::Soa | RecordType::Ns))
        });
        if others {
            return Err(Route53Error::HostedZoneNotEmpty(format!(
                "The specified hosted zone contains non-required resource record sets and \
                 so cannot be deleted: {}",
                z.id
            )));
        }
        let (change, change_op) = new_change(state, None);
        let zone_key = keys::hosted_zone(&z.id);
        let mut compares = vec![Compare::unchanged(zone_key.clone(), entry.mod_revision)];
        let mut success = vec![Op::delete(zone_key), change_op];
        for (k, e) in sets.iter() {
            compares.push(Compare::unchanged(k.to_vec(), e.mod_revision));
            success.push(Op::delete(k.to_vec()));
        }
        let txn = Txn {
            compares,
            success,
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(change);
        }
    }
    Err(ControlError::Contended(format!("The hosted zone {id} kept changing; retry.")).into())
}

/// Apply a change batch to a zone, all or nothing. Aliases to a load balancer must name
/// one that exists.
pub async fn change_record_sets(
    state: &State,
    id: &str,
    batch: Vec<Change>,
    comment: Option<String>,
) -> Result<ChangeRecord, Route53Error> {
    if batch.is_empty() {
        return Err(Route53Error::InvalidInput(
            "The change batch must hold at least one change.".into(),
        ));
    }
    let input = changes::check_input(&batch);
    if !input.is_empty() {
        return Err(Route53Error::InvalidInput(input.join("; ")));
    }
    let mut problems: Vec<String> = Vec::new();
    for c in &batch {
        if let Some(alias) = &c.set.alias {
            if let Err(e) = check_alias_target(state, alias) {
                problems.push(e);
            }
        }
    }
    if !problems.is_empty() {
        return Err(Route53Error::InvalidChangeBatch(problems));
    }
    for _ in 0..ATTEMPTS {
        // Every health check the batch names must exist when it commits (a check
        // deleted meanwhile fails the compare, and the next attempt says so).
        let mut check_compares = Vec::new();
        for c in batch.iter().filter(|c| c.action != changes::Action::Delete) {
            if let Some(check) = &c.set.health_check_id {
                let entry = health_checks::get(state, check)?;
                check_compares.push(Compare::unchanged(
                    keys::health_check(&entry.value.id),
                    entry.mod_revision,
                ));
            }
        }
        let entry = zone(state, id)?;
        let z = &entry.value;
        let current: Vec<RecordSet> = stored_record_sets(state, &z.id)
            .iter()
            .map(|s| (**s).clone())
            .collect();
        let quota = state.config().route53_max_record_sets_per_zone;
        let effects = changes::apply(&z.name, &current, &batch, quota)
            .map_err(Route53Error::InvalidChangeBatch)?;
        let (change, change_op) = new_change(state, comment.clone());
        let zone_key = keys::hosted_zone(&z.id);
        let mut success = vec![Op::put(zone_key.clone(), encode(&**z)), change_op];
        for set in &effects.delete {
            success.push(Op::delete(record_set_key(&z.id, set)));
        }
        for set in &effects.put {
            success.push(Op::put(record_set_key(&z.id, set), encode(set)));
        }
        let mut compares = vec![Compare::unchanged(zone_key, entry.mod_revision)];
        compares.extend(check_compares);
        let txn = Txn {
            compares,
            success,
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(change);
        }
    }
    Err(ControlError::Contended(format!("The hosted zone {id} kept changing; retry.")).into())
}

/// An alias outside its zone must point at a load balancer of Flotilla's, by its DNS name
/// (a `dualstack.` prefix allowed) and canonical hosted zone id.
fn check_alias_target(state: &State, alias: &AliasTarget) -> Result<(), String> {
    if alias.hosted_zone_id != ELB_HOSTED_ZONE_ID {
        // An alias to a record set of a zone of ours: `changes::apply` checks it when it
        // is in the batch's zone; another zone's record is looked up here.
        if zones(state).iter().any(|z| z.id == alias.hosted_zone_id) {
            return Ok(());
        }
        return Err(format!(
            "Tried to create an alias that targets {}, type A in zone {}, but the alias \
             target zone does not exist",
            alias.dns_name, alias.hosted_zone_id
        ));
    }
    if load_balancer_address(state, &alias.dns_name).is_some() {
        Ok(())
    } else {
        Err(format!(
            "Tried to create an alias that targets {}, type A in zone {ELB_HOSTED_ZONE_ID}, \
             but that target was not found",
            alias.dns_name
        ))
    }
}

/// The address of the load balancer whose `DNSName` is `dns_name` (case-insensitive,
/// trailing dot and a `dualstack.` prefix allowed).
pub fn load_balancer_address(state: &State, dns_name: &str) -> Option<std::net::IpAddr> {
    let wanted = dns_name.trim_end_matches('.').to_ascii_lowercase();
    let wanted = wanted.strip_prefix("dualstack.").unwrap_or(&wanted);
    state
        .elbv2()
        .load_balancers
        .range(keys::LOAD_BALANCERS.as_bytes())
        .iter()
        .find(|(_, e)| e.value.dns_name.to_ascii_lowercase() == wanted)
        .map(|(_, e)| e.value.address)
}

/// A change and whether the DNS server already answers with it.
pub fn change(state: &State, id: &str) -> Result<(ChangeRecord, ChangeStatus), Route53Error> {
    let id = flotilla_model::route53::strip_id_prefix(id, "/change/");
    let entry = state
        .route53()
        .changes
        .get(keys::change(id).as_bytes())
        .ok_or_else(|| {
            Route53Error::NoSuchChange(format!(
                "A change with the specified change ID does not exist: {id}"
            ))
        })?;
    let served = state.dns().report().version;
    let committed = u64::try_from(entry.mod_revision).unwrap_or(u64::MAX);
    let status = if served >= committed {
        ChangeStatus::Insync
    } else {
        ChangeStatus::Pending
    };
    Ok(((*entry.value).clone(), status))
}

/// The revision a change was committed at (what the DNS server must serve for it).
pub fn change_revision(state: &State, id: &str) -> Option<Revision> {
    state
        .route53()
        .changes
        .get(keys::change(id).as_bytes())
        .map(|e| e.mod_revision)
}

#[cfg(test)]
mod tests;

//! A change batch applied to a zone, all or nothing, with Route 53's InvalidChangeBatch
//! messages.
//!
//! [`apply`] plays the changes in order on a working copy of the zone's record sets, as
//! Route 53 does (so a CNAME created before the A record it replaces is deleted conflicts,
//! and the same two changes the other way round succeed), then checks what must hold of
//! the whole zone afterwards: one SOA and an NS set at the apex, weighted sets that agree,
//! alias targets that exist, the record set quota. It returns what to write and what to
//! remove, never a partly applied batch.
//!
//! Messages are Route 53's own where its wording was found in its answers (quoted in the
//! code below with no comment), and Flotilla's in the same style otherwise (marked
//! "Flotilla's wording"). Names in messages are shown as [`names::display`] shows them.
//!
//! What this does not check, because it needs more than the zone: aliases to load
//! balancers or to other zones (the caller resolves them), health check ids, and the
//! per-request limits (1,000 values, 32,000 characters) of the API layer.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    names, rdata, strip_id_prefix, RecordSet, ELB_HOSTED_ZONE_ID, MAX_RECORD_SETS, NAME_SERVER,
    NS_TTL, SOA_TTL,
};
use crate::dns::RecordType;

/// The largest TTL Route 53 takes (`TTL` is a 32-bit signed number in its API).
pub const MAX_TTL: u32 = 2_147_483_647;
/// The longest `SetIdentifier`, in characters.
pub const MAX_SET_IDENTIFIER: usize = 128;
/// At most this many weighted sets of one name and type (Route 53's quota).
pub const MAX_WEIGHTED_SETS: usize = 100;
/// The numbers in a new zone's SOA after the two names, as Route 53 writes them: serial,
/// refresh, retry, expire, minimum (negative caching TTL).
pub const SOA_NUMBERS: &str = "1 7200 900 1209600 86400";

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Delete,
    Upsert,
}

impl Action {
    /// The action named `s` (`CREATE`, `DELETE` or `UPSERT`, as Route 53 spells them).
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "CREATE" => Some(Action::Create),
            "DELETE" => Some(Action::Delete),
            "UPSERT" => Some(Action::Upsert),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "CREATE",
            Action::Delete => "DELETE",
            Action::Upsert => "UPSERT",
        }
    }
}

/// One change of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: Action,
    /// `set.name` already normalized by the caller with [`names::normalize`].
    pub set: RecordSet,
}

/// What a batch does to the zone's stored sets.
///
/// `put` holds every set the batch creates or changes, as it is to be stored (a set
/// deleted and created again with other values is put, not deleted); `delete` holds every
/// stored set it removes, as it was stored. A set deleted and created again unchanged is
/// in neither. Both are in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    pub put: Vec<RecordSet>,
    pub delete: Vec<RecordSet>,
}

/// Apply `changes` to the zone named `zone` (normalized) whose current record sets are
/// `current` (all of them, SOA and apex NS included), all or nothing, as Route 53 does.
/// Err: every problem found, each in Route 53's InvalidChangeBatch wording.
///
/// Problems of a change's shape alone come first and alone, as Route 53 answers them
/// (with InvalidInput) before it looks at the zone; see [`check_input`]. Names and alias
/// targets are normalized again (so a caller that did not is still right), MultiValueAnswer
/// `false` is stored as absent, and an unquoted TXT value is stored quoted.
pub fn apply(
    zone: &str,
    current: &[RecordSet],
    changes: &[Change],
) -> Result<Effects, Vec<String>> {
    let problems = check_input(changes);
    if !problems.is_empty() {
        return Err(problems);
    }
    let zone = names::normalize(zone).unwrap_or_else(|_| zone.to_ascii_lowercase());
    let mut batch = Batch::new(&zone, current);
    for change in changes {
        let step = prepare(&change.set).and_then(|set| batch.step(change.action, set));
        if let Err(problem) = step {
            batch.problems.push(problem);
        }
    }
    batch.finish()
}

/// The problems Route 53 finds in the shape of each change before it looks at the zone,
/// answering them with InvalidInput rather than InvalidChangeBatch: an alias or TTL and
/// values (exactly one of them), the TTL's range, and the set identifier with the routing
/// policy it requires. [`apply`] returns these too; an API layer that wants Route 53's
/// error code calls this first.
pub fn check_input(changes: &[Change]) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let set = &change.set;
        let with = in_change(change);
        let at = |field: &str| {
            format!(
                "changeBatch.changes.{}.member.resourceRecordSet.{field}",
                i + 1
            )
        };
        // "found none" is Route 53's; "found more than one" follows it for the converse.
        let records = set.ttl.is_some() && !set.values.is_empty();
        let some_records = set.ttl.is_some() || !set.values.is_empty();
        if set.alias.is_some() && some_records {
            problems.push(format!("Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found more than one in Change with {with}"));
        } else if set.alias.is_none() && !records {
            problems.push(format!("Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with {with}"));
        }
        // AWS's usual wording for a value outside its model's constraints.
        if let Some(ttl) = set.ttl.filter(|ttl| *ttl > MAX_TTL) {
            problems.push(format!("1 validation error detected: Value '{ttl}' at '{}' failed to satisfy constraint: Member must have value less than or equal to {MAX_TTL}", at("tTL")));
        }
        if let Some(id) = &set.set_identifier {
            let len = id.chars().count();
            if len == 0 {
                problems.push(format!("1 validation error detected: Value '{id}' at '{}' failed to satisfy constraint: Member must have length greater than or equal to 1", at("setIdentifier")));
            } else if len > MAX_SET_IDENTIFIER {
                problems.push(format!("1 validation error detected: Value '{id}' at '{}' failed to satisfy constraint: Member must have length less than or equal to {MAX_SET_IDENTIFIER}", at("setIdentifier")));
            }
        }
        let policies = usize::from(set.weight.is_some()) + usize::from(multivalue(set));
        if policies > 1 {
            problems.push(format!("Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, or MultiValueAnswer], but found more than one in Change with {with}"));
        } else if set.set_identifier.is_some() && policies == 0 {
            problems.push(format!("Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, or MultiValueAnswer], but found none in Change with {with}"));
        } else if set.set_identifier.is_none() && policies == 1 {
            problems.push(format!(
                "Invalid request: Missing field 'SetIdentifier' in Change with {with}"
            ));
        }
    }
    problems
}

/// The SOA and NS record sets a new zone named `zone` starts with: Route 53's SOA with
/// Flotilla's name server and a `hostmaster` mailbox in the name server's domain, and an
/// NS set naming the name server.
pub fn initial_sets(zone: &str) -> Vec<RecordSet> {
    let zone = names::normalize(zone).unwrap_or_else(|_| zone.to_ascii_lowercase());
    let domain = NAME_SERVER.split_once('.').map_or(NAME_SERVER, |(_, d)| d);
    let soa = format!("{NAME_SERVER} hostmaster.{domain} {SOA_NUMBERS}");
    vec![
        simple_set(&zone, RecordType::Soa, SOA_TTL, vec![soa]),
        simple_set(&zone, RecordType::Ns, NS_TTL, vec![NAME_SERVER.to_string()]),
    ]
}

fn simple_set(name: &str, rtype: RecordType, ttl: u32, values: Vec<String>) -> RecordSet {
    RecordSet {
        name: name.to_string(),
        rtype,
        set_identifier: None,
        weight: None,
        multi_value_answer: None,
        ttl: Some(ttl),
        values,
        alias: None,
        health_check_id: None,
    }
}

type Key = (String, RecordType, String);

fn multivalue(set: &RecordSet) -> bool {
    set.multi_value_answer == Some(true)
}

/// `[Action=CREATE, Name=www.example.com., Type=A, SetIdentifier=null]`, as Route 53 names
/// a change in InvalidInput messages.
fn in_change(change: &Change) -> String {
    format!(
        "[Action={}, Name={}, Type={}, SetIdentifier={}]",
        change.action.as_str(),
        change.set.name,
        change.set.rtype.as_str(),
        change.set.set_identifier.as_deref().unwrap_or("null")
    )
}

/// `[name='www.example.com.', type='A']`, with `, set-identifier='...'` when it has one.
fn rrset(set: &RecordSet) -> String {
    let id = set
        .set_identifier
        .as_ref()
        .map(|id| format!(", set-identifier='{id}'"))
        .unwrap_or_default();
    format!(
        "[name='{}', type='{}'{id}]",
        names::display(&set.name),
        set.rtype.as_str()
    )
}

/// The change's set as it is checked and stored: names normalized, MultiValueAnswer
/// `false` dropped.
fn prepare(set: &RecordSet) -> Result<RecordSet, String> {
    let mut set = set.clone();
    set.name = names::normalize(&set.name)?;
    if let Some(alias) = &mut set.alias {
        alias.dns_name = names::normalize(&alias.dns_name)?;
    }
    if set.multi_value_answer == Some(false) {
        set.multi_value_answer = None;
    }
    Ok(set)
}

/// Whether a DELETE's set names the stored one exactly: TTL, values (in any order,
/// compared as [`rdata::comparison_key`] does), alias target, weight, multivalue answer and
/// health check.
fn same(stored: &RecordSet, given: &RecordSet) -> bool {
    let values = |s: &RecordSet| -> BTreeSet<String> {
        s.values
            .iter()
            .map(|v| rdata::comparison_key(s.rtype, v))
            .collect()
    };
    let alias = |s: &RecordSet| {
        s.alias.as_ref().map(|a| {
            (
                strip_id_prefix(&a.hosted_zone_id, "/hostedzone/").to_string(),
                names::normalize(&a.dns_name).unwrap_or_else(|_| a.dns_name.clone()),
                a.evaluate_target_health,
            )
        })
    };
    stored.ttl == given.ttl
        && values(stored) == values(given)
        && alias(stored) == alias(given)
        && stored.weight == given.weight
        && multivalue(stored) == multivalue(given)
        && stored.health_check_id == given.health_check_id
}

/// Whether the actions one batch takes on one set make sense together: one action, or a
/// DELETE then a CREATE or UPSERT (how clients replaced a set before UPSERT existed).
fn valid_sequence(actions: &[Action]) -> bool {
    matches!(
        actions,
        [] | [_] | [Action::Delete, Action::Create] | [Action::Delete, Action::Upsert]
    )
}

/// A batch being played on a working copy of one zone.
struct Batch<'a> {
    zone: &'a str,
    before: BTreeMap<Key, &'a RecordSet>,
    work: BTreeMap<Key, RecordSet>,
    /// The actions taken on each set so far, failed ones included.
    actions: BTreeMap<Key, Vec<Action>>,
    /// Names and types whose sets the batch changed.
    touched: BTreeSet<(String, RecordType)>,
    /// Sets the batch wrote.
    written: BTreeSet<Key>,
    problems: Vec<String>,
}

impl<'a> Batch<'a> {
    fn new(zone: &'a str, current: &'a [RecordSet]) -> Self {
        Batch {
            zone,
            before: current.iter().map(|s| (s.key(), s)).collect(),
            work: current.iter().map(|s| (s.key(), s.clone())).collect(),
            actions: BTreeMap::new(),
            touched: BTreeSet::new(),
            written: BTreeSet::new(),
            problems: Vec::new(),
        }
    }

    fn step(&mut self, action: Action, mut set: RecordSet) -> Result<(), String> {
        if !names::in_zone(&set.name, self.zone) {
            return Err(format!(
                "RRSet with DNS name {} is not permitted in zone {}",
                names::display(&set.name),
                names::display(self.zone)
            ));
        }
        let key = set.key();
        let actions = self.actions.entry(key.clone()).or_default();
        let was_valid = valid_sequence(actions);
        actions.push(action);
        if !valid_sequence(actions) {
            // Said once per set, however many more changes name it.
            return match was_valid {
                true => Err(format!(
                    "The request contains an invalid set of changes for a resource record set '{} {}'",
                    set.rtype.as_str(),
                    names::display(&set.name)
                )),
                false => Ok(()),
            };
        }
        if action == Action::Delete {
            return self.delete(&key, &set);
        }
        self.check_placement(&set)?;
        if set.alias.is_none() {
            rdata::validate(set.rtype, &set.values)?;
            set.values = set
                .values
                .iter()
                .map(|v| rdata::canonical(set.rtype, v))
                .collect();
        }
        if action == Action::Create && self.work.contains_key(&key) {
            return Err(format!(
                "Tried to create resource record set {} but it already exists",
                rrset(&set)
            ));
        }
        self.check_neighbours(&key, &set)?;
        self.touched.insert((set.name.clone(), set.rtype));
        self.written.insert(key.clone());
        self.work.insert(key, set);
        Ok(())
    }

    fn delete(&mut self, key: &Key, set: &RecordSet) -> Result<(), String> {
        let Some(stored) = self.work.get(key) else {
            return Err(format!(
                "Tried to delete resource record set {} but it was not found",
                rrset(set)
            ));
        };
        if set.alias.is_none() && rdata::validate(set.rtype, &set.values).is_err() {
            return Err(format!(
                "Tried to delete resource record set {} but the rdata provided is invalid",
                rrset(set)
            ));
        }
        if !same(stored, set) {
            return Err(format!(
                "Tried to delete resource record set {} but the values provided do not match the current values",
                rrset(set)
            ));
        }
        self.work.remove(key);
        self.written.remove(key);
        self.touched.insert((set.name.clone(), set.rtype));
        Ok(())
    }

    /// What a set's name and type allow, whatever else is in the zone.
    fn check_placement(&self, set: &RecordSet) -> Result<(), String> {
        let (name, zone, rtype) = (
            names::display(&set.name),
            names::display(self.zone),
            set.rtype.as_str(),
        );
        let apex = set.name == self.zone;
        match set.rtype {
            RecordType::Cname if apex => {
                return Err(format!(
                    "RRSet of type CNAME with DNS name {name} is not permitted at apex in zone {zone}"
                ))
            }
            // Flotilla's wording.
            RecordType::Soa if !apex => {
                return Err(format!(
                    "RRSet of type SOA with DNS name {name} is not permitted in zone {zone}: the SOA record belongs at the zone apex"
                ))
            }
            // Flotilla's wording.
            RecordType::Ns if names::is_wildcard(&set.name) => {
                return Err(format!(
                    "RRSet of type NS with DNS name {name} is not permitted in zone {zone}: NS records cannot have a wildcard name"
                ))
            }
            _ => {}
        }
        if let Some(id) = &set.set_identifier {
            // Flotilla's wording: Route 53 lists the types each routing policy takes.
            if matches!(set.rtype, RecordType::Soa | RecordType::Ns) {
                return Err(format!("RRSet with DNS name {name}, type {rtype}, SetIdentifier {id} cannot be created as records of type {rtype} cannot use weighted or multivalue answer routing"));
            }
            if multivalue(set) && set.rtype == RecordType::Cname {
                return Err(format!("RRSet with DNS name {name}, type CNAME, SetIdentifier {id} cannot be created as records of type CNAME cannot use multivalue answer routing"));
            }
        }
        let Some(alias) = &set.alias else {
            return Ok(());
        };
        // As a preflight tool quotes Route 53.
        if multivalue(set) {
            return Err("Multivalue answer rrset should not be an alias rrset".to_string());
        }
        // Flotilla's wording.
        if matches!(set.rtype, RecordType::Soa | RecordType::Ns) {
            return Err(format!("RRSet of type {rtype} with DNS name {name} cannot be an alias: alias records of type NS and SOA are not supported"));
        }
        // Flotilla's wording: an alias to itself would never answer.
        if self.targets_zone(set) && alias.dns_name == set.name {
            return Err(format!(
                "Tried to create an alias that targets {}, type {rtype} in zone {}, but that target is the alias itself",
                names::display(&alias.dns_name),
                strip_id_prefix(&alias.hosted_zone_id, "/hostedzone/")
            ));
        }
        Ok(())
    }

    /// What the other sets of the same name allow: no CNAME beside another type, and one
    /// routing policy per name and type.
    fn check_neighbours(&self, key: &Key, set: &RecordSet) -> Result<(), String> {
        let (name, zone, rtype) = (
            names::display(&set.name),
            names::display(self.zone),
            set.rtype.as_str(),
        );
        let others: Vec<&RecordSet> = self
            .at_name(&set.name)
            .filter(|o| o.key() != *key)
            .collect();
        if set.rtype == RecordType::Cname && others.iter().any(|o| o.rtype != RecordType::Cname) {
            return Err(format!("RRSet of type CNAME with DNS name {name} is not permitted as it conflicts with other records with the same DNS name in zone {zone}"));
        }
        if set.rtype != RecordType::Cname && others.iter().any(|o| o.rtype == RecordType::Cname) {
            return Err(format!("RRSet of type {rtype} with DNS name {name} is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone {zone}"));
        }
        let same_type: Vec<&&RecordSet> = others.iter().filter(|o| o.rtype == set.rtype).collect();
        let id = set.set_identifier.as_deref().unwrap_or_default();
        if set.weight.is_some() {
            if same_type.iter().any(|o| o.weight.is_none()) {
                return Err(format!("RRSet with DNS name {name}, type {rtype}, SetIdentifier {id} cannot be created as a non-weighted set exists with the same name and type."));
            }
        } else if multivalue(set) {
            if same_type.iter().any(|o| !multivalue(o)) {
                return Err(format!("RRSet with DNS name {name}, type {rtype}, SetIdentifier {id} cannot be created because a non multivalue answer rrset exists with the same name and type."));
            }
        } else if let Some(other) = same_type.first() {
            // Flotilla's wording, the converse of the two above.
            return Err(match other.weight {
                Some(_) => format!("RRSet with DNS name {name}, type {rtype} cannot be created as a weighted set exists with the same name and type."),
                None => format!("RRSet with DNS name {name}, type {rtype} cannot be created because a multivalue answer rrset exists with the same name and type."),
            });
        }
        Ok(())
    }

    /// The working sets named `name`: keys sort by name, then by type from A (the first),
    /// then by set identifier from "".
    fn at_name<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s RecordSet> + 's {
        self.work
            .range((name.to_string(), RecordType::A, String::new())..)
            .take_while(move |(k, _)| k.0 == name)
            .map(|(_, s)| s)
    }

    /// Whether an alias targets a set of this zone rather than a load balancer.
    fn targets_zone(&self, set: &RecordSet) -> bool {
        set.alias.as_ref().is_some_and(|alias| {
            strip_id_prefix(&alias.hosted_zone_id, "/hostedzone/") != ELB_HOSTED_ZONE_ID
                && names::in_zone(&alias.dns_name, self.zone)
        })
    }

    /// What must hold of the whole zone once every change is played.
    fn zone_problems(&self) -> Vec<String> {
        let zone = self.zone;
        let mut problems = Vec::new();
        let apex_touched = self
            .touched
            .iter()
            .any(|(n, t)| n == zone && matches!(t, RecordType::Soa | RecordType::Ns));
        if apex_touched {
            let at_apex = |t: RecordType| self.at_name(zone).filter(|s| s.rtype == t).count();
            if at_apex(RecordType::Soa) != 1 {
                problems.push("A HostedZone must contain exactly one SOA record.".to_string());
            }
            if at_apex(RecordType::Ns) == 0 {
                problems.push(
                    "A HostedZone must contain at least one NS record for the zone itself."
                        .to_string(),
                );
            }
        }
        for (name, rtype) in &self.touched {
            let weighted: Vec<&RecordSet> = self
                .at_name(name)
                .filter(|s| s.rtype == *rtype && s.weight.is_some())
                .collect();
            if weighted.len() > MAX_WEIGHTED_SETS {
                problems.push(format!(
                    "Exceeded limit on number of weighted RRSets for {}, type {} in this zone.",
                    names::display(name),
                    rtype.as_str()
                ));
            }
            let ttls: BTreeSet<u32> = weighted.iter().filter_map(|s| s.ttl).collect();
            let changed = weighted.iter().find(|s| self.written.contains(&s.key()));
            if let (true, Some(changed)) = (ttls.len() > 1, changed) {
                problems.push(format!(
                    "RRSet with DNS name {} and type {}, SetIdentifier {} cannot be created as weighted sets must contain the same TTL.",
                    names::display(name),
                    rtype.as_str(),
                    changed.set_identifier.as_deref().unwrap_or_default()
                ));
            }
        }
        for key in &self.written {
            let Some(set) = self.work.get(key) else {
                continue;
            };
            let Some(alias) = set.alias.as_ref().filter(|_| self.targets_zone(set)) else {
                continue;
            };
            let found = self.at_name(&alias.dns_name).any(|s| s.rtype == set.rtype);
            if !found {
                problems.push(format!(
                    "Tried to create an alias that targets {}, type {} in zone {}, but that target was not found",
                    names::display(&alias.dns_name),
                    set.rtype.as_str(),
                    strip_id_prefix(&alias.hosted_zone_id, "/hostedzone/")
                ));
            }
        }
        // Route 53 names the zone by id, which this layer does not know. A zone already over
        // the quota may still change or shrink.
        if self.work.len() > MAX_RECORD_SETS && self.work.len() > self.before.len() {
            problems.push(format!(
                "Exceeded limit MAX_RRSETS_BY_ZONE for zone: {}",
                names::display(zone)
            ));
        }
        problems
    }

    fn finish(mut self) -> Result<Effects, Vec<String>> {
        let zone_problems = self.zone_problems();
        self.problems.extend(zone_problems);
        if !self.problems.is_empty() {
            return Err(self.problems);
        }
        let put = self
            .work
            .iter()
            .filter(|(k, s)| self.before.get(*k).is_none_or(|b| *b != *s))
            .map(|(_, s)| s.clone())
            .collect();
        let delete = self
            .before
            .iter()
            .filter(|(k, _)| !self.work.contains_key(*k))
            .map(|(_, s)| (*s).clone())
            .collect();
        Ok(Effects { put, delete })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route53::AliasTarget;
    use proptest::prelude::*;

    const ZONE: &str = "example.com.";

    fn set(name: &str, rtype: RecordType, values: &[&str]) -> RecordSet {
        simple_set(
            name,
            rtype,
            300,
            values.iter().map(|v| v.to_string()).collect(),
        )
    }

    fn weighted(name: &str, id: &str, weight: u8, ttl: u32, value: &str) -> RecordSet {
        RecordSet {
            set_identifier: Some(id.to_string()),
            weight: Some(weight),
            ttl: Some(ttl),
            ..set(name, RecordType::A, &[value])
        }
    }

    fn multi(name: &str, id: &str, value: &str) -> RecordSet {
        RecordSet {
            set_identifier: Some(id.to_string()),
            multi_value_answer: Some(true),
            ..set(name, RecordType::A, &[value])
        }
    }

    fn alias(name: &str, rtype: RecordType, target: &str, zone_id: &str) -> RecordSet {
        RecordSet {
            ttl: None,
            values: vec![],
            alias: Some(AliasTarget {
                hosted_zone_id: zone_id.to_string(),
                dns_name: target.to_string(),
                evaluate_target_health: false,
            }),
            ..set(name, rtype, &[])
        }
    }

    fn create(set: RecordSet) -> Change {
        Change {
            action: Action::Create,
            set,
        }
    }
    fn delete(set: RecordSet) -> Change {
        Change {
            action: Action::Delete,
            set,
        }
    }
    fn upsert(set: RecordSet) -> Change {
        Change {
            action: Action::Upsert,
            set,
        }
    }

    /// A new zone plus `extra`.
    fn zone_with(extra: impl IntoIterator<Item = RecordSet>) -> Vec<RecordSet> {
        let mut sets = initial_sets(ZONE);
        sets.extend(extra);
        sets
    }

    fn errors(current: &[RecordSet], changes: &[Change]) -> Vec<String> {
        apply(ZONE, current, changes).expect_err("the batch should fail")
    }

    fn one_error(current: &[RecordSet], changes: &[Change]) -> String {
        let errors = errors(current, changes);
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap_or_default()
    }

    #[test]
    fn actions_round_trip() {
        for a in [Action::Create, Action::Delete, Action::Upsert] {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("create"), None);
    }

    #[test]
    fn a_new_zone_has_route53s_soa_and_ns() {
        let sets = initial_sets("Example.COM");
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0].name, ZONE);
        assert_eq!(sets[0].rtype, RecordType::Soa);
        assert_eq!(sets[0].ttl, Some(SOA_TTL));
        assert_eq!(
            sets[0].values,
            vec!["ns-1.flotilla.internal. hostmaster.flotilla.internal. 1 7200 900 1209600 86400"]
        );
        assert_eq!(sets[1].rtype, RecordType::Ns);
        assert_eq!(sets[1].ttl, Some(NS_TTL));
        assert_eq!(sets[1].values, vec![NAME_SERVER]);
        for s in &sets {
            assert_eq!(rdata::validate(s.rtype, &s.values), Ok(()));
        }
    }

    #[test]
    fn create_upsert_delete() {
        let a = set("www.example.com.", RecordType::A, &["192.0.2.1"]);
        let effects = apply(ZONE, &zone_with([]), &[create(a.clone())]).unwrap();
        assert_eq!(effects.put, vec![a.clone()]);
        assert!(effects.delete.is_empty());

        let current = zone_with([a.clone()]);
        assert_eq!(
            one_error(&current, &[create(a.clone())]),
            "Tried to create resource record set [name='www.example.com.', type='A'] but it already exists"
        );
        let b = set("www.example.com.", RecordType::A, &["192.0.2.2"]);
        let effects = apply(ZONE, &current, &[upsert(b.clone())]).unwrap();
        assert_eq!(effects.put, vec![b.clone()]);
        // Upserting what is stored changes nothing.
        assert_eq!(
            apply(ZONE, &current, &[upsert(a.clone())]).unwrap(),
            Effects::default()
        );

        let effects = apply(ZONE, &current, &[delete(a.clone())]).unwrap();
        assert_eq!(effects.delete, vec![a.clone()]);
        assert!(effects.put.is_empty());
        assert_eq!(
            one_error(&zone_with([]), &[delete(a.clone())]),
            "Tried to delete resource record set [name='www.example.com.', type='A'] but it was not found"
        );
    }

    #[test]
    fn delete_must_match_exactly() {
        let stored = set(
            "www.example.com.",
            RecordType::Mx,
            &["10 mail.example.com.", "20 b.example.com"],
        );
        let current = zone_with([stored.clone()]);
        // Values in another order, another case, without the final dot: the same set.
        let same = set(
            "www.example.com.",
            RecordType::Mx,
            &["20 B.example.com.", "10 MAIL.example.com"],
        );
        assert!(apply(ZONE, &current, &[delete(same)]).is_ok());
        let mismatch = "Tried to delete resource record set [name='www.example.com.', type='MX'] but the values provided do not match the current values";
        let other_ttl = RecordSet {
            ttl: Some(60),
            ..stored.clone()
        };
        assert_eq!(one_error(&current, &[delete(other_ttl)]), mismatch);
        let fewer = set(
            "www.example.com.",
            RecordType::Mx,
            &["10 mail.example.com."],
        );
        assert_eq!(one_error(&current, &[delete(fewer)]), mismatch);
        let health = RecordSet {
            health_check_id: Some("hc".into()),
            ..stored.clone()
        };
        assert_eq!(one_error(&current, &[delete(health)]), mismatch);
        let bad = set("www.example.com.", RecordType::Mx, &["mail.example.com"]);
        assert_eq!(
            one_error(&current, &[delete(bad)]),
            "Tried to delete resource record set [name='www.example.com.', type='MX'] but the rdata provided is invalid"
        );
    }

    #[test]
    fn names_outside_the_zone_are_refused() {
        let other = set("x.other.com.", RecordType::A, &["192.0.2.1"]);
        assert_eq!(
            one_error(&zone_with([]), &[create(other)]),
            "RRSet with DNS name x.other.com. is not permitted in zone example.com."
        );
        let near = set("badexample.com.", RecordType::A, &["192.0.2.1"]);
        assert!(one_error(&zone_with([]), &[upsert(near)]).contains("is not permitted in zone"));
        let wildcard = set("*.example.com", RecordType::A, &["192.0.2.1"]);
        let effects = apply(ZONE, &zone_with([]), &[create(wildcard)]).unwrap();
        assert_eq!(effects.put[0].name, "*.example.com.");
        let dots = set("a..example.com", RecordType::A, &["192.0.2.1"]);
        assert!(one_error(&zone_with([]), &[create(dots)]).contains("DomainLabelEmpty"));
    }

    #[test]
    fn shapes_are_input_errors() {
        let neither = RecordSet {
            ttl: None,
            ..set("www.example.com.", RecordType::A, &[])
        };
        let expected = "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=CREATE, Name=www.example.com., Type=A, SetIdentifier=null]";
        assert_eq!(check_input(&[create(neither.clone())]), vec![expected]);
        assert_eq!(one_error(&zone_with([]), &[create(neither)]), expected);
        let ttl_only = set("www.example.com.", RecordType::A, &[]);
        assert!(one_error(&zone_with([]), &[create(ttl_only)]).contains("but found none"));
        let both = RecordSet {
            ttl: Some(60),
            ..alias(
                "www.example.com.",
                RecordType::A,
                "lb.example.net.",
                ELB_HOSTED_ZONE_ID,
            )
        };
        assert!(one_error(&zone_with([]), &[create(both)]).contains("but found more than one"));
        let huge = RecordSet {
            ttl: Some(MAX_TTL + 1),
            ..set("www.example.com.", RecordType::A, &["192.0.2.1"])
        };
        assert_eq!(
            one_error(&zone_with([]), &[create(huge)]),
            "1 validation error detected: Value '2147483648' at 'changeBatch.changes.1.member.resourceRecordSet.tTL' failed to satisfy constraint: Member must have value less than or equal to 2147483647"
        );
        let max = RecordSet {
            ttl: Some(MAX_TTL),
            ..set("www.example.com.", RecordType::A, &["192.0.2.1"])
        };
        assert!(apply(ZONE, &zone_with([]), &[create(max)]).is_ok());
    }

    #[test]
    fn set_identifiers_go_with_a_routing_policy() {
        let no_id = RecordSet {
            weight: Some(1),
            ..set("www.example.com.", RecordType::A, &["192.0.2.1"])
        };
        assert_eq!(
            one_error(&zone_with([]), &[create(no_id)]),
            "Invalid request: Missing field 'SetIdentifier' in Change with [Action=CREATE, Name=www.example.com., Type=A, SetIdentifier=null]"
        );
        let no_policy = RecordSet {
            set_identifier: Some("a".into()),
            ..set("www.example.com.", RecordType::A, &["192.0.2.1"])
        };
        assert_eq!(
            one_error(&zone_with([]), &[upsert(no_policy)]),
            "Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, or MultiValueAnswer], but found none in Change with [Action=UPSERT, Name=www.example.com., Type=A, SetIdentifier=a]"
        );
        let both = RecordSet {
            weight: Some(1),
            ..multi("www.example.com.", "a", "192.0.2.1")
        };
        assert!(one_error(&zone_with([]), &[create(both)]).contains("but found more than one"));
        let long = weighted("www.example.com.", &"x".repeat(129), 1, 60, "192.0.2.1");
        assert!(one_error(&zone_with([]), &[create(long)])
            .contains("resourceRecordSet.setIdentifier' failed to satisfy constraint: Member must have length less than or equal to 128"));
        let empty = weighted("www.example.com.", "", 1, 60, "192.0.2.1");
        assert!(one_error(&zone_with([]), &[create(empty)]).contains("greater than or equal to 1"));
        // MultiValueAnswer false is no policy at all.
        let off = RecordSet {
            multi_value_answer: Some(false),
            ..set("www.example.com.", RecordType::A, &["192.0.2.1"])
        };
        let effects = apply(ZONE, &zone_with([]), &[create(off)]).unwrap();
        assert_eq!(effects.put[0].multi_value_answer, None);
    }

    #[test]
    fn routing_policies_do_not_mix() {
        let name = "www.example.com.";
        let simple = set(name, RecordType::A, &["192.0.2.1"]);
        let current = zone_with([simple.clone()]);
        assert_eq!(
            one_error(&current, &[create(weighted(name, "one", 1, 300, "192.0.2.2"))]),
            "RRSet with DNS name www.example.com., type A, SetIdentifier one cannot be created as a non-weighted set exists with the same name and type."
        );
        assert_eq!(
            one_error(&current, &[create(multi(name, "one", "192.0.2.2"))]),
            "RRSet with DNS name www.example.com., type A, SetIdentifier one cannot be created because a non multivalue answer rrset exists with the same name and type."
        );
        let current = zone_with([weighted(name, "one", 1, 300, "192.0.2.1")]);
        assert!(one_error(&current, &[create(simple.clone())]).contains("as a weighted set exists"));
        assert!(
            one_error(&current, &[create(multi(name, "two", "192.0.2.2"))])
                .contains("non multivalue")
        );
        let current = zone_with([multi(name, "one", "192.0.2.1")]);
        assert!(one_error(&current, &[create(simple.clone())])
            .contains("a multivalue answer rrset exists"));
        assert!(one_error(
            &current,
            &[create(weighted(name, "two", 1, 300, "192.0.2.2"))]
        )
        .contains("non-weighted"));
        // Replacing the only set with another policy is fine in one batch.
        let current = zone_with([simple.clone()]);
        let switch = [
            delete(simple),
            create(weighted(name, "one", 1, 300, "192.0.2.1")),
        ];
        assert!(apply(ZONE, &current, &switch).is_ok());
        // Weighted sets live side by side; an upsert of one replaces only it.
        let current = zone_with([weighted(name, "one", 1, 300, "192.0.2.1")]);
        let effects = apply(
            ZONE,
            &current,
            &[create(weighted(name, "two", 3, 300, "192.0.2.2"))],
        )
        .unwrap();
        assert_eq!(effects.put.len(), 1);
    }

    #[test]
    fn weighted_sets_share_a_ttl_and_a_quota() {
        let name = "www.example.com.";
        let current = zone_with([weighted(name, "one", 1, 300, "192.0.2.1")]);
        assert_eq!(
            one_error(&current, &[create(weighted(name, "two", 1, 60, "192.0.2.2"))]),
            "RRSet with DNS name www.example.com. and type A, SetIdentifier two cannot be created as weighted sets must contain the same TTL."
        );
        // Changing every TTL in one batch is fine.
        let both = [
            create(weighted(name, "two", 1, 60, "192.0.2.2")),
            upsert(weighted(name, "one", 1, 60, "192.0.2.1")),
        ];
        assert!(apply(ZONE, &current, &both).is_ok());
        let many: Vec<RecordSet> = (0..MAX_WEIGHTED_SETS)
            .map(|i| weighted(name, &format!("s{i}"), 1, 300, "192.0.2.1"))
            .collect();
        let current = zone_with(many);
        assert_eq!(
            one_error(&current, &[create(weighted(name, "extra", 1, 300, "192.0.2.1"))]),
            "Exceeded limit on number of weighted RRSets for www.example.com., type A in this zone."
        );
    }

    #[test]
    fn a_cname_stands_alone() {
        let name = "www.example.com.";
        let a = set(name, RecordType::A, &["192.0.2.1"]);
        let cname = set(name, RecordType::Cname, &["target.example.net"]);
        let current = zone_with([a.clone()]);
        assert_eq!(
            one_error(&current, &[create(cname.clone())]),
            "RRSet of type CNAME with DNS name www.example.com. is not permitted as it conflicts with other records with the same DNS name in zone example.com."
        );
        // In order: deleting the A first makes room; creating the CNAME first does not.
        assert!(apply(ZONE, &current, &[delete(a.clone()), create(cname.clone())]).is_ok());
        assert!(
            one_error(&current, &[create(cname.clone()), delete(a.clone())]).contains("conflicts")
        );
        let current = zone_with([cname]);
        let txt = set(name, RecordType::Txt, &["\"hello\""]);
        assert_eq!(
            one_error(&current, &[upsert(txt)]),
            "RRSet of type TXT with DNS name www.example.com. is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone example.com."
        );
        let apex = set(ZONE, RecordType::Cname, &["target.example.net"]);
        assert_eq!(
            one_error(&zone_with([]), &[create(apex)]),
            "RRSet of type CNAME with DNS name example.com. is not permitted at apex in zone example.com."
        );
    }

    #[test]
    fn the_apex_keeps_its_soa_and_ns() {
        let current = zone_with([]);
        let soa = current[0].clone();
        let ns = current[1].clone();
        assert_eq!(
            one_error(&current, &[delete(soa.clone())]),
            "A HostedZone must contain exactly one SOA record."
        );
        assert_eq!(
            one_error(&current, &[delete(ns.clone())]),
            "A HostedZone must contain at least one NS record for the zone itself."
        );
        assert!(one_error(&current, &[create(soa.clone())]).contains("but it already exists"));
        // Both may be upserted.
        let new_soa = set(
            ZONE,
            RecordType::Soa,
            &["ns-1.flotilla.internal. hostmaster.example.com. 2 7200 900 1209600 60"],
        );
        let new_ns = set(
            ZONE,
            RecordType::Ns,
            &["ns-1.flotilla.internal.", "ns-2.example.net."],
        );
        let effects = apply(
            ZONE,
            &current,
            &[upsert(new_soa.clone()), upsert(new_ns.clone())],
        )
        .unwrap();
        // In key order: NS sorts before SOA.
        assert_eq!(effects.put, vec![new_ns, new_soa]);
        let below = set(
            "sub.example.com.",
            RecordType::Soa,
            &["ns. host. 1 2 3 4 5"],
        );
        assert!(one_error(&current, &[create(below)])
            .contains("the SOA record belongs at the zone apex"));
        // NS below the apex is a delegation, and fine; NS at a wildcard is not.
        let delegation = set("sub.example.com.", RecordType::Ns, &["ns.elsewhere.net."]);
        assert!(apply(ZONE, &current, &[create(delegation)]).is_ok());
        let wildcard = set("*.example.com.", RecordType::Ns, &["ns.elsewhere.net."]);
        assert!(one_error(&current, &[create(wildcard)]).contains("wildcard"));
        let weighted_ns = RecordSet {
            set_identifier: Some("a".into()),
            weight: Some(1),
            ..set("sub.example.com.", RecordType::Ns, &["ns.x."])
        };
        assert!(one_error(&current, &[create(weighted_ns)])
            .contains("cannot use weighted or multivalue answer routing"));
    }

    #[test]
    fn values_are_checked() {
        let bad = set("www.example.com.", RecordType::A, &["1.2.3"]);
        assert_eq!(
            one_error(&zone_with([]), &[create(bad)]),
            "Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '1.2.3''"
        );
        // An unquoted TXT value is stored quoted.
        let txt = set("www.example.com.", RecordType::Txt, &["token"]);
        let effects = apply(ZONE, &zone_with([]), &[create(txt.clone())]).unwrap();
        assert_eq!(effects.put[0].values, vec!["\"token\""]);
        // ...and the unquoted form still names it in a DELETE.
        let stored = effects.put[0].clone();
        assert!(apply(ZONE, &zone_with([stored]), &[delete(txt)]).is_ok());
    }

    #[test]
    fn aliases_to_this_zone_need_their_target() {
        let target = set("www.example.com.", RecordType::A, &["192.0.2.1"]);
        let apex = alias(ZONE, RecordType::A, "WWW.example.com", "Z1EXAMPLE");
        assert_eq!(
            one_error(&zone_with([]), &[create(apex.clone())]),
            "Tried to create an alias that targets www.example.com., type A in zone Z1EXAMPLE, but that target was not found"
        );
        let effects = apply(
            ZONE,
            &zone_with([]),
            &[create(apex.clone()), create(target.clone())],
        )
        .unwrap();
        let stored = effects.put.iter().find(|s| s.alias.is_some()).unwrap();
        assert_eq!(stored.alias.as_ref().unwrap().dns_name, "www.example.com.");
        assert!(apply(ZONE, &zone_with([target.clone()]), &[create(apex.clone())]).is_ok());
        // The target's type must match.
        let aaaa = alias(
            ZONE,
            RecordType::Aaaa,
            "www.example.com.",
            "/hostedzone/Z1EXAMPLE",
        );
        assert!(one_error(&zone_with([target]), &[create(aaaa)])
            .contains("type AAAA in zone Z1EXAMPLE, but that target was not found"));
        // Load balancers and other zones are the caller's to check.
        let lb = alias(
            ZONE,
            RecordType::A,
            "my-lb.elb.example.com.",
            ELB_HOSTED_ZONE_ID,
        );
        assert!(apply(ZONE, &zone_with([]), &[create(lb)]).is_ok());
        let elsewhere = alias(ZONE, RecordType::A, "www.other.net.", "Z2OTHER");
        assert!(apply(ZONE, &zone_with([]), &[create(elsewhere)]).is_ok());
        let itself = alias(
            "www.example.com.",
            RecordType::A,
            "www.example.com.",
            "Z1EXAMPLE",
        );
        assert!(one_error(&zone_with([]), &[create(itself)])
            .contains("that target is the alias itself"));
        let ns = alias(
            "sub.example.com.",
            RecordType::Ns,
            "www.other.net.",
            "Z2OTHER",
        );
        assert!(one_error(&zone_with([]), &[create(ns)]).contains("cannot be an alias"));
        let multi_alias = RecordSet {
            set_identifier: Some("a".into()),
            multi_value_answer: Some(true),
            ..alias(
                "www.example.com.",
                RecordType::A,
                "www.other.net.",
                "Z2OTHER",
            )
        };
        assert_eq!(
            one_error(&zone_with([]), &[create(multi_alias)]),
            "Multivalue answer rrset should not be an alias rrset"
        );
    }

    #[test]
    fn one_set_changed_twice_is_refused() {
        let a = set("www.example.com.", RecordType::A, &["192.0.2.1"]);
        let b = set("www.example.com.", RecordType::A, &["192.0.2.2"]);
        let invalid = "The request contains an invalid set of changes for a resource record set 'A www.example.com.'";
        assert_eq!(
            one_error(
                &zone_with([]),
                &[create(a.clone()), create(a.clone()), create(a.clone())]
            ),
            invalid
        );
        assert_eq!(
            one_error(&zone_with([]), &[upsert(a.clone()), upsert(b.clone())]),
            invalid
        );
        let current = zone_with([a.clone()]);
        let errs = errors(&current, &[delete(a.clone()), delete(a.clone())]);
        assert_eq!(errs, vec![invalid]);
        // Delete then create is how a set is replaced.
        let effects = apply(ZONE, &current, &[delete(a.clone()), create(b.clone())]).unwrap();
        assert_eq!(
            effects,
            Effects {
                put: vec![b],
                delete: vec![]
            }
        );
        // Delete and create it unchanged: nothing to do.
        assert_eq!(
            apply(ZONE, &current, &[delete(a.clone()), upsert(a)]).unwrap(),
            Effects::default()
        );
    }

    #[test]
    fn every_problem_is_reported_and_nothing_applies() {
        let current = zone_with([set("a.example.com.", RecordType::A, &["192.0.2.1"])]);
        let changes = [
            create(set("b.example.com.", RecordType::A, &["192.0.2.2"])),
            create(set("a.example.com.", RecordType::A, &["192.0.2.1"])),
            delete(set("c.example.com.", RecordType::A, &["192.0.2.3"])),
        ];
        assert_eq!(
            errors(&current, &changes),
            vec![
                "Tried to create resource record set [name='a.example.com.', type='A'] but it already exists",
                "Tried to delete resource record set [name='c.example.com.', type='A'] but it was not found",
            ]
        );
    }

    #[test]
    fn the_zone_has_a_quota() {
        let mut current = zone_with([]);
        current.extend(
            (current.len()..MAX_RECORD_SETS)
                .map(|i| set(&format!("h{i}.example.com."), RecordType::A, &["192.0.2.1"])),
        );
        assert_eq!(current.len(), MAX_RECORD_SETS);
        let one_more = set("new.example.com.", RecordType::A, &["192.0.2.1"]);
        assert_eq!(
            one_error(&current, &[create(one_more.clone())]),
            "Exceeded limit MAX_RRSETS_BY_ZONE for zone: example.com."
        );
        let swap = [delete(current[5].clone()), create(one_more)];
        assert!(apply(ZONE, &current, &swap).is_ok());
    }

    #[test]
    fn set_identifiers_show_in_messages() {
        let w = weighted("www.example.com.", "blue", 1, 300, "192.0.2.1");
        assert_eq!(
            one_error(&zone_with([w.clone()]), &[create(w)]),
            "Tried to create resource record set [name='www.example.com.', type='A', set-identifier='blue'] but it already exists"
        );
        let star = set("*.example.com.", RecordType::A, &["192.0.2.1"]);
        assert_eq!(
            one_error(&zone_with([]), &[delete(star)]),
            "Tried to delete resource record set [name='\\052.example.com.', type='A'] but it was not found"
        );
    }

    fn any_set() -> impl Strategy<Value = RecordSet> {
        let names = prop_oneof![
            Just("example.com.".to_string()),
            Just("www.example.com.".to_string()),
            Just("*.example.com.".to_string()),
            Just("other.net.".to_string()),
            any::<String>(),
        ];
        let values = proptest::collection::vec(
            prop_oneof![
                Just("192.0.2.1".to_string()),
                Just("www.example.com".to_string()),
                Just("10 mail.example.com".to_string()),
                Just("\"text\"".to_string()),
                any::<String>(),
            ],
            0..3,
        );
        let alias = proptest::option::of((
            prop_oneof![Just("Z1".to_string()), Just(ELB_HOSTED_ZONE_ID.to_string())],
            prop_oneof![Just("www.example.com.".to_string()), any::<String>()],
        ));
        (
            (names, proptest::sample::select(RecordType::ALL.to_vec())),
            (
                proptest::option::of(prop_oneof![
                    Just("a".to_string()),
                    Just("b".to_string()),
                    any::<String>()
                ]),
                proptest::option::of(any::<u8>()),
                proptest::option::of(any::<bool>()),
            ),
            (
                proptest::option::of(prop_oneof![Just(300u32), any::<u32>()]),
                values,
            ),
            (alias, proptest::option::of(Just("hc".to_string()))),
        )
            .prop_map(
                |(
                    (name, rtype),
                    (set_identifier, weight, multi_value_answer),
                    (ttl, values),
                    (alias, health_check_id),
                )| RecordSet {
                    name,
                    rtype,
                    set_identifier,
                    weight,
                    multi_value_answer,
                    ttl,
                    values,
                    alias: alias.map(|(hosted_zone_id, dns_name)| AliasTarget {
                        hosted_zone_id,
                        dns_name,
                        evaluate_target_health: false,
                    }),
                    health_check_id,
                },
            )
    }

    /// Changes that often succeed: a few names and types, valid values, one routing
    /// policy, aliases to a name of the zone.
    fn plausible_change() -> impl Strategy<Value = Change> {
        let name = proptest::sample::select(vec![
            ZONE,
            "www.example.com.",
            "a.example.com.",
            "*.example.com.",
        ]);
        let rtype = proptest::sample::select(vec![
            RecordType::A,
            RecordType::Txt,
            RecordType::Cname,
            RecordType::Mx,
        ]);
        let routing = prop_oneof![
            Just((None, None, None)),
            (proptest::sample::select(vec!["a", "b"]), 0u8..3).prop_map(|(id, w)| (
                Some(id.to_string()),
                Some(w),
                None
            )),
            proptest::sample::select(vec!["a", "b"]).prop_map(|id| (
                Some(id.to_string()),
                None,
                Some(true)
            )),
        ];
        (
            proptest::sample::select(vec![Action::Create, Action::Delete, Action::Upsert]),
            name,
            rtype,
            routing,
            proptest::sample::select(vec![60u32, 300]),
            0usize..2,
            proptest::bool::weighted(0.2),
        )
            .prop_map(
                |(
                    action,
                    name,
                    rtype,
                    (set_identifier, weight, multi_value_answer),
                    ttl,
                    pick,
                    is_alias,
                )| {
                    let values = match rtype {
                        RecordType::A => ["192.0.2.1", "192.0.2.2"][pick],
                        RecordType::Txt => ["\"x\"", "y"][pick],
                        RecordType::Cname => ["t.example.net", "u.example.net."][pick],
                        _ => ["10 m.example.com", "20 n.example.com"][pick],
                    };
                    let base = RecordSet {
                        set_identifier,
                        weight,
                        multi_value_answer,
                        ttl: Some(ttl),
                        ..set(name, rtype, &[values])
                    };
                    let set = match is_alias {
                        true => RecordSet {
                            ttl: None,
                            values: vec![],
                            alias: Some(AliasTarget {
                                hosted_zone_id: "Z1".into(),
                                dns_name: "www.example.com.".into(),
                                evaluate_target_health: false,
                            }),
                            ..base
                        },
                        false => base,
                    };
                    Change { action, set }
                },
            )
    }

    fn any_change() -> impl Strategy<Value = Change> {
        (
            proptest::sample::select(vec![Action::Create, Action::Delete, Action::Upsert]),
            any_set(),
        )
            .prop_map(|(action, set)| Change { action, set })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn apply_never_panics(
            zone in prop_oneof![Just(ZONE.to_string()), any::<String>()],
            extra in proptest::collection::vec(any_set(), 0..4),
            changes in proptest::collection::vec(any_change(), 0..6),
        ) {
            let _ = check_input(&changes);
            let _ = apply(&zone, &zone_with(extra), &changes);
        }

        #[test]
        fn an_applied_batch_leaves_a_consistent_zone(
            changes in proptest::collection::vec(plausible_change(), 1..8),
        ) {
            let current = zone_with([]);
            if let Ok(effects) = apply(ZONE, &current, &changes) {
                let mut after: BTreeMap<Key, RecordSet> =
                    current.iter().map(|s| (s.key(), s.clone())).collect();
                for s in &effects.delete {
                    prop_assert!(after.remove(&s.key()).is_some());
                }
                for s in &effects.put {
                    after.insert(s.key(), s.clone());
                }
                for s in after.values() {
                    let beside = after.values().filter(|o| o.name == s.name && o.key() != s.key());
                    for o in beside {
                        prop_assert!(s.rtype != RecordType::Cname || o.rtype == RecordType::Cname);
                        if o.rtype == s.rtype {
                            prop_assert_eq!(o.weight.is_some(), s.weight.is_some());
                            prop_assert_eq!(multivalue(o), multivalue(s));
                            prop_assert!(s.set_identifier.is_some());
                        }
                    }
                }
                let after: Vec<RecordSet> = after.into_values().collect();
                // The stored sets are in the form the batch itself stores: upserting them
                // again changes nothing.
                let again: Vec<Change> = effects.put.iter().cloned().map(upsert).collect();
                prop_assert_eq!(apply(ZONE, &after, &again), Ok(Effects::default()));
            }
        }
    }
}

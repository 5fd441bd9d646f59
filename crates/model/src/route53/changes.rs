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
    names, rdata, strip_id_prefix, RecordSet, ELB_HOSTED_ZONE_ID, NAME_SERVER, NS_TTL, SOA_TTL,
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
/// `current` (all of them, SOA and apex NS included), all or nothing, as Route 53 does;
/// the zone may hold at most `max_record_sets` afterwards (see
/// [`super::DEFAULT_MAX_RECORD_SETS`]). Err: every problem found, each in Route 53's
/// InvalidChangeBatch wording.
///
/// Problems of a change's shape alone come first and alone, as Route 53 answers them
/// (with InvalidInput) before it looks at the zone; see [`check_input`]. Names and alias
/// targets are normalized again (so a caller that did not is still right), MultiValueAnswer
/// `false` is stored as absent, and an unquoted TXT value is stored quoted.
pub fn apply(
    zone: &str,
    current: &[RecordSet],
    changes: &[Change],
    max_record_sets: usize,
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
    batch.finish(max_record_sets)
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
    fn zone_problems(&self, max_record_sets: usize) -> Vec<String> {
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
        if self.work.len() > max_record_sets && self.work.len() > self.before.len() {
            problems.push(format!(
                "Exceeded limit MAX_RRSETS_BY_ZONE for zone: {}",
                names::display(zone)
            ));
        }
        problems
    }

    fn finish(mut self, max_record_sets: usize) -> Result<Effects, Vec<String>> {
        let zone_problems = self.zone_problems(max_record_sets);
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
mod tests;

//! The lookup table: a [`DnsConfig`] compiled once into what queries look up (zones by
//! origin, record sets by name and type with their values already parsed into records).
//! A new table replaces the old one whole; nothing in it changes after it is built.
//! Values that do not parse are skipped with a warning, never answered and never fatal.

use std::collections::{HashMap, HashSet};

use flotilla_model::dns::{DnsConfig, RecordPlane, Routing, ZonePlane};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::values;

/// Everything a query needs, immutable once built.
#[derive(Default)]
pub(crate) struct Table {
    zones: Vec<Zone>,
    /// Zone index by origin (the first zone listed with an origin wins).
    by_origin: HashMap<Name, usize>,
}

/// One zone as queries see it.
pub(crate) struct Zone {
    pub origin: Name,
    /// The SOA with the negative-caching TTL, `min(ttl, minimum)`, for negative answers.
    pub negative_soa: Record,
    /// Names that own record sets (the apex always does: its SOA), wildcards included.
    nodes: HashMap<Name, Node>,
    /// Names strictly between the apex and an owner name: they exist (RFC 4592's empty
    /// non-terminals when they own nothing themselves).
    interior: HashSet<Name>,
    /// Names below the apex that own an NS set: delegations to other servers.
    cuts: HashSet<Name>,
}

/// The record sets one name owns, by type.
#[derive(Default)]
pub(crate) struct Node {
    pub sets: HashMap<RecordType, Vec<Choice>>,
}

/// One record set among those of its name and type, and how it is chosen.
pub(crate) struct Choice {
    pub pick: Pick,
    pub healthy: bool,
    pub records: Vec<Record>,
}

/// How a set is chosen among the sets of its name and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    Simple,
    Weighted(u8),
    MultiValue,
}

impl Table {
    /// The zone a name belongs to: the one whose origin is its longest suffix.
    pub(crate) fn zone_for(&self, name: &Name) -> Option<&Zone> {
        if self.by_origin.is_empty() {
            return None;
        }
        let labels = label_count(name);
        // The name itself first, without making a copy of it.
        self.by_origin
            .get(name)
            .or_else(|| {
                (0..labels)
                    .rev()
                    .find_map(|k| self.by_origin.get(&name.trim_to(k)))
            })
            .and_then(|&i| self.zones.get(i))
    }
}

impl Zone {
    pub(crate) fn node(&self, name: &Name) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// Whether `name` exists in the zone: it owns a record set or has one below it.
    pub(crate) fn exists(&self, name: &Name) -> bool {
        self.nodes.contains_key(name) || self.interior.contains(name)
    }

    /// The highest delegation point at or above `name` (below the apex), if any.
    pub(crate) fn cut_above(&self, name: &Name) -> Option<&Name> {
        if self.cuts.is_empty() {
            return None;
        }
        let apex = label_count(&self.origin);
        (apex + 1..=label_count(name)).find_map(|k| self.cuts.get(&name.trim_to(k)))
    }

    pub(crate) fn label_count(&self) -> usize {
        label_count(&self.origin)
    }
}

/// Labels in a name, a leading `*` included (unlike `Name::num_labels`).
pub(crate) fn label_count(name: &Name) -> usize {
    name.iter().count()
}

/// Build the table for `config`.
pub(crate) fn compile(config: &DnsConfig) -> Table {
    let mut table = Table::default();
    for plane in &config.zones {
        let origin = match values::name(&plane.origin) {
            Ok(origin) => origin,
            Err(e) => {
                tracing::warn!(zone = %plane.id, origin = %plane.origin, error = %e, "zone skipped: its origin is not a domain name");
                continue;
            }
        };
        if table.by_origin.contains_key(&origin) {
            tracing::debug!(zone = %plane.id, %origin, "zone not served: an earlier zone has the same origin");
            continue;
        }
        let zone = compile_zone(plane, origin.clone());
        table.by_origin.insert(origin, table.zones.len());
        table.zones.push(zone);
    }
    table
}

fn compile_zone(plane: &ZonePlane, origin: Name) -> Zone {
    let soa = soa_record(plane, &origin);
    let mut negative_soa = soa.clone();
    negative_soa.ttl = plane.soa.ttl.min(plane.soa.minimum);
    let mut zone = Zone {
        origin: origin.clone(),
        negative_soa,
        nodes: HashMap::new(),
        interior: HashSet::new(),
        cuts: HashSet::new(),
    };
    zone.nodes.entry(origin.clone()).or_default().sets.insert(
        RecordType::SOA,
        vec![Choice {
            pick: Pick::Simple,
            healthy: true,
            records: vec![soa],
        }],
    );
    for set in &plane.records {
        let Some((name, rtype, choice)) = compile_set(plane, &origin, set) else {
            continue;
        };
        add_ancestors(&mut zone.interior, &origin, &name);
        if rtype == RecordType::NS && name != origin {
            zone.cuts.insert(name.clone());
        }
        zone.nodes
            .entry(name)
            .or_default()
            .sets
            .entry(rtype)
            .or_default()
            .push(choice);
    }
    zone
}

fn soa_record(plane: &ZonePlane, origin: &Name) -> Record {
    let s = &plane.soa;
    let mname = values::name(&s.mname).unwrap_or_else(|e| {
        tracing::warn!(zone = %plane.id, mname = %s.mname, error = %e, "SOA mname is not a domain name; using the origin");
        origin.clone()
    });
    let rname = values::name(&s.rname).unwrap_or_else(|e| {
        tracing::warn!(zone = %plane.id, rname = %s.rname, error = %e, "SOA rname is not a domain name; using hostmaster at the origin");
        origin
            .prepend_label("hostmaster")
            .unwrap_or_else(|_| origin.clone())
    });
    // SOA timers are unsigned 32-bit on the wire; hickory keeps three as i32, which the
    // cast carries over bit for bit.
    let rdata = SOA::new(
        mname,
        rname,
        s.serial,
        s.refresh as i32,
        s.retry as i32,
        s.expire as i32,
        s.minimum,
    );
    Record::from_rdata(origin.clone(), s.ttl, RData::SOA(rdata))
}

/// One record set, parsed: its owner, its type and the choice it offers; `None` (with a
/// warning) when it cannot be served at all.
fn compile_set(
    plane: &ZonePlane,
    origin: &Name,
    set: &RecordPlane,
) -> Option<(Name, RecordType, Choice)> {
    let name = match values::name(&set.name) {
        Ok(name) if origin.zone_of(&name) => name,
        Ok(_) => {
            tracing::warn!(zone = %plane.id, name = %set.name, "record set skipped: its name is outside the zone");
            return None;
        }
        Err(e) => {
            tracing::warn!(zone = %plane.id, name = %set.name, error = %e, "record set skipped: its name is not a domain name");
            return None;
        }
    };
    if set.rtype == flotilla_model::dns::RecordType::Soa {
        tracing::warn!(zone = %plane.id, name = %set.name, "SOA record set skipped: the zone's SOA comes from its configuration");
        return None;
    }
    let rtype = record_type(set.rtype);
    let mut records = Vec::with_capacity(set.values.len());
    for value in &set.values {
        match values::parse(set.rtype, value) {
            Ok(rdata) => records.push(Record::from_rdata(name.clone(), set.ttl, rdata)),
            Err(e) => {
                tracing::warn!(zone = %plane.id, name = %set.name, rtype = set.rtype.as_str(), value = %value, error = %e, "record value skipped: it does not parse");
            }
        }
    }
    if rtype == RecordType::CNAME && records.len() > 1 {
        tracing::warn!(zone = %plane.id, name = %set.name, "a CNAME set has more than one value; only the first is served");
        records.truncate(1);
    }
    if records.is_empty() {
        tracing::warn!(zone = %plane.id, name = %set.name, rtype = set.rtype.as_str(), "record set skipped: no value parses");
        return None;
    }
    let pick = match &set.routing {
        Routing::Simple => Pick::Simple,
        Routing::Weighted { weight, .. } => Pick::Weighted(*weight),
        Routing::MultiValue { .. } => Pick::MultiValue,
    };
    let choice = Choice {
        pick,
        healthy: set.healthy,
        records,
    };
    Some((name, rtype, choice))
}

/// Record every name strictly between `origin` and `name` as existing.
fn add_ancestors(interior: &mut HashSet<Name>, origin: &Name, name: &Name) {
    let apex = label_count(origin);
    for k in (apex + 1..label_count(name)).rev() {
        if !interior.insert(name.trim_to(k)) {
            // Everything above is in already.
            break;
        }
    }
}

/// The wire type of a contract type.
pub(crate) fn record_type(t: flotilla_model::dns::RecordType) -> RecordType {
    use flotilla_model::dns::RecordType as M;
    match t {
        M::A => RecordType::A,
        M::Aaaa => RecordType::AAAA,
        M::Cname => RecordType::CNAME,
        M::Txt => RecordType::TXT,
        M::Mx => RecordType::MX,
        M::Srv => RecordType::SRV,
        M::Ns => RecordType::NS,
        M::Soa => RecordType::SOA,
        M::Caa => RecordType::CAA,
        M::Ptr => RecordType::PTR,
    }
}

//! Authoritative answers from a [`Table`]: pure, no I/O.
//!
//! One name in one zone ([`step`]) is answered in this order: a delegation at or above the
//! name (a referral); the name's own record sets; an existing name without them (NODATA,
//! which covers empty non-terminals); the wildcard at the closest encloser (RFC 4592,
//! answered under the query name); otherwise NXDOMAIN. A CNAME answers every other type
//! and the chain is followed through Flotilla's zones ([`resolve`]) for at most
//! [`MAX_CHAIN`] steps, stopping at a name already seen.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::Rng;

use crate::routing;
use crate::table::{label_count, Choice, Node, Table, Zone};

/// CNAMEs followed at most in one answer.
pub(crate) const MAX_CHAIN: usize = 8;

/// An answer from Flotilla's zones.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additionals: Vec<Record>,
    /// The chain ended at a CNAME whose target is in none of Flotilla's zones.
    pub outside: Option<Name>,
}

/// What one name in one zone answers.
enum Step {
    /// Its records, appended to the answers.
    Records,
    Cname(Name),
    NoData,
    NxDomain,
    Referral {
        ns: Vec<Record>,
        glue: Vec<Record>,
    },
}

/// Answer `qname`/`qtype`, or `None` when the name is in none of the zones.
pub(crate) fn resolve<R: Rng + ?Sized>(
    table: &Table,
    qname: &Name,
    qtype: RecordType,
    rng: &mut R,
) -> Option<Outcome> {
    let mut zone = table.zone_for(qname)?;
    let mut out = Outcome {
        rcode: ResponseCode::NoError,
        authoritative: true,
        answers: Vec::new(),
        authority: Vec::new(),
        additionals: Vec::new(),
        outside: None,
    };
    let mut name = qname.clone();
    // The names of the chain so far, once there is one.
    let mut seen = Vec::new();
    loop {
        match step(zone, &name, qtype, rng, &mut out.answers) {
            Step::Records => {}
            Step::NoData => out.authority.push(zone.negative_soa.clone()),
            Step::NxDomain => {
                out.rcode = ResponseCode::NXDomain;
                out.authority.push(zone.negative_soa.clone());
            }
            Step::Referral { ns, glue } => {
                // Only the data above the cut is ours to vouch for.
                out.authoritative = !out.answers.is_empty();
                out.authority = ns;
                out.additionals = glue;
            }
            Step::Cname(target) => {
                if seen.is_empty() {
                    seen.push(qname.clone());
                }
                if seen.contains(&target) || seen.len() > MAX_CHAIN {
                    return Some(out);
                }
                seen.push(target.clone());
                match table.zone_for(&target) {
                    Some(next) => {
                        zone = next;
                        name = target;
                        continue;
                    }
                    None => out.outside = Some(target),
                }
            }
        }
        return Some(out);
    }
}

/// Answer `qname` in `zone`, appending the records it answers with to `answers` (a CNAME
/// included, when the step is one).
fn step<R: Rng + ?Sized>(
    zone: &Zone,
    qname: &Name,
    qtype: RecordType,
    rng: &mut R,
    answers: &mut Vec<Record>,
) -> Step {
    if let Some(cut) = zone.cut_above(qname) {
        // The DS set of a delegation lives on the parent's side (RFC 4035 section 3.1.4.1).
        if !(qtype == RecordType::DS && cut == qname) {
            return referral(zone, cut, rng);
        }
    }
    let node = match zone.node(qname) {
        Some(node) => node,
        None if zone.exists(qname) => return Step::NoData,
        None => match wildcard(zone, qname) {
            Some(Some(node)) => node,
            Some(None) => return Step::NoData,
            None => return Step::NxDomain,
        },
    };
    // Wildcard answers carry the query name (and every answer the zone's own spelling of
    // it otherwise, which is the same name; the query's spelling lets the reply point
    // back at the question).
    let mut owned = |choices: &[Choice], answers: &mut Vec<Record>| {
        routing::for_each_chosen(choices, rng, |choice| {
            answers.extend(
                choice
                    .records
                    .iter()
                    .map(|r| Record::from_rdata(qname.clone(), r.ttl, r.data.clone())),
            );
        });
    };
    if qtype == RecordType::ANY {
        for choices in node.sets.values() {
            owned(choices, answers);
        }
        return Step::Records;
    }
    if let Some(choices) = node.sets.get(&qtype) {
        owned(choices, answers);
        return Step::Records;
    }
    if let Some(choices) = node.sets.get(&RecordType::CNAME) {
        let before = answers.len();
        owned(choices, answers);
        answers.truncate(before + 1);
        if let Some(RData::CNAME(target)) = answers.get(before).map(|r| &r.data) {
            return Step::Cname(target.0.clone());
        }
        answers.truncate(before);
    }
    Step::NoData
}

fn chosen<'t, R: Rng + ?Sized>(choices: &'t [Choice], rng: &mut R) -> Vec<&'t Record> {
    routing::choose(choices, rng)
        .into_iter()
        .flat_map(|c| c.records.iter())
        .collect()
}

/// The wildcard node that answers a name that does not exist: `Some(Some(node))` when
/// `*.<closest encloser>` owns records, `Some(None)` when it only has names below it
/// (it exists, but owns nothing: NODATA), `None` when there is no such wildcard.
fn wildcard<'z>(zone: &'z Zone, qname: &Name) -> Option<Option<&'z Node>> {
    let apex = zone.label_count();
    let encloser = (apex..label_count(qname))
        .rev()
        .map(|k| qname.trim_to(k))
        .find(|n| label_count(n) == apex || zone.exists(n))?;
    let star = encloser.prepend_label("*").ok()?;
    match zone.node(&star) {
        Some(node) => Some(Some(node)),
        None if zone.exists(&star) => Some(None),
        None => None,
    }
}

/// A referral to the servers of a delegated name: its NS records, with the addresses of
/// those servers that are named inside this zone (glue).
fn referral<R: Rng + ?Sized>(zone: &Zone, cut: &Name, rng: &mut R) -> Step {
    let ns: Vec<Record> = zone
        .node(cut)
        .and_then(|n| n.sets.get(&RecordType::NS))
        .map(|choices| chosen(choices, rng).into_iter().cloned().collect())
        .unwrap_or_default();
    let mut glue = Vec::new();
    for record in &ns {
        let RData::NS(server) = &record.data else {
            continue;
        };
        let Some(node) = zone.node(&server.0) else {
            continue;
        };
        for rtype in [RecordType::A, RecordType::AAAA] {
            if let Some(choices) = node.sets.get(&rtype) {
                glue.extend(chosen(choices, rng).into_iter().cloned());
            }
        }
    }
    Step::Referral { ns, glue }
}

#[cfg(test)]
mod tests;

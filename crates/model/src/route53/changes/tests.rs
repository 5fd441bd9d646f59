//! Tests of `changes`: every rule with Route 53's message, and arbitrary input.

use super::*;
use crate::route53::{AliasTarget, DEFAULT_MAX_RECORD_SETS};

mod arbitrary;

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

/// [`super::apply`] with Route 53's default quota, as most tests want it.
fn apply(zone: &str, current: &[RecordSet], changes: &[Change]) -> Result<Effects, Vec<String>> {
    super::apply(zone, current, changes, DEFAULT_MAX_RECORD_SETS)
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
        one_error(&current, &[create(multi(name, "two", "192.0.2.2"))]).contains("non multivalue")
    );
    let current = zone_with([multi(name, "one", "192.0.2.1")]);
    assert!(
        one_error(&current, &[create(simple.clone())]).contains("a multivalue answer rrset exists")
    );
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
        one_error(
            &current,
            &[create(weighted(name, "extra", 1, 300, "192.0.2.1"))]
        ),
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
    assert!(one_error(&current, &[create(cname.clone()), delete(a.clone())]).contains("conflicts"));
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
    assert!(
        one_error(&current, &[create(below)]).contains("the SOA record belongs at the zone apex")
    );
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
    assert!(
        one_error(&zone_with([]), &[create(itself)]).contains("that target is the alias itself")
    );
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
        (current.len()..DEFAULT_MAX_RECORD_SETS)
            .map(|i| set(&format!("h{i}.example.com."), RecordType::A, &["192.0.2.1"])),
    );
    assert_eq!(current.len(), DEFAULT_MAX_RECORD_SETS);
    let one_more = set("new.example.com.", RecordType::A, &["192.0.2.1"]);
    assert_eq!(
        one_error(&current, &[create(one_more.clone())]),
        "Exceeded limit MAX_RRSETS_BY_ZONE for zone: example.com."
    );
    let swap = [delete(current[5].clone()), create(one_more)];
    assert!(apply(ZONE, &current, &swap).is_ok());
}

#[test]
fn the_quota_is_the_callers() {
    // A zone of 4 sets (SOA, NS and two more).
    let current = zone_with([
        set("a.example.com.", RecordType::A, &["192.0.2.1"]),
        set("b.example.com.", RecordType::A, &["192.0.2.2"]),
    ]);
    let one_more = [create(set("c.example.com.", RecordType::A, &["192.0.2.3"]))];
    assert!(super::apply(ZONE, &current, &one_more, 5).is_ok());
    assert_eq!(
        super::apply(ZONE, &current, &one_more, 4),
        Err(vec![
            "Exceeded limit MAX_RRSETS_BY_ZONE for zone: example.com.".to_string()
        ])
    );
    // A zone already over a lowered quota may still change and shrink, not grow.
    let change = [upsert(set("a.example.com.", RecordType::A, &["192.0.2.9"]))];
    assert!(super::apply(ZONE, &current, &change, 2).is_ok());
    let shrink = [delete(current[2].clone())];
    assert!(super::apply(ZONE, &current, &shrink, 2).is_ok());
    // Raised past Route 53's default: a batch taking the zone over 10,000 is taken.
    let mut big = zone_with([]);
    big.extend(
        (big.len()..DEFAULT_MAX_RECORD_SETS)
            .map(|i| set(&format!("h{i}.example.com."), RecordType::A, &["192.0.2.1"])),
    );
    let more: Vec<Change> = (0..1000)
        .map(|i| {
            create(set(
                &format!("n{i}.example.com."),
                RecordType::A,
                &["192.0.2.1"],
            ))
        })
        .collect();
    let effects = super::apply(ZONE, &big, &more, 100_000).unwrap();
    assert_eq!(effects.put.len(), 1000);
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

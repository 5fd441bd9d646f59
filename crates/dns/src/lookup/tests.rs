use flotilla_model::dns::RecordType as M;
use hickory_proto::rr::{Name, RecordType};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::table::compile;
use crate::tests::fixtures::*;

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn ask(table: &Table, q: &str, t: RecordType) -> Option<Outcome> {
    resolve(table, &name(q), t, &mut StdRng::seed_from_u64(3))
}

fn owners(o: &Outcome) -> Vec<String> {
    o.answers.iter().map(|r| r.name.to_ascii()).collect()
}

#[test]
fn names_outside_every_zone_are_not_ours() {
    let table = compile(&example());
    assert!(ask(&table, "www.example.org.", RecordType::A).is_none());
    assert!(ask(&table, "com.", RecordType::A).is_none());
    assert!(ask(&table, "example.com.", RecordType::A).is_some());
}

#[test]
fn a_chain_longer_than_the_bound_stops() {
    let mut records = Vec::new();
    for i in 0..20 {
        records.push(rec(
            &format!("c{i}.example.com."),
            M::Cname,
            60,
            &[&format!("c{}.example.com.", i + 1)],
        ));
    }
    let table = compile(&config(1, vec![zone("Z", "example.com.", 60, 60, records)]));
    let o = ask(&table, "c0.example.com.", RecordType::A).unwrap();
    assert_eq!(o.answers.len(), MAX_CHAIN + 1);
    assert_eq!(o.rcode, ResponseCode::NoError);
    assert!(o.outside.is_none());
}

#[test]
fn any_answers_every_set_of_the_name() {
    let table = compile(&example());
    let o = ask(&table, "www.example.com.", RecordType::ANY).unwrap();
    let mut types: Vec<RecordType> = o.answers.iter().map(|r| r.record_type()).collect();
    types.sort();
    assert_eq!(types, [RecordType::A, RecordType::A, RecordType::AAAA]);
}

#[test]
fn wildcard_matching_follows_the_closest_encloser() {
    let table = compile(&config(
        1,
        vec![zone(
            "Z",
            "example.com.",
            60,
            60,
            vec![
                rec("*.example.com.", M::A, 60, &["192.0.2.1"]),
                rec("host.sub.example.com.", M::A, 60, &["192.0.2.2"]),
                rec("a.*.empty.example.com.", M::A, 60, &["192.0.2.3"]),
                rec(
                    "*.cname.example.com.",
                    M::Cname,
                    60,
                    &["host.sub.example.com."],
                ),
            ],
        )],
    ));
    // The wildcard at the apex answers names with no closer existing ancestor.
    let o = ask(&table, "x.example.com.", RecordType::A).unwrap();
    assert_eq!(owners(&o), ["x.example.com."]);
    let o = ask(&table, "a.b.c.example.com.", RecordType::A).unwrap();
    assert_eq!(owners(&o), ["a.b.c.example.com."]);
    // `sub` exists (an empty non-terminal): it is its own answer, and it is the closest
    // encloser of names below it, which has no wildcard.
    let o = ask(&table, "sub.example.com.", RecordType::A).unwrap();
    assert!(o.answers.is_empty());
    assert_eq!(o.rcode, ResponseCode::NoError);
    let o = ask(&table, "other.sub.example.com.", RecordType::A).unwrap();
    assert_eq!(o.rcode, ResponseCode::NXDomain);
    // A wildcard that only has names below it exists, but owns nothing.
    let o = ask(&table, "z.empty.example.com.", RecordType::A).unwrap();
    assert_eq!(o.rcode, ResponseCode::NoError);
    assert!(o.answers.is_empty());
    assert_eq!(o.authority.len(), 1);
    // Asking for the wildcard's own name gets its records under that name.
    let o = ask(&table, "*.example.com.", RecordType::A).unwrap();
    assert_eq!(owners(&o), ["*.example.com."]);
    // A wildcard CNAME is synthesised, then followed.
    let o = ask(&table, "q.cname.example.com.", RecordType::A).unwrap();
    assert_eq!(
        owners(&o),
        ["q.cname.example.com.", "host.sub.example.com."]
    );
}

#[test]
fn the_first_of_two_zones_with_one_origin_answers_and_strays_are_skipped() {
    let first = zone(
        "Z1",
        "example.com.",
        60,
        60,
        vec![
            rec("www.example.com.", M::A, 60, &["192.0.2.1"]),
            rec("www.example.net.", M::A, 60, &["192.0.2.9"]),
            rec("example.com.", M::Soa, 60, &["ns. host. 1 2 3 4 5"]),
            rec("empty.example.com.", M::A, 60, &["bogus"]),
        ],
    );
    let second = zone(
        "Z2",
        "EXAMPLE.com.",
        60,
        60,
        vec![rec("www.example.com.", M::A, 60, &["192.0.2.2"])],
    );
    let table = compile(&config(1, vec![first, second]));
    let o = ask(&table, "www.example.com.", RecordType::A).unwrap();
    assert_eq!(o.answers.len(), 1);
    assert_eq!(
        o.answers[0].data.ip_addr(),
        Some("192.0.2.1".parse().unwrap())
    );
    assert!(ask(&table, "www.example.net.", RecordType::A).is_none());
    // The configured SOA wins over an SOA record set.
    let o = ask(&table, "example.com.", RecordType::SOA).unwrap();
    assert_eq!(o.answers.len(), 1);
    // A set with no value that parses does not exist.
    let o = ask(&table, "empty.example.com.", RecordType::A).unwrap();
    assert_eq!(o.rcode, ResponseCode::NXDomain);
}

#[test]
fn referrals_cover_every_name_below_the_cut() {
    let table = compile(&example());
    for q in [
        "sub.example.com.",
        "a.b.sub.example.com.",
        "ns.sub.example.com.",
    ] {
        let o = ask(&table, q, RecordType::A).unwrap();
        assert!(!o.authoritative, "{q}");
        assert!(o.answers.is_empty(), "{q}");
        assert_eq!(o.authority.len(), 2, "{q}");
        assert!(o
            .authority
            .iter()
            .all(|r| r.record_type() == RecordType::NS));
    }
    // The parent answers for the DS set at the cut: it has none.
    let o = ask(&table, "sub.example.com.", RecordType::DS).unwrap();
    assert!(o.authoritative);
    assert!(o.answers.is_empty());
    assert_eq!(o.authority[0].record_type(), RecordType::SOA);
    // The apex NS set is no delegation.
    let o = ask(&table, "example.com.", RecordType::NS).unwrap();
    assert!(o.authoritative);
    assert_eq!(o.answers.len(), 2);
}

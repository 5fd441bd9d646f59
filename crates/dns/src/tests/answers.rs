//! Authoritative answers end to end over UDP: every record type, TTLs, negative answers,
//! wildcards, CNAME chains, zone choice, case.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use super::fixtures::example;
use super::harness::*;

#[tokio::test]
async fn records_of_every_type_are_answered_with_their_ttls_and_the_aa_bit() {
    let h = Harness::start(example());

    let a = h.udp("www.example.com.", RecordType::A).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert!(a.metadata.authoritative);
    assert!(!a.metadata.truncation);
    assert_eq!(addresses(&a), ["192.0.2.1", "192.0.2.2"]);
    assert!(a
        .answers
        .iter()
        .all(|r| r.ttl == 60 && r.name == name("www.example.com.")));
    assert!(a.authorities.is_empty());

    let aaaa = h.udp("www.example.com.", RecordType::AAAA).await;
    assert_eq!(values(&aaaa), ["2001:db8::1"]);
    assert_eq!(aaaa.answers[0].ttl, 61);

    let txt = h.udp("txt.example.com.", RecordType::TXT).await;
    let mut got = values(&txt);
    got.sort();
    assert_eq!(
        got,
        [
            r#""part one" "part two""#,
            r#""say \"hi\"""#,
            r#""v=spf1 -all""#
        ]
    );
    assert!(txt.answers.iter().all(|r| r.ttl == 120));

    let mx = h.udp("example.com.", RecordType::MX).await;
    let mut got = values(&mx);
    got.sort();
    assert_eq!(got, ["10 mail.example.com.", "20 mail2.example.com."]);

    let srv = h.udp("_http._tcp.example.com.", RecordType::SRV).await;
    assert_eq!(values(&srv), ["1 5 8080 web.example.com."]);
    assert_eq!(srv.answers[0].ttl, 30);

    let caa = h.udp("example.com.", RecordType::CAA).await;
    assert_eq!(values(&caa), [r#"0 issue "letsencrypt.org""#]);

    let ptr = h.udp("1.2.0.192.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(values(&ptr), ["www.example.com."]);
    assert!(ptr.metadata.authoritative);
    h.stop().await;
}

#[tokio::test]
async fn the_apex_answers_its_soa_and_ns() {
    let h = Harness::start(example());
    let soa = h.udp("example.com.", RecordType::SOA).await;
    assert!(soa.metadata.authoritative);
    assert_eq!(soa.answers.len(), 1);
    assert_eq!(soa.answers[0].ttl, 900, "the SOA's own TTL");
    let RData::SOA(s) = &soa.answers[0].data else {
        panic!("not an SOA: {soa:?}");
    };
    assert_eq!(s.mname, name("ns1.example.com."));
    assert_eq!(s.rname, name("hostmaster.example.com."));
    assert_eq!(
        (s.serial, s.refresh, s.retry, s.expire, s.minimum),
        (7, 7200, 900, 1_209_600, 300)
    );

    let ns = h.udp("example.com.", RecordType::NS).await;
    let mut got = values(&ns);
    got.sort();
    assert_eq!(got, ["ns1.example.com.", "ns2.example.com."]);
    assert!(ns.answers.iter().all(|r| r.ttl == 172_800));
    h.stop().await;
}

#[tokio::test]
async fn nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl() {
    let h = Harness::start(example());

    let nx = h.udp("missing.example.com.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx.metadata.authoritative);
    assert!(nx.answers.is_empty());
    assert_eq!(nx.authorities.len(), 1);
    assert_eq!(nx.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(nx.authorities[0].name, name("example.com."));
    assert_eq!(nx.authorities[0].ttl, 300, "min(SOA TTL 900, minimum 300)");

    let nodata = h.udp("www.example.com.", RecordType::MX).await;
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.metadata.authoritative);
    assert!(nodata.answers.is_empty());
    assert_eq!(nodata.authorities.len(), 1);
    assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(nodata.authorities[0].ttl, 300);

    // Empty non-terminals exist: NODATA, not NXDOMAIN.
    for ent in ["b.example.com.", "a.b.example.com."] {
        let m = h.udp(ent, RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{ent}");
        assert!(m.answers.is_empty(), "{ent}");
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA, "{ent}");
    }
    let below = h.udp("x.deep.a.b.example.com.", RecordType::A).await;
    assert_eq!(below.metadata.response_code, ResponseCode::NXDomain);

    // The other zone's SOA, with its own negative TTL: min(60, 3600).
    let dev = h.udp("nothing.dev.example.com.", RecordType::A).await;
    assert_eq!(dev.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(dev.authorities[0].name, name("dev.example.com."));
    assert_eq!(dev.authorities[0].ttl, 60);
    h.stop().await;
}

#[tokio::test]
async fn names_are_matched_without_regard_to_case() {
    let h = Harness::start(example());
    let m = h.udp("WwW.ExAmPlE.CoM.", RecordType::A).await;
    assert_eq!(addresses(&m), ["192.0.2.1", "192.0.2.2"]);
    assert!(m.metadata.authoritative);
    // The question comes back as it was asked.
    assert_eq!(m.queries[0].name().to_string(), "WwW.ExAmPlE.CoM.");
    let w = h.udp("X.WILD.example.COM.", RecordType::A).await;
    assert_eq!(addresses(&w), ["198.51.100.7"]);
    h.stop().await;
}

#[tokio::test]
async fn the_longest_matching_origin_answers() {
    let h = Harness::start(example());
    let m = h.udp("www.dev.example.com.", RecordType::A).await;
    assert_eq!(addresses(&m), ["10.0.0.1"]);
    assert_eq!(m.answers[0].ttl, 30);
    let soa = h.udp("dev.example.com.", RecordType::SOA).await;
    let RData::SOA(s) = &soa.answers[0].data else {
        panic!("not an SOA");
    };
    assert_eq!(s.mname, name("ns1.dev.example.com."));
    h.stop().await;
}

#[tokio::test]
async fn wildcards_answer_missing_names_under_the_query_name() {
    let h = Harness::start(example());
    for q in ["x.wild.example.com.", "a.b.wild.example.com."] {
        let m = h.udp(q, RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{q}");
        assert_eq!(addresses(&m), ["198.51.100.7"], "{q}");
        assert_eq!(m.answers[0].name, name(q), "answers carry the query name");
        assert_eq!(m.answers[0].ttl, 10);
    }
    // The wildcard exists, but not with that type.
    let nodata = h.udp("x.wild.example.com.", RecordType::AAAA).await;
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());
    assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);
    // An existing name is not wildcard-matched.
    let exists = h.udp("exists.wild.example.com.", RecordType::A).await;
    assert_eq!(exists.metadata.response_code, ResponseCode::NoError);
    assert!(exists.answers.is_empty());
    // Nor is a name below an existing one that has no wildcard of its own.
    let below = h.udp("x.exists.wild.example.com.", RecordType::A).await;
    assert_eq!(below.metadata.response_code, ResponseCode::NXDomain);
    h.stop().await;
}

#[tokio::test]
async fn cname_chains_are_followed_within_flotillas_zones() {
    let h = Harness::start(example());

    let one = h.udp("alias.example.com.", RecordType::A).await;
    assert_eq!(values(&one), ["www.example.com.", "192.0.2.1", "192.0.2.2"]);
    assert_eq!(one.answers[0].ttl, 45);
    assert_eq!(one.answers[0].name, name("alias.example.com."));
    assert_eq!(one.answers[1].name, name("www.example.com."));

    let chain = h.udp("chain1.example.com.", RecordType::AAAA).await;
    assert_eq!(
        values(&chain),
        ["chain2.example.com.", "www.example.com.", "2001:db8::1"]
    );

    // Asking for the CNAME itself does not follow it.
    let itself = h.udp("alias.example.com.", RecordType::CNAME).await;
    assert_eq!(values(&itself), ["www.example.com."]);

    // Into another zone.
    let cross = h.udp("tostage.example.com.", RecordType::A).await;
    assert_eq!(values(&cross), ["www.dev.example.com.", "10.0.0.1"]);

    // To a name that does not exist: the CNAME, then NXDOMAIN for the target.
    let dangling = h.udp("todangling.example.com.", RecordType::A).await;
    assert_eq!(dangling.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(values(&dangling), ["nothing.example.com."]);
    assert_eq!(dangling.authorities[0].record_type(), RecordType::SOA);

    // A loop ends.
    let looped = h.udp("loop1.example.com.", RecordType::A).await;
    assert_eq!(looped.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        values(&looped),
        ["loop2.example.com.", "loop1.example.com."]
    );

    // Out of Flotilla's zones, for a client that may not forward: just the CNAME.
    let ext = h.udp("ext.example.com.", RecordType::A).await;
    assert_eq!(values(&ext), ["www.example.org."]);
    h.stop().await;
}

#[tokio::test]
async fn a_delegated_name_gets_a_referral_with_glue() {
    let h = Harness::start(example());
    let m = h.udp("host.sub.example.com.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.metadata.authoritative);
    assert!(m.answers.is_empty());
    let mut ns: Vec<String> = m.authorities.iter().map(|r| show(&r.data)).collect();
    ns.sort();
    assert_eq!(ns, ["ns.elsewhere.net.", "ns.sub.example.com."]);
    let glue: Vec<String> = m.additionals.iter().map(|r| show(&r.data)).collect();
    assert_eq!(glue, ["192.0.2.53"]);
    h.stop().await;
}

#[tokio::test]
async fn a_value_that_does_not_parse_is_skipped_and_the_rest_served() {
    let h = Harness::start(example());
    let m = h.udp("bad.example.com.", RecordType::A).await;
    assert_eq!(addresses(&m), ["192.0.2.77"]);
    h.stop().await;
}

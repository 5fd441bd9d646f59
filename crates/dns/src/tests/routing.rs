//! Weighted and multivalue routing with health, end to end, and configuration updates.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_model::dns::RecordType as M;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::fixtures::*;
use super::harness::*;

#[tokio::test]
async fn weighted_sets_are_chosen_in_proportion_and_weight_zero_never() {
    let h = Harness::start(config(
        1,
        vec![zone(
            "Z",
            "example.com.",
            900,
            300,
            vec![
                weighted("w.example.com.", "one", 1, "192.0.2.1", true),
                weighted("w.example.com.", "three", 3, "192.0.2.3", true),
                weighted("w.example.com.", "zero", 0, "192.0.2.99", true),
            ],
        )],
    ));
    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..400 {
        let m = h.udp("w.example.com.", RecordType::A).await;
        let got = addresses(&m);
        assert_eq!(got.len(), 1, "one set per answer");
        assert_eq!(m.answers[0].ttl, 60);
        *seen.entry(got[0].clone()).or_default() += 1;
    }
    let one = seen.get("192.0.2.1").copied().unwrap_or(0);
    let three = seen.get("192.0.2.3").copied().unwrap_or(0);
    assert_eq!(seen.get("192.0.2.99"), None, "weight 0 is never chosen");
    // Expected 100 and 300; these bounds are about ten standard deviations wide.
    assert!((50..=160).contains(&one), "{seen:?}");
    assert!((240..=350).contains(&three), "{seen:?}");
    h.stop().await;
}

#[tokio::test]
async fn unhealthy_weighted_sets_are_skipped_unless_none_is_healthy() {
    let sets = |version: u64, healthy_three: bool, healthy_one: bool| {
        config(
            version,
            vec![zone(
                "Z",
                "example.com.",
                900,
                300,
                vec![
                    weighted("w.example.com.", "one", 1, "192.0.2.1", healthy_one),
                    weighted("w.example.com.", "three", 3, "192.0.2.3", healthy_three),
                ],
            )],
        )
    };
    let h = Harness::start(sets(1, false, true));
    for _ in 0..40 {
        let m = h.udp("w.example.com.", RecordType::A).await;
        assert_eq!(addresses(&m), ["192.0.2.1"]);
    }
    h.config.send_replace(Arc::new(sets(2, false, false)));
    let mut report = h.report.clone();
    report.wait_for(|r| r.version == 2).await.unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..80 {
        let m = h.udp("w.example.com.", RecordType::A).await;
        seen.insert(addresses(&m).join(","));
    }
    assert_eq!(
        seen.len(),
        2,
        "fail open: every set is a candidate: {seen:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn multivalue_answers_up_to_eight_healthy_sets() {
    let mut records = Vec::new();
    for i in 1..=12 {
        records.push(multi(
            "m.example.com.",
            &format!("s{i}"),
            &format!("192.0.2.{i}"),
            true,
        ));
    }
    records.push(multi("m.example.com.", "sick", "192.0.2.200", false));
    let h = Harness::start(config(
        1,
        vec![zone("Z", "example.com.", 900, 300, records)],
    ));
    let mut union = std::collections::HashSet::new();
    for _ in 0..30 {
        let m = h.udp("m.example.com.", RecordType::A).await;
        let got = addresses(&m);
        assert_eq!(got.len(), 8, "{got:?}");
        let distinct: std::collections::HashSet<_> = got.iter().collect();
        assert_eq!(distinct.len(), 8);
        assert!(
            !got.contains(&"192.0.2.200".to_string()),
            "unhealthy skipped"
        );
        union.extend(got);
    }
    assert!(union.len() > 8, "the choice varies: {union:?}");

    // Only unhealthy sets: all of them answer (fail open).
    let sick = config(
        2,
        vec![zone(
            "Z",
            "example.com.",
            900,
            300,
            vec![
                multi("m.example.com.", "a", "192.0.2.1", false),
                multi("m.example.com.", "b", "192.0.2.2", false),
            ],
        )],
    );
    h.config.send_replace(Arc::new(sick));
    let mut report = h.report.clone();
    report.wait_for(|r| r.version == 2).await.unwrap();
    let m = h.udp("m.example.com.", RecordType::A).await;
    assert_eq!(addresses(&m), ["192.0.2.1", "192.0.2.2"]);
    h.stop().await;
}

#[tokio::test]
async fn a_new_configuration_is_served_at_once_and_its_version_reported() {
    let h = Harness::start(config(1, vec![zone("Z", "example.com.", 900, 300, vec![])]));
    assert_eq!(
        h.report.borrow().version,
        1,
        "the first configuration is in force at start"
    );
    assert_eq!(h.report.borrow().bind_error, None);
    let before = h.udp("new.example.com.", RecordType::A).await;
    assert_eq!(before.metadata.response_code, ResponseCode::NXDomain);

    let started = Instant::now();
    h.config.send_replace(Arc::new(config(
        2,
        vec![zone(
            "Z",
            "example.com.",
            900,
            300,
            vec![rec("new.example.com.", M::A, 5, &["192.0.2.42"])],
        )],
    )));
    let mut report = h.report.clone();
    tokio::time::timeout(Duration::from_secs(1), report.wait_for(|r| r.version == 2))
        .await
        .expect("the report follows within a second")
        .unwrap();
    let after = h.udp("new.example.com.", RecordType::A).await;
    assert_eq!(addresses(&after), ["192.0.2.42"]);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // A zone that leaves is no longer answered: its names are in no zone, and loopback
    // may forward, but there is no forwarder: SERVFAIL.
    h.config.send_replace(Arc::new(config(3, vec![])));
    report.wait_for(|r| r.version == 3).await.unwrap();
    let gone = h.udp("new.example.com.", RecordType::A).await;
    assert_eq!(gone.metadata.response_code, ResponseCode::ServFail);
    assert!(!gone.metadata.authoritative);
    h.stop().await;
}

//! Property tests: any batch of changes against any zone is answered without a panic, and
//! an applied batch leaves a zone that keeps Route 53's rules.

use proptest::prelude::*;

use super::*;

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

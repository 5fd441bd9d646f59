use proptest::prelude::*;
use serde_json::json;

use super::*;

fn item(p: &str, weight: i64, base: i64) -> StrategyItem {
    StrategyItem {
        capacity_provider: p.into(),
        weight,
        base,
    }
}

#[test]
fn names() {
    assert!(validate_name("pool-a").is_ok());
    assert!(validate_name("Pool_1").is_ok());
    for bad in [
        "",
        "has space",
        "aws-pool",
        "ECSpool",
        "fargate2",
        &"a".repeat(256),
    ] {
        assert!(validate_name(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn strategies_are_held_to_the_model_bounds() {
    let ok = parse_strategy(&[json!({"capacityProvider": "FARGATE", "weight": 1})]).unwrap();
    assert_eq!(ok, vec![item("FARGATE", 1, 0)]);
    for bad in [
        json!({"weight": 1}),
        json!({"capacityProvider": "x", "weight": -5}),
        json!({"capacityProvider": "x", "weight": 1001}),
        json!({"capacityProvider": "x", "base": 1e30}),
        json!({"capacityProvider": "x", "base": "7"}),
        json!("FARGATE"),
    ] {
        assert!(
            parse_strategy(std::slice::from_ref(&bad)).is_err(),
            "{bad} accepted"
        );
    }
}

#[test]
fn strategies_stored_by_earlier_builds_still_read() {
    let stored =
        json!([{"capacityProvider": "FARGATE", "weight": null}, {"capacityProvider": "x"}]);
    let items: Vec<StrategyItem> = serde_json::from_value(stored).unwrap();
    assert_eq!(items, vec![item("FARGATE", 0, 0), item("x", 0, 0)]);
}

#[test]
fn strategy_rules() {
    assert!(check_strategy(&[]).is_ok());
    assert!(check_strategy(&[item("a", 1, 2), item("b", 3, 0)]).is_ok());
    // Two bases, a repeated provider, Fargate mixed with a group, no weight at all.
    assert!(check_strategy(&[item("a", 1, 2), item("b", 3, 1)]).is_err());
    assert!(check_strategy(&[item("a", 1, 0), item("a", 3, 0)]).is_err());
    assert!(check_strategy(&[item("FARGATE", 1, 0), item("a", 1, 0)]).is_err());
    assert!(check_strategy(&[item("FARGATE", 1, 0), item("FARGATE_SPOT", 1, 0)]).is_ok());
    assert!(check_strategy(&[item("a", 0, 3)]).is_err());
}

#[test]
fn group_providers_get_aws_defaults_and_merge_updates() {
    let created = AutoScalingGroupProvider {
        auto_scaling_group_arn: Some("arn:aws:autoscaling:x".into()),
        ..Default::default()
    }
    .checked_new()
    .unwrap();
    let scaling = created.managed_scaling.clone().unwrap();
    assert_eq!(scaling.status.as_deref(), Some("DISABLED"));
    assert_eq!(scaling.target_capacity, Some(100));
    assert_eq!(created.managed_draining.as_deref(), Some("ENABLED"));
    assert!(AutoScalingGroupProvider::default().checked_new().is_err());

    let update = AutoScalingGroupProvider {
        managed_scaling: Some(ManagedScaling {
            status: Some("ENABLED".into()),
            target_capacity: Some(80),
            minimum_scaling_step_size: None,
            maximum_scaling_step_size: None,
            instance_warmup_period: None,
        }),
        ..Default::default()
    };
    let next = created.updated(&update).unwrap();
    let scaling = next.managed_scaling.unwrap();
    assert_eq!(scaling.target_capacity, Some(80));
    assert_eq!(scaling.instance_warmup_period, Some(300));
    let moved = AutoScalingGroupProvider {
        auto_scaling_group_arn: Some("other".into()),
        ..Default::default()
    };
    assert!(created.updated(&moved).is_err());
    let bad = AutoScalingGroupProvider {
        managed_draining: Some("MAYBE".into()),
        ..Default::default()
    };
    assert!(created.updated(&bad).is_err());
}

fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[A-Za-z_]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("capacityProvider".to_string()),
                    Just("weight".to_string()),
                    Just("base".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Any wire input is either refused or gives a strategy within the model's bounds.
    #[test]
    fn parse_strategy_never_panics(items in prop::collection::vec(arbitrary_json(), 0..8)) {
        if let Ok(parsed) = parse_strategy(&items) {
            prop_assert!(check_strategy(&parsed).is_ok());
            for i in parsed {
                prop_assert!((0..=1000).contains(&i.weight));
                prop_assert!((0..=100_000).contains(&i.base));
            }
        }
    }
}

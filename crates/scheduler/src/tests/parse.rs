//! The ECS wire forms of strategies and constraints, and their error messages.

use flotilla_model::ErrorKind;

use crate::{parse_constraint, parse_strategy, BinpackField, Constraint, SpreadField, Strategy};

#[test]
fn strategies_in_every_accepted_spelling() {
    let ok = |kind, field| parse_strategy(kind, field).ok();
    assert_eq!(ok("random", None), Some(Strategy::Random));
    assert_eq!(ok("random", Some("memory")), Some(Strategy::Random));
    assert_eq!(
        ok("binpack", Some("memory")),
        Some(Strategy::Binpack(BinpackField::Memory))
    );
    assert_eq!(
        ok("binpack", Some("MEMORY")),
        Some(Strategy::Binpack(BinpackField::Memory))
    );
    assert_eq!(
        ok("binpack", Some("cpu")),
        Some(Strategy::Binpack(BinpackField::Cpu))
    );
    let by_instance = Some(Strategy::Spread(SpreadField::InstanceId));
    assert_eq!(ok("spread", Some("instanceId")), by_instance);
    assert_eq!(ok("spread", Some("host")), by_instance);
    assert_eq!(
        ok("spread", Some("attribute:ecs.availability-zone")),
        Some(Strategy::Spread(SpreadField::Attribute(
            "ecs.availability-zone".into()
        )))
    );
}

#[test]
fn bad_strategies_say_what_is_accepted() {
    let message = |kind, field| {
        let e = parse_strategy(kind, field)
            .err()
            .map(|e| (e.kind, e.message));
        assert_eq!(e.as_ref().map(|e| e.0), Some(ErrorKind::InvalidParameter));
        e.map(|e| e.1).unwrap_or_default()
    };
    assert_eq!(
        message("binpack", Some("disk")),
        "Placement strategy field 'disk' is invalid for binpack: use cpu or memory."
    );
    assert_eq!(
        message("binpack", None),
        "The binpack placement strategy needs a field: cpu or memory."
    );
    assert!(message("spread", None).contains("needs a field"));
    assert!(message("spread", Some("zone")).contains("attribute:NAME"));
    assert!(message("spread", Some("attribute:")).contains("invalid for spread"));
    assert_eq!(
        message("pack", None),
        "Placement strategy type 'pack' is invalid: use random, spread or binpack."
    );
}

#[test]
fn constraints_and_their_errors() {
    assert_eq!(
        parse_constraint("distinctInstance", None).ok(),
        Some(Constraint::DistinctInstance)
    );
    assert!(matches!(
        parse_constraint("memberOf", Some("attribute:stack == prod")),
        Ok(Constraint::MemberOf(_))
    ));
    let message = |kind, e| parse_constraint(kind, e).err().map(|e| e.message);
    assert_eq!(
        message("memberOf", None).as_deref(),
        Some("A memberOf constraint needs an expression.")
    );
    assert!(message("memberOf", Some("attribute:stack ==")).is_some_and(|m| m.contains("position")));
    assert!(message("distinctInstance", Some("attribute:a == b")).is_some());
    assert_eq!(
        message("unique", None).as_deref(),
        Some("Placement constraint type 'unique' is invalid: use distinctInstance or memberOf.")
    );
}

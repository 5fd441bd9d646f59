//! The rules for resource ids, names, bounds, step intervals and schedules.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::autoscaling::policy::StepAdjustment;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn resource_ids_and_dimensions_name_an_ecs_service() {
    let s = parse_resource_id("service/web/api").unwrap();
    assert_eq!((s.cluster.as_str(), s.service.as_str()), ("web", "api"));
    assert!(parse_resource_id("service/web").is_err());
    assert!(parse_resource_id("table/x").is_err());
    assert!(check_dimension("ecs", DIMENSION).is_ok());
    let e = check_dimension("dynamodb", "dynamodb:table:ReadCapacityUnits").unwrap_err();
    assert!(e.0.contains("ECS services only"), "{e}");
    assert!(check_dimension("nope", DIMENSION)
        .unwrap_err()
        .0
        .contains("enum"));
    assert!(check_bounds(3, 2)
        .unwrap_err()
        .0
        .contains("cannot be greater"));
    assert!(check_name("ScheduledActionName", "a/b", true).is_err());
    assert!(check_name("PolicyName", "a/b", false).is_ok());
}

#[test]
fn arns_have_aws_shapes() {
    assert_eq!(
        policy_arn("us-east-1", "123", "u", "service/c/s", "cpu"),
        "arn:aws:autoscaling:us-east-1:123:scalingPolicy:u:resource/ecs/service/c/s:policyName/cpu"
    );
    let arn = target_arn("us-east-1", "123", "abc-1");
    assert_eq!(target_id_of_arn(&arn, "us-east-1", "123"), Some("abc-1"));
    assert_eq!(target_id_of_arn(&arn, "eu-west-1", "123"), None);
}

fn step(lower: Option<f64>, upper: Option<f64>, adjustment: i64) -> StepAdjustment {
    StepAdjustment {
        lower,
        upper,
        adjustment,
    }
}

#[test]
fn steps_must_tile_the_line() {
    let mut s = StepScaling {
        adjustment_type: "ChangeInCapacity".into(),
        steps: vec![step(Some(0.0), Some(10.0), 1), step(Some(10.0), None, 3)],
        min_adjustment_magnitude: None,
        cooldown: Some(60),
        aggregation: Some("Average".into()),
    };
    assert!(s.check().is_ok());
    s.steps[1].lower = Some(12.0);
    assert!(s.check().unwrap_err().0.contains("gaps"));
    s.steps = vec![step(None, Some(0.0), -1), step(None, Some(5.0), 1)];
    assert!(s.check().is_err());
    s.steps = vec![step(Some(0.0), None, 1)];
    s.min_adjustment_magnitude = Some(2);
    assert!(s.check().unwrap_err().0.contains("PercentChangeInCapacity"));
}

#[test]
fn schedules_fire_once_per_occurrence() {
    let at = Schedule::parse("at(2026-12-03T08:00:00)").unwrap();
    let anchor = t("2026-12-03T07:00:00Z");
    assert!(at.fires_between(anchor, t("2026-12-03T07:59:59Z"), t("2026-12-03T08:00:00Z")));
    assert!(!at.fires_between(anchor, t("2026-12-03T08:00:00Z"), t("2026-12-03T09:00:00Z")));

    let rate = Schedule::parse("rate(5 minutes)").unwrap();
    assert_eq!(rate, Schedule::Rate(300));
    assert!(!rate.fires_between(anchor, anchor, anchor + Duration::seconds(299)));
    assert!(rate.fires_between(
        anchor,
        anchor + Duration::seconds(299),
        anchor + Duration::seconds(300)
    ));

    let cron = Schedule::parse("cron(30 8 ? * MON-FRI *)").unwrap();
    // 2026-12-03 is a Thursday; the 5th a Saturday.
    assert!(cron.fires_between(anchor, t("2026-12-03T08:00:00Z"), t("2026-12-03T08:30:00Z")));
    assert!(!cron.fires_between(anchor, t("2026-12-05T08:00:00Z"), t("2026-12-05T09:00:00Z")));
    let every = Schedule::parse("cron(*/15 * * * ? 2026)").unwrap();
    assert!(every.fires_between(anchor, t("2026-12-03T07:01:00Z"), t("2026-12-03T07:15:00Z")));

    for bad in [
        "rate(0 minutes)",
        "rate(5 weeks)",
        "cron(0 8 * * * *)",
        "cron(0 8 L * ? *)",
        "at(tomorrow)",
        "every day",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad}");
    }
    assert!(schedule::check_timezone("UTC").is_ok());
    assert!(schedule::check_timezone("Europe/Paris").is_err());
}

#[test]
fn activities_are_bounded_and_records_round_trip() {
    let now = t("2026-12-03T07:00:00Z");
    let mut target = ScalableTargetRecord {
        id: "x".into(),
        arn: target_arn("us-east-1", "0", "x"),
        resource_id: "service/c/s".into(),
        min_capacity: 1,
        max_capacity: 2,
        role_arn: service_linked_role("0"),
        suspended: SuspendedState::default(),
        created: now,
        tags: Default::default(),
        last_scale_out: Some(ScaleMark { at: now, from: 1 }),
        last_scale_in: None,
        invoked: Default::default(),
        activities: vec![],
    };
    for i in 0..(MAX_ACTIVITIES + 5) {
        target.push_activity(Activity {
            id: i.to_string(),
            description: format!("Setting desired count to {i}."),
            cause: "c".into(),
            start: now,
            end: Some(now),
            status: ActivityStatus::Successful,
            status_message: None,
            not_scaled: vec![],
        });
    }
    assert_eq!(target.activities.len(), MAX_ACTIVITIES);
    assert_eq!(target.activities[0].id, "5");
    let back: ScalableTargetRecord =
        crate::record::decode(&crate::record::encode(&target)).expect("round trip");
    assert_eq!(back, target);
}

//! Alarms' operations over an in-memory store: create then update keeps state and tags,
//! state changes carry history, the evaluator's transition yields to an API change,
//! delete is all or nothing, tags by ARN.

use std::sync::Arc;

use flotilla_model::cloudwatch::alarm::AlarmMetric;
use flotilla_model::cloudwatch::{
    AlarmRecord, AlarmState, Comparison, HistoryKind, MetricRef, MetricStat, Statistic,
};
use flotilla_store::MemoryStore;

use super::*;
use crate::{ControlConfig, State};

async fn state() -> State {
    State::new(
        Arc::new(MemoryStore::new()),
        ControlConfig::new("000000000000"),
    )
    .await
    .unwrap()
}

fn alarm(name: &str, threshold: f64) -> AlarmRecord {
    let metric = AlarmMetric::Single(MetricStat {
        metric: MetricRef::new("App".into(), "CPU".into(), vec![]),
        period: 60,
        stat: Statistic::Average,
        unit: None,
    });
    let arn = alarm_arn("us-east-1", "000000000000", name);
    let mut a = AlarmRecord::new(
        name.into(),
        arn,
        metric,
        Comparison::GreaterThanThreshold,
        threshold,
        1,
    );
    a.alarm_actions = vec!["arn:aws:sns:us-east-1:000000000000:ops".into()];
    a.state = AlarmState::Ok;
    a.tags = vec![("team".into(), "web".into())];
    a
}

#[tokio::test]
async fn put_creates_then_updates_keeping_state_tags_and_history() {
    let s = state().await;
    let a = put(&s, "us-east-1", alarm("cpu", 70.0)).await.unwrap();
    assert_eq!(a.state, AlarmState::InsufficientData);
    assert_eq!(a.state_reason, "Unchecked: Initial alarm creation");
    assert_eq!(a.history[0].summary, "Alarm \"cpu\" created");
    set_state(
        &s,
        "us-east-1",
        "cpu",
        AlarmState::Alarm,
        "test".into(),
        Some("{}".into()),
    )
    .await
    .unwrap();
    let mut changed = alarm("cpu", 80.0);
    changed.tags = vec![("ignored".into(), "x".into())];
    let b = put(&s, "us-east-1", changed).await.unwrap();
    assert_eq!((b.state, b.threshold), (AlarmState::Alarm, 80.0));
    assert_eq!(b.tags, vec![("team".to_string(), "web".to_string())]);
    let kinds: Vec<_> = b.history.iter().map(|h| h.kind).collect();
    assert_eq!(
        kinds,
        [
            HistoryKind::ConfigurationUpdate,
            HistoryKind::StateUpdate,
            HistoryKind::ConfigurationUpdate
        ]
    );
    assert_eq!(alarms(&s, "us-east-1").len(), 1);
    assert!(alarms(&s, "eu-west-1").is_empty());
    assert_eq!(all_alarms(&s)[0].0, "us-east-1");
}

#[tokio::test]
async fn set_state_checks_json_and_the_evaluator_yields_to_the_api() {
    let s = state().await;
    put(&s, "us-east-1", alarm("cpu", 70.0)).await.unwrap();
    let bad = set_state(
        &s,
        "us-east-1",
        "cpu",
        AlarmState::Ok,
        "r".into(),
        Some("{".into()),
    )
    .await;
    assert!(matches!(bad, Err(CloudWatchError::InvalidFormat(_))));
    let missing = set_state(&s, "us-east-1", "nope", AlarmState::Ok, "r".into(), None).await;
    assert!(matches!(missing, Err(CloudWatchError::AlarmNotFound(_))));
    // The evaluator saw INSUFFICIENT_DATA; the API moved it to OK meanwhile.
    set_state(
        &s,
        "us-east-1",
        "cpu",
        AlarmState::Ok,
        "by hand".into(),
        None,
    )
    .await
    .unwrap();
    let moved = transition(
        &s,
        "us-east-1",
        "cpu",
        AlarmState::InsufficientData,
        AlarmState::Alarm,
        "r".into(),
        "{}".into(),
    )
    .await
    .unwrap();
    assert!(!moved);
    let moved = transition(
        &s,
        "us-east-1",
        "cpu",
        AlarmState::Ok,
        AlarmState::Alarm,
        "r".into(),
        "{}".into(),
    )
    .await
    .unwrap();
    assert!(moved);
    let a = alarm_of(&s, "cpu");
    assert_eq!(a.state, AlarmState::Alarm);
    assert_eq!(
        a.history.last().unwrap().summary,
        "Alarm updated from OK to Alarm"
    );
}

fn alarm_of(s: &State, name: &str) -> Arc<AlarmRecord> {
    super::alarm(s, "us-east-1", name).expect("the alarm")
}

#[tokio::test]
async fn delete_is_all_or_nothing_and_tags_go_by_arn() {
    let s = state().await;
    put(&s, "us-east-1", alarm("a", 1.0)).await.unwrap();
    put(&s, "us-east-1", alarm("b", 1.0)).await.unwrap();
    let r = delete(&s, "us-east-1", &["a".into(), "zz".into()]).await;
    assert!(matches!(r, Err(CloudWatchError::AlarmNotFound(_))));
    assert_eq!(alarms(&s, "us-east-1").len(), 2);
    let arn = alarm_arn("us-east-1", "000000000000", "b");
    tag(&s, "us-east-1", &arn, &[("env".into(), "prod".into())])
        .await
        .unwrap();
    untag(&s, "us-east-1", &arn, &["team".into()])
        .await
        .unwrap();
    assert_eq!(
        alarm_of(&s, "b").tags,
        vec![("env".to_string(), "prod".to_string())]
    );
    let other = alarm_arn("eu-west-1", "000000000000", "b");
    assert!(matches!(
        tag(&s, "us-east-1", &other, &[]).await,
        Err(CloudWatchError::ResourceNotFound(_))
    ));
    set_actions_enabled(&s, "us-east-1", &["b".into(), "nope".into()], false)
        .await
        .unwrap();
    assert!(!alarm_of(&s, "b").actions_enabled);
    delete(&s, "us-east-1", &["a".into(), "b".into()])
        .await
        .unwrap();
    assert!(alarms(&s, "us-east-1").is_empty());
}

//! Tests of the record set quota of a hosted zone, which the control plane's
//! configuration sets.

use std::sync::Arc;

use flotilla_model::dns::RecordType;
use flotilla_model::route53::changes::{Action, Change};
use flotilla_model::route53::{RecordSet, DEFAULT_MAX_RECORD_SETS};
use flotilla_store::MemoryStore;

use super::{change_record_sets, create_zone, record_sets, NewZone, Route53Error};
use crate::{ControlConfig, State};

async fn state_with(quota: Option<usize>) -> State {
    let mut config = ControlConfig::new("000000000000");
    if let Some(quota) = quota {
        config.route53_max_record_sets_per_zone = quota;
    }
    State::new(Arc::new(MemoryStore::new()), config)
        .await
        .unwrap()
}

async fn zone(state: &State) -> String {
    let new = NewZone {
        name: "example.com.".into(),
        caller_reference: "ref".into(),
        ..NewZone::default()
    };
    create_zone(state, new).await.unwrap().0.id
}

/// CREATE changes of A sets `h{from}` .. `h{to - 1}`.
fn creates(from: usize, to: usize) -> Vec<Change> {
    (from..to)
        .map(|i| Change {
            action: Action::Create,
            set: RecordSet {
                name: format!("h{i}.example.com."),
                rtype: RecordType::A,
                set_identifier: None,
                weight: None,
                multi_value_answer: None,
                ttl: Some(300),
                values: vec!["192.0.2.1".into()],
                alias: None,
                health_check_id: None,
            },
        })
        .collect()
}

const EXCEEDED: &str = "Exceeded limit MAX_RRSETS_BY_ZONE for zone: example.com.";

#[tokio::test]
async fn the_default_quota_is_route53s() {
    assert_eq!(
        ControlConfig::new("000000000000").route53_max_record_sets_per_zone,
        DEFAULT_MAX_RECORD_SETS
    );
    assert_eq!(DEFAULT_MAX_RECORD_SETS, 10_000);
    let state = state_with(None).await;
    let id = zone(&state).await;
    // SOA and NS, then 9,998 more: full.
    for from in (0..9_998).step_by(1_000) {
        let to = (from + 1_000).min(9_998);
        change_record_sets(&state, &id, creates(from, to), None)
            .await
            .unwrap();
    }
    assert_eq!(record_sets(&state, &id).len(), 10_000);
    match change_record_sets(&state, &id, creates(9_998, 9_999), None).await {
        Err(Route53Error::InvalidChangeBatch(problems)) => assert_eq!(problems, [EXCEEDED]),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_quota_is_configured() {
    // Lowered: SOA, NS and three more.
    let state = state_with(Some(5)).await;
    let id = zone(&state).await;
    change_record_sets(&state, &id, creates(0, 3), None)
        .await
        .unwrap();
    match change_record_sets(&state, &id, creates(3, 4), None).await {
        Err(Route53Error::InvalidChangeBatch(problems)) => assert_eq!(problems, [EXCEEDED]),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        record_sets(&state, &id).len(),
        5,
        "nothing of the batch applied"
    );

    // Raised past Route 53's default.
    let state = state_with(Some(20_000)).await;
    let id = zone(&state).await;
    for from in (0..10_500).step_by(1_000) {
        change_record_sets(&state, &id, creates(from, (from + 1_000).min(10_500)), None)
            .await
            .unwrap();
    }
    assert_eq!(record_sets(&state, &id).len(), 10_502);
}

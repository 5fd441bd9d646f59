//! Daemons' operations over an in-memory store: a daemon on an attached custom provider,
//! UpdateDaemon's deployment replacing the live revision, DeleteDaemon's drain and the
//! errors of each; daemon task definitions' revisions, deletion and tags.

use std::sync::Arc;

use flotilla_model::capacity_provider::AutoScalingGroupProvider;
use flotilla_model::daemon::task_definition::{Extras, Status};
use flotilla_model::daemon::{DaemonStatus, DeploymentStatus};
use flotilla_model::tag::Tag;
use flotilla_model::task_definition::RegisterTaskDefinitionInput;
use flotilla_model::{ErrorKind, Resource, Scope};
use flotilla_store::MemoryStore;

use super::*;
use crate::ecs::{capacity_providers, clusters, tags};
use crate::{ControlConfig, State};

fn scope() -> Scope {
    Scope::new("us-east-1", "000000000000")
}

async fn state() -> State {
    let state = State::new(
        Arc::new(MemoryStore::new()),
        ControlConfig::new("000000000000"),
    )
    .await
    .unwrap();
    let s = scope();
    clusters::create(&state, &s, clusters::new_record(&s, "prod", vec![]))
        .await
        .unwrap();
    for name in ["pool-a", "pool-b"] {
        let group = AutoScalingGroupProvider {
            auto_scaling_group_arn: Some(format!(
                "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/{name}"
            )),
            ..Default::default()
        };
        capacity_providers::create(&state, &s, name, group, vec![])
            .await
            .unwrap();
    }
    capacity_providers::put_cluster(&state, &s, Some("prod"), vec!["pool-a".into()], vec![])
        .await
        .unwrap();
    state
}

async fn register(state: &State, family: &str) -> String {
    let input: RegisterTaskDefinitionInput = serde_json::from_value(serde_json::json!({
        "family": family,
        "containerDefinitions": [{"name": "a", "image": "busybox", "memory": 32}],
    }))
    .unwrap();
    let extras = Extras {
        tags: vec![Tag {
            key: Some("kind".into()),
            value: Some("daemon".into()),
        }],
        ..Extras::default()
    };
    let now = state.clock().now();
    let r = task_definitions::register(state, &scope(), input, extras, "me", now)
        .await
        .unwrap();
    r.arn().to_string()
}

fn settings(definition: &str, providers: &[&str]) -> Settings {
    Settings {
        daemon_task_definition: definition.into(),
        capacity_providers: providers.iter().map(|p| p.to_string()).collect(),
        ..Settings::default()
    }
}

#[tokio::test]
async fn create_update_and_delete_move_the_deployments() {
    let state = state().await;
    let s = scope();
    let v1 = register(&state, "agent").await;
    let v2 = register(&state, "agent").await;
    assert!(v2.ends_with("daemon-task-definition/agent:2"));

    let d = create(
        &state,
        &s,
        Some("prod"),
        "agent",
        settings(&v1, &["pool-a"]),
        vec![],
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        d.daemon_arn,
        "arn:aws:ecs:us-east-1:000000000000:daemon/prod/agent"
    );
    let first = d.current().unwrap().clone();
    assert_eq!(first.status, DeploymentStatus::Pending);
    assert!(d.target().unwrap().critical, "critical by default");
    assert_eq!(d.deployment_configuration.drain_percent, 25.0);

    let again = create(
        &state,
        &s,
        Some("prod"),
        "agent",
        settings(&v1, &["pool-a"]),
        vec![],
        None,
    );
    assert_eq!(again.await.unwrap_err().kind(), ErrorKind::InvalidParameter);

    let u = update(&state, &s, &d.daemon_arn, settings(&v2, &["pool-a"]))
        .await
        .unwrap();
    assert_eq!(u.deployments.len(), 2);
    assert_eq!(u.deployments[0].status, DeploymentStatus::Stopped);
    let current = u.current().unwrap();
    assert_eq!(
        current.source_revisions,
        vec![first.target_revision.clone().unwrap()]
    );
    assert_eq!(u.target().unwrap().daemon_task_definition_arn, v2);

    // The revision a daemon runs is DELETE_IN_PROGRESS when deleted; an unused one DELETED.
    let (a1, a2) = (
        task_definitions::parse_ref(&v1, &s).unwrap(),
        task_definitions::parse_ref(&v2, &s).unwrap(),
    );
    let e1 = task_definitions::find(&state, &s, &a1).unwrap();
    let now = state.clock().now();
    let r1 = task_definitions::delete(&state, &s, e1, now).await.unwrap();
    assert_eq!(r1.status, Status::Deleted);
    let e2 = task_definitions::find(&state, &s, &a2).unwrap();
    let r2 = task_definitions::delete(&state, &s, e2, now).await.unwrap();
    assert_eq!(r2.status, Status::DeleteInProgress);

    let gone = delete(&state, &s, &d.daemon_arn).await.unwrap();
    assert_eq!(gone.status, DaemonStatus::DeleteInProgress);
    assert!(gone.current().unwrap().target_revision.is_none());
    let not_active = update(&state, &s, &d.daemon_arn, settings(&v2, &["pool-a"])).await;
    assert_eq!(
        not_active.unwrap_err().kind(),
        ErrorKind::NotActive(Resource::Daemon)
    );
    let missing = "arn:aws:ecs:us-east-1:000000000000:daemon/prod/nope";
    assert_eq!(
        delete(&state, &s, missing).await.unwrap_err().kind(),
        ErrorKind::NotFound(Resource::Daemon)
    );
}

#[tokio::test]
async fn providers_must_be_custom_and_attached() {
    let state = state().await;
    let s = scope();
    let v1 = register(&state, "agent").await;
    for providers in [&["FARGATE"][..], &["pool-b"], &["nope"], &[]] {
        let e = create(
            &state,
            &s,
            Some("prod"),
            "agent",
            settings(&v1, providers),
            vec![],
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidParameter, "{providers:?}: {e}");
    }
    let e = create(
        &state,
        &s,
        Some("other"),
        "agent",
        settings(&v1, &["pool-a"]),
        vec![],
        None,
    );
    assert_eq!(
        e.await.unwrap_err().kind(),
        ErrorKind::NotFound(Resource::Cluster)
    );
    let e = create(
        &state,
        &s,
        Some("prod"),
        "agent",
        settings("missing:1", &["pool-a"]),
        vec![],
        None,
    );
    assert_eq!(e.await.unwrap_err().kind(), ErrorKind::Client);
}

#[tokio::test]
async fn daemon_task_definitions_and_daemons_take_tags_by_arn() {
    let state = state().await;
    let s = scope();
    let v1 = register(&state, "agent").await;
    let d = create(
        &state,
        &s,
        Some("prod"),
        "agent",
        settings(&v1, &["pool-a"]),
        vec![],
        None,
    )
    .await
    .unwrap();
    for arn in [v1.as_str(), d.daemon_arn.as_str()] {
        let resource = tags::resolve(&s, arn).unwrap();
        tags::retag(&state, &resource, |t| {
            t.push(Tag {
                key: Some("team".into()),
                value: Some("ops".into()),
            })
        })
        .await
        .unwrap();
        let now = tags::tags_of(&state, &resource).unwrap();
        assert!(
            now.iter().any(|t| t.key.as_deref() == Some("team")),
            "{arn}: {now:?}"
        );
    }
}

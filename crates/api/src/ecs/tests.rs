//! In-process tests of the ECS operations over the memory store: what the end-to-end tests
//! cannot set up yet (resources of later capabilities inside a cluster), and arbitrary
//! input against every operation.

use std::sync::Arc;

use bytes::Bytes;
use flotilla_aws::{Context, Input, Output, Service};
use flotilla_store::{MemoryStore, StoreExt};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{Ecs, OPERATIONS};
use crate::{keys, State};

fn ctx() -> Context {
    Context {
        region: "us-east-1".into(),
        account: "000000000000".into(),
        access_key: "AKIATEST".into(),
        principal_arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "test".into(),
    }
}

async fn ecs() -> (Ecs, State) {
    let store = Arc::new(MemoryStore::new());
    let state = State::new(store, "000000000000").await.unwrap();
    (Ecs::new(state.clone()), state)
}

async fn call(ecs: &Ecs, op: &str, body: Value) -> Result<Value, flotilla_aws::AwsError> {
    let input = Input::Json(Bytes::from(body.to_string()));
    match ecs.call(&ctx(), op, input).await? {
        Output::Json(v) => Ok(v),
        other => panic!("unexpected output {other:?}"),
    }
}

#[tokio::test]
async fn delete_cluster_is_refused_while_it_holds_resources() {
    let (ecs, state) = ecs().await;
    call(&ecs, "CreateCluster", json!({"clusterName": "busy"}))
        .await
        .unwrap();
    let cases = [
        (
            keys::CONTAINER_INSTANCES,
            "ClusterContainsContainerInstancesException",
        ),
        (keys::SERVICES, "ClusterContainsServicesException"),
        (keys::TASKS, "ClusterContainsTasksException"),
    ];
    for (kind, code) in cases {
        let key = format!("{}thing", keys::in_cluster(kind, "us-east-1", "busy"));
        let rev = state.store().put(key.as_bytes(), b"{}").await.unwrap();
        state.caught_up(rev).await.unwrap();
        let err = call(&ecs, "DeleteCluster", json!({"cluster": "busy"}))
            .await
            .unwrap_err();
        assert_eq!(err.code, code);
        let rev = state.store().delete(key.as_bytes()).await.unwrap();
        state.caught_up(rev).await.unwrap();
    }
    let out = call(&ecs, "DeleteCluster", json!({"cluster": "busy"}))
        .await
        .unwrap();
    assert_eq!(out["cluster"]["status"], "INACTIVE");
    let err = call(&ecs, "DeleteCluster", json!({"cluster": "busy"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ClusterNotFoundException");
}

#[tokio::test]
async fn describe_counts_come_from_the_stored_resources() {
    let (ecs, state) = ecs().await;
    call(&ecs, "CreateCluster", json!({"clusterName": "c"}))
        .await
        .unwrap();
    for i in 0..2 {
        let key = format!(
            "{}i-{i}",
            keys::in_cluster(keys::CONTAINER_INSTANCES, "us-east-1", "c")
        );
        let rev = state.store().put(key.as_bytes(), b"{}").await.unwrap();
        state.caught_up(rev).await.unwrap();
    }
    let out = call(&ecs, "DescribeClusters", json!({"clusters": ["c"]}))
        .await
        .unwrap();
    assert_eq!(out["clusters"][0]["registeredContainerInstancesCount"], 2);
}

#[tokio::test]
async fn output_never_carries_nulls() {
    let (ecs, _) = ecs().await;
    let out = call(&ecs, "ListClusters", json!({})).await.unwrap();
    assert_eq!(out, json!({"clusterArns": []}));
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9:/_ -]{0,12}".prop_map(Value::from),
        Just(Value::from("default")),
        Just(Value::from("web:1")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Member names the ECS inputs use, so arbitrary input reaches past deserialisation.
fn field_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "clusterName",
        "cluster",
        "clusters",
        "include",
        "tags",
        "key",
        "value",
        "settings",
        "name",
        "family",
        "containerDefinitions",
        "image",
        "memory",
        "cpu",
        "portMappings",
        "containerPort",
        "hostPort",
        "dependsOn",
        "containerName",
        "condition",
        "healthCheck",
        "command",
        "volumes",
        "mountPoints",
        "sourceVolume",
        "networkMode",
        "requiresCompatibilities",
        "taskDefinition",
        "taskDefinitions",
        "resourceArn",
        "tagKeys",
        "principalArn",
        "effectiveSettings",
        "maxResults",
        "nextToken",
        "status",
        "sort",
        "familyPrefix",
        "essential",
    ])
    .prop_map(String::from)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// No input makes an operation fail with a server error (or panic): every bad input is
    /// the client's error, named as such.
    #[test]
    fn arbitrary_input_never_causes_a_server_error(
        op in prop::sample::select(OPERATIONS.to_vec()),
        body in arbitrary_json(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (ecs, _) = ecs().await;
            call(&ecs, "RegisterTaskDefinition", json!({"family": "web", "containerDefinitions": [
                {"name": "a", "image": "busybox", "memory": 64}]})).await.unwrap();
            call(&ecs, "CreateCluster", json!({})).await.unwrap();
            if let Err(e) = call(&ecs, op, body.clone()).await {
                prop_assert!(!e.is_server_fault(), "{op} {body}: {e}");
            }
            Ok(())
        })?;
    }
}

//! In-process tests of the ECS operations over the memory store: what the end-to-end tests
//! cannot set up easily (records in states a client cannot produce, such as a service
//! made INACTIVE behind the API's back), and arbitrary input against every operation.

use std::sync::Arc;

use bytes::Bytes;
use flotilla_aws::{AwsService, Input, Output};
use flotilla_store::{MemoryStore, Store, StoreExt};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{Ecs, OPERATIONS};

mod awsvpc;
mod capacity;
mod deployments;
mod task_sets;
use crate::{keys, State};

use crate::testing::ctx;

async fn ecs() -> (Ecs, State) {
    let state = crate::testing::state().await;
    (Ecs::new(state.clone()), state)
}

async fn call(ecs: &Ecs, op: &str, body: Value) -> Result<Value, flotilla_aws::AwsError> {
    let input = Input::Json(Bytes::from(body.to_string()));
    match ecs.call(&ctx(), op, input).await? {
        Output::Json(v) => Ok(v),
        other => panic!("unexpected output {other:?}"),
    }
}

async fn agent_call(state: &State, op: &str, body: Value) -> Result<Value, flotilla_aws::AwsError> {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = crate::Telemetry {
        logs: flotilla_telemetry::logs::LogStore::open(dir.path()).unwrap(),
        metrics: flotilla_telemetry::metrics::MetricStore::in_memory(),
    };
    let agent = crate::agent::Agent::new(state.clone(), None, telemetry);
    let input = Input::Json(Bytes::from(body.to_string()));
    match agent.call(&ctx(), op, input).await? {
        Output::Json(v) => Ok(v),
        other => panic!("unexpected output {other:?}"),
    }
}

fn resources(cpu: i64, memory: i64) -> Value {
    json!([
        {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
        {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]},
    ])
}

/// A cluster with one connected instance and a task definition family `app`; the
/// instance's ARN.
async fn cluster_with_app(ecs: &Ecs, state: &State, cluster: &str) -> String {
    call(ecs, "CreateCluster", json!({"clusterName": cluster}))
        .await
        .unwrap();
    call(
        ecs,
        "RegisterTaskDefinition",
        json!({"family": "app", "containerDefinitions": [
        {"name": "a", "image": "busybox", "memory": 64}]}),
    )
    .await
    .unwrap();
    connected_instance(ecs, state, cluster).await
}

/// Register an instance and poll once, so it counts as connected.
async fn connected_instance(ecs: &Ecs, state: &State, cluster: &str) -> String {
    let attributes = json!([{"name": "stack", "value": "prod"}]);
    connected_instance_with(ecs, state, cluster, attributes).await
}

/// [`connected_instance`] with the given attributes.
async fn connected_instance_with(
    ecs: &Ecs,
    state: &State,
    cluster: &str,
    attributes: Value,
) -> String {
    let out = call(
        ecs,
        "RegisterContainerInstance",
        json!({
        "cluster": cluster, "totalResources": resources(2048, 4096),
        "attributes": attributes}),
    )
    .await
    .unwrap();
    let arn = out["containerInstance"]["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_string();
    agent_call(
        state,
        "Poll",
        json!({"cluster": cluster, "containerInstanceArn": arn, "since": 0, "waitMillis": 0}),
    )
    .await
    .unwrap();
    arn
}

#[tokio::test]
async fn delete_cluster_is_refused_while_it_holds_resources() {
    let (ecs, state) = ecs().await;
    let arn = cluster_with_app(&ecs, &state, "busy").await;
    let err = call(&ecs, "DeleteCluster", json!({"cluster": "busy"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ClusterContainsContainerInstancesException");

    let run = call(
        &ecs,
        "RunTask",
        json!({"cluster": "busy", "taskDefinition": "app"}),
    )
    .await
    .unwrap();
    let task = run["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    let err = call(
        &ecs,
        "DeregisterContainerInstance",
        json!({"cluster": "busy", "containerInstance": arn}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "InvalidParameterException");
    call(
        &ecs,
        "DeregisterContainerInstance",
        json!({"cluster": "busy", "containerInstance": arn, "force": true}),
    )
    .await
    .unwrap();
    let err = call(&ecs, "DeleteCluster", json!({"cluster": "busy"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ClusterContainsTasksException");
    call(&ecs, "StopTask", json!({"cluster": "busy", "task": task}))
        .await
        .unwrap();
    let report = json!({"taskArn": task, "status": "STOPPED", "containers": [
        {"name": "a", "status": "STOPPED", "exitCode": 0}]});
    let out = agent_call(
        &state,
        "SubmitTaskReports",
        json!({"cluster": "busy", "containerInstanceArn": arn, "reports": [report]}),
    )
    .await
    .unwrap();
    assert_eq!(out["results"][0]["accepted"], true, "{out}");

    call(
        &ecs,
        "CreateService",
        json!({"cluster": "busy", "serviceName": "svc", "taskDefinition": "app", "desiredCount": 0}),
    )
    .await
    .unwrap();
    let err = call(&ecs, "DeleteCluster", json!({"cluster": "busy"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ClusterContainsServicesException");
    call(
        &ecs,
        "DeleteService",
        json!({"cluster": "busy", "service": "svc"}),
    )
    .await
    .unwrap();
    let err = call(&ecs, "DeleteCluster", json!({"cluster": "busy"}))
        .await
        .unwrap_err();
    assert_eq!(
        err.code, "ClusterContainsServicesException",
        "DRAINING still counts"
    );
    // What the service controller does once the service has no tasks left.
    let key = keys::service("us-east-1", "busy", "svc");
    let kv = state.store().get(key.as_bytes()).await.unwrap().unwrap();
    let mut svc: flotilla_model::service::ServiceRecord =
        flotilla_model::record::decode(&kv.value).unwrap();
    svc.status = flotilla_model::service::ServiceStatus::Inactive;
    let rev = state
        .store()
        .put(key.as_bytes(), &flotilla_model::record::encode(&svc))
        .await
        .unwrap();
    state.caught_up(rev).await.unwrap();

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
async fn a_task_travels_from_run_task_through_the_agent_protocol_to_stopped() {
    let (ecs, state) = ecs().await;
    call(&ecs, "CreateCluster", json!({})).await.unwrap();
    call(
        &ecs,
        "RegisterTaskDefinition",
        json!({"family": "web", "containerDefinitions": [
        {"name": "httpd", "image": "busybox", "memory": 1024,
         "portMappings": [{"containerPort": 80, "hostPort": 8080}]}]}),
    )
    .await
    .unwrap();
    let instance = connected_instance(&ecs, &state, "default").await;
    let described = call(
        &ecs,
        "DescribeContainerInstances",
        json!({"containerInstances": [instance]}),
    )
    .await
    .unwrap();
    assert_eq!(described["containerInstances"][0]["agentConnected"], true);

    let run = call(
        &ecs,
        "RunTask",
        json!({"taskDefinition": "web", "count": 2}),
    )
    .await
    .unwrap();
    // The fixed host port fits once: the second copy fails with RESOURCE:PORTS.
    assert_eq!(run["tasks"].as_array().unwrap().len(), 1, "{run}");
    assert_eq!(run["failures"][0]["reason"], "RESOURCE:PORTS");
    let task = run["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    assert_eq!(run["tasks"][0]["lastStatus"], "PROVISIONING");

    let d = call(
        &ecs,
        "DescribeContainerInstances",
        json!({"containerInstances": [instance]}),
    )
    .await
    .unwrap();
    let remaining = &d["containerInstances"][0]["remainingResources"];
    assert_eq!(remaining[1]["integerValue"], 4096 - 1024);
    assert!(remaining[2]["stringSetValue"]
        .as_array()
        .unwrap()
        .contains(&json!("8080")));

    let poll = agent_call(&state, "Poll", json!({"cluster": "default", "containerInstanceArn": instance, "since": 0, "waitMillis": 0})).await.unwrap();
    assert_eq!(poll["full"], true);
    assert_eq!(poll["tasks"][0]["task"]["taskArn"], task.as_str());
    assert_eq!(poll["tasks"][0]["definition"]["family"], "web");
    let since = poll["revision"].as_i64().unwrap();

    let running = json!({"taskArn": task, "status": "RUNNING", "containers": [{"name": "httpd", "status": "RUNNING",
        "runtimeId": "abc", "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 8080, "protocol": "tcp"}]}]});
    agent_call(
        &state,
        "SubmitTaskReports",
        json!({"cluster": "default", "containerInstanceArn": instance, "reports": [running]}),
    )
    .await
    .unwrap();
    let d = call(&ecs, "DescribeTasks", json!({"tasks": [task]}))
        .await
        .unwrap();
    assert_eq!(d["tasks"][0]["lastStatus"], "RUNNING");
    assert_eq!(
        d["tasks"][0]["containers"][0]["networkBindings"][0]["hostPort"],
        8080
    );
    let listed = call(&ecs, "ListTasks", json!({"family": "web"}))
        .await
        .unwrap();
    assert_eq!(listed["taskArns"], json!([task]));

    call(&ecs, "StopTask", json!({"task": task, "reason": "done"}))
        .await
        .unwrap();
    let poll = agent_call(&state, "Poll", json!({"cluster": "default", "containerInstanceArn": instance, "since": since, "waitMillis": 1000})).await.unwrap();
    assert_eq!(poll["full"], false);
    assert_eq!(poll["tasks"][0]["task"]["desiredStatus"], "STOPPED");
    let stopped = json!({"taskArn": task, "status": "STOPPED", "containers": [{"name": "httpd", "status": "STOPPED", "exitCode": 137}]});
    agent_call(
        &state,
        "SubmitTaskReports",
        json!({"cluster": "default", "containerInstanceArn": instance, "reports": [stopped]}),
    )
    .await
    .unwrap();
    let d = call(&ecs, "DescribeTasks", json!({"tasks": [task]}))
        .await
        .unwrap();
    let t = &d["tasks"][0];
    assert_eq!(t["lastStatus"], "STOPPED");
    assert_eq!(t["stopCode"], "UserInitiated");
    assert_eq!(t["stoppedReason"], "done");
    assert_eq!(t["containers"][0]["exitCode"], 137);
    let listed = call(&ecs, "ListTasks", json!({"desiredStatus": "STOPPED"}))
        .await
        .unwrap();
    assert_eq!(listed["taskArns"], json!([task]));
}

#[tokio::test]
async fn placement_reports_memory_and_constraints() {
    let (ecs, state) = ecs().await;
    call(&ecs, "CreateCluster", json!({})).await.unwrap();
    connected_instance(&ecs, &state, "default").await;
    call(
        &ecs,
        "RegisterTaskDefinition",
        json!({"family": "big", "containerDefinitions": [
        {"name": "a", "image": "busybox", "memory": 100000}]}),
    )
    .await
    .unwrap();
    let run = call(&ecs, "RunTask", json!({"taskDefinition": "big"}))
        .await
        .unwrap();
    assert_eq!(run["tasks"], json!([]));
    assert_eq!(run["failures"][0]["reason"], "RESOURCE:MEMORY");
    call(
        &ecs,
        "RegisterTaskDefinition",
        json!({"family": "small", "containerDefinitions": [
        {"name": "a", "image": "busybox", "memory": 16}]}),
    )
    .await
    .unwrap();
    let run = call(
        &ecs,
        "RunTask",
        json!({"taskDefinition": "small", "placementConstraints": [
        {"type": "memberOf", "expression": "attribute:stack == dev"}]}),
    )
    .await
    .unwrap();
    assert_eq!(run["tasks"], json!([]), "{run}");
    let run = call(
        &ecs,
        "RunTask",
        json!({"taskDefinition": "small", "count": 3, "placementConstraints": [
        {"type": "memberOf", "expression": "attribute:stack == prod"}]}),
    )
    .await
    .unwrap();
    assert_eq!(run["tasks"].as_array().unwrap().len(), 3, "{run}");
    let list = call(
        &ecs,
        "ListContainerInstances",
        json!({"filter": "attribute:stack == prod"}),
    )
    .await
    .unwrap();
    assert_eq!(list["containerInstanceArns"].as_array().unwrap().len(), 1);
    let list = call(
        &ecs,
        "ListContainerInstances",
        json!({"filter": "attribute:stack == dev"}),
    )
    .await
    .unwrap();
    assert_eq!(list["containerInstanceArns"], json!([]));
}

/// Two server processes (two `State`s, each with its own pictures and plan applier) on one
/// store, and many RunTasks at once through both, on room for 30 tasks: the appliers'
/// compare-and-swap never lets an instance take more than it has, and no room is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_run_tasks_through_two_servers_never_over_commit() {
    let store = Arc::new(MemoryStore::new());
    let mut servers = Vec::new();
    for _ in 0..2 {
        let state = State::new(
            store.clone(),
            flotilla_control::ControlConfig::new("000000000000"),
        )
        .await
        .unwrap();
        servers.push((Arc::new(Ecs::new(state.clone())), state));
    }
    let (ecs, state) = &servers[0];
    call(ecs, "CreateCluster", json!({})).await.unwrap();
    for _ in 0..3 {
        // 4096 MiB each: ten tasks of 400 MiB.
        connected_instance(ecs, state, "default").await;
    }
    call(
        ecs,
        "RegisterTaskDefinition",
        json!({"family": "m", "containerDefinitions": [
        {"name": "a", "image": "busybox", "memory": 400}]}),
    )
    .await
    .unwrap();
    // The second server sees what the first wrote before the race starts.
    let rev = store.revision().await.unwrap();
    servers[1].1.caught_up(rev).await.unwrap();

    let mut calls = Vec::new();
    for i in 0..24 {
        let ecs = servers[i % 2].0.clone();
        calls.push(tokio::spawn(async move {
            call(&ecs, "RunTask", json!({"taskDefinition": "m", "count": 2})).await
        }));
    }
    let mut placed = 0;
    for c in calls {
        let out = c
            .await
            .unwrap()
            .expect("RunTask answers (placed or with failures)");
        placed += out["tasks"].as_array().unwrap().len();
    }
    assert!(placed <= 30, "{placed} tasks placed on room for 30");
    // A request that planned while others' placements were in flight may have found less
    // room than there was (in-flight work counts as taken until it is visible); what is
    // left is placed now.
    let rev = store.revision().await.unwrap();
    state.caught_up(rev).await.unwrap();
    let out = call(ecs, "RunTask", json!({"taskDefinition": "m", "count": 10}))
        .await
        .unwrap();
    assert_eq!(placed + out["tasks"].as_array().unwrap().len(), 30);
    let rev = store.revision().await.unwrap();
    state.caught_up(rev).await.unwrap();
    let arns = call(ecs, "ListTasks", json!({"maxResults": 100}))
        .await
        .unwrap();
    let tasks = call(ecs, "DescribeTasks", json!({"tasks": arns["taskArns"]}))
        .await
        .unwrap();
    let mut per_instance = std::collections::HashMap::<String, usize>::new();
    for t in tasks["tasks"].as_array().unwrap() {
        let instance = t["containerInstanceArn"].as_str().unwrap().to_string();
        *per_instance.entry(instance).or_default() += 1;
    }
    assert_eq!(per_instance.values().sum::<usize>(), 30);
    assert!(per_instance.values().all(|n| *n == 10), "{per_instance:?}");
}

#[tokio::test]
async fn counts_beyond_the_api_models_integer_are_refused() {
    let (ecs, state) = ecs().await;
    cluster_with_app(&ecs, &state, "big").await;
    let huge = 1_i64 << 62;
    let err = call(
        &ecs,
        "CreateService",
        json!({"cluster": "big", "serviceName": "s", "taskDefinition": "app", "desiredCount": huge}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "InvalidParameterException", "{}", err.message);
    call(
        &ecs,
        "CreateService",
        json!({"cluster": "big", "serviceName": "s", "taskDefinition": "app", "desiredCount": 0}),
    )
    .await
    .unwrap();
    let err = call(
        &ecs,
        "UpdateService",
        json!({"cluster": "big", "service": "s", "desiredCount": i64::from(i32::MAX) + 1}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "InvalidParameterException", "{}", err.message);
}

#[tokio::test]
async fn describe_counts_come_from_the_stored_resources() {
    let (ecs, state) = ecs().await;
    call(&ecs, "CreateCluster", json!({"clusterName": "c"}))
        .await
        .unwrap();
    connected_instance(&ecs, &state, "c").await;
    connected_instance(&ecs, &state, "c").await;
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

#[tokio::test]
async fn stopped_tasks_are_deleted_after_the_retention_period() {
    let (ecs, state) = ecs().await;
    let arn = cluster_with_app(&ecs, &state, "old").await;
    let run = call(
        &ecs,
        "RunTask",
        json!({"cluster": "old", "taskDefinition": "app", "count": 2}),
    )
    .await
    .unwrap();
    let tasks: Vec<String> = run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskArn"].as_str().unwrap().to_string())
        .collect();
    let report = json!({"taskArn": tasks[0], "status": "STOPPED", "containers": [
        {"name": "a", "status": "STOPPED", "exitCode": 0}]});
    agent_call(
        &state,
        "SubmitTaskReports",
        json!({"cluster": "old", "containerInstanceArn": arn, "reports": [report]}),
    )
    .await
    .unwrap();
    let hour = std::time::Duration::from_secs(3600);
    let now = chrono::Utc::now();
    assert_eq!(
        flotilla_control::controllers::retention::reap(&state, now, hour)
            .await
            .unwrap(),
        0
    );
    let later = now + chrono::Duration::hours(2);
    assert_eq!(
        flotilla_control::controllers::retention::reap(&state, later, hour)
            .await
            .unwrap(),
        1
    );
    let out = call(
        &ecs,
        "DescribeTasks",
        json!({"cluster": "old", "tasks": tasks}),
    )
    .await
    .unwrap();
    assert_eq!(out["tasks"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["tasks"][0]["taskArn"], tasks[1].as_str());
    assert_eq!(out["failures"][0]["reason"], "MISSING");
}

//! Task sets in-process: the errors CreateService, the task set operations and
//! UpdateService answer for EXTERNAL services with, and what each operation stores, over
//! the memory store (the controller is not running: no task starts).

use serde_json::{json, Value};

use super::{call, cluster_with_app, ecs, Ecs};

/// The code and message `op` fails with.
async fn fails(ecs: &Ecs, op: &str, body: Value) -> (String, String) {
    let e = call(ecs, op, body).await.unwrap_err();
    (e.code.to_string(), e.message.to_string())
}

/// Cluster `c` with family `app`, and an EXTERNAL service `web` of 4 tasks.
async fn external() -> Ecs {
    let (ecs, state) = ecs().await;
    cluster_with_app(&ecs, &state, "c").await;
    call(
        &ecs,
        "CreateService",
        json!({"cluster": "c", "serviceName": "web", "desiredCount": 4,
               "deploymentController": {"type": "EXTERNAL"}}),
    )
    .await
    .unwrap();
    ecs
}

async fn create_set(ecs: &Ecs, extra: Value) -> Value {
    let mut body = json!({"cluster": "c", "service": "web", "taskDefinition": "app"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    call(ecs, "CreateTaskSet", body).await.unwrap()["taskSet"].clone()
}

#[tokio::test]
async fn create_service_refuses_code_deploy_and_checks_external_services() {
    let (ecs, state) = ecs().await;
    cluster_with_app(&ecs, &state, "c").await;
    let base = json!({"cluster": "c", "serviceName": "s", "desiredCount": 1});
    let with = |extra: Value| {
        let mut b = base.clone();
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let (code, msg) = fails(
        &ecs,
        "CreateService",
        with(json!({"taskDefinition": "app", "deploymentController": {"type": "CODE_DEPLOY"}})),
    )
    .await;
    assert_eq!(code, "InvalidParameterException");
    assert!(msg.contains("CODE_DEPLOY is not supported"), "{msg}");
    let (code, _) = fails(
        &ecs,
        "CreateService",
        with(json!({"deploymentController": {"type": "GREEN"}})),
    )
    .await;
    assert_eq!(code, "InvalidParameterException");
    let (code, msg) = fails(
        &ecs,
        "CreateService",
        with(json!({"taskDefinition": "app", "deploymentController": {"type": "EXTERNAL"}})),
    )
    .await;
    assert_eq!(code, "InvalidParameterException");
    assert!(msg.contains("TaskDefinition must be blank"), "{msg}");
    let (code, _) = fails(
        &ecs,
        "CreateService",
        json!({"cluster": "c", "serviceName": "d", "schedulingStrategy": "DAEMON",
               "deploymentController": {"type": "EXTERNAL"}}),
    )
    .await;
    assert_eq!(code, "InvalidParameterException");
    let out = call(
        &ecs,
        "CreateService",
        with(json!({"deploymentController": {"type": "EXTERNAL"}})),
    )
    .await
    .unwrap();
    let svc = &out["service"];
    assert_eq!(svc["deploymentController"], json!({"type": "EXTERNAL"}));
    assert_eq!(svc["deployments"], json!([]));
    assert_eq!(svc["taskSets"], json!([]));
    assert!(svc.get("taskDefinition").is_none());
}

#[tokio::test]
async fn task_set_operations_answer_ecs_errors() {
    let ecs = external().await;
    call(
        &ecs,
        "CreateService",
        json!({"cluster": "c", "serviceName": "rolling", "taskDefinition": "app", "desiredCount": 0}),
    )
    .await
    .unwrap();
    let (code, msg) = fails(
        &ecs,
        "CreateTaskSet",
        json!({"cluster": "c", "service": "rolling", "taskDefinition": "app"}),
    )
    .await;
    assert_eq!(code, "InvalidParameterException");
    assert!(msg.contains("external deployment controllers"), "{msg}");
    let (code, _) = fails(
        &ecs,
        "DescribeTaskSets",
        json!({"cluster": "c", "service": "rolling"}),
    )
    .await;
    assert_eq!(code, "InvalidParameterException");
    for (body, want) in [
        (
            json!({"cluster": "c", "service": "none"}),
            "ServiceNotFoundException",
        ),
        (
            json!({"cluster": "nope", "service": "web"}),
            "ClusterNotFoundException",
        ),
    ] {
        let (code, _) = fails(&ecs, "DescribeTaskSets", body).await;
        assert_eq!(code, want);
    }
    let missing = json!({"cluster": "c", "service": "web", "taskSet": "ecs-svc/1",
                         "scale": {"value": 1.0, "unit": "PERCENT"}});
    assert_eq!(
        fails(&ecs, "UpdateTaskSet", missing.clone()).await.0,
        "TaskSetNotFoundException"
    );
    assert_eq!(
        fails(&ecs, "DeleteTaskSet", missing).await.0,
        "TaskSetNotFoundException"
    );
    let (code, _) = fails(
        &ecs,
        "UpdateServicePrimaryTaskSet",
        json!({"cluster": "c", "service": "web", "primaryTaskSet": "ecs-svc/1"}),
    )
    .await;
    assert_eq!(code, "TaskSetNotFoundException");
    let bad = [
        json!({"scale": {"value": 100.5, "unit": "PERCENT"}}),
        json!({"scale": {"value": 50.0, "unit": "COUNT"}}),
        json!({"externalId": "x".repeat(256)}),
        json!({"capacityProviderStrategy": [{"capacityProvider": "FARGATE"}]}),
        json!({"taskDefinition": "missing"}),
        json!({"loadBalancers": [
            {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:0:targetgroup/a/1",
             "containerName": "a", "containerPort": 80},
            {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:0:targetgroup/b/1",
             "containerName": "a", "containerPort": 80}]}),
    ];
    for extra in bad {
        let mut body = json!({"cluster": "c", "service": "web", "taskDefinition": "app"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let e = call(&ecs, "CreateTaskSet", body).await.unwrap_err();
        assert!(
            e.code == "InvalidParameterException" || e.code == "ClientException",
            "{extra}: {e:?}"
        );
    }
    for _ in 0..5 {
        create_set(&ecs, json!({})).await;
    }
    let (code, msg) = fails(
        &ecs,
        "CreateTaskSet",
        json!({"cluster": "c", "service": "web", "taskDefinition": "app"}),
    )
    .await;
    assert_eq!(code, "InvalidParameterException");
    assert!(msg.contains("maximum"), "{msg}");
    // UpdateService changes only what an EXTERNAL service owns.
    for field in [
        json!({"taskDefinition": "app"}),
        json!({"forceNewDeployment": true}),
        json!({"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s"]}}}),
    ] {
        let mut body = json!({"cluster": "c", "service": "web"});
        body.as_object_mut()
            .unwrap()
            .extend(field.as_object().unwrap().clone());
        assert_eq!(
            fails(&ecs, "UpdateService", body).await.0,
            "InvalidParameterException"
        );
    }
    call(
        &ecs,
        "DeleteService",
        json!({"cluster": "c", "service": "web", "force": true}),
    )
    .await
    .unwrap();
    let (code, _) = fails(
        &ecs,
        "CreateTaskSet",
        json!({"cluster": "c", "service": "web", "taskDefinition": "app"}),
    )
    .await;
    assert_eq!(code, "ServiceNotActiveException");
}

#[tokio::test]
async fn task_sets_scale_switch_primary_and_drain() {
    let ecs = external().await;
    let blue = create_set(
        &ecs,
        json!({"externalId": "blue", "clientToken": "t1", "scale": {"value": 50, "unit": "PERCENT"},
               "tags": [{"key": "k", "value": "v"}]}),
    )
    .await;
    assert_eq!(blue["status"], "ACTIVE");
    assert_eq!(blue["computedDesiredCount"], 2);
    assert_eq!(blue["stabilityStatus"], "STABILIZING");
    assert_eq!(blue["externalId"], "blue");
    assert!(blue["taskDefinition"]
        .as_str()
        .unwrap()
        .ends_with(":task-definition/app:1"));
    let id = blue["id"].as_str().unwrap().to_string();
    assert_eq!(
        blue["taskSetArn"],
        format!("arn:aws:ecs:us-east-1:000000000000:task-set/c/web/{id}")
    );
    // A retry with the same client token answers with the same task set.
    let again = create_set(&ecs, json!({"clientToken": "t1"})).await;
    assert_eq!(again["id"], blue["id"]);
    let green = create_set(&ecs, json!({"scale": {"value": 0, "unit": "PERCENT"}})).await;
    assert_eq!(green["computedDesiredCount"], 0);
    let gid = green["id"].as_str().unwrap().to_string();

    let primary = call(
        &ecs,
        "UpdateServicePrimaryTaskSet",
        json!({"cluster": "c", "service": "web", "primaryTaskSet": blue["taskSetArn"]}),
    )
    .await
    .unwrap();
    assert_eq!(primary["taskSet"]["status"], "PRIMARY");
    let scaled = call(
        &ecs,
        "UpdateTaskSet",
        json!({"cluster": "c", "service": "web", "taskSet": gid,
               "scale": {"value": 30, "unit": "PERCENT"}}),
    )
    .await
    .unwrap();
    assert_eq!(scaled["taskSet"]["computedDesiredCount"], 2);
    call(
        &ecs,
        "UpdateServicePrimaryTaskSet",
        json!({"cluster": "c", "service": "web", "primaryTaskSet": gid}),
    )
    .await
    .unwrap();
    // The service's desired count scales every task set.
    call(
        &ecs,
        "UpdateService",
        json!({"cluster": "c", "service": "web", "desiredCount": 10}),
    )
    .await
    .unwrap();
    let all = call(
        &ecs,
        "DescribeTaskSets",
        json!({"cluster": "c", "service": "web", "include": ["TAGS"]}),
    )
    .await
    .unwrap();
    let by_id = |id: &str| {
        all["taskSets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(&id)["status"], "ACTIVE");
    assert_eq!(by_id(&id)["computedDesiredCount"], 5);
    assert_eq!(by_id(&id)["tags"], json!([{"key": "k", "value": "v"}]));
    assert_eq!(by_id(&gid)["status"], "PRIMARY");
    assert_eq!(by_id(&gid)["computedDesiredCount"], 3);
    let svc = call(
        &ecs,
        "DescribeServices",
        json!({"cluster": "c", "services": ["web"]}),
    )
    .await
    .unwrap();
    let svc = &svc["services"][0];
    assert_eq!(svc["deployments"], json!([]));
    assert_eq!(svc["taskSets"].as_array().unwrap().len(), 2);
    assert_eq!(svc["taskDefinition"], green["taskDefinition"]);

    // A task set still scaled above 0 is deleted only with force; it drains.
    let body = json!({"cluster": "c", "service": "web", "taskSet": id});
    let (code, msg) = fails(&ecs, "DeleteTaskSet", body.clone()).await;
    assert_eq!(code, "InvalidParameterException");
    assert!(msg.contains("force"), "{msg}");
    let mut forced = body.clone();
    forced["force"] = json!(true);
    let deleted = call(&ecs, "DeleteTaskSet", forced).await.unwrap();
    assert_eq!(deleted["taskSet"]["status"], "DRAINING");
    assert_eq!(deleted["taskSet"]["computedDesiredCount"], 0);
    // A draining task set cannot be scaled or made primary.
    let (code, _) = fails(
        &ecs,
        "UpdateTaskSet",
        json!({"cluster": "c", "service": "web", "taskSet": id,
               "scale": {"value": 10, "unit": "PERCENT"}}),
    )
    .await;
    assert_eq!(code, "InvalidParameterException");
}

/// Member names of the task set inputs, so arbitrary input reaches past deserialisation.
fn member() -> impl proptest::strategy::Strategy<Value = &'static str> + Clone {
    proptest::sample::select(vec![
        "cluster",
        "service",
        "taskSet",
        "taskSets",
        "primaryTaskSet",
        "taskDefinition",
        "scale",
        "value",
        "unit",
        "force",
        "externalId",
        "clientToken",
        "launchType",
        "loadBalancers",
        "serviceRegistries",
        "targetGroupArn",
        "containerName",
        "containerPort",
        "deploymentController",
        "type",
        "desiredCount",
        "serviceName",
        "include",
        "tags",
    ])
}

fn leaf() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(Value::from("c")),
        Just(Value::from("web")),
        Just(Value::from("app")),
        Just(Value::from("PERCENT")),
        Just(Value::from("EXTERNAL")),
        Just(Value::from("CODE_DEPLOY")),
        "[a-zA-Z0-9:/_ -]{0,12}".prop_map(Value::from),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]

    /// No input makes a task set operation (or CreateService's deployment controller
    /// check) fail with a server error or panic.
    #[test]
    fn arbitrary_task_set_input_never_causes_a_server_error(
        op in proptest::sample::select(vec![
            "CreateTaskSet", "DescribeTaskSets", "UpdateTaskSet", "DeleteTaskSet",
            "UpdateServicePrimaryTaskSet", "CreateService", "UpdateService",
        ]),
        body in crate::testing::nested_json(leaf(), member(), 8),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let ecs = external().await;
            create_set(&ecs, json!({})).await;
            if let Err(e) = call(&ecs, op, body.clone()).await {
                proptest::prop_assert!(!e.is_server_fault(), "{op} {body}: {e}");
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn task_sets_are_tagged_by_arn() {
    let ecs = external().await;
    let ts = create_set(&ecs, json!({"tags": [{"key": "a", "value": "1"}]})).await;
    let arn = ts["taskSetArn"].clone();
    call(
        &ecs,
        "TagResource",
        json!({"resourceArn": arn, "tags": [{"key": "b", "value": "2"}]}),
    )
    .await
    .unwrap();
    call(
        &ecs,
        "UntagResource",
        json!({"resourceArn": arn, "tagKeys": ["a"]}),
    )
    .await
    .unwrap();
    let out = call(&ecs, "ListTagsForResource", json!({"resourceArn": arn}))
        .await
        .unwrap();
    assert_eq!(out["tags"], json!([{"key": "b", "value": "2"}]));
    let gone = arn.as_str().unwrap().replace("ecs-svc/", "ecs-svc/9");
    let (code, _) = fails(&ecs, "ListTagsForResource", json!({"resourceArn": gone})).await;
    assert_eq!(code, "TaskSetNotFoundException");
}

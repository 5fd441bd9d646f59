//! Capacity providers in process: AWS's error codes, and tasks placed on the instances of
//! their provider.

use serde_json::json;

use super::{call, connected_instance_with, ecs};

const ASG: &str =
    "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/a";

async fn code(ecs: &super::Ecs, op: &str, body: serde_json::Value) -> String {
    call(ecs, op, body).await.unwrap_err().code.to_string()
}

#[tokio::test]
async fn capacity_provider_errors_have_aws_codes() {
    let (ecs, state) = ecs().await;
    let asg = |arn: &str| json!({ "autoScalingGroupArn": arn });
    for (name, expected) in [
        ("fargate-x", "InvalidParameterException"),
        ("ecs1", "InvalidParameterException"),
    ] {
        let body = json!({"name": name, "autoScalingGroupProvider": asg(ASG)});
        assert_eq!(code(&ecs, "CreateCapacityProvider", body).await, expected);
    }
    let body = json!({"name": "pool-a"});
    assert_eq!(
        code(&ecs, "CreateCapacityProvider", body).await,
        "InvalidParameterException"
    );
    let body = json!({"name": "pool-a", "autoScalingGroupProvider":
        {"autoScalingGroupArn": ASG, "managedScaling": {"targetCapacity": 101}}});
    assert_eq!(
        code(&ecs, "CreateCapacityProvider", body).await,
        "InvalidParameterException"
    );
    let body = json!({"name": "pool-a", "autoScalingGroupProvider": asg(ASG)});
    call(&ecs, "CreateCapacityProvider", body.clone())
        .await
        .unwrap();
    assert_eq!(
        code(&ecs, "CreateCapacityProvider", body).await,
        "ClientException"
    );
    let body = json!({"name": "pool-b", "autoScalingGroupProvider": asg(ASG)});
    assert_eq!(
        code(&ecs, "CreateCapacityProvider", body).await,
        "ClientException"
    );
    let body = json!({"capacityProvider": "FARGATE"});
    assert_eq!(
        code(&ecs, "DeleteCapacityProvider", body).await,
        "ClientException"
    );
    let body = json!({"name": "nope", "autoScalingGroupProvider": {}});
    assert_eq!(
        code(&ecs, "UpdateCapacityProvider", body).await,
        "ClientException"
    );

    // Clusters: unknown providers, a strategy outside the list, two bases, a mix.
    let cluster = |providers: serde_json::Value, strategy: serde_json::Value| {
        json!({"clusterName": "c", "capacityProviders": providers,
               "defaultCapacityProviderStrategy": strategy})
    };
    for (providers, strategy) in [
        (json!(["nope"]), json!([])),
        (
            json!(["pool-a"]),
            json!([{"capacityProvider": "FARGATE", "weight": 1}]),
        ),
        (
            json!(["pool-a", "FARGATE"]),
            json!([
            {"capacityProvider": "pool-a", "weight": 1},
            {"capacityProvider": "FARGATE", "weight": 1}]),
        ),
        (
            json!(["FARGATE", "FARGATE_SPOT"]),
            json!([
            {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
            {"capacityProvider": "FARGATE_SPOT", "base": 1}]),
        ),
    ] {
        let body = cluster(providers.clone(), strategy);
        assert_eq!(
            code(&ecs, "CreateCluster", body).await,
            "InvalidParameterException",
            "{providers}"
        );
    }
    let body = cluster(
        json!(["pool-a"]),
        json!([{"capacityProvider": "pool-a", "weight": 1}]),
    );
    call(&ecs, "CreateCluster", body).await.unwrap();
    let body = json!({"capacityProvider": "pool-a"});
    assert_eq!(
        code(&ecs, "DeleteCapacityProvider", body).await,
        "ClientException"
    );

    // An instance of a provider that does not exist, or of a built-in one.
    for provider in ["nope", "FARGATE"] {
        let body = json!({"cluster": "c", "totalResources": super::resources(1024, 1024),
            "attributes": [{"name": "flotilla.capacity-provider", "value": provider}]});
        let got = code(&ecs, "RegisterContainerInstance", body).await;
        assert!(
            got == "ClientException" || got == "InvalidParameterException",
            "{got}"
        );
    }
    let _ = state;
}

#[tokio::test]
async fn tasks_follow_their_provider_and_the_cluster_default() {
    let (ecs, state) = ecs().await;
    let body = json!({"name": "pool-a", "autoScalingGroupProvider": {"autoScalingGroupArn": ASG}});
    call(&ecs, "CreateCapacityProvider", body).await.unwrap();
    call(
        &ecs,
        "CreateCluster",
        json!({"clusterName": "c", "capacityProviders": ["pool-a", "FARGATE"],
        "defaultCapacityProviderStrategy": [{"capacityProvider": "pool-a", "weight": 1}]}),
    )
    .await
    .unwrap();
    call(
        &ecs,
        "RegisterTaskDefinition",
        json!({"family": "app", "containerDefinitions": [
        {"name": "a", "image": "busybox", "memory": 64}]}),
    )
    .await
    .unwrap();
    let pooled = connected_instance_with(
        &ecs,
        &state,
        "c",
        json!([{"name": "flotilla.capacity-provider", "value": "pool-a"}]),
    )
    .await;
    let plain = connected_instance_with(&ecs, &state, "c", json!([])).await;

    let run = |body: serde_json::Value| call(&ecs, "RunTask", body);
    let out = run(json!({"cluster": "c", "taskDefinition": "app", "count": 3}))
        .await
        .unwrap();
    for t in out["tasks"].as_array().unwrap() {
        assert_eq!(t["containerInstanceArn"], pooled.as_str());
        assert_eq!(t["capacityProviderName"], "pool-a");
    }
    let out = run(json!({"cluster": "c", "taskDefinition": "app", "count": 2,
        "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}]}))
    .await;
    // `app` is not Fargate-compatible.
    assert_eq!(out.unwrap_err().code, "InvalidParameterException");
    let out = run(
        json!({"cluster": "c", "taskDefinition": "app", "launchType": "EC2",
        "capacityProviderStrategy": [{"capacityProvider": "pool-a", "weight": 1}]}),
    )
    .await;
    assert_eq!(out.unwrap_err().code, "InvalidParameterException");
    let out = run(json!({"cluster": "c", "taskDefinition": "app", "count": 2,
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:flotilla.capacity-provider !exists"}],
        "launchType": "EC2"}))
    .await
    .unwrap();
    for t in out["tasks"].as_array().unwrap() {
        assert_eq!(t["containerInstanceArn"], plain.as_str());
        assert!(t.get("capacityProviderName").is_none());
    }

    // pool-a runs tasks: it cannot be detached.
    let body = json!({"cluster": "c", "capacityProviders": ["FARGATE"], "defaultCapacityProviderStrategy": []});
    assert_eq!(
        code(&ecs, "PutClusterCapacityProviders", body).await,
        "ResourceInUseException"
    );
    let described = call(
        &ecs,
        "DescribeContainerInstances",
        json!({"cluster": "c", "containerInstances": [pooled, plain]}),
    )
    .await
    .unwrap();
    let names: Vec<_> = described["containerInstances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["capacityProviderName"]
                .as_str()
                .unwrap_or("-")
                .to_string()
        })
        .collect();
    assert_eq!(names, ["pool-a", "-"]);
}

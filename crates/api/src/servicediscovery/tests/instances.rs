//! Instances: registration, DiscoverInstances' filters, health, and deletes refused while
//! something is left inside.

use super::*;

#[tokio::test]
async fn instances_register_discover_and_block_deletes() {
    let (sd, state) = sd().await;
    let ns = private_namespace(&sd, "local").await;
    let srv = web_service(&sd, &ns).await;
    // What an A + SRV service needs.
    for attrs in [
        json!({"AWS_INSTANCE_PORT": "80"}),
        json!({"AWS_INSTANCE_IPV4": "10.0.0.1"}),
        json!({"AWS_INSTANCE_IPV4": "10.0.0.999", "AWS_INSTANCE_PORT": "80"}),
        json!({"AWS_INSTANCE_IPV4": "10.0.0.1", "AWS_INSTANCE_PORT": "80", "k": "x".repeat(1025)}),
    ] {
        assert_eq!(
            code(
                &sd,
                "RegisterInstance",
                json!({"ServiceId": srv, "InstanceId": "i1", "Attributes": attrs.clone()})
            )
            .await,
            "InvalidInput",
            "{attrs}"
        );
    }
    assert_eq!(
        code(
            &sd,
            "RegisterInstance",
            json!({"ServiceId": srv, "InstanceId": "bad id", "Attributes": {}})
        )
        .await,
        "InvalidInput"
    );
    assert_eq!(
        code(
            &sd,
            "RegisterInstance",
            json!({"ServiceId": srv, "InstanceId": "i1"})
        )
        .await,
        "InvalidInput"
    );
    let op1 = register(&sd, &srv, "i1", "10.0.0.1", json!({"stage": "prod"})).await;
    register(&sd, &srv, "i2", "10.0.0.2", json!({"stage": "dev"})).await;
    // Idempotent with a CreatorRequestId.
    let body = json!({"ServiceId": srv, "InstanceId": "i3", "CreatorRequestId": "c",
                      "Attributes": {"AWS_INSTANCE_IPV4": "10.0.0.3", "AWS_INSTANCE_PORT": "1"}});
    let a = ok(&sd, "RegisterInstance", body.clone()).await;
    let b = ok(&sd, "RegisterInstance", body).await;
    assert_eq!(a["OperationId"], b["OperationId"]);
    let op = ok(
        &sd,
        "GetOperation",
        json!({"OperationId": op1["OperationId"]}),
    )
    .await;
    assert_eq!(op["Operation"]["Type"], "REGISTER_INSTANCE");
    assert_eq!(op["Operation"]["Targets"]["INSTANCE"], "i1");
    assert_eq!(op["Operation"]["Targets"]["SERVICE"], srv);

    let discover = |body: Value| {
        let mut b = json!({"NamespaceName": "local", "ServiceName": "web"});
        if let Value::Object(m) = body {
            for (k, v) in m {
                b[k] = v;
            }
        }
        b
    };
    let found = ok(&sd, "DiscoverInstances", discover(json!({}))).await;
    assert_eq!(found["Instances"].as_array().unwrap().len(), 3);
    assert_eq!(found["Instances"][0]["HealthStatus"], "HEALTHY");
    assert_eq!(found["Instances"][0]["NamespaceName"], "local");
    let rev1 = found["InstancesRevision"].as_i64().unwrap();
    let prod = ok(
        &sd,
        "DiscoverInstances",
        discover(json!({"QueryParameters": {"stage": "prod"}})),
    )
    .await;
    assert_eq!(prod["Instances"][0]["InstanceId"], "i1");
    assert_eq!(prod["Instances"].as_array().unwrap().len(), 1);
    let preferred = ok(
        &sd,
        "DiscoverInstances",
        discover(json!({"OptionalParameters": {"stage": "dev"}})),
    )
    .await;
    assert_eq!(preferred["Instances"][0]["InstanceId"], "i2");
    let fallback = ok(
        &sd,
        "DiscoverInstances",
        discover(json!({"OptionalParameters": {"stage": "qa"}, "MaxResults": 2})),
    )
    .await;
    assert_eq!(fallback["Instances"].as_array().unwrap().len(), 2);
    // Health: custom only; an unhealthy instance drops out of HEALTHY discovery.
    ok(
        &sd,
        "UpdateInstanceCustomHealthStatus",
        json!({"ServiceId": srv, "InstanceId": "i1", "Status": "UNHEALTHY"}),
    )
    .await;
    let healthy = ok(&sd, "DiscoverInstances", discover(json!({}))).await;
    assert_eq!(healthy["Instances"].as_array().unwrap().len(), 2);
    assert!(healthy["InstancesRevision"].as_i64().unwrap() > rev1);
    let sick = ok(
        &sd,
        "DiscoverInstances",
        discover(json!({"HealthStatus": "UNHEALTHY"})),
    )
    .await;
    assert_eq!(sick["Instances"][0]["InstanceId"], "i1");
    let status = ok(
        &sd,
        "GetInstancesHealthStatus",
        json!({"ServiceId": srv, "Instances": ["i1", "i2"]}),
    )
    .await;
    assert_eq!(
        status["Status"],
        json!({"i1": "UNHEALTHY", "i2": "HEALTHY"})
    );
    assert_eq!(
        code(
            &sd,
            "GetInstancesHealthStatus",
            json!({"ServiceId": srv, "Instances": ["zz"]})
        )
        .await,
        "InstanceNotFound"
    );
    assert_eq!(
        code(
            &sd,
            "UpdateInstanceCustomHealthStatus",
            json!({"ServiceId": srv, "InstanceId": "i1", "Status": "SICK"})
        )
        .await,
        "InvalidInput"
    );
    let rev = ok(
        &sd,
        "DiscoverInstancesRevision",
        json!({"NamespaceName": "local", "ServiceName": "web"}),
    )
    .await;
    assert_eq!(rev["InstancesRevision"], healthy["InstancesRevision"]);
    assert_eq!(
        code(
            &sd,
            "DiscoverInstances",
            json!({"NamespaceName": "nope", "ServiceName": "web"})
        )
        .await,
        "NamespaceNotFound"
    );
    assert_eq!(
        code(
            &sd,
            "DiscoverInstances",
            json!({"NamespaceName": "local", "ServiceName": "nope"})
        )
        .await,
        "ServiceNotFound"
    );
    // A service without a custom health check has none to set.
    let plain = ok(
        &sd,
        "CreateService",
        json!({"Name": "plain", "NamespaceId": ns, "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 5}]}}),
    )
    .await;
    let plain = plain["Service"]["Id"].as_str().unwrap().to_string();
    ok(
        &sd,
        "RegisterInstance",
        json!({"ServiceId": plain, "InstanceId": "p", "Attributes": {"AWS_INSTANCE_IPV4": "10.1.0.1"}}),
    )
    .await;
    assert_eq!(
        code(
            &sd,
            "UpdateInstanceCustomHealthStatus",
            json!({"ServiceId": plain, "InstanceId": "p", "Status": "UNHEALTHY"})
        )
        .await,
        "CustomHealthNotFound"
    );
    let h = ok(&sd, "GetInstancesHealthStatus", json!({"ServiceId": plain})).await;
    assert_eq!(h["Status"]["p"], "UNKNOWN");

    // Deleting what still holds something is ResourceInUse.
    assert_eq!(
        code(&sd, "DeleteService", json!({"Id": srv})).await,
        "ResourceInUse"
    );
    assert_eq!(
        code(&sd, "DeleteNamespace", json!({"Id": ns})).await,
        "ResourceInUse"
    );
    let listed = ok(
        &sd,
        "ListInstances",
        json!({"ServiceId": srv, "MaxResults": 2}),
    )
    .await;
    assert_eq!(listed["Instances"].as_array().unwrap().len(), 2);
    assert!(listed["NextToken"].is_string());
    let got = ok(
        &sd,
        "GetInstance",
        json!({"ServiceId": srv, "InstanceId": "i1"}),
    )
    .await;
    assert_eq!(got["Instance"]["Attributes"]["stage"], "prod");
    for (s, i) in [(&srv, "i1"), (&srv, "i2"), (&srv, "i3"), (&plain, "p")] {
        let out = ok(
            &sd,
            "DeregisterInstance",
            json!({"ServiceId": s, "InstanceId": i}),
        )
        .await;
        assert!(out["OperationId"].is_string());
    }
    assert_eq!(
        code(
            &sd,
            "DeregisterInstance",
            json!({"ServiceId": srv, "InstanceId": "i1"})
        )
        .await,
        "InstanceNotFound"
    );
    // The controller's call is idempotent instead.
    let again =
        flotilla_control::servicediscovery::deregister_instance(&state, "us-east-1", &srv, "i1")
            .await
            .unwrap();
    assert!(again.is_none());
    ok(&sd, "DeleteService", json!({"Id": srv})).await;
    ok(&sd, "DeleteService", json!({"Id": plain})).await;
    let del = ok(&sd, "DeleteNamespace", json!({"Id": ns})).await;
    assert!(del["OperationId"].is_string());
    assert_eq!(
        code(&sd, "GetNamespace", json!({"Id": ns})).await,
        "NamespaceNotFound"
    );
}

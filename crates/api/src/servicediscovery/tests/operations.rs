//! Operations' status against the DNS server's report, the zone the DNS feed builds for a
//! namespace, tags, and the calls the ECS service controller makes.

use super::*;

#[tokio::test]
async fn operations_succeed_once_the_dns_server_serves_them() {
    let (sd, state) = sd().await;
    let out = ok(
        &sd,
        "CreatePrivateDnsNamespace",
        json!({"Name": "local", "Vpc": vpc(&sd).await}),
    )
    .await;
    let op_id = out["OperationId"].as_str().unwrap().to_string();
    let status = |v: &Value| v["Operation"]["Status"].as_str().unwrap().to_string();
    let op = ok(&sd, "GetOperation", json!({"OperationId": op_id})).await;
    assert_eq!(status(&op), "PENDING");
    assert_eq!(op["Operation"]["Type"], "CREATE_NAMESPACE");
    let pending = ok(
        &sd,
        "ListOperations",
        json!({"Filters": [{"Name": "STATUS", "Values": ["PENDING"], "Condition": "IN"}]}),
    )
    .await;
    assert_eq!(pending["Operations"][0]["Id"], op_id);
    // The DNS server reports serving the build made now.
    let config = flotilla_control::dns::build(&state);
    state.dns().take_report(Arc::new(DnsReport {
        version: config.version,
        bind_error: None,
    }));
    let op = ok(&sd, "GetOperation", json!({"OperationId": op_id})).await;
    assert_eq!(status(&op), "SUCCESS");
    // HTTP namespaces have nothing to serve.
    let http = ok(&sd, "CreateHttpNamespace", json!({"Name": "api"})).await;
    let op = ok(
        &sd,
        "GetOperation",
        json!({"OperationId": http["OperationId"]}),
    )
    .await;
    assert_eq!(status(&op), "SUCCESS");
    let by_type = ok(
        &sd,
        "ListOperations",
        json!({"Filters": [{"Name": "TYPE", "Values": ["CREATE_NAMESPACE"]},
                           {"Name": "UPDATE_DATE", "Values": ["0", "99999999999"], "Condition": "BETWEEN"}]}),
    )
    .await;
    assert_eq!(by_type["Operations"].as_array().unwrap().len(), 2);
    let ns = namespace_of_op(&sd, &op_id).await;
    let by_ns = ok(
        &sd,
        "ListOperations",
        json!({"Filters": [{"Name": "NAMESPACE_ID", "Values": [ns]}]}),
    )
    .await;
    assert_eq!(by_ns["Operations"].as_array().unwrap().len(), 1);
    // Updates make operations too.
    let up = ok(
        &sd,
        "UpdatePrivateDnsNamespace",
        json!({"Id": ns, "Namespace": {"Description": "d",
               "Properties": {"DnsProperties": {"SOA": {"TTL": 60}}}}}),
    )
    .await;
    assert!(up["OperationId"].is_string());
    assert_eq!(
        code(
            &sd,
            "UpdateHttpNamespace",
            json!({"Id": ns, "Namespace": {"Description": "d"}})
        )
        .await,
        "InvalidInput"
    );
    assert_eq!(
        code(
            &sd,
            "UpdateHttpNamespace",
            json!({"Id": ns, "Namespace": {}})
        )
        .await,
        "InvalidInput"
    );
}

#[tokio::test]
async fn a_namespace_is_served_as_a_zone_with_its_instances() {
    let (sd, state) = sd().await;
    let ns = private_namespace(&sd, "Local").await;
    let srv = web_service(&sd, &ns).await;
    register(&sd, &srv, "i1", "10.0.0.1", json!({})).await;
    register(&sd, &srv, "i2", "10.0.0.2", json!({})).await;
    ok(
        &sd,
        "UpdateInstanceCustomHealthStatus",
        json!({"ServiceId": srv, "InstanceId": "i2", "Status": "UNHEALTHY"}),
    )
    .await;
    ok(&sd, "CreateHttpNamespace", json!({"Name": "api"})).await;
    let config = flotilla_control::dns::build(&state);
    let zone = config
        .zones
        .iter()
        .find(|z| z.origin == "local.")
        .expect("the namespace is a zone");
    assert!(zone.id.starts_with('Z'));
    assert_eq!(zone.soa.ttl, 15);
    assert!(!config.zones.iter().any(|z| z.origin == "api."));
    let a: Vec<_> = zone
        .records
        .iter()
        .filter(|r| r.name == "web.local." && r.rtype == RecordType::A)
        .collect();
    assert_eq!(a.len(), 2);
    assert!(a.iter().all(|r| r.ttl == 10));
    assert_eq!(a[0].values, ["10.0.0.1"]);
    assert!(a[0].healthy && !a[1].healthy);
    assert!(
        matches!(&a[0].routing, Routing::MultiValue { set_identifier } if set_identifier == "i1")
    );
    let srv_sets: Vec<_> = zone
        .records
        .iter()
        .filter(|r| r.rtype == RecordType::Srv)
        .collect();
    assert_eq!(srv_sets[0].values, ["1 1 8080 i1.web.local."]);
    assert!(zone
        .records
        .iter()
        .any(|r| r.name == "i1.web.local." && r.values == ["10.0.0.1"]));
    assert!(zone
        .records
        .iter()
        .any(|r| r.name == "local." && r.rtype == RecordType::Ns));
    // The version covers the Cloud Map views: every commit so far.
    let ops = flotilla_control::servicediscovery::operations(&state, "us-east-1");
    assert!(!ops.is_empty());
    assert!(config.version > 0);
}

#[tokio::test]
async fn tags_on_namespaces_and_services() {
    let (sd, _) = sd().await;
    let ns = private_namespace(&sd, "local").await;
    let arn = ok(&sd, "GetNamespace", json!({"Id": ns})).await["Namespace"]["Arn"].clone();
    ok(
        &sd,
        "TagResource",
        json!({"ResourceARN": arn, "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}),
    )
    .await;
    ok(
        &sd,
        "UntagResource",
        json!({"ResourceARN": arn, "TagKeys": ["a"]}),
    )
    .await;
    let tags = ok(&sd, "ListTagsForResource", json!({"ResourceARN": arn})).await;
    assert_eq!(tags["Tags"], json!([{"Key": "b", "Value": "2"}]));
    let many: Vec<Value> = (0..50)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let e = call(
        &sd,
        "TagResource",
        json!({"ResourceARN": arn, "Tags": many}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "TooManyTagsException");
    assert!(e.fields.iter().any(|(k, _)| k == "ResourceName"));
    assert_eq!(
        code(
            &sd,
            "ListTagsForResource",
            json!({"ResourceARN": "arn:aws:servicediscovery:us-east-1:000000000000:service/srv-x"})
        )
        .await,
        "ResourceNotFoundException"
    );
    let srv = web_service(&sd, &ns).await;
    let sarn = ok(&sd, "GetService", json!({"Id": srv})).await["Service"]["Arn"].clone();
    ok(
        &sd,
        "TagResource",
        json!({"ResourceARN": sarn, "Tags": [{"Key": "svc", "Value": "yes"}]}),
    )
    .await;
    let tags = ok(&sd, "ListTagsForResource", json!({"ResourceARN": sarn})).await;
    assert_eq!(tags["Tags"][0]["Key"], "svc");
    // Service attributes.
    ok(
        &sd,
        "UpdateServiceAttributes",
        json!({"ServiceId": srv, "Attributes": {"port": "80"}}),
    )
    .await;
    let attrs = ok(&sd, "GetServiceAttributes", json!({"ServiceId": srv})).await;
    assert_eq!(attrs["ServiceAttributes"]["Attributes"]["port"], "80");
    ok(
        &sd,
        "DeleteServiceAttributes",
        json!({"ServiceId": srv, "Attributes": ["port"]}),
    )
    .await;
    let many: serde_json::Map<String, Value> =
        (0..31).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_eq!(
        code(
            &sd,
            "UpdateServiceAttributes",
            json!({"ServiceId": srv, "Attributes": many})
        )
        .await,
        "ServiceAttributesLimitExceededException"
    );
}

#[tokio::test]
async fn the_control_plane_api_for_ecs() {
    let (sd, state) = sd().await;
    let ns = private_namespace(&sd, "local").await;
    let srv = web_service(&sd, &ns).await;
    let arn = ok(&sd, "GetService", json!({"Id": srv})).await["Service"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let service = flotilla_control::servicediscovery::service_by_arn(&state, &arn).unwrap();
    assert_eq!(service.max_ttl(), Some(10));
    let namespace = flotilla_control::servicediscovery::namespace_of(&state, &service).unwrap();
    assert_eq!(namespace.name, "local");
    let attrs = [
        ("AWS_INSTANCE_IPV4", "10.0.0.9"),
        ("AWS_INSTANCE_PORT", "80"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let op = flotilla_control::servicediscovery::register_instance(
        &state,
        "us-east-1",
        &srv,
        "task-1",
        attrs,
        None,
    )
    .await
    .unwrap();
    assert_eq!(op.targets["INSTANCE"], "task-1");
    let gone = flotilla_control::servicediscovery::deregister_instance(
        &state,
        "us-east-1",
        &srv,
        "task-1",
    )
    .await
    .unwrap();
    assert!(gone.is_some());
    assert!(flotilla_control::servicediscovery::service_by_arn(
        &state,
        "arn:aws:servicediscovery:us-east-1:000000000000:service/srv-nope"
    )
    .is_none());
}

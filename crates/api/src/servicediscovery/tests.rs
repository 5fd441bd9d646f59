//! In-process tests of the Cloud Map operations over the memory store: wire shapes, error
//! codes and their members, idempotency, ResourceInUse, DiscoverInstances' filters,
//! operations' status against the DNS server's report, the zone the DNS feed builds for
//! a namespace, and arbitrary input against every operation.

use std::sync::Arc;

use bytes::Bytes;
use flotilla_aws::{AwsError, AwsService, Input, Output};
use flotilla_model::dns::{DnsReport, RecordType, Routing};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{ServiceDiscovery, OPERATIONS};
use crate::testing::ctx;
use crate::State;

async fn sd() -> (ServiceDiscovery, State) {
    let state = crate::testing::state().await;
    (ServiceDiscovery::new(state.clone()), state)
}

async fn call(sd: &ServiceDiscovery, op: &str, body: Value) -> Result<Value, AwsError> {
    let input = Input::Json(Bytes::from(body.to_string()));
    match sd.call(&ctx(), op, input).await? {
        Output::Json(v) => Ok(v),
        other => panic!("unexpected output {other:?}"),
    }
}

async fn ok(sd: &ServiceDiscovery, op: &str, body: Value) -> Value {
    call(sd, op, body.clone())
        .await
        .unwrap_or_else(|e| panic!("{op} {body}: {e}"))
}

/// The error code of a call that must fail with a client error.
async fn code(sd: &ServiceDiscovery, op: &str, body: Value) -> String {
    let e = call(sd, op, body.clone())
        .await
        .expect_err(&format!("{op} {body} should fail"));
    assert!(!e.is_server_fault(), "{e}");
    e.code
}

/// The id of the namespace an operation created.
async fn namespace_of_op(sd: &ServiceDiscovery, op_id: &str) -> String {
    let op = ok(sd, "GetOperation", json!({"OperationId": op_id})).await;
    op["Operation"]["Targets"]["NAMESPACE"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn private_namespace(sd: &ServiceDiscovery, name: &str) -> String {
    let out = ok(
        sd,
        "CreatePrivateDnsNamespace",
        json!({"Name": name, "Vpc": "vpc-1", "CreatorRequestId": format!("req-{name}")}),
    )
    .await;
    namespace_of_op(sd, out["OperationId"].as_str().unwrap()).await
}

/// A service with A and SRV records (TTL 10), MULTIVALUE, with a custom health check.
async fn web_service(sd: &ServiceDiscovery, ns: &str) -> String {
    let out = ok(
        sd,
        "CreateService",
        json!({"Name": "web", "NamespaceId": ns,
               "DnsConfig": {"RoutingPolicy": "MULTIVALUE",
                             "DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}]},
               "HealthCheckCustomConfig": {}}),
    )
    .await;
    out["Service"]["Id"].as_str().unwrap().to_string()
}

async fn register(sd: &ServiceDiscovery, srv: &str, id: &str, ip: &str, extra: Value) -> Value {
    let mut attrs = json!({"AWS_INSTANCE_IPV4": ip, "AWS_INSTANCE_PORT": "8080"});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            attrs[k] = v;
        }
    }
    ok(
        sd,
        "RegisterInstance",
        json!({"ServiceId": srv, "InstanceId": id, "Attributes": attrs}),
    )
    .await
}

#[tokio::test]
async fn namespaces_are_created_read_listed_and_idempotent() {
    let (sd, _) = sd().await;
    let body = json!({"Name": "local", "Vpc": "vpc-1", "CreatorRequestId": "r1",
                      "Properties": {"DnsProperties": {"SOA": {"TTL": 30}}},
                      "Tags": [{"Key": "team", "Value": "web"}]});
    let first = ok(&sd, "CreatePrivateDnsNamespace", body.clone()).await;
    let again = ok(&sd, "CreatePrivateDnsNamespace", body).await;
    assert_eq!(first["OperationId"], again["OperationId"]);
    let id = namespace_of_op(&sd, first["OperationId"].as_str().unwrap()).await;
    assert!(id.starts_with("ns-") && id.len() == 19, "{id}");
    let ns = &ok(&sd, "GetNamespace", json!({"Id": id})).await["Namespace"];
    assert_eq!(ns["Type"], "DNS_PRIVATE");
    assert_eq!(ns["Name"], "local");
    assert_eq!(ns["ServiceCount"], 0);
    assert_eq!(ns["Properties"]["DnsProperties"]["SOA"]["TTL"], 30);
    assert_eq!(ns["Properties"]["HttpProperties"]["HttpName"], "local");
    assert!(ns["Properties"]["DnsProperties"]["HostedZoneId"]
        .as_str()
        .unwrap()
        .starts_with('Z'));
    assert_eq!(
        ns["Arn"],
        format!("arn:aws:servicediscovery:us-east-1:000000000000:namespace/{id}")
    );
    // By ARN too.
    let by_arn = ok(&sd, "GetNamespace", json!({"Id": ns["Arn"]})).await;
    assert_eq!(by_arn["Namespace"]["Id"], id);
    // Same name, another request: NamespaceAlreadyExists naming the namespace.
    let e = call(
        &sd,
        "CreatePrivateDnsNamespace",
        json!({"Name": "LOCAL", "Vpc": "vpc-2"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "NamespaceAlreadyExists");
    assert!(e.fields.contains(&("NamespaceId".into(), id.clone())));
    assert!(e.fields.contains(&("CreatorRequestId".into(), "r1".into())));
    // Same CreatorRequestId for another request: DuplicateRequest.
    assert_eq!(
        code(
            &sd,
            "CreateHttpNamespace",
            json!({"Name": "other", "CreatorRequestId": "r1"})
        )
        .await,
        "DuplicateRequest"
    );
    ok(&sd, "CreateHttpNamespace", json!({"Name": "api"})).await;
    ok(
        &sd,
        "CreatePublicDnsNamespace",
        json!({"Name": "example.com"}),
    )
    .await;
    let all = ok(&sd, "ListNamespaces", json!({})).await;
    assert_eq!(all["Namespaces"].as_array().unwrap().len(), 3);
    let http = ok(
        &sd,
        "ListNamespaces",
        json!({"Filters": [{"Name": "TYPE", "Values": ["HTTP"], "Condition": "EQ"}]}),
    )
    .await;
    assert_eq!(http["Namespaces"][0]["Name"], "api");
    assert!(http["Namespaces"][0]["Properties"]["DnsProperties"].is_null());
    let named = ok(
        &sd,
        "ListNamespaces",
        json!({"Filters": [{"Name": "NAME", "Values": ["ex"], "Condition": "BEGINS_WITH"}]}),
    )
    .await;
    assert_eq!(named["Namespaces"][0]["Name"], "example.com");
    // Pagination walks all three once.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"MaxResults": 2});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let page = ok(&sd, "ListNamespaces", body).await;
        for n in page["Namespaces"].as_array().unwrap() {
            seen.push(n["Id"].as_str().unwrap().to_string());
        }
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    seen.dedup();
    assert_eq!(seen.len(), 3);
    // Default SOA TTL.
    let pubns = &named["Namespaces"][0];
    assert_eq!(pubns["Properties"]["DnsProperties"]["SOA"]["TTL"], 15);
}

#[tokio::test]
async fn bad_input_is_invalid_input_with_a_reason() {
    let (sd, _) = sd().await;
    let cases = [
        ("CreatePrivateDnsNamespace", json!({"Name": "x"})),
        ("CreatePrivateDnsNamespace", json!({"Vpc": "vpc-1"})),
        (
            "CreatePrivateDnsNamespace",
            json!({"Name": "a..b", "Vpc": "vpc-1"}),
        ),
        (
            "CreatePrivateDnsNamespace",
            json!({"Name": "x", "Vpc": "v".repeat(65)}),
        ),
        ("CreatePublicDnsNamespace", json!({"Name": "nodots"})),
        ("CreateHttpNamespace", json!({"Name": "n".repeat(1025)})),
        (
            "CreateHttpNamespace",
            json!({"Name": "ok", "Description": "d".repeat(1025)}),
        ),
        (
            "CreateHttpNamespace",
            json!({"Name": "ok", "CreatorRequestId": "c".repeat(65)}),
        ),
        (
            "CreateHttpNamespace",
            json!({"Name": "ok", "Tags": [{"Key": "", "Value": "v"}]}),
        ),
        (
            "CreateHttpNamespace",
            json!({"Name": "ok", "Tags": [{"Key": "k"}]}),
        ),
        (
            "CreatePrivateDnsNamespace",
            json!({"Name": "x", "Vpc": "v", "Properties": {"DnsProperties": {"SOA": {"TTL": -1}}}}),
        ),
        ("ListNamespaces", json!({"MaxResults": 0})),
        ("ListNamespaces", json!({"MaxResults": 101})),
        ("ListNamespaces", json!({"NextToken": "%%%"})),
        (
            "ListNamespaces",
            json!({"Filters": [{"Name": "TYPE", "Values": ["NOPE"]}]}),
        ),
        (
            "ListNamespaces",
            json!({"Filters": [{"Name": "TYPE", "Values": ["HTTP"], "Condition": "BETWEEN"}]}),
        ),
        ("GetNamespace", json!({})),
        ("GetNamespace", json!({"Id": "n".repeat(256)})),
        ("GetOperation", json!({"OperationId": "o".repeat(256)})),
        ("DiscoverInstances", json!({"NamespaceName": "x"})),
        (
            "ListOperations",
            json!({"Filters": [{"Name": "STATUS", "Values": ["DONE"]}]}),
        ),
        (
            "ListOperations",
            json!({"Filters": [{"Name": "UPDATE_DATE", "Values": ["1"], "Condition": "BETWEEN"}]}),
        ),
    ];
    for (op, body) in cases {
        let e = call(&sd, op, body.clone()).await.unwrap_err();
        assert_eq!(e.code, "InvalidInput", "{op} {body}: {e}");
        assert!(!e.message.is_empty());
    }
    assert_eq!(
        code(&sd, "GetNamespace", json!({"Id": "ns-aaaaaaaaaaaaaaaa"})).await,
        "NamespaceNotFound"
    );
    assert_eq!(
        code(&sd, "GetService", json!({"Id": "srv-aaaaaaaaaaaaaaaa"})).await,
        "ServiceNotFound"
    );
    assert_eq!(
        code(&sd, "GetOperation", json!({"OperationId": "nope"})).await,
        "OperationNotFound"
    );
    // A member of the wrong type is a serialization error, not a panic.
    assert_eq!(
        code(&sd, "CreateHttpNamespace", json!({"Name": 5})).await,
        "SerializationException"
    );
}

#[tokio::test]
async fn services_check_their_dns_config() {
    let (sd, _) = sd().await;
    let ns = private_namespace(&sd, "local").await;
    let http = ok(&sd, "CreateHttpNamespace", json!({"Name": "api"})).await;
    let http = namespace_of_op(&sd, http["OperationId"].as_str().unwrap()).await;
    let bad = |dns: Value| json!({"Name": "s", "NamespaceId": ns, "DnsConfig": dns});
    for dns in [
        json!({"DnsRecords": []}),
        json!({"DnsRecords": [{"Type": "CNAME", "TTL": 1}]}),
        json!({"RoutingPolicy": "WEIGHTED", "DnsRecords": [{"Type": "CNAME", "TTL": 1}, {"Type": "A", "TTL": 1}]}),
        json!({"DnsRecords": [{"Type": "TXT", "TTL": 1}]}),
        json!({"DnsRecords": [{"Type": "A", "TTL": 2147483648i64}]}),
        json!({"DnsRecords": [{"Type": "A"}]}),
        json!({"DnsRecords": [{"Type": "A", "TTL": 1}, {"Type": "A", "TTL": 2}]}),
        json!({"RoutingPolicy": "ROUND_ROBIN", "DnsRecords": [{"Type": "A", "TTL": 1}]}),
        json!({"RoutingPolicy": "MULTIVALUE"}),
    ] {
        assert_eq!(
            code(&sd, "CreateService", bad(dns.clone())).await,
            "InvalidInput",
            "{dns}"
        );
    }
    let a = json!({"DnsRecords": [{"Type": "A", "TTL": 60}]});
    for body in [
        json!({"Name": "-bad", "NamespaceId": ns, "DnsConfig": a}),
        json!({"Name": "s", "NamespaceId": http, "DnsConfig": a}),
        json!({"Name": "s", "NamespaceId": ns, "DnsConfig": a, "Type": "HTTP"}),
        json!({"Name": "s", "NamespaceId": ns, "DnsConfig": a,
               "HealthCheckConfig": {"Type": "HTTP"}, "HealthCheckCustomConfig": {}}),
        json!({"Name": "s", "NamespaceId": ns, "DnsConfig": a, "HealthCheckConfig": {"Type": "TCP"}}),
        json!({"Name": "s", "NamespaceId": ns, "HealthCheckCustomConfig": {"FailureThreshold": 11}}),
        json!({"Name": "s", "DnsConfig": a}),
        json!({"Name": "s", "NamespaceId": ns, "DnsConfig": {"NamespaceId": "ns-other", "DnsRecords": [{"Type": "A", "TTL": 1}]}}),
    ] {
        assert_eq!(
            code(&sd, "CreateService", body.clone()).await,
            "InvalidInput",
            "{body}"
        );
    }
    assert_eq!(
        code(
            &sd,
            "CreateService",
            json!({"Name": "s", "NamespaceId": "ns-nope"})
        )
        .await,
        "NamespaceNotFound"
    );
    // The deprecated DnsConfig.NamespaceId still names the namespace.
    let out = ok(
        &sd,
        "CreateService",
        json!({"Name": "db", "CreatorRequestId": "c1",
               "DnsConfig": {"NamespaceId": ns, "DnsRecords": [{"Type": "A", "TTL": 60}]}}),
    )
    .await;
    let s = &out["Service"];
    assert_eq!(s["NamespaceId"], ns);
    assert_eq!(s["Type"], "DNS_HTTP");
    assert_eq!(s["DnsConfig"]["RoutingPolicy"], "MULTIVALUE");
    assert_eq!(s["InstanceCount"], 0);
    // Idempotent retry, then a conflict.
    let again = ok(
        &sd,
        "CreateService",
        json!({"Name": "db", "NamespaceId": ns, "CreatorRequestId": "c1",
               "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 60}]}}),
    )
    .await;
    assert_eq!(again["Service"]["Id"], s["Id"]);
    let e = call(
        &sd,
        "CreateService",
        json!({"Name": "DB", "NamespaceId": ns, "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 60}]}}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "ServiceAlreadyExists");
    assert!(e
        .fields
        .contains(&("ServiceId".into(), s["Id"].as_str().unwrap().into())));
    // HTTP-only services, in any namespace.
    let h = ok(
        &sd,
        "CreateService",
        json!({"Name": "api", "NamespaceId": http}),
    )
    .await;
    assert_eq!(h["Service"]["Type"], "HTTP");
    let listed = ok(
        &sd,
        "ListServices",
        json!({"Filters": [{"Name": "NAMESPACE_ID", "Values": [ns], "Condition": "EQ"}]}),
    )
    .await;
    assert_eq!(listed["Services"].as_array().unwrap().len(), 1);
    assert_eq!(
        ok(&sd, "GetNamespace", json!({"Id": ns})).await["Namespace"]["ServiceCount"],
        1
    );
    // UpdateService: TTLs change, types do not.
    let id = s["Id"].as_str().unwrap();
    let up = ok(
        &sd,
        "UpdateService",
        json!({"Id": id, "Service": {"Description": "db", "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 5}]}}}),
    )
    .await;
    assert!(up["OperationId"].is_string());
    let got = ok(&sd, "GetService", json!({"Id": id})).await;
    assert_eq!(got["Service"]["DnsConfig"]["DnsRecords"][0]["TTL"], 5);
    assert_eq!(got["Service"]["Description"], "db");
    assert_eq!(
        code(
            &sd,
            "UpdateService",
            json!({"Id": id, "Service": {"DnsConfig": {"DnsRecords": [{"Type": "AAAA", "TTL": 5}]}}})
        )
        .await,
        "InvalidInput"
    );
}

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

#[tokio::test]
async fn operations_succeed_once_the_dns_server_serves_them() {
    let (sd, state) = sd().await;
    let out = ok(
        &sd,
        "CreatePrivateDnsNamespace",
        json!({"Name": "local", "Vpc": "vpc-1"}),
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

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~]{0,40}".prop_map(Value::from),
        Just(json!("ns-aaaaaaaaaaaaaaaa")),
        Just(json!("A")),
        Just(json!("SRV")),
        Just(json!(
            "arn:aws:servicediscovery:us-east-1:000000000000:namespace/ns-x"
        )),
    ];
    let member = prop::sample::select(vec![
        "Name",
        "Id",
        "NamespaceId",
        "ServiceId",
        "InstanceId",
        "Vpc",
        "Attributes",
        "DnsConfig",
        "DnsRecords",
        "Type",
        "TTL",
        "RoutingPolicy",
        "Filters",
        "Values",
        "Condition",
        "MaxResults",
        "NextToken",
        "Tags",
        "Key",
        "Value",
        "Properties",
        "DnsProperties",
        "SOA",
        "Namespace",
        "Service",
        "HealthCheckConfig",
        "HealthCheckCustomConfig",
        "FailureThreshold",
        "Status",
        "Instances",
        "OperationId",
        "NamespaceName",
        "ServiceName",
        "QueryParameters",
        "HealthStatus",
        "ResourceARN",
        "TagKeys",
        "CreatorRequestId",
    ]);
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(member.clone(), inner, 0..5).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// No input makes an operation fail with a server error (or panic).
    #[test]
    fn arbitrary_input_never_causes_a_server_error(
        op in prop::sample::select(OPERATIONS.to_vec()),
        body in arbitrary_json(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (sd, _) = sd().await;
            if let Err(e) = call(&sd, op, body.clone()).await {
                prop_assert!(!e.is_server_fault(), "{op} {body}: {e}");
            }
            Ok(())
        })?;
    }
}

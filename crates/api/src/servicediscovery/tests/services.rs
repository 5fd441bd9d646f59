//! Services: their DNS configurations and health checks.

use super::*;

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

//! Namespaces: creation, reads, lists, idempotency, and bad input of every operation.

use super::*;

#[tokio::test]
async fn namespaces_are_created_read_listed_and_idempotent() {
    let (sd, _) = sd().await;
    let body = json!({"Name": "local", "Vpc": vpc(&sd).await, "CreatorRequestId": "r1",
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
        json!({"Name": "LOCAL", "Vpc": vpc(&sd).await}),
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

//! Arbitrary input against every operation: an answer or a client error, never a panic.

use super::*;

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
    crate::testing::nested_json(leaf, member, 5)
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

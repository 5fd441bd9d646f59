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

/// The region's default VPC, which private namespaces are put in.
async fn vpc(sd: &ServiceDiscovery) -> String {
    let scope = flotilla_model::Scope::new("us-east-1", "000000000000");
    flotilla_control::ec2::resolve_network(&sd.state, &scope, &[], &[])
        .await
        .unwrap()
        .vpc_id
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
        json!({"Name": name, "Vpc": vpc(sd).await, "CreatorRequestId": format!("req-{name}")}),
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

mod arbitrary;
mod instances;
mod namespaces;
mod operations;
mod services;

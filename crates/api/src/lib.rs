//! The AWS services Flotilla answers, one module per service, each translating its wire
//! shapes into calls of the control plane (`flotilla-control`) and the control plane's
//! answers and errors back into its wire shapes and codes.
//!
//! It holds no state and runs no loops: reads come from the control plane's views, writes
//! go through its operations. The wire protocols, SigV4 and error encoding are
//! `flotilla-aws`'s; validation is `flotilla-model`'s.
#![forbid(unsafe_code)]

pub mod acm;
mod agent;
mod authz;
mod autoscaling;
mod cloudwatch;
mod ec2;
mod ecr;
mod ecs;
mod elbv2;
mod iam;
mod logs;
mod pagination;
mod query;
mod route53;
mod secretsmanager;
mod servicediscovery;
mod ssm;
mod sts;

use std::sync::Arc;

use flotilla_aws::{AwsService, Context, KeySource};
use flotilla_model::Scope;
use serde_json::Value;

pub(crate) use flotilla_control::{keys, State};

pub use ecr::catalog::ControlCatalog;
pub use ecr::Ecr;
pub use ecs::Ecs;
pub use elbv2::Elbv2;
pub use sts::Sts;

/// The storage of the telemetry data planes: log events (CloudWatch Logs, the agents'
/// awslogs lines) and metric data (CloudWatch, the agents' container stats).
#[derive(Clone)]
pub struct Telemetry {
    pub logs: flotilla_telemetry::logs::LogStore,
    pub metrics: flotilla_telemetry::metrics::MetricStore,
}

/// Every AWS service of this crate (and the agent protocol), ready to register with the
/// gateway. `ca_fingerprint` (the SHA-256 of the server's TLS CA, if it serves TLS) goes
/// into join tokens; `telemetry` is where log events and metric data are kept.
pub fn aws_services(
    state: State,
    ca_fingerprint: Option<String>,
    telemetry: Telemetry,
) -> Vec<Arc<dyn AwsService>> {
    vec![
        Arc::new(logs::Logs::new(state.clone(), telemetry.logs.clone())),
        Arc::new(Ecs::new(state.clone())),
        Arc::new(Ecr::new(state.clone())),
        Arc::new(Elbv2::new(state.clone())),
        Arc::new(ec2::Ec2::new(state.clone())),
        Arc::new(acm::Acm::new(state.clone())),
        Arc::new(route53::Route53::new(state.clone())),
        Arc::new(cloudwatch::CloudWatch::new(
            state.clone(),
            telemetry.metrics.clone(),
        )),
        Arc::new(servicediscovery::ServiceDiscovery::new(state.clone())),
        Arc::new(autoscaling::AutoScaling::new(state.clone())),
        Arc::new(iam::Iam::new(state.clone())),
        Arc::new(secretsmanager::SecretsManager::new(state.clone())),
        Arc::new(ssm::Ssm::new(state.clone())),
        Arc::new(agent::Agent::new(state.clone(), ca_fingerprint, telemetry)),
        Arc::new(Sts::new(state)),
    ]
}

/// The keys besides the root keys that the gateway accepts: agents' own keys, join tokens
/// IAM users' active access keys and STS sessions' temporary keys.
pub fn key_source(state: State) -> Arc<dyn KeySource> {
    Arc::new(Keys {
        agents: agent::AgentKeys::new(state.clone()),
        users: iam::IamKeys::new(state),
    })
}

/// What decides IAM identities' requests: the policies they act with.
pub fn authorizer(state: State) -> Arc<dyn flotilla_aws::Authorizer> {
    Arc::new(authz::Policies::new(state))
}

struct Keys {
    agents: agent::AgentKeys,
    users: iam::IamKeys,
}

impl KeySource for Keys {
    fn key(&self, access_key_id: &str) -> Option<flotilla_aws::Key> {
        self.agents
            .key(access_key_id)
            .or_else(|| self.users.key(access_key_id))
    }
}

/// The ECS operations this build implements (for the compatibility table).
pub fn ecs_operations() -> &'static [&'static str] {
    ecs::OPERATIONS
}

/// The ECR operations this build implements (for the compatibility table).
pub fn ecr_operations() -> &'static [&'static str] {
    ecr::OPERATIONS
}

/// The IAM operations this build implements (for the compatibility table).
pub fn iam_operations() -> &'static [&'static str] {
    iam::OPERATIONS
}

/// The ACM operations this build implements (for the compatibility table).
pub fn acm_operations() -> &'static [&'static str] {
    acm::OPERATIONS
}

/// The EC2 operations this build implements (for the compatibility table).
pub fn ec2_operations() -> &'static [&'static str] {
    ec2::OPERATIONS
}

/// The ELBv2 operations this build implements (for the compatibility table).
pub fn elbv2_operations() -> &'static [&'static str] {
    elbv2::OPERATIONS
}

/// The Route 53 operations this build implements (for the compatibility table).
pub fn route53_operations() -> &'static [&'static str] {
    route53::OPERATIONS
}

/// The CloudWatch operations this build implements (for the compatibility table).
pub fn cloudwatch_operations() -> &'static [&'static str] {
    cloudwatch::OPERATIONS
}

/// The Cloud Map operations this build implements (for the compatibility table).
pub fn logs_operations() -> &'static [&'static str] {
    logs::OPERATIONS
}

pub fn servicediscovery_operations() -> &'static [&'static str] {
    servicediscovery::OPERATIONS
}

/// The Secrets Manager operations this build implements (for the compatibility table).
pub fn secretsmanager_operations() -> &'static [&'static str] {
    secretsmanager::OPERATIONS
}

/// The SSM (Parameter Store) operations this build implements (for the compatibility
/// table).
pub fn ssm_operations() -> &'static [&'static str] {
    ssm::OPERATIONS
}

/// The Application Auto Scaling operations this build implements (for the compatibility
/// table).
pub fn autoscaling_operations() -> &'static [&'static str] {
    autoscaling::OPERATIONS
}

/// The region and account a request acts in.
pub(crate) fn scope(state: &State, ctx: &Context) -> Scope {
    Scope::new(ctx.region.clone(), state.account().to_string())
}

/// A control-plane failure as a JSON service answers it: `ThrottlingException` (which SDKs
/// retry) for a write that kept losing to others, `server_code` (500) when the store
/// failed, `client_code` (400) otherwise.
pub(crate) fn control_error(
    e: flotilla_control::ControlError,
    server_code: &str,
    client_code: &str,
) -> flotilla_aws::AwsError {
    use flotilla_aws::AwsError;
    if matches!(e, flotilla_control::ControlError::Contended(_)) {
        return AwsError::new(
            http::StatusCode::BAD_REQUEST,
            "ThrottlingException",
            e.to_string(),
        );
    }
    match e.kind() {
        flotilla_model::ErrorKind::Server => AwsError::server(server_code, e.to_string()),
        _ => AwsError::new(http::StatusCode::BAD_REQUEST, client_code, e.to_string()),
    }
}

/// AWS omits absent members rather than sending `null`; so do we.
pub(crate) fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// What the in-process tests of every service share: a caller's context and a state over
/// the memory store.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use flotilla_aws::Context;
    use flotilla_store::MemoryStore;

    use crate::State;

    /// The account root calling in us-east-1.
    pub(crate) fn ctx() -> Context {
        Context {
            region: "us-east-1".into(),
            account: "000000000000".into(),
            access_key: "AKIATEST".into(),
            principal: flotilla_aws::Principal::Root,
            principal_arn: "arn:aws:iam::000000000000:root".into(),
            request_id: "test".into(),
        }
    }

    /// JSON built from `leaf` values: arrays and objects whose keys come from `member`
    /// (at most `width` of them), nested up to three deep; what the services' property
    /// tests throw at their operations.
    pub(crate) fn nested_json(
        leaf: impl proptest::strategy::Strategy<Value = serde_json::Value> + 'static,
        member: impl proptest::strategy::Strategy<Value = &'static str> + Clone + 'static,
        width: usize,
    ) -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        leaf.prop_recursive(3, 24, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(member.clone(), inner, 0..width).prop_map(|m| {
                    Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }

    /// A fresh control plane over the memory store.
    pub(crate) async fn state() -> State {
        let store = Arc::new(MemoryStore::new());
        State::new(store, flotilla_control::ControlConfig::new("000000000000"))
            .await
            .expect("a state over the memory store starts")
    }
}

//! AWS Cloud Map (JSON 1.1, target prefix `Route53AutoNaming_v20170314`, signing name
//! `servicediscovery`): namespaces, services, instances, operations and tags.
//!
//! [`namespaces`], [`services`], [`instances`] and [`operations`] (GetOperation,
//! ListOperations and the tagging operations) translate wire shapes into
//! `flotilla_control::servicediscovery` calls and back; [`wire`] holds the shapes they
//! share; [`error`] maps `ServiceDiscoveryError` to Cloud Map's codes. DiscoverInstances
//! and DiscoverInstancesRevision are sent by SDKs to a `data-` host prefix; the gateway
//! routes on the signature's scope and `X-Amz-Target`, so they arrive here like any other
//! operation when clients turn the prefix off (see docs/service-discovery.md).

mod error;
mod instances;
mod namespaces;
mod operations;
mod services;
#[cfg(test)]
mod tests;
mod wire;

use async_trait::async_trait;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use serde_json::Value;

use crate::State;
use error::SdWireError;

/// Every Cloud Map operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "CreateHttpNamespace",
    "CreatePrivateDnsNamespace",
    "CreatePublicDnsNamespace",
    "CreateService",
    "DeleteNamespace",
    "DeleteService",
    "DeleteServiceAttributes",
    "DeregisterInstance",
    "DiscoverInstances",
    "DiscoverInstancesRevision",
    "GetInstance",
    "GetInstancesHealthStatus",
    "GetNamespace",
    "GetOperation",
    "GetService",
    "GetServiceAttributes",
    "ListInstances",
    "ListNamespaces",
    "ListOperations",
    "ListServices",
    "ListTagsForResource",
    "RegisterInstance",
    "TagResource",
    "UntagResource",
    "UpdateHttpNamespace",
    "UpdateInstanceCustomHealthStatus",
    "UpdatePrivateDnsNamespace",
    "UpdatePublicDnsNamespace",
    "UpdateService",
    "UpdateServiceAttributes",
];

pub struct ServiceDiscovery {
    spec: AwsServiceSpec,
    state: State,
}

impl ServiceDiscovery {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "servicediscovery",
            protocol: Protocol::Json11,
            target_prefix: "Route53AutoNaming_v20170314",
            xmlns: "",
        };
        ServiceDiscovery { spec, state }
    }
}

#[async_trait]
impl AwsService for ServiceDiscovery {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let out = dispatch(&self.state, ctx, operation, input).await?;
        Ok(Output::Json(crate::without_nulls(out)))
    }
}

/// Run one Cloud Map operation.
async fn dispatch(
    s: &State,
    ctx: &Context,
    operation: &str,
    input: Input,
) -> Result<Value, SdWireError> {
    use flotilla_model::servicediscovery::NamespaceType::*;
    use instances as i;
    use namespaces as n;
    use operations as o;
    use services as v;
    Ok(match operation {
        "CreateHttpNamespace" => n::create(s, ctx, Http, input.json()?).await?,
        "CreatePrivateDnsNamespace" => n::create(s, ctx, DnsPrivate, input.json()?).await?,
        "CreatePublicDnsNamespace" => n::create(s, ctx, DnsPublic, input.json()?).await?,
        "GetNamespace" => n::get(s, ctx, input.json()?)?,
        "ListNamespaces" => n::list(s, ctx, input.json()?)?,
        "UpdateHttpNamespace" => n::update(s, ctx, Http, input.json()?).await?,
        "UpdatePrivateDnsNamespace" => n::update(s, ctx, DnsPrivate, input.json()?).await?,
        "UpdatePublicDnsNamespace" => n::update(s, ctx, DnsPublic, input.json()?).await?,
        "DeleteNamespace" => n::delete(s, ctx, input.json()?).await?,
        "CreateService" => v::create(s, ctx, input.json()?).await?,
        "GetService" => v::get(s, ctx, input.json()?)?,
        "ListServices" => v::list(s, ctx, input.json()?)?,
        "UpdateService" => v::update(s, ctx, input.json()?).await?,
        "DeleteService" => v::delete(s, ctx, input.json()?).await?,
        "GetServiceAttributes" => v::get_attributes(s, ctx, input.json()?)?,
        "UpdateServiceAttributes" => v::update_attributes(s, ctx, input.json()?).await?,
        "DeleteServiceAttributes" => v::delete_attributes(s, ctx, input.json()?).await?,
        "RegisterInstance" => i::register(s, ctx, input.json()?).await?,
        "DeregisterInstance" => i::deregister(s, ctx, input.json()?).await?,
        "GetInstance" => i::get(s, ctx, input.json()?)?,
        "ListInstances" => i::list(s, ctx, input.json()?)?,
        "GetInstancesHealthStatus" => i::health(s, ctx, input.json()?)?,
        "UpdateInstanceCustomHealthStatus" => i::set_health(s, ctx, input.json()?).await?,
        "DiscoverInstances" => i::discover(s, ctx, input.json()?)?,
        "DiscoverInstancesRevision" => i::discover_revision(s, ctx, input.json()?)?,
        "GetOperation" => o::get(s, ctx, input.json()?)?,
        "ListOperations" => o::list(s, ctx, input.json()?)?,
        "TagResource" => o::tag(s, ctx, input.json()?).await?,
        "UntagResource" => o::untag(s, ctx, input.json()?).await?,
        "ListTagsForResource" => o::list_tags(s, ctx, input.json()?)?,
        other => return Err(AwsError::unknown_operation(other).into()),
    })
}

//! The agent protocol service (`FlotillaAgent_v1`, see `flotilla_model::agent_protocol`):
//! the long-poll that hands agents their desired tasks and doubles as their heartbeat, and
//! the batched status reports they send back.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};
use flotilla_control::agents;
use flotilla_model::agent_protocol::{
    self, PollRequest, PollResponse, SubmitRequest, SubmitResponse,
};
use flotilla_model::container_instance::ContainerInstanceRecord;
use flotilla_model::Scope;

use crate::ecs::error::{client, EcsError};
use crate::ecs::{clusters::cluster_name, container_instances};
use crate::State;

/// The longest a poll is held.
const MAX_WAIT: Duration = Duration::from_secs(20);

pub struct Agent {
    spec: AwsServiceSpec,
    state: State,
}

impl Agent {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: agent_protocol::SIGNING_NAME,
            protocol: Protocol::Json11,
            target_prefix: agent_protocol::TARGET_PREFIX,
            xmlns: "",
        };
        Agent { spec, state }
    }
}

#[async_trait]
impl AwsService for Agent {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let out = match operation {
            agent_protocol::POLL => serde_json::to_value(
                poll(&self.state, ctx, input.json()?)
                    .await
                    .map_err(AwsError::from)?,
            ),
            agent_protocol::SUBMIT => serde_json::to_value(
                submit(&self.state, ctx, input.json()?)
                    .await
                    .map_err(AwsError::from)?,
            ),
            other => return Err(AwsError::unknown_operation(other)),
        };
        out.map(Output::Json)
            .map_err(|e| AwsError::server("ServerException", e.to_string()))
    }
}

async fn poll(state: &State, ctx: &Context, req: PollRequest) -> Result<PollResponse, EcsError> {
    let scope = crate::scope(state, ctx);
    let (cluster, instance) = registered(state, &scope, &req.cluster, &req.container_instance_arn)?;
    let wait = Duration::from_millis(req.wait_millis).min(MAX_WAIT);
    Ok(agents::poll(state, &scope, &cluster, &instance, req.since, wait).await?)
}

async fn submit(
    state: &State,
    ctx: &Context,
    req: SubmitRequest,
) -> Result<SubmitResponse, EcsError> {
    let scope = crate::scope(state, ctx);
    let (_, instance) = registered(state, &scope, &req.cluster, &req.container_instance_arn)?;
    let results = agents::submit(
        state,
        &scope,
        &instance.container_instance_arn,
        &req.reports,
    )
    .await;
    Ok(SubmitResponse { results })
}

/// The cluster name and the registered instance an agent's message comes from.
fn registered(
    state: &State,
    scope: &Scope,
    cluster: &str,
    instance: &str,
) -> Result<(String, Arc<ContainerInstanceRecord>), EcsError> {
    let cluster = cluster_name(Some(cluster), scope)?;
    let (_, entry) = container_instances::find(state, scope, &cluster, instance)
        .map_err(|_| client("This container instance is not registered; register it again."))?;
    Ok((cluster, entry.value))
}

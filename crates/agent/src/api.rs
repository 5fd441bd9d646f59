//! The agent's view of the server: the three calls it makes (ECS
//! `RegisterContainerInstance`, `FlotillaAgent_v1.Poll`, `FlotillaAgent_v1.SubmitTaskReports`)
//! behind the [`AgentApi`] trait, so the loops can be tested against a fake server, and the
//! instance identity the calls carry, which changes when the agent re-registers.

use std::sync::RwLock;
use std::time::Duration;

use async_trait::async_trait;
use flotilla_aws::client::{CallError, ClientConfig, JsonClient};
use flotilla_model::agent_protocol::{
    self, PollRequest, PollResponse, SubmitRequest, SubmitResponse,
};
use serde_json::Value;

use crate::config::AgentConfig;

/// The calls the agent makes. `register` answers the instance ARN.
#[async_trait]
pub trait AgentApi: Send + Sync + 'static {
    async fn register(&self, request: &Value) -> Result<String, CallError>;
    async fn poll(&self, request: &PollRequest) -> Result<PollResponse, CallError>;
    async fn submit(&self, request: &SubmitRequest) -> Result<SubmitResponse, CallError>;
}

/// The real server: one SigV4 client for ECS and one for the agent protocol.
pub struct HttpApi {
    ecs: JsonClient,
    agent: JsonClient,
}

impl HttpApi {
    pub fn new(config: &AgentConfig) -> Self {
        let client_config = |timeout: Duration| ClientConfig {
            endpoint: config.endpoint.clone(),
            region: config.region.clone(),
            access_key_id: config.access_key_id.clone(),
            secret_access_key: config.secret_access_key.clone(),
            timeout,
        };
        HttpApi {
            ecs: JsonClient::new(
                client_config(config.call_timeout),
                "ecs",
                "AmazonEC2ContainerServiceV20141113",
            ),
            // The long poll is held up to poll_wait; leave room for the answer.
            agent: JsonClient::new(
                client_config(config.poll_wait + config.call_timeout),
                agent_protocol::SIGNING_NAME,
                agent_protocol::TARGET_PREFIX,
            ),
        }
    }
}

#[async_trait]
impl AgentApi for HttpApi {
    async fn register(&self, request: &Value) -> Result<String, CallError> {
        let answer: Value = self.ecs.call("RegisterContainerInstance", request).await?;
        answer["containerInstance"]["containerInstanceArn"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                CallError::Service(flotilla_aws::AwsError::serialization(
                "RegisterContainerInstance answered without containerInstance.containerInstanceArn",
            ))
            })
    }

    async fn poll(&self, request: &PollRequest) -> Result<PollResponse, CallError> {
        self.agent.call(agent_protocol::POLL, request).await
    }

    async fn submit(&self, request: &SubmitRequest) -> Result<SubmitResponse, CallError> {
        self.agent.call(agent_protocol::SUBMIT, request).await
    }
}

/// Which cluster and instance the agent speaks as.
#[derive(Debug)]
pub struct Identity {
    cluster: String,
    instance_arn: RwLock<String>,
}

impl Identity {
    pub fn new(cluster: impl Into<String>, instance_arn: impl Into<String>) -> Self {
        Identity {
            cluster: cluster.into(),
            instance_arn: RwLock::new(instance_arn.into()),
        }
    }

    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    pub fn instance_arn(&self) -> String {
        self.instance_arn
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_instance_arn(&self, arn: String) {
        *self.instance_arn.write().unwrap_or_else(|e| e.into_inner()) = arn;
    }
}

//! The agent's view of the server: the calls it makes (ECS `RegisterContainerInstance`,
//! and `FlotillaAgent_v1`'s `Poll`, `SubmitTaskReports`, `PrepareLogStreams`, `PutLogs`,
//! `SubmitStats`, `GetTaskCredentials`, `GetTaskSecrets`, `PollExec`, and exec sessions'
//! streams) behind the [`AgentApi`] trait, so the loops can be tested against a fake server, and the
//! instance identity the calls carry, which changes when the agent re-registers.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use flotilla_aws::client::{duplex, CallError, ClientConfig, Connections, Duplex, JsonClient};
use flotilla_model::agent_identity::JoinToken;
use flotilla_model::agent_protocol::{
    self, Joined, PollRequest, PollResponse, PrepareLogStreamsRequest, PrepareLogStreamsResponse,
    PutLogsRequest, PutLogsResponse, SubmitRequest, SubmitResponse, SubmitStatsRequest,
    TaskCredentials, TaskRequest, TaskSecrets,
};
use flotilla_model::exec::{self, PollExecRequest, PollExecResponse};
use serde_json::Value;

use crate::checkpoint::AgentKey;
use crate::config::AgentConfig;

/// The calls the agent makes. `register` answers the instance ARN.
#[async_trait]
pub trait AgentApi: Send + Sync + 'static {
    async fn register(&self, request: &Value) -> Result<String, CallError>;
    async fn poll(&self, request: &PollRequest) -> Result<PollResponse, CallError>;
    async fn submit(&self, request: &SubmitRequest) -> Result<SubmitResponse, CallError>;
    /// Ask for the log streams of containers about to start.
    async fn prepare_logs(
        &self,
        request: &PrepareLogStreamsRequest,
    ) -> Result<PrepareLogStreamsResponse, CallError>;
    /// Ship numbered log lines.
    async fn put_logs(&self, request: &PutLogsRequest) -> Result<PutLogsResponse, CallError>;
    /// Send containers' CPU and memory samples.
    async fn submit_stats(&self, request: &SubmitStatsRequest) -> Result<(), CallError>;
    /// Join with a token: `request` is a registration without an ARN.
    async fn join(&self, token: &JoinToken, request: &Value) -> Result<Joined, CallError>;
    /// New credentials of a task's role.
    async fn task_credentials(&self, request: &TaskRequest) -> Result<TaskCredentials, CallError>;
    /// The values of a task's secrets, read with its execution role.
    async fn task_secrets(&self, request: &TaskRequest) -> Result<TaskSecrets, CallError>;
    /// Sign every later call with the agent's own key.
    fn use_key(&self, key: &AgentKey);
    /// Wait for ExecuteCommand sessions for the instance (fakes have none to give).
    async fn poll_exec(&self, request: &PollExecRequest) -> Result<PollExecResponse, CallError> {
        let _ = request;
        Err(CallError::Service(
            flotilla_aws::AwsError::unknown_operation(agent_protocol::POLL_EXEC),
        ))
    }
    /// Attach the agent's end of session `session_id`, on the server that answered the
    /// last call.
    async fn attach_exec(&self, session_id: &str, token: &str) -> Result<Duplex, CallError> {
        let _ = (session_id, token);
        Err(CallError::Service(
            flotilla_aws::AwsError::unknown_operation("attach_exec"),
        ))
    }
}

/// The real server: one SigV4 client for ECS and one for the agent protocol, both signing
/// with the configured key until the agent has its own.
pub struct HttpApi {
    config: AgentConfig,
    /// Whom TLS trusts, for exec sessions' own connections.
    tls: Tls,
    /// One HTTP/2 connection per server carries every call, whichever key signs it.
    connections: Connections,
    clients: RwLock<Arc<Clients>>,
}

/// Whom to trust on an `https://` endpoint (see `crate::tls`).
type Tls = Option<Arc<flotilla_net::rustls::ClientConfig>>;

struct Clients {
    ecs: JsonClient,
    agent: JsonClient,
}

impl HttpApi {
    pub fn new(config: &AgentConfig, tls: Tls) -> Self {
        let key = (
            config.access_key_id.as_str(),
            config.secret_access_key.as_str(),
        );
        let connections = Connections::http2(tls.clone());
        let clients = Clients::new(config, &connections, key);
        HttpApi {
            config: config.clone(),
            tls,
            connections,
            clients: RwLock::new(Arc::new(clients)),
        }
    }

    fn clients(&self) -> Arc<Clients> {
        self.clients
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Clients {
    fn new(config: &AgentConfig, connections: &Connections, key: (&str, &str)) -> Self {
        Clients {
            ecs: JsonClient::with_connections(
                client_config(config, key, config.call_timeout),
                connections,
                "ecs",
                "AmazonEC2ContainerServiceV20141113",
            ),
            // The long poll is held up to poll_wait; leave room for the answer.
            agent: agent_client(
                config,
                connections,
                key,
                config.poll_wait + config.call_timeout,
            ),
        }
    }
}

/// Where and as whom to call: `key` is (access key id, secret). Whom TLS trusts is the
/// connections' business.
fn client_config(config: &AgentConfig, key: (&str, &str), timeout: Duration) -> ClientConfig {
    ClientConfig {
        endpoint: config.endpoint.clone(),
        region: config.region.clone(),
        access_key_id: key.0.to_string(),
        secret_access_key: key.1.to_string(),
        session_token: None,
        timeout,
        tls: None,
    }
}

fn agent_client(
    config: &AgentConfig,
    connections: &Connections,
    key: (&str, &str),
    timeout: Duration,
) -> JsonClient {
    JsonClient::with_connections(
        client_config(config, key, timeout),
        connections,
        agent_protocol::SIGNING_NAME,
        agent_protocol::TARGET_PREFIX,
    )
}

#[async_trait]
impl AgentApi for HttpApi {
    async fn register(&self, request: &Value) -> Result<String, CallError> {
        let answer: Value = self
            .clients()
            .ecs
            .call("RegisterContainerInstance", request)
            .await?;
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
        self.clients()
            .agent
            .call(agent_protocol::POLL, request)
            .await
    }

    async fn submit(&self, request: &SubmitRequest) -> Result<SubmitResponse, CallError> {
        self.clients()
            .agent
            .call(agent_protocol::SUBMIT, request)
            .await
    }

    async fn prepare_logs(
        &self,
        request: &PrepareLogStreamsRequest,
    ) -> Result<PrepareLogStreamsResponse, CallError> {
        self.clients()
            .agent
            .call(agent_protocol::PREPARE_LOGS, request)
            .await
    }

    async fn put_logs(&self, request: &PutLogsRequest) -> Result<PutLogsResponse, CallError> {
        self.clients()
            .agent
            .call(agent_protocol::PUT_LOGS, request)
            .await
    }

    async fn submit_stats(&self, request: &SubmitStatsRequest) -> Result<(), CallError> {
        let _: Value = self
            .clients()
            .agent
            .call(agent_protocol::SUBMIT_STATS, request)
            .await?;
        Ok(())
    }

    async fn join(&self, token: &JoinToken, request: &Value) -> Result<Joined, CallError> {
        let key = (token.token_id.as_str(), token.secret.as_str());
        let client = agent_client(
            &self.config,
            &self.connections,
            key,
            self.config.call_timeout,
        );
        client.call(agent_protocol::JOIN, request).await
    }

    async fn task_credentials(&self, request: &TaskRequest) -> Result<TaskCredentials, CallError> {
        self.clients()
            .agent
            .call(agent_protocol::TASK_CREDENTIALS, request)
            .await
    }

    async fn task_secrets(&self, request: &TaskRequest) -> Result<TaskSecrets, CallError> {
        self.clients()
            .agent
            .call(agent_protocol::TASK_SECRETS, request)
            .await
    }

    async fn poll_exec(&self, request: &PollExecRequest) -> Result<PollExecResponse, CallError> {
        self.clients()
            .agent
            .call(agent_protocol::POLL_EXEC, request)
            .await
    }

    async fn attach_exec(&self, session_id: &str, token: &str) -> Result<Duplex, CallError> {
        let endpoint = self.clients().agent.endpoint().to_string();
        let url = format!(
            "{}{}{session_id}/agent",
            endpoint.trim_end_matches('/'),
            exec::STREAM_PATH
        );
        duplex(
            &url,
            &[(exec::TOKEN_HEADER, token)],
            self.tls.clone(),
            self.config.call_timeout,
        )
        .await
    }

    fn use_key(&self, key: &AgentKey) {
        let pair = (key.access_key_id.as_str(), key.secret_access_key.as_str());
        let clients = Clients::new(&self.config, &self.connections, pair);
        *self.clients.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(clients);
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

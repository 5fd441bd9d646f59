//! The task credentials endpoint: containers of a task with a task role find their
//! role's credentials the way AWS SDKs look for them on ECS. The agent serves
//! `GET /v2/credentials/{id}` on `169.254.170.2` (an address it puts on the host's
//! loopback interface, which every container reaches through its bridge's gateway) and
//! gives each such container `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN` (and `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` when
//! the endpoint is on port 80).
//!
//! Each task has its own id and token, derived from a secret in the agent's checkpoint and
//! the task's ARN (so containers keep working across an agent restart): a request must
//! carry the task's token, so one task cannot read another's credentials even knowing its
//! id. Credentials come from the server (`GetTaskCredentials`, a new session of the task's
//! role) and are kept until a third of their lifetime is left, then renewed on the next
//! request, before they expire.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use flotilla_model::agent_protocol::{TaskCredentials, TaskRequest};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::api::{AgentApi, Identity};

/// Where containers reach the endpoint by default, as on ECS.
pub const DEFAULT_ADDRESS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(169, 254, 170, 2);

/// What the endpoint knows of one task.
struct Entry {
    task_arn: String,
    token: String,
    cached: Option<(TaskCredentials, DateTime<Utc>, DateTime<Utc>)>,
}

/// The endpoint's state: tasks by credentials id.
pub struct CredentialsEndpoint {
    address: SocketAddrV4,
    secret: Vec<u8>,
    api: Arc<dyn AgentApi>,
    identity: Arc<Identity>,
    tasks: Mutex<HashMap<String, Entry>>,
}

/// Why a request got no credentials: its status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub StatusCode, pub String);

impl CredentialsEndpoint {
    /// An endpoint containers reach at `address`, deriving tasks' ids and tokens from
    /// `secret`.
    pub fn new(
        address: SocketAddrV4,
        secret: &str,
        api: Arc<dyn AgentApi>,
        identity: Arc<Identity>,
    ) -> Arc<Self> {
        Arc::new(CredentialsEndpoint {
            address,
            secret: secret.as_bytes().to_vec(),
            api,
            identity,
            tasks: Mutex::new(HashMap::new()),
        })
    }

    pub fn address(&self) -> SocketAddrV4 {
        self.address
    }

    fn derive(&self, purpose: &str, task_arn: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(purpose.as_bytes());
        mac.update(b"\n");
        mac.update(task_arn.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The environment a container of `task_arn` gets to find its role's credentials
    /// (and the task is served from now on).
    pub fn env_for(&self, task_arn: &str) -> Vec<(String, String)> {
        let id = self.derive("id", task_arn)[..32].to_string();
        let token = self.derive("token", task_arn);
        let path = format!("/v2/credentials/{id}");
        self.lock().entry(id).or_insert_with(|| Entry {
            task_arn: task_arn.to_string(),
            token: token.clone(),
            cached: None,
        });
        let mut env = vec![
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI".to_string(),
                format!("http://{}{path}", self.address),
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN".to_string(), token),
        ];
        if self.address.port() == 80 {
            env.push(("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI".to_string(), path));
        }
        env
    }

    /// Serve `task_arn` no longer (its containers are gone).
    pub fn forget(&self, task_arn: &str) {
        self.lock().retain(|_, e| e.task_arn != task_arn);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The credentials of the task `id` names, for a request carrying `authorization`.
    pub async fn credentials(
        &self,
        id: &str,
        authorization: Option<&str>,
    ) -> Result<TaskCredentials, Refusal> {
        let (task_arn, cached) = {
            let tasks = self.lock();
            let entry = tasks.get(id).ok_or_else(|| {
                Refusal(
                    StatusCode::NOT_FOUND,
                    "No credentials for this id: the task is not running here.".into(),
                )
            })?;
            if authorization != Some(entry.token.as_str()) {
                return Err(Refusal(
                    StatusCode::UNAUTHORIZED,
                    "The Authorization header does not carry this task's token.".into(),
                ));
            }
            (entry.task_arn.clone(), entry.cached.clone())
        };
        let now = Utc::now();
        if let Some((creds, issued, expires)) = cached {
            // Renew once a third of the lifetime is left.
            if now < expires - (expires - issued) / 3 {
                return Ok(creds);
            }
        }
        let request = TaskRequest {
            cluster: self.identity.cluster().to_string(),
            container_instance_arn: self.identity.instance_arn(),
            task_arn,
        };
        let fresh = self.api.task_credentials(&request).await.map_err(|e| {
            tracing::warn!(task = %request.task_arn, error = %e, "task role credentials");
            Refusal(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        })?;
        let expires = DateTime::parse_from_rfc3339(&fresh.expiration)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        if let Some(entry) = self.lock().get_mut(id) {
            entry.cached = Some((fresh.clone(), now, expires));
        }
        Ok(fresh)
    }

    /// The HTTP routes of the endpoint.
    pub fn router(self: Arc<Self>) -> axum::Router {
        axum::Router::new()
            .route("/v2/credentials/{id}", axum::routing::get(serve))
            .with_state(self)
    }
}

async fn serve(
    State(endpoint): State<Arc<CredentialsEndpoint>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match endpoint.credentials(&id, authorization).await {
        Ok(c) => {
            let body = serde_json::to_vec(&c).unwrap_or_default();
            (
                StatusCode::OK,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
        Err(Refusal(status, message)) => {
            let body = serde_json::json!({"code": status.as_str(), "message": message});
            (status, body.to_string()).into_response()
        }
    }
}

/// Start serving task credentials where `config` says, until `stop`; `None` (with a
/// warning) when it is not configured or cannot listen: tasks with a role then run
/// without credentials.
pub async fn start(
    config: &crate::config::AgentConfig,
    checkpoint: &crate::checkpoint::Checkpoint,
    api: Arc<dyn AgentApi>,
    identity: Arc<Identity>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Option<Arc<CredentialsEndpoint>> {
    let wanted = config.credentials_endpoint?;
    let listener = match ensure_address(*wanted.ip()) {
        Ok(()) => tokio::net::TcpListener::bind(wanted)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let listener = match listener {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(address = %wanted, error = %e, "no task credentials endpoint: tasks with a task role get no credentials");
            return None;
        }
    };
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(wanted.port());
    let address = SocketAddrV4::new(*wanted.ip(), port);
    let endpoint =
        CredentialsEndpoint::new(address, &checkpoint.credentials_secret(), api, identity);
    let limits = flotilla_net::Limits {
        max_connections: 1024,
        header_timeout: std::time::Duration::from_secs(5),
        idle_timeout: std::time::Duration::from_secs(30),
        drain_timeout: std::time::Duration::from_secs(2),
    };
    let router = endpoint.clone().router();
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) =
            flotilla_net::serve(listener, router, limits, None, "credentials", stopped).await
        {
            tracing::warn!(error = %e, "task credentials endpoint stopped");
        }
    });
    tracing::info!(%address, "serving task role credentials");
    Some(endpoint)
}

/// Put `address` on the host's loopback interface (already there: nothing to do), so
/// that containers reach it through their bridge's gateway.
pub fn ensure_address(address: std::net::Ipv4Addr) -> Result<(), String> {
    use crate::firewall::exec::{run, NetNs, ToolError, IP};
    let cidr = format!("{address}/32");
    match run(
        &NetNs::Current,
        IP,
        &["addr", "add", &cidr, "dev", "lo"],
        None,
    ) {
        Ok(_) => Ok(()),
        Err(ToolError::Failed { stderr, .. })
            if stderr.contains("File exists") || stderr.contains("already assigned") =>
        {
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests;

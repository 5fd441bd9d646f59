//! The fake server: registration, polls, status reports and joins as a script says, with
//! the log and stats calls handed to [`FakeLogServer`].

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use flotilla_aws::client::CallError;
use flotilla_model::agent_protocol::{
    PollRequest, PollResponse, SubmitRequest, SubmitResponse, SubmitResult,
};
use serde_json::Value;

use super::FakeLogServer;
use crate::api::AgentApi;

/// A scripted server.
#[derive(Default)]
pub(crate) struct FakeApi {
    pub registrations: Mutex<Vec<Value>>,
    pub polls: Mutex<VecDeque<PollResponse>>,
    pub poll_requests: Mutex<Vec<PollRequest>>,
    pub submits: Mutex<Vec<SubmitRequest>>,
    /// Fail this many submit calls with a transport error first.
    pub fail_submits: AtomicUsize,
    /// Answer reports of these tasks as not accepted.
    pub reject: Mutex<BTreeSet<String>>,
    /// Refuse the next registrations with this error code (as a revoked key is).
    pub refuse_register: Mutex<Option<String>>,
    /// The join requests, and the access key ids the agent switched to.
    pub joins: Mutex<Vec<Value>>,
    pub keys_used: Mutex<Vec<String>>,
    /// PrepareLogStreams, PutLogs and SubmitStats, as a server would store them.
    pub logs: FakeLogServer,
    /// How many task credentials were handed out.
    pub credentials_issued: AtomicUsize,
    /// What GetTaskSecrets answers (nothing by default).
    pub secrets: Mutex<flotilla_model::agent_protocol::TaskSecrets>,
}

impl FakeApi {
    /// Every report delivered (accepted), in order.
    pub(crate) fn delivered(&self) -> Vec<flotilla_model::task::TaskReport> {
        let reject = self.reject.lock().unwrap().clone();
        self.submits
            .lock()
            .unwrap()
            .iter()
            .flat_map(|s| s.reports.clone())
            .filter(|r| !reject.contains(&r.task_arn))
            .collect()
    }
}

#[async_trait]
impl AgentApi for FakeApi {
    async fn register(&self, request: &Value) -> std::result::Result<String, CallError> {
        if let Some(code) = self.refuse_register.lock().unwrap().clone() {
            return Err(CallError::Service(flotilla_aws::AwsError::client(
                code, "refused",
            )));
        }
        let mut regs = self.registrations.lock().unwrap();
        regs.push(request.clone());
        Ok(request["containerInstanceArn"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!(
                    "arn:aws:ecs:us-east-1:000000000000:container-instance/default/{}",
                    regs.len()
                )
            }))
    }

    async fn join(
        &self,
        token: &flotilla_model::agent_identity::JoinToken,
        request: &Value,
    ) -> std::result::Result<flotilla_model::agent_protocol::Joined, CallError> {
        let mut joins = self.joins.lock().unwrap();
        joins.push(request.clone());
        let n = joins.len();
        Ok(flotilla_model::agent_protocol::Joined {
            container_instance_arn: format!(
                "arn:aws:ecs:us-east-1:000000000000:container-instance/default/joined-{n}"
            ),
            access_key_id: format!("FAK{n}-{}", token.token_id),
            secret_access_key: "s".repeat(40),
        })
    }

    fn use_key(&self, key: &crate::checkpoint::AgentKey) {
        self.keys_used
            .lock()
            .unwrap()
            .push(key.access_key_id.clone());
    }

    async fn poll(&self, request: &PollRequest) -> std::result::Result<PollResponse, CallError> {
        self.poll_requests.lock().unwrap().push(request.clone());
        let next = self.polls.lock().unwrap().pop_front();
        match next {
            Some(answer) => Ok(answer),
            None => {
                tokio::time::sleep(Duration::from_millis(request.wait_millis)).await;
                Ok(PollResponse {
                    revision: request.since,
                    full: false,
                    tasks: vec![],
                    heartbeat_ttl_millis: 30_000,
                    instance_status: "ACTIVE".into(),
                    store_id: String::new(),
                    registry: None,
                    firewall: Default::default(),
                })
            }
        }
    }

    async fn prepare_logs(
        &self,
        request: &flotilla_model::agent_protocol::PrepareLogStreamsRequest,
    ) -> std::result::Result<flotilla_model::agent_protocol::PrepareLogStreamsResponse, CallError>
    {
        self.logs.prepare(request)
    }

    async fn put_logs(
        &self,
        request: &flotilla_model::agent_protocol::PutLogsRequest,
    ) -> std::result::Result<flotilla_model::agent_protocol::PutLogsResponse, CallError> {
        self.logs.put(request)
    }

    async fn submit_stats(
        &self,
        request: &flotilla_model::agent_protocol::SubmitStatsRequest,
    ) -> std::result::Result<(), CallError> {
        self.logs.stats(request)
    }

    async fn task_secrets(
        &self,
        _: &flotilla_model::agent_protocol::TaskRequest,
    ) -> std::result::Result<flotilla_model::agent_protocol::TaskSecrets, CallError> {
        Ok(self.secrets.lock().unwrap().clone())
    }

    /// Credentials numbered in the order they are asked for, valid for a minute.
    async fn task_credentials(
        &self,
        request: &flotilla_model::agent_protocol::TaskRequest,
    ) -> std::result::Result<flotilla_model::agent_protocol::TaskCredentials, CallError> {
        let n = self.credentials_issued.fetch_add(1, Ordering::SeqCst);
        Ok(flotilla_model::agent_protocol::TaskCredentials {
            role_arn: format!("arn:aws:iam::000000000000:role/for-{}", request.task_arn),
            access_key_id: format!("ASIAFAKE{n:012}"),
            secret_access_key: "s".repeat(40),
            token: format!("token-{n}"),
            expiration: (chrono::Utc::now() + chrono::Duration::seconds(60))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }

    async fn submit(
        &self,
        request: &SubmitRequest,
    ) -> std::result::Result<SubmitResponse, CallError> {
        if self.fail_submits.load(Ordering::SeqCst) > 0 {
            self.fail_submits.fetch_sub(1, Ordering::SeqCst);
            return Err(CallError::Transport {
                endpoint: "fake".into(),
                message: "connection refused".into(),
            });
        }
        self.submits.lock().unwrap().push(request.clone());
        let reject = self.reject.lock().unwrap();
        Ok(SubmitResponse {
            results: request
                .reports
                .iter()
                .map(|r| SubmitResult {
                    task_arn: r.task_arn.clone(),
                    accepted: !reject.contains(&r.task_arn),
                    error: reject.contains(&r.task_arn).then(|| "conflict".into()),
                })
                .collect(),
        })
    }
}

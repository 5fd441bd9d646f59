//! The agent protocol service (`FlotillaAgent_v1`, see `flotilla_model::agent_protocol`):
//! the long-poll that hands agents their desired tasks and doubles as their heartbeat, the
//! batched status reports they send back, joining with a token, and the operator's join
//! tokens. Also the [`KeySource`] that lets the gateway verify agents' keys and tokens,
//! and the rule that an agent's key speaks for its own instance only.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flotilla_aws::{
    AwsError, AwsService, AwsServiceSpec, Context, Input, Key, KeySource, Output, Principal,
    Protocol,
};
use flotilla_control::agent_identity::{self, Caller};
use flotilla_control::agents;
use flotilla_model::agent_identity::{JoinToken, JoinTokenRecord};
use flotilla_model::agent_protocol::{
    self, CreateJoinTokenRequest, CreateJoinTokenResponse, JoinTokenInfo, Joined,
    ListJoinTokensResponse, PollRequest, PollResponse, PrepareLogStreamsRequest,
    PrepareLogStreamsResponse, PutLogsRequest, PutLogsResponse, RevokeJoinTokenRequest,
    SubmitRequest, SubmitResponse, SubmitStatsRequest,
};
use flotilla_model::container_instance::ContainerInstanceRecord;
use flotilla_model::exec::{PollExecRequest, PollExecResponse};
use flotilla_model::Scope;
use serde_json::{json, Value};

use crate::ecs::clusters::cluster_name;
use crate::ecs::container_instances::{self, RegisterInput};
use crate::ecs::error::{client, EcsError};
use crate::logs::shipping;
use crate::{State, Telemetry};

mod tasks;

/// The longest a poll is held.
const MAX_WAIT: Duration = Duration::from_secs(20);

pub struct Agent {
    spec: AwsServiceSpec,
    state: State,
    /// Where the lines of containers that log with `awslogs` go, and their CPU and memory
    /// samples.
    telemetry: Telemetry,
    /// Written into join tokens, so that agents can verify a TLS server they have not met.
    ca_fingerprint: Option<String>,
}

impl Agent {
    pub fn new(state: State, ca_fingerprint: Option<String>, telemetry: Telemetry) -> Self {
        let spec = AwsServiceSpec {
            signing_name: agent_protocol::SIGNING_NAME,
            protocol: Protocol::Json11,
            target_prefix: agent_protocol::TARGET_PREFIX,
            xmlns: "",
        };
        Agent {
            spec,
            state,
            telemetry,
            ca_fingerprint,
        }
    }
}

#[async_trait]
impl AwsService for Agent {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    fn admits(&self, principal: &Principal, operation: &str) -> bool {
        match principal {
            Principal::Root => operation != agent_protocol::JOIN,
            Principal::Agent => [
                agent_protocol::POLL,
                agent_protocol::SUBMIT,
                agent_protocol::PREPARE_LOGS,
                agent_protocol::PUT_LOGS,
                agent_protocol::SUBMIT_STATS,
                agent_protocol::POLL_EXEC,
                agent_protocol::TASK_CREDENTIALS,
                agent_protocol::TASK_SECRETS,
            ]
            .contains(&operation),
            Principal::Joiner => operation == agent_protocol::JOIN,
            Principal::User => false,
        }
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        let state = &self.state;
        let out = match operation {
            agent_protocol::POLL => to_json(poll(state, ctx, input.json()?).await)?,
            agent_protocol::SUBMIT => to_json(submit(state, ctx, input.json()?).await)?,
            agent_protocol::POLL_EXEC => to_json(poll_exec(state, ctx, input.json()?).await)?,
            agent_protocol::JOIN => to_json(join(state, ctx, input.json()?).await)?,
            agent_protocol::PREPARE_LOGS => {
                let req: PrepareLogStreamsRequest = input.json()?;
                own_instance(state, ctx, &req.cluster, &req.container_instance_arn)?;
                let results =
                    shipping::prepare(state, &self.telemetry.logs, state.account(), req.streams)
                        .await;
                to_json(Ok(PrepareLogStreamsResponse { results }))?
            }
            agent_protocol::SUBMIT_STATS => {
                let req: SubmitStatsRequest = input.json()?;
                own_instance(state, ctx, &req.cluster, &req.container_instance_arn)?;
                submit_stats(state, ctx, &self.telemetry, &req).await?;
                json!({})
            }
            agent_protocol::PUT_LOGS => {
                let req: PutLogsRequest = input.json()?;
                own_instance(state, ctx, &req.cluster, &req.container_instance_arn)?;
                let results =
                    shipping::put(state, &self.telemetry.logs, state.account(), req.batches).await;
                to_json(Ok(PutLogsResponse { results }))?
            }
            agent_protocol::TASK_CREDENTIALS => {
                to_json(tasks::credentials(state, ctx, input.json()?).await)?
            }
            agent_protocol::TASK_SECRETS => to_json(tasks::secrets(state, ctx, input.json()?))?,
            agent_protocol::CREATE_JOIN_TOKEN => {
                to_json(create_token(state, ctx, input.json()?, self.ca_fingerprint.clone()).await)?
            }
            agent_protocol::LIST_JOIN_TOKENS => to_json(Ok(list_tokens(state, ctx)))?,
            agent_protocol::REVOKE_JOIN_TOKEN => {
                let req: RevokeJoinTokenRequest = input.json()?;
                let scope = crate::scope(state, ctx);
                agent_identity::revoke_token(state, &scope, &req.token_id)
                    .await
                    .map_err(|e| AwsError::from(EcsError::from(e)))?;
                json!({})
            }
            other => return Err(AwsError::unknown_operation(other)),
        };
        Ok(Output::Json(out))
    }
}

fn to_json<T: serde::Serialize>(result: Result<T, EcsError>) -> Result<Value, AwsError> {
    let value = result.map_err(AwsError::from)?;
    serde_json::to_value(value).map_err(|e| AwsError::server("ServerException", e.to_string()))
}

/// The gateway's source of agents' keys and join tokens.
pub struct AgentKeys {
    state: State,
}

impl AgentKeys {
    pub fn new(state: State) -> Self {
        AgentKeys { state }
    }
}

impl KeySource for AgentKeys {
    fn key(&self, access_key_id: &str) -> Option<Key> {
        let account = self.state.account();
        Some(match agent_identity::caller(&self.state, access_key_id)? {
            Caller::Joiner(t) => Key {
                session_token: None,
                secret: t.secret.clone(),
                principal: Principal::Joiner,
                region: t.region.clone(),
                arn: format!(
                    "arn:aws:ecs:{}:{account}:join-token/{}",
                    t.region, t.token_id
                ),
            },
            Caller::Agent(k) => Key {
                session_token: None,
                secret: k.secret.clone(),
                principal: Principal::Agent,
                region: k.region.clone(),
                arn: k.container_instance_arn.clone(),
            },
        })
    }
}

/// Refuse an agent's key acting for another cluster or instance than its own (and, when
/// it registers, registering a new instance: that is what joining is for). Root keys may.
pub(crate) fn only_own_instance(
    state: &State,
    ctx: &Context,
    cluster: &str,
    instance: Option<&str>,
) -> Result<(), EcsError> {
    if ctx.principal == Principal::Root {
        return Ok(());
    }
    let own = agent_identity::agent_key(state, &ctx.access_key);
    let allowed = own.is_some_and(|k| {
        k.cluster == cluster
            && instance.is_some_and(|i| i == k.container_instance_arn || i == k.instance_id)
    });
    if allowed {
        Ok(())
    } else {
        Err(EcsError::access_denied(format!(
            "{} may act only for its own container instance.",
            ctx.principal_arn
        )))
    }
}

async fn poll(state: &State, ctx: &Context, req: PollRequest) -> Result<PollResponse, EcsError> {
    let from = registered(state, ctx, &req.cluster, &req.container_instance_arn)?;
    let wait = Duration::from_millis(req.wait_millis).min(MAX_WAIT);
    let held = agents::Held {
        since: req.since,
        firewall: req.firewall,
    };
    Ok(agents::poll(
        state,
        &from.scope,
        &from.cluster,
        &from.instance,
        held,
        wait,
    )
    .await?)
}

/// Hold an agent until an ExecuteCommand session for its instance opens on this server.
async fn poll_exec(
    state: &State,
    ctx: &Context,
    req: PollExecRequest,
) -> Result<PollExecResponse, EcsError> {
    let from = registered(state, ctx, &req.cluster, &req.container_instance_arn)?;
    let wait = Duration::from_millis(req.wait_millis).min(MAX_WAIT);
    let sessions = state
        .exec()
        .poll(&from.instance.container_instance_arn, wait)
        .await;
    Ok(PollExecResponse { sessions })
}

async fn submit(
    state: &State,
    ctx: &Context,
    req: SubmitRequest,
) -> Result<SubmitResponse, EcsError> {
    let from = registered(state, ctx, &req.cluster, &req.container_instance_arn)?;
    let results = agents::submit(
        state,
        &from.scope,
        &from.instance.container_instance_arn,
        &req.reports,
    )
    .await;
    Ok(SubmitResponse { results })
}

/// Where an agent's message comes from: its account and region, its cluster's name and its
/// registered instance.
pub(crate) struct Sender {
    pub scope: Scope,
    pub cluster: String,
    pub instance: Arc<ContainerInstanceRecord>,
}

/// The registered instance an agent's message names, if the caller may speak for it.
pub(crate) fn registered(
    state: &State,
    ctx: &Context,
    cluster: &str,
    instance: &str,
) -> Result<Sender, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = cluster_name(Some(cluster), &scope)?;
    only_own_instance(state, ctx, &cluster, Some(instance))?;
    let (_, entry) = container_instances::find(state, &scope, &cluster, instance)
        .map_err(|_| client("This container instance is not registered; register it again."))?;
    Ok(Sender {
        scope,
        cluster,
        instance: entry.value,
    })
}

/// Join with the token the request is signed with: a new instance in the token's cluster
/// and the agent's own key.
async fn join(state: &State, ctx: &Context, input: RegisterInput) -> Result<Joined, EcsError> {
    let Some(Caller::Joiner(token)) = agent_identity::caller(state, &ctx.access_key) else {
        return Err(EcsError::access_denied(
            "Join must be signed with a join token.",
        ));
    };
    let scope = crate::scope(state, ctx);
    if let Some(named) = input.cluster.as_deref() {
        if cluster_name(Some(named), &scope)? != token.cluster {
            return Err(EcsError::access_denied(format!(
                "This join token is for cluster {}, not {named}.",
                token.cluster
            )));
        }
    }
    if input.container_instance_arn.is_some() {
        return Err(crate::ecs::error::invalid(
            "Joining registers a new container instance: leave out containerInstanceArn.",
        ));
    }
    let registration = container_instances::registration(&scope, &token.cluster, input)?;
    let (instance, key) = agent_identity::join(state, &token, registration).await?;
    Ok(Joined {
        container_instance_arn: instance.container_instance_arn,
        access_key_id: key.access_key_id,
        secret_access_key: key.secret,
    })
}

fn info(state: &State, t: &JoinTokenRecord) -> JoinTokenInfo {
    let scope = Scope::new(t.region.clone(), state.account().to_string());
    JoinTokenInfo {
        token_id: t.token_id.clone(),
        cluster_arn: scope
            .arn("ecs", format!("cluster/{}", t.cluster))
            .to_string(),
        created_at: t.created_at.timestamp(),
        expires_at: t.expires_at.timestamp(),
        description: t.description.clone(),
    }
}

async fn create_token(
    state: &State,
    ctx: &Context,
    req: CreateJoinTokenRequest,
    ca_fingerprint: Option<String>,
) -> Result<CreateJoinTokenResponse, EcsError> {
    let scope = crate::scope(state, ctx);
    let t = agent_identity::create_token(
        state,
        &scope,
        req.cluster.as_deref(),
        req.expires_in_seconds,
        req.description,
    )
    .await?;
    let token = JoinToken {
        token_id: t.token_id.clone(),
        secret: t.secret.clone(),
        ca_fingerprint,
    };
    Ok(CreateJoinTokenResponse {
        info: info(state, &t),
        token: token.to_string(),
    })
}

fn list_tokens(state: &State, ctx: &Context) -> ListJoinTokensResponse {
    let scope = crate::scope(state, ctx);
    ListJoinTokensResponse {
        tokens: agent_identity::tokens(state, &scope)
            .iter()
            .map(|t| info(state, t))
            .collect(),
    }
}

/// Refuse an agent's message about another instance than its own, or about an instance
/// that is not registered.
fn own_instance(
    state: &State,
    ctx: &Context,
    cluster: &str,
    instance: &str,
) -> Result<(), AwsError> {
    registered(state, ctx, cluster, instance)
        .map(drop)
        .map_err(AwsError::from)
}

/// Turn an agent's container samples into the `AWS/ECS` utilization metrics (see
/// `flotilla_control::ecs::metrics`), high resolution, in the agent's region.
async fn submit_stats(
    state: &State,
    ctx: &Context,
    telemetry: &Telemetry,
    req: &SubmitStatsRequest,
) -> Result<(), AwsError> {
    use flotilla_telemetry::metrics::{Datum, StatSet};
    let points = flotilla_control::ecs::metrics::points(
        state,
        &ctx.region,
        &req.container_instance_arn,
        &req.samples,
    );
    let data = points
        .into_iter()
        .map(|p| Datum {
            metric: p.metric,
            unit: Some(p.unit.into()),
            timestamp: p.timestamp,
            set: StatSet::one(p.value),
            high_resolution: true,
        })
        .collect();
    telemetry
        .metrics
        .put(&ctx.region, data)
        .await
        .map_err(|e| AwsError::server("ServerException", e.to_string()))
}

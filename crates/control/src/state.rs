//! What the API and the controllers share: the store, the per-process views of each
//! resource kind, the deployment's settings, placement's process-local parts, and the
//! in-process locks that keep writers of one hot key from retrying against each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use flotilla_model::account_setting::Setting;
use flotilla_model::acm::CertificateRecord;
use flotilla_model::agent_identity::{AgentKeyRecord, JoinTokenRecord};
use flotilla_model::capacity_provider::CapacityProviderRecord;
use flotilla_model::cluster::ClusterRecord;
use flotilla_model::container_instance::{self, ContainerInstanceRecord};
use flotilla_model::daemon::task_definition::DaemonTaskDefinitionRecord;
use flotilla_model::daemon::DaemonRecord;
use flotilla_model::ecr::{ImageRecord, RepositoryRecord};
use flotilla_model::logs::LogGroupRecord;
use flotilla_model::record::{decode, Record};
use flotilla_model::service::{ServiceRecord, ServiceStatus};
use flotilla_model::task::TaskRecord;
use flotilla_model::task_definition_record::TaskDefinitionRecord;
use flotilla_store::view::View;
use flotilla_store::{Compare, LeaseId, Op, Revision, Store, StoreError, Txn, TxnResult};

use crate::keys;
use crate::locks::KeyedLocks;
use crate::placement::applier::Applier;
use crate::placement::picture::{Pictures, Templates};
use crate::placement::reservations::Reservations;
use crate::placement::task_index::TaskIndex;
use crate::{Clock, ControlError};

/// Settings of the control plane that are not per request.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    pub account: String,
    /// An instance counts as disconnected this long after its agent's last poll.
    pub agent_ttl: Duration,
    /// How long an instance may stay disconnected before the service controller replaces
    /// its service tasks elsewhere.
    pub service_disconnect_grace: Duration,
    /// The first delay of the service controller's launch backoff (it doubles per
    /// further failure, up to [`ControlConfig::service_backoff_max`]).
    pub service_backoff_base: Duration,
    pub service_backoff_max: Duration,
    /// How long a STOPPED task stays before the retention controller deletes it.
    pub stopped_task_retention: Duration,
    /// The image registry's address as clients reach it: `http://HOST:PORT` or
    /// `https://HOST:PORT` (every `repositoryUri` starts with its `HOST:PORT`); `None` when
    /// this server serves no registry.
    pub registry_endpoint: Option<String>,
    /// The URL the API is reached at (`http(s)://host:port`), answered by
    /// DiscoverPollEndpoint; `None` in tests that serve no listener.
    pub api_endpoint: Option<String>,
    /// How often the leader applies repositories' lifecycle policies.
    pub lifecycle_interval: Duration,
    /// The addresses load balancers are given, one each, in order (the same on every
    /// server of one store).
    pub lb_addresses: crate::elbv2::AddressPool,
    /// The addresses this server's listeners bind instead, the Nth of `lb_addresses`
    /// as the Nth of these (each server of one store on its own host's); `None`: the
    /// same as `lb_addresses`. See [`crate::nodes`].
    pub lb_node_addresses: Option<crate::elbv2::AddressPool>,
    /// The domain load balancers' DNS names end with: `NAME-ID.REGION.elb.{suffix}`.
    pub lb_dns_suffix: String,
    /// Listeners bind `port + lb_port_offset` (for a server that may not bind ports
    /// below 1024); zero by default.
    pub lb_port_offset: u16,
    /// At most this many record sets in one Route 53 hosted zone (SOA and apex NS
    /// included); a change batch that would take a zone past it fails with
    /// InvalidChangeBatch, as on Route 53, whose default quota (10,000) AWS raises on
    /// request.
    pub route53_max_record_sets_per_zone: usize,
    /// The block of each region's default VPC, made on first use (its default subnets are
    /// its first /20s). A VPC's block is fixed at creation: a changed setting applies to
    /// regions whose default VPC does not exist yet.
    pub default_vpc_cidr: flotilla_model::ec2::cidr::Cidr,
    /// How long the credentials of a task's role last (ECS: six hours).
    pub task_credentials: Duration,
    /// The key Secrets Manager's values and SSM's SecureStrings are sealed with. `new`
    /// makes a random one that lives as long as the process (tests); the binary loads the
    /// operator's key file or the data directory's `secrets.key`.
    pub secrets_key: Arc<crate::secrets::SecretsKey>,
}

impl ControlConfig {
    pub fn new(account: impl Into<String>) -> Self {
        ControlConfig {
            account: account.into(),
            agent_ttl: Duration::from_secs(30),
            service_disconnect_grace: Duration::from_secs(60),
            service_backoff_base: Duration::from_secs(1),
            service_backoff_max: Duration::from_secs(27 * 60),
            stopped_task_retention: Duration::from_secs(3600),
            registry_endpoint: None,
            api_endpoint: None,
            lifecycle_interval: Duration::from_secs(3600),
            lb_addresses: crate::elbv2::AddressPool::default(),
            lb_node_addresses: None,
            lb_dns_suffix: "flotilla.internal".into(),
            lb_port_offset: 0,
            route53_max_record_sets_per_zone: flotilla_model::route53::DEFAULT_MAX_RECORD_SETS,
            default_vpc_cidr: flotilla_model::ec2::DEFAULT_VPC_CIDR
                .parse()
                .unwrap_or_else(|_| unreachable!("the default VPC block is valid")),
            task_credentials: Duration::from_secs(6 * 3600),
            secrets_key: Arc::new(crate::secrets::SecretsKey::random()),
        }
    }
}

/// Shared control-plane state; cheap to clone.
#[derive(Clone)]
pub struct State {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// The identity of the store (see [`State::store_id`]).
    store_id: String,
    config: ControlConfig,
    clusters: View<ClusterRecord>,
    capacity_providers: View<CapacityProviderRecord>,
    task_definitions: View<TaskDefinitionRecord>,
    account_settings: View<Setting>,
    instances: View<ContainerInstanceRecord>,
    tasks: View<TaskRecord>,
    /// Keys of connected agents (each attached to a lease).
    agents: View<()>,
    /// Running servers (each on its own lease).
    nodes: View<flotilla_model::node::NodeRecord>,
    services: View<ServiceRecord>,
    daemons: View<DaemonRecord>,
    daemon_task_definitions: View<DaemonTaskDefinitionRecord>,
    gateways: View<flotilla_model::gateway::GatewayRecord>,
    join_tokens: View<JoinTokenRecord>,
    agent_keys: View<AgentKeyRecord>,
    repositories: View<RepositoryRecord>,
    images: View<ImageRecord>,
    elbv2: crate::elbv2::Views,
    ec2: crate::ec2::Views,
    iam: crate::iam::Views,
    secrets: crate::secrets::Views,
    certificates: View<CertificateRecord>,
    log_groups: View<LogGroupRecord>,
    route53: crate::route53::Views,
    servicediscovery: crate::servicediscovery::Views,
    cloudwatch: crate::cloudwatch::Views,
    autoscaling: crate::autoscaling::Views,
    dns: crate::dns::Channels,
    /// ExecuteCommand sessions on this server.
    exec: crate::exec::ExecHub,
    /// What this server's Route 53 health checker found.
    route53_health: crate::route53::checker::HealthChecks,
    /// The key that signs registry authorization tokens (the same for every server of
    /// one store).
    registry_key: Vec<u8>,
    /// The registry token handed to agents, per region, reused until half its life is
    /// gone (see `ecr::auth::agent_credentials`), so polls do not sign a new one each.
    agent_registry_tokens: Mutex<HashMap<String, crate::ecr::auth::Token>>,
    /// Serialises registrations of one task definition family within this process.
    family_locks: KeyedLocks,
    /// Each cluster's picture for the scheduler (and its placement lock).
    pictures: Pictures,
    /// Instances as the scheduler sees them before their load is subtracted.
    templates: Arc<Templates>,
    /// The one writer of placements.
    applier: Applier,
    /// The lease each agent key is attached to, by agent key.
    agent_leases: Mutex<HashMap<String, (LeaseId, std::time::Instant)>>,
    /// Tasks by instance, for agents' polls.
    task_index: TaskIndex,
    /// Placements planned but not yet committed.
    reservations: Reservations,
    /// The controllers' time.
    clock: Clock,
}

/// A view's decoder: every record under a prefix in its envelope (the key plays no part).
pub(crate) fn decoder<T: Record>(_key: &[u8], value: &[u8]) -> Result<T, String> {
    decode::<T>(value)
}

fn presence(_key: &[u8], _value: &[u8]) -> Result<(), String> {
    Ok(())
}

/// The value of a key written once, by whichever process first finds it missing (`make`
/// gives the value to write), and never changed.
async fn written_once(
    store: &dyn Store,
    key: &str,
    make: impl Fn() -> Vec<u8>,
) -> Result<(Vec<u8>, bool), StoreError> {
    let key = key.as_bytes();
    loop {
        if let Some(kv) = store.get(key).await? {
            return Ok((kv.value, false));
        }
        let value = make();
        let txn = Txn {
            compares: vec![flotilla_store::Compare::absent(key)],
            success: vec![flotilla_store::Op::put(key, value.clone())],
            failure: vec![],
        };
        if store.txn(txn).await?.succeeded {
            return Ok((value, true));
        }
    }
}

/// The store's identity, written on the first open.
async fn store_identity(store: &dyn Store) -> Result<String, StoreError> {
    let (id, made) = written_once(store, keys::STORE_ID, || {
        uuid::Uuid::new_v4().simple().to_string().into_bytes()
    })
    .await?;
    let id = String::from_utf8_lossy(&id).into_owned();
    if made {
        tracing::info!(store_id = %id, "a new store: its identity is made");
    }
    Ok(id)
}

/// The registry's token-signing key: 32 random bytes, written on the first open.
async fn registry_key(store: &dyn Store) -> Result<Vec<u8>, StoreError> {
    use rand::RngCore;
    let (key, _) = written_once(store, keys::REGISTRY_KEY, || {
        let mut k = vec![0u8; 32];
        rand::rng().fill_bytes(&mut k);
        k
    })
    .await?;
    Ok(key)
}

impl State {
    /// Load the views from the store and keep them current.
    pub async fn new(store: Arc<dyn Store>, config: ControlConfig) -> Result<State, StoreError> {
        let s = store.clone();
        let prefix = |p: &str| p.as_bytes().to_vec();
        let tasks: View<TaskRecord> = View::start(s.clone(), prefix(keys::TASKS), decoder).await?;
        let task_definitions: View<TaskDefinitionRecord> =
            View::start(s.clone(), prefix(keys::TASK_DEFINITIONS), decoder).await?;
        let daemon_task_definitions: View<DaemonTaskDefinitionRecord> =
            View::start(s.clone(), prefix(keys::DAEMON_TASK_DEFINITIONS), decoder).await?;
        let task_index = TaskIndex::start(
            s.clone(),
            tasks.clone(),
            task_definitions.clone(),
            daemon_task_definitions.clone(),
        );
        let instances: View<ContainerInstanceRecord> =
            View::start(s.clone(), prefix(keys::CONTAINER_INSTANCES), decoder).await?;
        let templates = Arc::new(Templates::default());
        let applier = Applier::start(
            s.clone(),
            instances.clone(),
            templates.clone(),
            task_index.clone(),
        );
        let store_id = store_identity(store.as_ref()).await?;
        let registry_key = registry_key(store.as_ref()).await?;
        let inner = Inner {
            store_id,
            registry_key,
            agent_registry_tokens: Mutex::default(),
            repositories: View::start(s.clone(), prefix(keys::REPOSITORIES), decoder).await?,
            images: View::start(s.clone(), prefix(keys::IMAGES), decoder).await?,
            elbv2: crate::elbv2::Views::start(&s).await?,
            ec2: crate::ec2::Views::start(&s).await?,
            iam: crate::iam::Views::start(&s).await?,
            secrets: crate::secrets::Views::start(&s).await?,
            certificates: View::start(s.clone(), prefix(keys::CERTIFICATES), decoder).await?,
            log_groups: View::start(s.clone(), prefix(keys::LOG_GROUPS), decoder).await?,
            route53: crate::route53::Views::start(&s).await?,
            servicediscovery: crate::servicediscovery::Views::start(&s).await?,
            cloudwatch: crate::cloudwatch::Views::start(&s).await?,
            autoscaling: crate::autoscaling::Views::start(&s).await?,
            dns: crate::dns::Channels::default(),
            exec: crate::exec::ExecHub::default(),
            route53_health: crate::route53::checker::HealthChecks::default(),
            clusters: View::start(s.clone(), prefix(keys::CLUSTERS), decoder).await?,
            capacity_providers: View::start(s.clone(), prefix(keys::CAPACITY_PROVIDERS), decoder)
                .await?,
            task_definitions,
            account_settings: View::start(s.clone(), prefix(keys::ACCOUNT_SETTINGS), decoder)
                .await?,
            instances,
            tasks,
            agents: View::start(s.clone(), prefix(keys::AGENTS), presence).await?,
            nodes: View::start(s.clone(), prefix(keys::NODES), decoder).await?,
            services: View::start(s.clone(), prefix(keys::SERVICES), decoder).await?,
            daemons: View::start(s.clone(), prefix(keys::DAEMONS), decoder).await?,
            daemon_task_definitions,
            gateways: View::start(s.clone(), prefix(keys::GATEWAYS), decoder).await?,
            join_tokens: View::start(s.clone(), prefix(keys::JOIN_TOKENS), decoder).await?,
            agent_keys: View::start(s.clone(), prefix(keys::AGENT_KEYS), decoder).await?,
            store,
            config,
            family_locks: KeyedLocks::default(),
            pictures: Pictures::default(),
            templates,
            applier,
            agent_leases: Mutex::default(),
            task_index,
            reservations: Reservations::default(),
            clock: Clock::start(),
        };
        Ok(State {
            inner: Arc::new(inner),
        })
    }

    /// The store's identity: made when the store was first opened and kept in it, so a
    /// new empty store has another one, and a store restored from a backup has the same
    /// one with older revisions. Agents compare it (see `agent_protocol::PollResponse`).
    pub fn store_id(&self) -> &str {
        &self.inner.store_id
    }

    /// The controllers' clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn account(&self) -> &str {
        &self.inner.config.account
    }

    pub fn config(&self) -> &ControlConfig {
        &self.inner.config
    }

    /// The servers running now ([`crate::nodes`]).
    pub fn nodes(&self) -> &View<flotilla_model::node::NodeRecord> {
        &self.inner.nodes
    }

    pub fn clusters(&self) -> &View<ClusterRecord> {
        &self.inner.clusters
    }

    pub fn capacity_providers(&self) -> &View<CapacityProviderRecord> {
        &self.inner.capacity_providers
    }

    pub fn task_definitions(&self) -> &View<TaskDefinitionRecord> {
        &self.inner.task_definitions
    }

    pub fn account_settings(&self) -> &View<Setting> {
        &self.inner.account_settings
    }

    pub fn instances(&self) -> &View<ContainerInstanceRecord> {
        &self.inner.instances
    }

    pub fn tasks(&self) -> &View<TaskRecord> {
        &self.inner.tasks
    }

    /// Instances as the scheduler sees them with nothing running on them.
    pub fn templates(&self) -> &Templates {
        &self.inner.templates
    }

    pub fn pictures(&self) -> &Pictures {
        &self.inner.pictures
    }

    pub fn applier(&self) -> &Applier {
        &self.inner.applier
    }

    pub fn reservations(&self) -> &Reservations {
        &self.inner.reservations
    }

    pub fn task_index(&self) -> &TaskIndex {
        &self.inner.task_index
    }

    pub fn agents(&self) -> &View<()> {
        &self.inner.agents
    }

    pub fn family_locks(&self) -> &KeyedLocks {
        &self.inner.family_locks
    }

    /// The lease currently kept for an agent key, if this process granted one, and when it
    /// was last granted or kept alive.
    pub fn agent_lease(&self, key: &str) -> Option<(LeaseId, std::time::Instant)> {
        let map = self
            .inner
            .agent_leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(key).copied()
    }

    /// Record that `lease` (for an agent key) was granted or kept alive just now.
    pub fn set_agent_lease(&self, key: &str, lease: Option<LeaseId>) {
        let mut map = self
            .inner
            .agent_leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match lease {
            Some(l) => map.insert(key.to_string(), (l, std::time::Instant::now())),
            None => map.remove(key),
        };
    }

    /// Apply a transaction and wait until every view shows the store as it was after it:
    /// the caller's own write when it succeeded, and when a compare failed, the write it
    /// lost to, so that a compare-and-swap loop reads fresh data on its next attempt
    /// instead of spinning on the same stale entry (StopTask once gave up after 16
    /// attempts that way while an agent reported the task).
    pub async fn commit(&self, txn: Txn) -> Result<TxnResult, ControlError> {
        let result = self.inner.store.txn(txn).await?;
        self.caught_up(result.revision).await?;
        Ok(result)
    }

    /// Delete each key unless it changed since its mod-revision, `batch` keys per
    /// transaction; how many were deleted. A batch in which one key changed deletes none
    /// of its keys (a later pass takes them again).
    pub async fn delete_unchanged(
        &self,
        keys: &[(Vec<u8>, Revision)],
        batch: usize,
    ) -> Result<usize, ControlError> {
        let mut deleted = 0;
        // Each chunk compares and deletes every key of it: the store's limit holds both.
        let batch = batch.min(self.store().max_txn_ops()).max(1);
        for chunk in keys.chunks(batch) {
            let txn = Txn {
                compares: chunk
                    .iter()
                    .map(|(k, rev)| Compare::unchanged(k.clone(), *rev))
                    .collect(),
                success: chunk.iter().map(|(k, _)| Op::delete(k.clone())).collect(),
                failure: vec![],
            };
            if self.commit(txn).await?.succeeded {
                deleted += chunk.len();
            }
        }
        Ok(deleted)
    }

    /// Replace (or create, with `mod_revision` 0) one record if nobody changed it since
    /// `mod_revision`; false when someone did. The one compare-and-swap write of a single
    /// key every operation uses.
    pub async fn put_if_unchanged(
        &self,
        key: &str,
        mod_revision: Revision,
        value: Vec<u8>,
    ) -> Result<bool, ControlError> {
        let txn = Txn {
            compares: vec![flotilla_store::Compare::unchanged(key, mod_revision)],
            success: vec![flotilla_store::Op::put(key, value)],
            failure: vec![],
        };
        Ok(self.commit(txn).await?.succeeded)
    }

    /// Wait until every view has applied revision `rev`.
    pub async fn caught_up(&self, rev: Revision) -> Result<(), ControlError> {
        let i = &self.inner;
        let (a, b, c, d, e, f, g, h, j, k, l, m, n, o, p, q, r, _) = tokio::join!(
            i.clusters.wait_for(rev),
            i.task_definitions.wait_for(rev),
            i.account_settings.wait_for(rev),
            i.instances.wait_for(rev),
            i.tasks.wait_for(rev),
            i.agents.wait_for(rev),
            i.services.wait_for(rev),
            i.join_tokens.wait_for(rev),
            i.agent_keys.wait_for(rev),
            i.repositories.wait_for(rev),
            i.images.wait_for(rev),
            i.elbv2.wait_for(rev),
            async {
                let certificates = i.certificates.wait_for(rev).await;
                let providers = i.capacity_providers.wait_for(rev).await;
                let daemons = i.daemons.wait_for(rev).await;
                let daemon_defs = i.daemon_task_definitions.wait_for(rev).await;
                certificates
                    .and(providers)
                    .and(daemons)
                    .and(daemon_defs)
                    .and(i.log_groups.wait_for(rev).await)
                    .and(i.gateways.wait_for(rev).await)
                    .and(i.ec2.wait_for(rev).await)
                    .and(i.iam.wait_for(rev).await)
                    .and(i.secrets.wait_for(rev).await)
            },
            i.route53.wait_for(rev),
            i.servicediscovery.wait_for(rev),
            i.cloudwatch.wait_for(rev),
            i.autoscaling.wait_for(rev),
            i.task_index.wait_applied(rev),
        );
        a.and(b)
            .and(c)
            .and(d)
            .and(e)
            .and(f)
            .and(g)
            .and(h)
            .and(j)
            .and(k)
            .and(l)
            .and(m)
            .and(n)
            .and(o)
            .and(p)
            .and(q)
            .and(r)
            .map_err(ControlError::from)
    }

    /// Container instances of a cluster that are registered (ACTIVE or DRAINING).
    pub fn registered_instances(&self, region: &str, cluster: &str) -> usize {
        let prefix = keys::in_cluster(keys::CONTAINER_INSTANCES, region, cluster);
        self.instances()
            .range(prefix.as_bytes())
            .iter()
            .filter(|(_, e)| e.value.status != container_instance::INACTIVE)
            .count()
    }

    /// A cluster's task counts: (running, pending, not yet stopped), from the loads of its
    /// instances.
    pub fn task_counts(&self, region: &str, cluster: &str) -> (i64, i64, i64) {
        let prefix = keys::in_cluster(keys::CONTAINER_INSTANCES, region, cluster);
        self.instances()
            .range(prefix.as_bytes())
            .iter()
            .fold((0, 0, 0), |(r, p, a), (_, e)| {
                let load = self.task_index().load(&e.value.container_instance_arn);
                (r + load.running, p + load.pending, a + load.tasks)
            })
    }

    /// Services of a cluster that are not INACTIVE: (ACTIVE, DRAINING).
    pub fn services_in(&self, region: &str, cluster: &str) -> (usize, usize) {
        let prefix = keys::in_cluster(keys::SERVICES, region, cluster);
        self.services()
            .range(prefix.as_bytes())
            .iter()
            .fold((0, 0), |(a, d), (_, e)| match e.value.status {
                ServiceStatus::Active => (a + 1, d),
                ServiceStatus::Draining => (a, d + 1),
                _ => (a, d),
            })
    }

    /// Task definitions and daemon task definitions, by the ARN a task names.
    pub fn definitions(&self) -> crate::ecs::task_definitions::Definitions {
        crate::ecs::task_definitions::Definitions {
            tasks: self.inner.task_definitions.clone(),
            daemons: self.inner.daemon_task_definitions.clone(),
        }
    }

    pub fn daemons(&self) -> &View<DaemonRecord> {
        &self.inner.daemons
    }

    pub fn daemon_task_definitions(&self) -> &View<DaemonTaskDefinitionRecord> {
        &self.inner.daemon_task_definitions
    }

    pub fn gateways(&self) -> &View<flotilla_model::gateway::GatewayRecord> {
        &self.inner.gateways
    }

    pub fn services(&self) -> &View<ServiceRecord> {
        &self.inner.services
    }

    pub fn join_tokens(&self) -> &View<JoinTokenRecord> {
        &self.inner.join_tokens
    }

    pub fn agent_keys(&self) -> &View<AgentKeyRecord> {
        &self.inner.agent_keys
    }

    pub fn repositories(&self) -> &View<RepositoryRecord> {
        &self.inner.repositories
    }

    pub fn images(&self) -> &View<ImageRecord> {
        &self.inner.images
    }

    /// ELBv2's views and the channels to and from the load balancer's data plane.
    pub fn elbv2(&self) -> &crate::elbv2::Views {
        &self.inner.elbv2
    }

    /// EC2's VPCs, subnets and security groups.
    pub fn ec2(&self) -> &crate::ec2::Views {
        &self.inner.ec2
    }

    pub fn iam(&self) -> &crate::iam::Views {
        &self.inner.iam
    }

    /// Secrets Manager's secrets and SSM's parameters.
    pub fn secrets(&self) -> &crate::secrets::Views {
        &self.inner.secrets
    }

    /// The key secrets' values and SecureStrings are sealed with.
    pub fn secrets_key(&self) -> &crate::secrets::SecretsKey {
        &self.inner.config.secrets_key
    }

    /// ACM's certificates.
    pub fn certificates(&self) -> &View<CertificateRecord> {
        &self.inner.certificates
    }

    /// CloudWatch Logs' log groups.
    pub fn log_groups(&self) -> &View<LogGroupRecord> {
        &self.inner.log_groups
    }

    /// Route 53's views.
    pub fn route53(&self) -> &crate::route53::Views {
        &self.inner.route53
    }

    /// Cloud Map's views.
    pub fn servicediscovery(&self) -> &crate::servicediscovery::Views {
        &self.inner.servicediscovery
    }

    pub fn cloudwatch(&self) -> &crate::cloudwatch::Views {
        &self.inner.cloudwatch
    }

    pub fn autoscaling(&self) -> &crate::autoscaling::Views {
        &self.inner.autoscaling
    }

    /// What this server's Route 53 health checker found.
    pub fn route53_health(&self) -> &crate::route53::checker::HealthChecks {
        &self.inner.route53_health
    }

    /// The channels to and from the DNS data plane.
    pub fn dns(&self) -> &crate::dns::Channels {
        &self.inner.dns
    }

    /// This server's ExecuteCommand sessions.
    pub fn exec(&self) -> &crate::exec::ExecHub {
        &self.inner.exec
    }

    /// The key that signs registry authorization tokens.
    pub fn registry_key(&self) -> &[u8] {
        &self.inner.registry_key
    }

    /// The registry tokens agents are given, per region.
    pub(crate) fn agent_registry_tokens(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, crate::ecr::auth::Token>> {
        self.inner
            .agent_registry_tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the agent of an instance polled within its TTL.
    pub fn agent_connected(&self, region: &str, cluster: &str, instance_id: &str) -> bool {
        self.agents()
            .get(keys::agent(region, cluster, instance_id).as_bytes())
            .is_some()
    }
}

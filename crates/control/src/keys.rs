//! The one place where resources map to store keys. Every kind lives under its own prefix
//! with the region next, so one view per kind covers every region and a region's
//! resources are one prefix range.

pub const CLUSTERS: &str = "/ecs/clusters/";
pub const TASK_DEFINITIONS: &str = "/ecs/taskdefs/";
pub const FAMILIES: &str = "/ecs/families/";
pub const ACCOUNT_SETTINGS: &str = "/ecs/account-settings/";
/// Per-cluster kinds: `{prefix}{region}/{cluster}/{id}`.
pub const CONTAINER_INSTANCES: &str = "/ecs/instances/";
pub const SERVICES: &str = "/ecs/services/";
pub const TASKS: &str = "/ecs/tasks/";
/// A key per connected agent, attached to a lease its polls keep alive.
pub const AGENTS: &str = "/ecs/agents/";
/// RunTask client tokens, for idempotent retries.
pub const RUN_TOKENS: &str = "/ecs/run-tokens/";
/// One key per cluster that the plan applier rewrites with every batch of placements it
/// commits there: two appliers writing into one cluster see each other's batches as a
/// failed compare (see `applier.rs`).
pub const PLACEMENTS: &str = "/ecs/placements/";
/// Join tokens by token id, and agents' keys by access key id (ids are unique across
/// regions; each record names its region).
/// The store's identity, written once when the store is first opened.
pub const STORE_ID: &str = "/meta/store-id";
pub const JOIN_TOKENS: &str = "/identity/join-tokens/";
/// ECR repositories: `{prefix}{region}/{name}` (names may hold `/`).
pub const REPOSITORIES: &str = "/ecr/repositories/";
/// ECR images: `{prefix}{region}/{repository}/@{digest}`. No name component starts with
/// `@`, so one repository's images are one prefix range even when another repository's
/// name extends its name.
pub const IMAGES: &str = "/ecr/images/";
/// The key that signs registry authorization tokens, made once per store.
pub const REGISTRY_KEY: &str = "/ecr/registry-key";
pub const AGENT_KEYS: &str = "/identity/agent-keys/";

pub fn cluster(region: &str, name: &str) -> String {
    format!("{CLUSTERS}{region}/{name}")
}

pub fn clusters(region: &str) -> String {
    format!("{CLUSTERS}{region}/")
}

/// Revisions are zero-padded so key order is revision order.
pub fn task_definition(region: &str, family: &str, revision: i64) -> String {
    format!("{TASK_DEFINITIONS}{region}/{family}/{revision:010}")
}

pub fn task_definitions(region: &str) -> String {
    format!("{TASK_DEFINITIONS}{region}/")
}

pub fn family_revisions(region: &str, family: &str) -> String {
    format!("{TASK_DEFINITIONS}{region}/{family}/")
}

pub fn family(region: &str, family: &str) -> String {
    format!("{FAMILIES}{region}/{family}")
}

pub fn account_setting(region: &str, principal: &str, name: &str) -> String {
    format!("{ACCOUNT_SETTINGS}{region}/{principal}/{name}")
}

/// The prefix of one cluster's resources of a per-cluster kind.
pub fn in_cluster(kind_prefix: &str, region: &str, cluster: &str) -> String {
    format!("{kind_prefix}{region}/{cluster}/")
}

/// The region, cluster and the rest of a key of a per-cluster kind
/// (`{kind_prefix}{region}/{cluster}/{rest}`), e.g. a task key's task id.
pub fn in_cluster_parts<'a>(
    kind_prefix: &str,
    key: &'a str,
) -> Option<(&'a str, &'a str, &'a str)> {
    let mut parts = key.strip_prefix(kind_prefix)?.splitn(3, '/');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

pub fn container_instance(region: &str, cluster: &str, id: &str) -> String {
    format!("{CONTAINER_INSTANCES}{region}/{cluster}/{id}")
}

pub fn task(region: &str, cluster: &str, id: &str) -> String {
    format!("{TASKS}{region}/{cluster}/{id}")
}

pub fn agent(region: &str, cluster: &str, instance_id: &str) -> String {
    format!("{AGENTS}{region}/{cluster}/{instance_id}")
}

pub fn join_token(token_id: &str) -> String {
    format!("{JOIN_TOKENS}{token_id}")
}

pub fn agent_key(access_key_id: &str) -> String {
    format!("{AGENT_KEYS}{access_key_id}")
}

pub fn repository(region: &str, name: &str) -> String {
    format!("{REPOSITORIES}{region}/{name}")
}

pub fn repositories(region: &str) -> String {
    format!("{REPOSITORIES}{region}/")
}

pub fn image(region: &str, repository: &str, digest: &str) -> String {
    format!("{IMAGES}{region}/{repository}/@{digest}")
}

pub fn images(region: &str, repository: &str) -> String {
    format!("{IMAGES}{region}/{repository}/@")
}

pub fn run_token(region: &str, cluster: &str, token: &str) -> String {
    format!("{RUN_TOKENS}{region}/{cluster}/{token}")
}

pub fn placements(region: &str, cluster: &str) -> String {
    format!("{PLACEMENTS}{region}/{cluster}")
}

pub fn service(region: &str, cluster: &str, name: &str) -> String {
    format!("{SERVICES}{region}/{cluster}/{name}")
}

/// The key the leader holds on its lease while it runs the controllers.
pub const LEADER: &str = "/flotilla/leader";

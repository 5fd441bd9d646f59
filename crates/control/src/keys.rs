//! The one place where resources map to store keys. Every kind lives under its own prefix
//! with the region next, so one view per kind covers every region and a region's
//! resources are one prefix range.

pub const CLUSTERS: &str = "/ecs/clusters/";
pub const CAPACITY_PROVIDERS: &str = "/ecs/capacity-providers/";
pub const TASK_DEFINITIONS: &str = "/ecs/taskdefs/";
pub const FAMILIES: &str = "/ecs/families/";
pub const ACCOUNT_SETTINGS: &str = "/ecs/account-settings/";
/// Daemon task definitions and their families: their own kind, as in ECS.
pub const DAEMON_TASK_DEFINITIONS: &str = "/ecs/daemon-taskdefs/";
pub const DAEMON_FAMILIES: &str = "/ecs/daemon-families/";
/// Per-cluster kinds: `{prefix}{region}/{cluster}/{id}`.
pub const CONTAINER_INSTANCES: &str = "/ecs/instances/";
pub const SERVICES: &str = "/ecs/services/";
pub const DAEMONS: &str = "/ecs/daemons/";
/// Gateways: `{prefix}{region}/{name}` (routes, associations and load balancers inside).
pub const GATEWAYS: &str = "/ecs/gateways/";
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
/// ELBv2 load balancers and target groups: `{prefix}{region}/{name}`.
pub const LOAD_BALANCERS: &str = "/elbv2/load-balancers/";
pub const TARGET_GROUPS: &str = "/elbv2/target-groups/";
/// Listeners: `{prefix}{region}/{load balancer id}/{listener id}`.
pub const LISTENERS: &str = "/elbv2/listeners/";
/// Rules: `{prefix}{region}/{listener id}/{rule id}`.
pub const RULES: &str = "/elbv2/rules/";
/// Registered targets: `{prefix}{region}/{target group name}/{id}:{port}`.
pub const TARGETS: &str = "/elbv2/targets/";
/// EC2's VPCs, subnets and security groups: `{prefix}{region}/{id}`.
pub const VPCS: &str = "/ec2/vpcs/";
pub const SUBNETS: &str = "/ec2/subnets/";
pub const SECURITY_GROUPS: &str = "/ec2/security-groups/";
/// Written once per region with the default VPC, in the same transaction, so that two
/// servers can never both make one: `{prefix}{region}`.
/// Security groups' names, one key per name in a VPC, written in the same transaction as
/// the group so that a VPC never holds two groups of one name.
pub const SECURITY_GROUP_NAMES: &str = "/ec2/security-group-names/";
pub const DEFAULT_VPC: &str = "/ec2/default-vpc/";
/// awsvpc tasks' network interfaces, one key per address held:
/// `{prefix}{region}/{subnet id}/{address}`, created with the task (absent before) so
/// that no two tasks are given one address.
pub const NETWORK_INTERFACES: &str = "/ec2/network-interfaces/";
/// IAM's users (by lower-cased name: IAM names ignore case) and access keys (by id);
/// global, not per region.
pub const IAM_USERS: &str = "/iam/users/";
pub const IAM_ACCESS_KEYS: &str = "/iam/access-keys/";
/// IAM's groups and roles (by lower-cased name), the account's own managed policies (by
/// lower-cased name: policy names are unique in an account whatever their path), and STS
/// sessions' temporary keys (by access key id).
pub const IAM_GROUPS: &str = "/iam/groups/";
pub const IAM_ROLES: &str = "/iam/roles/";
pub const IAM_POLICIES: &str = "/iam/policies/";
pub const IAM_SESSIONS: &str = "/iam/sessions/";
/// Secrets Manager's secrets and SSM's parameters: `{prefix}{region}/{name}` (names may
/// hold `/`, and a parameter's may start with one, so a region's are one range in name
/// order). Their values are sealed: the store never holds a secret's plaintext.
pub const SECRETS: &str = "/secretsmanager/secrets/";
pub const PARAMETERS: &str = "/ssm/parameters/";
/// ACM certificates: `{prefix}{region}/{id}`.
pub const CERTIFICATES: &str = "/acm/certificates/";
/// Route 53 (global, no region): hosted zones `{prefix}{id}`; record sets
/// `{prefix}{zone id}/{name}\0{type}\0{set identifier}`; changes `{prefix}{id}`; health
/// checks `{prefix}{id}`.
pub const HOSTED_ZONES: &str = "/route53/hosted-zones/";
pub const RECORD_SETS: &str = "/route53/record-sets/";
pub const CHANGES: &str = "/route53/changes/";
pub const HEALTH_CHECKS: &str = "/route53/health-checks/";
/// CloudWatch Logs' log groups: `{prefix}{region}/{name}` (names may hold `/`; a region's
/// groups are one range in name order).
pub const LOG_GROUPS: &str = "/logs/groups/";

pub fn cluster(region: &str, name: &str) -> String {
    format!("{CLUSTERS}{region}/{name}")
}

pub fn clusters(region: &str) -> String {
    format!("{CLUSTERS}{region}/")
}

pub fn capacity_provider(region: &str, name: &str) -> String {
    format!("{CAPACITY_PROVIDERS}{region}/{name}")
}

pub fn capacity_providers(region: &str) -> String {
    format!("{CAPACITY_PROVIDERS}{region}/")
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

/// Revisions are zero-padded so key order is revision order.
pub fn daemon_task_definition(region: &str, family: &str, revision: i64) -> String {
    format!("{DAEMON_TASK_DEFINITIONS}{region}/{family}/{revision:010}")
}

pub fn daemon_task_definitions(region: &str) -> String {
    format!("{DAEMON_TASK_DEFINITIONS}{region}/")
}

pub fn daemon_family_revisions(region: &str, family: &str) -> String {
    format!("{DAEMON_TASK_DEFINITIONS}{region}/{family}/")
}

pub fn daemon_family(region: &str, family: &str) -> String {
    format!("{DAEMON_FAMILIES}{region}/{family}")
}

pub fn daemon(region: &str, cluster: &str, name: &str) -> String {
    format!("{DAEMONS}{region}/{cluster}/{name}")
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

/// Every container instance of a region, whatever its cluster.
pub fn container_instances_of_region(region: &str) -> String {
    format!("{CONTAINER_INSTANCES}{region}/")
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

pub fn gateway(region: &str, name: &str) -> String {
    format!("{GATEWAYS}{region}/{name}")
}

pub fn gateways(region: &str) -> String {
    format!("{GATEWAYS}{region}/")
}

pub fn service(region: &str, cluster: &str, name: &str) -> String {
    format!("{SERVICES}{region}/{cluster}/{name}")
}

/// The key the leader holds on its lease while it runs the controllers.
pub const LEADER: &str = "/flotilla/leader";

/// Running servers, each on its own lease ([`flotilla_model::node::NodeRecord`]).
pub const NODES: &str = "/flotilla/nodes/";

pub fn node(node_id: &str) -> String {
    format!("{NODES}{node_id}")
}

pub fn load_balancer(region: &str, name: &str) -> String {
    format!("{LOAD_BALANCERS}{region}/{name}")
}

pub fn target_group(region: &str, name: &str) -> String {
    format!("{TARGET_GROUPS}{region}/{name}")
}

pub fn listener(region: &str, lb_id: &str, listener_id: &str) -> String {
    format!("{LISTENERS}{region}/{lb_id}/{listener_id}")
}

pub fn listeners_of(region: &str, lb_id: &str) -> String {
    format!("{LISTENERS}{region}/{lb_id}/")
}

pub fn rule(region: &str, listener_id: &str, rule_id: &str) -> String {
    format!("{RULES}{region}/{listener_id}/{rule_id}")
}

pub fn rules_of(region: &str, listener_id: &str) -> String {
    format!("{RULES}{region}/{listener_id}/")
}

pub fn target(region: &str, group: &str, id: &str, port: u16) -> String {
    format!("{TARGETS}{region}/{group}/{id}:{port}")
}

pub fn targets_of(region: &str, group: &str) -> String {
    format!("{TARGETS}{region}/{group}/")
}

pub fn vpc(region: &str, id: &str) -> String {
    format!("{VPCS}{region}/{id}")
}

pub fn subnet(region: &str, id: &str) -> String {
    format!("{SUBNETS}{region}/{id}")
}

pub fn security_group(region: &str, id: &str) -> String {
    format!("{SECURITY_GROUPS}{region}/{id}")
}

pub fn iam_user(name: &str) -> String {
    format!("{IAM_USERS}{}", name.to_lowercase())
}

pub fn secret(region: &str, name: &str) -> String {
    format!("{SECRETS}{region}/{name}")
}

pub fn secrets(region: &str) -> String {
    format!("{SECRETS}{region}/")
}

pub fn parameter(region: &str, name: &str) -> String {
    format!("{PARAMETERS}{region}/{name}")
}

pub fn parameters(region: &str) -> String {
    format!("{PARAMETERS}{region}/")
}

pub fn iam_access_key(id: &str) -> String {
    format!("{IAM_ACCESS_KEYS}{id}")
}

pub fn iam_group(name: &str) -> String {
    format!("{IAM_GROUPS}{}", name.to_lowercase())
}

pub fn iam_role(name: &str) -> String {
    format!("{IAM_ROLES}{}", name.to_lowercase())
}

pub fn iam_policy(name: &str) -> String {
    format!("{IAM_POLICIES}{}", name.to_lowercase())
}

pub fn iam_session(access_key_id: &str) -> String {
    format!("{IAM_SESSIONS}{access_key_id}")
}

pub fn network_interface(region: &str, subnet: &str, address: std::net::Ipv4Addr) -> String {
    format!("{NETWORK_INTERFACES}{region}/{subnet}/{address}")
}

/// Every network interface of a subnet (`subnet` empty: of the region).
pub fn network_interfaces_of(region: &str, subnet: &str) -> String {
    if subnet.is_empty() {
        format!("{NETWORK_INTERFACES}{region}/")
    } else {
        format!("{NETWORK_INTERFACES}{region}/{subnet}/")
    }
}

/// A security group's name within its VPC: `{prefix}{region}/{vpc id}/{name}`.
pub fn security_group_name(region: &str, vpc: &str, name: &str) -> String {
    format!("{SECURITY_GROUP_NAMES}{region}/{vpc}/{name}")
}

pub fn default_vpc(region: &str) -> String {
    format!("{DEFAULT_VPC}{region}")
}

pub fn certificate(region: &str, id: &str) -> String {
    format!("{CERTIFICATES}{region}/{id}")
}

pub fn hosted_zone(id: &str) -> String {
    format!("{HOSTED_ZONES}{id}")
}

pub fn record_set(zone: &str, name: &str, rtype: &str, set_identifier: &str) -> String {
    format!("{RECORD_SETS}{zone}/{name}\0{rtype}\0{set_identifier}")
}

pub fn record_sets_of(zone: &str) -> String {
    format!("{RECORD_SETS}{zone}/")
}

pub fn change(id: &str) -> String {
    format!("{CHANGES}{id}")
}

pub fn health_check(id: &str) -> String {
    format!("{HEALTH_CHECKS}{id}")
}

/// Cloud Map (regional): namespaces `{prefix}{region}/{id}`, services
/// `{prefix}{region}/{id}`, instances `{prefix}{region}/{service id}/{instance id}` (an
/// instance id may hold `/`; a service id never does), operations `{prefix}{region}/{id}`.
pub const SD_NAMESPACES: &str = "/servicediscovery/namespaces/";
pub const SD_SERVICES: &str = "/servicediscovery/services/";
pub const SD_INSTANCES: &str = "/servicediscovery/instances/";
pub const SD_OPERATIONS: &str = "/servicediscovery/operations/";

pub fn sd_namespace(region: &str, id: &str) -> String {
    format!("{SD_NAMESPACES}{region}/{id}")
}

pub fn sd_namespaces(region: &str) -> String {
    format!("{SD_NAMESPACES}{region}/")
}

pub fn sd_service(region: &str, id: &str) -> String {
    format!("{SD_SERVICES}{region}/{id}")
}

pub fn sd_services(region: &str) -> String {
    format!("{SD_SERVICES}{region}/")
}

pub fn sd_instance(region: &str, service_id: &str, instance_id: &str) -> String {
    format!("{SD_INSTANCES}{region}/{service_id}/{instance_id}")
}

pub fn sd_instances_of(region: &str, service_id: &str) -> String {
    format!("{SD_INSTANCES}{region}/{service_id}/")
}

pub fn sd_operation(region: &str, id: &str) -> String {
    format!("{SD_OPERATIONS}{region}/{id}")
}

pub fn sd_operations(region: &str) -> String {
    format!("{SD_OPERATIONS}{region}/")
}

pub fn log_group(region: &str, name: &str) -> String {
    format!("{LOG_GROUPS}{region}/{name}")
}

/// CloudWatch metric alarms: `{prefix}{region}/{name}` (a name may hold `/`).
pub const CW_ALARMS: &str = "/cloudwatch/alarms/";

pub fn cw_alarm(region: &str, name: &str) -> String {
    format!("{CW_ALARMS}{region}/{name}")
}

pub fn cw_alarms(region: &str) -> String {
    format!("{CW_ALARMS}{region}/")
}

/// Application Auto Scaling's scalable targets: `{prefix}{region}/{resource id}` (an ECS
/// service's resource id is `service/CLUSTER/SERVICE`).
pub const AS_TARGETS: &str = "/autoscaling/targets/";
/// Scaling policies: `{prefix}{region}/{resource id}/{policy name}`.
pub const AS_POLICIES: &str = "/autoscaling/policies/";
/// Scheduled actions: `{prefix}{region}/{resource id}/{action name}`.
pub const AS_SCHEDULED: &str = "/autoscaling/scheduled/";

pub fn as_target(region: &str, resource_id: &str) -> String {
    format!("{AS_TARGETS}{region}/{resource_id}")
}

/// The prefix of `kind`'s keys in `region` (`AS_TARGETS`, `AS_POLICIES`, `AS_SCHEDULED`).
pub fn as_region(kind: &str, region: &str) -> String {
    format!("{kind}{region}/")
}

/// The prefix of one scalable target's policies or scheduled actions.
pub fn as_children(kind: &str, region: &str, resource_id: &str) -> String {
    format!("{kind}{region}/{resource_id}/")
}

pub fn as_policy(region: &str, resource_id: &str, name: &str) -> String {
    format!("{AS_POLICIES}{region}/{resource_id}/{name}")
}

pub fn as_scheduled(region: &str, resource_id: &str, name: &str) -> String {
    format!("{AS_SCHEDULED}{region}/{resource_id}/{name}")
}

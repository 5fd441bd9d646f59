//! Capacity providers: custom (auto scaling group) providers created, updated and deleted;
//! the providers attached to a cluster with its default strategy (PutClusterCapacityProviders,
//! CreateCluster); and what a launch runs on: a launch type, or a strategy resolved against
//! its cluster.

use flotilla_model::capacity_provider::{
    self as cp, AutoScalingGroupProvider, CapacityProviderRecord, StrategyItem,
};
use flotilla_model::cluster::ClusterRecord;
use flotilla_model::record::encode;
use flotilla_model::service::ServiceStatus;
use flotilla_model::task::TaskStatus;
use flotilla_model::{ErrorKind, ModelError, Scope};
use flotilla_store::view::Entry;

use crate::ecs::clusters;
use crate::{keys, ControlError, State};

/// The stored provider `name` (ACTIVE or INACTIVE), if any.
pub fn find(state: &State, scope: &Scope, name: &str) -> Option<Entry<CapacityProviderRecord>> {
    state
        .capacity_providers()
        .get(keys::capacity_provider(&scope.region, name).as_bytes())
}

/// The name a `capacityProvider` parameter gives: a short name, or the provider's ARN.
pub fn name_of(id: &str) -> &str {
    match id.strip_prefix("arn:") {
        Some(_) => id.rsplit_once("capacity-provider/").map_or(id, |(_, n)| n),
        None => id,
    }
}

fn missing(name: &str) -> String {
    format!(
        "The specified capacity provider {name} does not exist. Create it with \
         CreateCapacityProvider, or use FARGATE or FARGATE_SPOT."
    )
}

fn does_not_exist(name: &str) -> ControlError {
    ControlError::client(missing(name))
}

/// The ACTIVE custom provider `name`, or ClientException.
pub fn active(
    state: &State,
    scope: &Scope,
    name: &str,
) -> Result<Entry<CapacityProviderRecord>, ControlError> {
    if cp::is_built_in(name) {
        return Err(ControlError::client(format!(
            "The {name} capacity provider is reserved and cannot be changed."
        )));
    }
    find(state, scope, name)
        .filter(|e| e.value.is_active())
        .ok_or_else(|| does_not_exist(name))
}

/// Whether `name` can be attached to a cluster: a built-in or an ACTIVE custom provider.
pub fn usable(state: &State, scope: &Scope, name: &str) -> bool {
    cp::is_built_in(name) || find(state, scope, name).is_some_and(|e| e.value.is_active())
}

/// Every ACTIVE custom provider, by name.
pub fn list(state: &State, scope: &Scope) -> Vec<CapacityProviderRecord> {
    state
        .capacity_providers()
        .range(keys::capacity_providers(&scope.region).as_bytes())
        .into_iter()
        .filter(|(_, e)| e.value.is_active())
        .map(|(_, e)| (*e.value).clone())
        .collect()
}

/// CreateCapacityProvider: store a new ACTIVE provider. Refused when the name is taken by
/// an ACTIVE one, or its auto scaling group already has a provider (ClientException, as
/// AWS answers both).
pub async fn create(
    state: &State,
    scope: &Scope,
    name: &str,
    group: AutoScalingGroupProvider,
    tags: Vec<flotilla_model::tag::Tag>,
) -> Result<CapacityProviderRecord, ControlError> {
    cp::validate_name(name)?;
    let group = group.checked_new()?;
    let existing = find(state, scope, name);
    if existing.as_ref().is_some_and(|e| e.value.is_active()) {
        return Err(ControlError::client(format!(
            "The specified capacity provider {name} already exists. To change the \
             configuration of an existing capacity provider, update the capacity provider."
        )));
    }
    let taken = list(state, scope).into_iter().any(|p| {
        p.auto_scaling_group_provider.auto_scaling_group_arn == group.auto_scaling_group_arn
    });
    if taken {
        return Err(ControlError::client(
            "The specified Auto Scaling group ARN is already being used by another capacity \
             provider. Specify a unique Auto Scaling group ARN and try again.",
        ));
    }
    let record = CapacityProviderRecord {
        capacity_provider_arn: cp::arn(scope, name),
        name: name.to_string(),
        status: cp::ACTIVE.into(),
        auto_scaling_group_provider: group,
        update_status: "CREATE_COMPLETE".into(),
        tags,
        created_at: chrono::Utc::now(),
    };
    let prev = existing.map_or(0, |e| e.mod_revision);
    put(state, scope, prev, &record).await?;
    Ok(record)
}

async fn put(
    state: &State,
    scope: &Scope,
    mod_revision: i64,
    record: &CapacityProviderRecord,
) -> Result<(), ControlError> {
    let key = keys::capacity_provider(&scope.region, &record.name);
    if state
        .put_if_unchanged(&key, mod_revision, encode(record))
        .await?
    {
        Ok(())
    } else {
        Err(ControlError::changed_meanwhile("capacity provider"))
    }
}

/// UpdateCapacityProvider: new managed scaling, termination protection or draining.
pub async fn update(
    state: &State,
    scope: &Scope,
    name: &str,
    change: &AutoScalingGroupProvider,
) -> Result<CapacityProviderRecord, ControlError> {
    let entry = active(state, scope, name)?;
    let mut record = (*entry.value).clone();
    record.auto_scaling_group_provider = record.auto_scaling_group_provider.updated(change)?;
    record.update_status = "UPDATE_COMPLETE".into();
    put(state, scope, entry.mod_revision, &record).await?;
    Ok(record)
}

/// DeleteCapacityProvider: the provider becomes INACTIVE; refused while a cluster has it
/// attached (ClientException: detach it with PutClusterCapacityProviders first).
pub async fn delete(
    state: &State,
    scope: &Scope,
    name: &str,
) -> Result<CapacityProviderRecord, ControlError> {
    let entry = active(state, scope, name)?;
    let attached = state
        .clusters()
        .range(keys::clusters(&scope.region).as_bytes())
        .into_iter()
        .find(|(_, c)| c.value.is_active() && c.value.capacity_providers.iter().any(|p| p == name));
    if let Some((_, c)) = attached {
        return Err(ControlError::client(format!(
            "The capacity provider {name} cannot be deleted because it is associated with \
             cluster {}. Remove it from the cluster with PutClusterCapacityProviders and try \
             again.",
            c.value.cluster_name
        )));
    }
    let mut record = (*entry.value).clone();
    record.status = cp::INACTIVE.into();
    record.update_status = "DELETE_COMPLETE".into();
    put(state, scope, entry.mod_revision, &record).await?;
    Ok(record)
}

/// Check the providers a cluster is given and its default strategy: each provider usable
/// and named once, the strategy within the model's rules and naming only those providers.
pub fn check_cluster(
    state: &State,
    scope: &Scope,
    providers: &[String],
    strategy: &[StrategyItem],
) -> Result<(), ControlError> {
    for (i, p) in providers.iter().enumerate() {
        if providers[..i].contains(p) {
            return Err(ControlError::invalid(format!(
                "capacityProviders names {p} more than once."
            )));
        }
        if !usable(state, scope, p) {
            return Err(ControlError::invalid(missing(p)));
        }
    }
    cp::check_strategy(strategy)?;
    not_attached(strategy, providers)
}

/// InvalidParameterException when the strategy names a provider not in `attached`.
fn not_attached(strategy: &[StrategyItem], attached: &[String]) -> Result<(), ControlError> {
    match strategy
        .iter()
        .find(|i| !attached.contains(&i.capacity_provider))
    {
        Some(i) => Err(ControlError::invalid(format!(
            "The specified capacity provider strategy cannot contain a capacity provider that \
             is not associated with the cluster ({}). Associate the capacity provider with \
             the cluster or specify a valid capacity provider and try again.",
            i.capacity_provider
        ))),
        None => Ok(()),
    }
}

/// Whether anything in `cluster` uses `provider`: a task not yet stopped placed with it, or
/// a service whose strategy names it.
fn in_use(state: &State, scope: &Scope, cluster: &str, provider: &str) -> bool {
    let tasks = state
        .tasks()
        .range(keys::in_cluster(keys::TASKS, &scope.region, cluster).as_bytes())
        .into_iter()
        .any(|(_, t)| {
            t.value.last_status != TaskStatus::Stopped
                && t.value.capacity_provider_name.as_deref() == Some(provider)
        });
    tasks
        || state
            .services()
            .range(keys::in_cluster(keys::SERVICES, &scope.region, cluster).as_bytes())
            .into_iter()
            .any(|(_, s)| {
                s.value.status != ServiceStatus::Inactive
                    && s.value
                        .capacity_provider_strategy
                        .iter()
                        .any(|i| i.capacity_provider == provider)
            })
}

/// PutClusterCapacityProviders: replace the cluster's providers and default strategy.
/// A provider left out that a task or service of the cluster still uses is refused
/// (ResourceInUseException).
pub async fn put_cluster(
    state: &State,
    scope: &Scope,
    cluster: Option<&str>,
    providers: Vec<String>,
    strategy: Vec<StrategyItem>,
) -> Result<ClusterRecord, ControlError> {
    let entry = clusters::active(state, scope, cluster)?;
    check_cluster(state, scope, &providers, &strategy)?;
    let name = entry.value.cluster_name.clone();
    for old in &entry.value.capacity_providers {
        if !providers.contains(old) && in_use(state, scope, &name, old) {
            return Err(ModelError::new(
                ErrorKind::InUse,
                format!("The specified capacity provider {old} is in use and cannot be removed."),
            )
            .into());
        }
    }
    let mut record = (*entry.value).clone();
    record.capacity_providers = providers;
    record.default_capacity_provider_strategy = strategy;
    clusters::replace(state, scope, entry.mod_revision, &record).await?;
    Ok(record)
}

/// What a launch runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capacity {
    /// A launch type (EC2, FARGATE, EXTERNAL): any instance of the cluster.
    LaunchType(String),
    /// A capacity provider strategy: each task on an instance of its provider.
    Strategy(Vec<StrategyItem>),
}

/// What a request that gives `launch_type` and `strategy` runs on in `cluster`: the launch
/// type, the strategy (each provider attached to the cluster), or, when it gives neither,
/// the cluster's default strategy (EC2 when it has none). Both given is
/// InvalidParameterException, as on ECS.
pub fn resolve(
    cluster: &ClusterRecord,
    launch_type: Option<&str>,
    strategy: &[StrategyItem],
) -> Result<Capacity, ControlError> {
    match (launch_type, strategy.is_empty()) {
        (Some(_), false) => Err(ControlError::invalid(
            "Specifying both a launchType and capacityProviderStrategy is not supported. \
             Remove one and try again.",
        )),
        (Some(l), true) => Ok(Capacity::LaunchType(l.to_string())),
        (None, false) => {
            cp::check_strategy(strategy)?;
            not_attached(strategy, &cluster.capacity_providers)?;
            Ok(Capacity::Strategy(strategy.to_vec()))
        }
        (None, true) if cluster.default_capacity_provider_strategy.is_empty() => {
            Ok(Capacity::LaunchType("EC2".into()))
        }
        (None, true) => Ok(Capacity::Strategy(
            cluster.default_capacity_provider_strategy.clone(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(providers: &[&str], default: Vec<StrategyItem>) -> ClusterRecord {
        let scope = Scope::new("us-east-1", "000000000000");
        let mut c = clusters::new_record(&scope, "c", vec![]);
        c.capacity_providers = providers.iter().map(|p| p.to_string()).collect();
        c.default_capacity_provider_strategy = default;
        c
    }

    fn item(p: &str, weight: i64) -> StrategyItem {
        StrategyItem {
            capacity_provider: p.into(),
            weight,
            base: 0,
        }
    }

    #[test]
    fn launch_type_strategy_or_the_cluster_default() {
        let plain = cluster(&[], vec![]);
        assert_eq!(
            resolve(&plain, None, &[]).unwrap(),
            Capacity::LaunchType("EC2".into())
        );
        assert_eq!(
            resolve(&plain, Some("FARGATE"), &[]).unwrap(),
            Capacity::LaunchType("FARGATE".into())
        );
        let with = cluster(&["pool-a", "FARGATE"], vec![item("pool-a", 1)]);
        assert_eq!(
            resolve(&with, None, &[]).unwrap(),
            Capacity::Strategy(vec![item("pool-a", 1)])
        );
        assert_eq!(
            resolve(&with, None, &[item("FARGATE", 2)]).unwrap(),
            Capacity::Strategy(vec![item("FARGATE", 2)])
        );
        let both = resolve(&with, Some("EC2"), &[item("pool-a", 1)]).unwrap_err();
        assert_eq!(both.kind(), ErrorKind::InvalidParameter);
        let detached = resolve(&with, None, &[item("pool-b", 1)]).unwrap_err();
        assert_eq!(detached.kind(), ErrorKind::InvalidParameter);
        assert!(detached
            .to_string()
            .contains("not associated with the cluster"));
    }

    #[test]
    fn names_from_arns() {
        assert_eq!(name_of("pool-a"), "pool-a");
        assert_eq!(
            name_of("arn:aws:ecs:us-east-1:000000000000:capacity-provider/pool-a"),
            "pool-a"
        );
    }
}

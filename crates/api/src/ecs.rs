//! Amazon ECS (JSON 1.1, target prefix `AmazonEC2ContainerServiceV20141113`).
//!
//! One file per operation group: [`clusters`], [`capacity_providers`], [`task_definitions`],
//! [`account_settings`],
//! [`tags`], [`attributes`], [`container_instances`], [`tasks`], [`services`],
//! [`service_deployments`], [`gateways`], [`express`] (express services), [`daemons`],
//! [`daemon_task_definitions`]; each turns wire shapes into calls of `flotilla-control`, and
//! [`error`] turns the control plane's errors into ECS's codes. [`OPERATIONS`] lists what
//! is implemented; `scripts/compat.py` builds the compatibility table from it and
//! botocore's model.

mod account_settings;
mod agent_ops;
mod attributes;
mod capacity_providers;
pub(crate) mod clusters;
pub(crate) mod container_instances;
mod daemon_task_definitions;
mod daemons;
pub(crate) mod error;
mod execute_command;
mod express;
mod filter;
pub(crate) mod gateways;
pub(crate) mod service_deployments;
pub(crate) mod services;
mod tags;
pub(crate) mod task_definitions;
mod task_protection;
mod task_sets;
pub(crate) mod tasks;

use async_trait::async_trait;
use flotilla_aws::{
    AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Principal, Protocol,
};
use serde_json::Value;

use crate::State;
use error::EcsError;

/// Every ECS operation Flotilla implements.
pub const OPERATIONS: &[&str] = &[
    "AssociateGatewayWithCluster",
    "ContinueServiceDeployment",
    "CreateCapacityProvider",
    "CreateCluster",
    "CreateDaemon",
    "CreateGateway",
    "CreateExpressGatewayService",
    "CreateService",
    "CreateTaskSet",
    "DeleteAccountSetting",
    "DeleteAttributes",
    "DeleteCapacityProvider",
    "DeleteCluster",
    "DeleteDaemon",
    "DeleteDaemonTaskDefinition",
    "DeleteGateway",
    "DeleteExpressGatewayService",
    "DeleteService",
    "DeleteTaskDefinitions",
    "DeleteTaskSet",
    "DeregisterContainerInstance",
    "DeregisterTaskDefinition",
    "DescribeCapacityProviders",
    "DescribeClusters",
    "DescribeContainerInstances",
    "DescribeDaemon",
    "DescribeDaemonDeployments",
    "DescribeDaemonRevisions",
    "DescribeDaemonTaskDefinition",
    "DescribeGateway",
    "DescribeGatewayResources",
    "DescribeGatewayRoute",
    "DescribeExpressGatewayService",
    "DescribeServiceDeployments",
    "DescribeServiceRevisions",
    "DescribeServices",
    "DescribeTaskDefinition",
    "DescribeTaskSets",
    "DescribeTasks",
    "DisassociateGatewayFromCluster",
    "DiscoverPollEndpoint",
    "ExecuteCommand",
    "GetTaskProtection",
    "ListAccountSettings",
    "ListAttributes",
    "ListClusters",
    "ListContainerInstances",
    "ListDaemonDeployments",
    "ListDaemonTaskDefinitions",
    "ListDaemons",
    "ListGatewayClusterAssociations",
    "ListGatewayRoutes",
    "ListGateways",
    "ListServiceDeployments",
    "ListServices",
    "ListServicesByNamespace",
    "ListTagsForResource",
    "ListTaskDefinitionFamilies",
    "ListTaskDefinitions",
    "ListTasks",
    "PutAccountSetting",
    "PutAccountSettingDefault",
    "PutAttributes",
    "PutClusterCapacityProviders",
    "RegisterContainerInstance",
    "RegisterDaemonTaskDefinition",
    "RegisterTaskDefinition",
    "RunTask",
    "StartTask",
    "StopServiceDeployment",
    "StopTask",
    "SubmitAttachmentStateChanges",
    "SubmitContainerStateChange",
    "SubmitTaskStateChange",
    "TagResource",
    "UntagResource",
    "UpdateCapacityProvider",
    "UpdateCluster",
    "UpdateClusterSettings",
    "UpdateContainerAgent",
    "UpdateContainerInstancesState",
    "UpdateDaemon",
    "UpdateGateway",
    "UpdateExpressGatewayService",
    "UpdateService",
    "UpdateServicePrimaryTaskSet",
    "UpdateTaskProtection",
    "UpdateTaskSet",
];

/// The ECS operations an agent's own key may call (each checks it acts for its own
/// instance).
const AGENT_OPERATIONS: &[&str] = &[
    "RegisterContainerInstance",
    "DiscoverPollEndpoint",
    "SubmitTaskStateChange",
    "SubmitContainerStateChange",
    "SubmitAttachmentStateChanges",
];

pub struct Ecs {
    spec: AwsServiceSpec,
    state: State,
}

impl Ecs {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "ecs",
            protocol: Protocol::Json11,
            target_prefix: "AmazonEC2ContainerServiceV20141113",
            xmlns: "",
        };
        Ecs { spec, state }
    }
}

#[async_trait]
impl AwsService for Ecs {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    /// An agent's own key may re-register its own instance and report its own tasks'
    /// state changes (checked by each operation).
    fn admits(&self, principal: &Principal, operation: &str) -> bool {
        match principal {
            Principal::Root => true,
            Principal::Agent => AGENT_OPERATIONS.contains(&operation),
            Principal::Joiner | Principal::User => false,
        }
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        Ok(Output::Json(crate::without_nulls(
            dispatch(&self.state, ctx, operation, input).await?,
        )))
    }
}

/// Run one ECS operation; its errors become ECS's wire codes in `error.rs`.
async fn dispatch(
    s: &State,
    ctx: &Context,
    operation: &str,
    input: Input,
) -> Result<Value, AwsError> {
    let out = async {
        let out: Value = match operation {
            "CreateCluster" => clusters::create(s, ctx, input.json()?).await?,
            "DescribeClusters" => clusters::describe(s, ctx, input.json()?).await?,
            "ListClusters" => clusters::list(s, ctx, input.json()?)?,
            "DeleteCluster" => clusters::delete(s, ctx, input.json()?).await?,
            "UpdateCluster" => clusters::update(s, ctx, input.json()?).await?,
            "UpdateClusterSettings" => clusters::update_settings(s, ctx, input.json()?).await?,
            "CreateCapacityProvider" => capacity_providers::create(s, ctx, input.json()?).await?,
            "UpdateCapacityProvider" => capacity_providers::update(s, ctx, input.json()?).await?,
            "DeleteCapacityProvider" => capacity_providers::delete(s, ctx, input.json()?).await?,
            "DescribeCapacityProviders" => capacity_providers::describe(s, ctx, input.json()?)?,
            "PutClusterCapacityProviders" => {
                capacity_providers::put_cluster(s, ctx, input.json()?).await?
            }
            "TagResource" => tags::tag(s, ctx, input.json()?).await?,
            "UntagResource" => tags::untag(s, ctx, input.json()?).await?,
            "ListTagsForResource" => tags::list(s, ctx, input.json()?)?,
            "PutAccountSetting" => account_settings::put(s, ctx, input.json()?).await?,
            "PutAccountSettingDefault" => {
                account_settings::put_default(s, ctx, input.json()?).await?
            }
            "DeleteAccountSetting" => account_settings::delete(s, ctx, input.json()?).await?,
            "ListAccountSettings" => account_settings::list(s, ctx, input.json()?)?,
            "RegisterTaskDefinition" => {
                task_definitions::register(s, ctx, input.body_len(), input.json()?).await?
            }
            "DescribeTaskDefinition" => task_definitions::describe(s, ctx, input.json()?)?,
            "ListTaskDefinitions" => task_definitions::list(s, ctx, input.json()?)?,
            "ListTaskDefinitionFamilies" => task_definitions::list_families(s, ctx, input.json()?)?,
            "DeregisterTaskDefinition" => {
                task_definitions::deregister(s, ctx, input.json()?).await?
            }
            "DeleteTaskDefinitions" => task_definitions::delete(s, ctx, input.json()?).await?,
            "RegisterContainerInstance" => {
                container_instances::register(s, ctx, input.json()?).await?
            }
            "DeregisterContainerInstance" => {
                container_instances::deregister(s, ctx, input.json()?).await?
            }
            "DescribeContainerInstances" => container_instances::describe(s, ctx, input.json()?)?,
            "ListContainerInstances" => container_instances::list(s, ctx, input.json()?)?,
            "UpdateContainerInstancesState" => {
                container_instances::update_state(s, ctx, input.json()?).await?
            }
            "UpdateContainerAgent" => container_instances::update_agent(s, ctx, input.json()?)?,
            "PutAttributes" => attributes::put_attributes(s, ctx, input.json()?).await?,
            "DeleteAttributes" => attributes::delete_attributes(s, ctx, input.json()?).await?,
            "ListAttributes" => attributes::list(s, ctx, input.json()?)?,
            "RunTask" => tasks::run(s, ctx, input.json()?).await?,
            "StartTask" => tasks::start(s, ctx, input.json()?).await?,
            "StopTask" => tasks::stop(s, ctx, input.json()?).await?,
            "DescribeTasks" => tasks::describe(s, ctx, input.json()?)?,
            "ListTasks" => tasks::list(s, ctx, input.json()?)?,
            "ExecuteCommand" => execute_command::execute(s, ctx, input.json()?)?,
            "UpdateTaskProtection" => task_protection::update(s, ctx, input.json()?).await?,
            "GetTaskProtection" => task_protection::get(s, ctx, input.json()?)?,
            "DiscoverPollEndpoint" => agent_ops::discover(s, ctx, input.json()?)?,
            "SubmitTaskStateChange" => agent_ops::submit_task(s, ctx, input.json()?).await?,
            "SubmitContainerStateChange" => {
                agent_ops::submit_container(s, ctx, input.json()?).await?
            }
            "SubmitAttachmentStateChanges" => {
                agent_ops::submit_attachments(s, ctx, input.json()?).await?
            }
            "CreateService" => services::create(s, ctx, input.json()?).await?,
            "UpdateService" => services::update(s, ctx, input.json()?).await?,
            "DeleteService" => services::delete(s, ctx, input.json()?).await?,
            "RegisterDaemonTaskDefinition" => {
                daemon_task_definitions::register(s, ctx, input.body_len(), input.json()?).await?
            }
            "DescribeDaemonTaskDefinition" => {
                daemon_task_definitions::describe(s, ctx, input.json()?)?
            }
            "ListDaemonTaskDefinitions" => daemon_task_definitions::list(s, ctx, input.json()?)?,
            "DeleteDaemonTaskDefinition" => {
                daemon_task_definitions::delete(s, ctx, input.json()?).await?
            }
            "CreateDaemon" => daemons::create(s, ctx, input.json()?).await?,
            "UpdateDaemon" => daemons::update(s, ctx, input.json()?).await?,
            "DeleteDaemon" => daemons::delete(s, ctx, input.json()?).await?,
            "DescribeDaemon" => daemons::describe(s, ctx, input.json()?)?,
            "ListDaemons" => daemons::list(s, ctx, input.json()?)?,
            "DescribeDaemonDeployments" => daemons::describe_deployments(s, ctx, input.json()?)?,
            "ListDaemonDeployments" => daemons::list_deployments(s, ctx, input.json()?)?,
            "DescribeDaemonRevisions" => daemons::describe_revisions(s, ctx, input.json()?)?,
            "CreateTaskSet" => task_sets::create(s, ctx, input.json()?).await?,
            "DescribeTaskSets" => task_sets::describe(s, ctx, input.json()?)?,
            "UpdateTaskSet" => task_sets::update(s, ctx, input.json()?).await?,
            "DeleteTaskSet" => task_sets::delete(s, ctx, input.json()?).await?,
            "UpdateServicePrimaryTaskSet" => {
                task_sets::update_primary(s, ctx, input.json()?).await?
            }
            "DescribeServices" => services::describe(s, ctx, input.json()?)?,
            "ListServices" => services::list(s, ctx, input.json()?)?,
            "ListServicesByNamespace" => services::list_by_namespace(s, ctx, input.json()?)?,
            "ListServiceDeployments" => service_deployments::list(s, ctx, input.json()?)?,
            "DescribeServiceDeployments" => service_deployments::describe(s, ctx, input.json()?)?,
            "DescribeServiceRevisions" => {
                service_deployments::describe_revisions(s, ctx, input.json()?)?
            }
            "StopServiceDeployment" => service_deployments::stop(s, ctx, input.json()?).await?,
            "CreateExpressGatewayService" => express::create(s, ctx, input.json()?).await?,
            "DescribeExpressGatewayService" => express::describe(s, ctx, input.json()?)?,
            "UpdateExpressGatewayService" => express::update(s, ctx, input.json()?).await?,
            "DeleteExpressGatewayService" => express::delete(s, ctx, input.json()?).await?,
            "ContinueServiceDeployment" => {
                service_deployments::continue_(s, ctx, input.json()?).await?
            }
            "CreateGateway" => gateways::create(s, ctx, input.json()?).await?,
            "DescribeGateway" => gateways::describe(s, ctx, input.json()?)?,
            "UpdateGateway" => gateways::update(s, ctx, input.json()?).await?,
            "DeleteGateway" => gateways::delete(s, ctx, input.json()?).await?,
            "ListGateways" => gateways::list(s, ctx, input.json()?)?,
            "AssociateGatewayWithCluster" => gateways::associate(s, ctx, input.json()?).await?,
            "DisassociateGatewayFromCluster" => {
                gateways::disassociate(s, ctx, input.json()?).await?
            }
            "ListGatewayClusterAssociations" => gateways::list_associations(s, ctx, input.json()?)?,
            "DescribeGatewayResources" => gateways::describe_resources(s, ctx, input.json()?)?,
            "DescribeGatewayRoute" => gateways::describe_route(s, ctx, input.json()?)?,
            "ListGatewayRoutes" => gateways::list_routes(s, ctx, input.json()?)?,
            other => return Err(AwsError::unknown_operation(other).into()),
        };
        Ok::<Value, EcsError>(out)
    };
    Ok(out.await?)
}

/// Check an `include` list against the values an operation accepts; whether it asks for
/// `TAGS`.
fn wants_tags(include: &[String], accepted: &[&str]) -> Result<bool, EcsError> {
    for value in include {
        if !accepted.contains(&value.as_str()) {
            return Err(error::invalid(format!(
                "include value '{value}' is invalid: use {}.",
                accepted.join(" or ")
            )));
        }
    }
    Ok(include.iter().any(|v| v == "TAGS"))
}

/// Describe a batch of resources: each id's wire shape when `found` finds it, else a
/// `MISSING` failure naming the ARN `arn_of` makes of the id.
fn describe_each(
    ids: &[String],
    mut found: impl FnMut(&str) -> Option<Value>,
    arn_of: impl Fn(&str) -> Option<String>,
) -> (Vec<Value>, Vec<Value>) {
    let (mut out, mut failures) = (Vec::new(), Vec::new());
    for id in ids {
        match found(id) {
            Some(v) => out.push(v),
            None => {
                let arn = arn_of(id).unwrap_or_else(|| id.clone());
                failures.push(failure(&arn, "MISSING"));
            }
        }
    }
    (out, failures)
}

/// A `Failure` entry of a batch answer.
fn failure(arn: &str, reason: &str) -> Value {
    serde_json::json!({ "arn": arn, "reason": reason })
}

/// Check a network configuration: its shape by ECS's rules, then its subnets and security
/// groups against EC2's records (each must exist, all in one VPC), failing as ECS does
/// with EC2's own sentence and code inside an InvalidParameterException.
pub(crate) async fn check_network(
    state: &State,
    ctx: &flotilla_aws::Context,
    n: Option<&flotilla_model::service::NetworkConfiguration>,
) -> Result<(), EcsError> {
    let Some(n) = n else {
        return Ok(());
    };
    flotilla_model::service::validate_network_configuration(n)?;
    if let Some(vpc) = &n.awsvpc_configuration {
        let scope = crate::scope(state, ctx);
        flotilla_control::ec2::check_network(state, &scope, &vpc.subnets, &vpc.security_groups)
            .await
            .map_err(|e| error::invalid(crate::ec2::error::explained(&e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
